"""`forgea demo` from an installed wheel: the fake GitHub and the migrations ship in it, so the
demo's session-creation step runs (it is left out when the fake GitHub cannot start)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")
SHIPPED = (
    "forgea_cli/testing/github_server.py",
    "forgea_cli/migrations/env.py",
    "forgea_cli/migrations/versions/0001_baseline.py",
    "forgea_cli/db/fixtures/prisma_baseline.sql",
)


def build_wheel(out: Path) -> Path:
    # Offline: hatchling comes from the test extras, not from a build-isolation download.
    pip_wheel = [*PIP, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)]
    subprocess.run(pip_wheel, check=True, capture_output=True)
    (wheel,) = out.glob("forgea_cli-*.whl")
    return wheel


def install_in_fresh_venv(wheel: Path, venv: Path) -> Path:
    """A venv holding only the wheel; its dependencies are this environment's (a path in a .pth,
    which leaves out this environment's editable install of the source tree)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "forgea-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip_install = [*PIP, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(pip_install, check=True, capture_output=True)
    return venv / "bin"


@pytest.mark.slow
def test_demo_from_an_installed_wheel_creates_a_session(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [name for name in SHIPPED if name not in names]
    bin_dir = install_in_fresh_venv(wheel, tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEA_") and k != "PYTHONPATH"}
    env["FORGEA_DATA_DIR"] = str(tmp_path / "demo-data")
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import forgea_cli; print(forgea_cli.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).resolve().is_relative_to((tmp_path / "venv").resolve())  # not the source tree
    try:
        demo = subprocess.run(
            [str(bin_dir / "forgea"), "demo"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert demo.returncode == 0, demo.stderr[-3000:]
        assert "$ forgea session create --user" in demo.stderr  # the step is there, not left out
        assert re.search(r"session [0-9a-f-]{36} created", demo.stdout)  # and it ran
    finally:
        subprocess.run([str(bin_dir / "forgea"), "db", "stop"], cwd=tmp_path, env=env, capture_output=True)
