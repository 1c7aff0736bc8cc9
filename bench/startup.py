"""Startup cost: median wall time of `forgea --help` against `python -c "import typer"`, same run.

Usage: python -m bench.startup [--runs 15]
Target: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import print_table


def median_wall(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline_command = [sys.executable, "-c", "import typer"]
    forgea = str(Path(sys.executable).parent / "forgea")  # the installed console script, as users run it
    tool_command = [forgea, "--help"]
    median_wall(tool_command, 2)  # warm the file cache and bytecode
    baseline = median_wall(baseline_command, args.runs)
    tool = median_wall(tool_command, args.runs)
    group = median_wall([forgea, "session", "--help"], args.runs)
    print_table(
        f"startup, median of {args.runs} runs",
        [
            ('python -c "import typer"', f"{baseline * 1000:.0f} ms", "baseline"),
            ("forgea --help", f"{tool * 1000:.0f} ms", f"ratio {tool / baseline:.2f} (target <= 1.5)"),
            ("forgea session --help", f"{group * 1000:.0f} ms", f"ratio {group / baseline:.2f}"),
        ],
    )
    return 0 if tool / baseline <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
