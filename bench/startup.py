"""Startup cost: median wall time of `forgea --help` and `forgea session --help` against
`python -c "import typer"`, in the same run.

Usage: python -m bench.startup [--runs 15]
Target: `forgea --help` ratio <= 1.5, `forgea session --help` ratio <= 1.3.

The three commands run in turn, round after round, so that load from other work on the machine
falls on all of them alike. The package's bytecode is compiled first: an installed wheel carries
it, while an editable checkout under PYTHONDONTWRITEBYTECODE would compile forgea from source on
every start and measure the compiler instead.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import print_table

TARGETS = {"forgea --help": 1.5, "forgea session --help": 1.3}


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def interleaved_medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(wall(command))
    return {name: statistics.median(values) for name, values in samples.items()}


def compile_package() -> None:
    spec = importlib.util.find_spec("forgea_cli")
    assert spec is not None and spec.submodule_search_locations
    for location in spec.submodule_search_locations:
        compileall.compile_dir(location, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    forgea = str(Path(sys.executable).parent / "forgea")  # the installed console script, as users run it
    commands = {
        'python -c "import typer"': [sys.executable, "-c", "import typer"],
        "forgea --help": [forgea, "--help"],
        "forgea session --help": [forgea, "session", "--help"],
    }
    compile_package()
    interleaved_medians(commands, 2)  # warm the file cache
    medians = interleaved_medians(commands, args.runs)
    baseline = medians['python -c "import typer"']
    ratios = {name: medians[name] / baseline for name in TARGETS}
    print_table(
        f"startup, median of {args.runs} interleaved runs",
        [
            ('python -c "import typer"', f"{baseline * 1000:.0f} ms", "baseline"),
            *(
                (name, f"{medians[name] * 1000:.0f} ms", f"ratio {ratios[name]:.2f} (target <= {target})")
                for name, target in TARGETS.items()
            ),
        ],
    )
    return 0 if all(ratios[name] <= target for name, target in TARGETS.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
