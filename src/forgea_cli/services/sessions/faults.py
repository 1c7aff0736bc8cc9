"""Deterministic crash points for the crash tests (never set in production).

`FORGEA_FAULT_INJECT=after:<POINT>` makes the process SIGKILL itself right after that step of
session creation, the way a power cut or an OOM kill would: no cleanup, no exception handlers.
Points: STARTED (key committed), GITHUB_CREATED (GitHub answered, nothing recorded yet),
REPO_CREATED (recovery point committed), FINISHED (session committed, nothing printed yet).
"""

from __future__ import annotations

import os
import signal

ENV = "FORGEA_FAULT_INJECT"


def checkpoint(point: str) -> None:
    if os.environ.get(ENV) == f"after:{point}":
        os.kill(os.getpid(), signal.SIGKILL)
