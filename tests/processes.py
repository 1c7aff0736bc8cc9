"""Child processes the tests interrupt with SIGINT, as an operator's Ctrl-C would.

A shell without job control starts background commands with SIGINT ignored (`make test &`, a CI
runner's `nohup`), children inherit that, and Python then installs no KeyboardInterrupt handler:
the signal a test sends would be dropped. The child gets the default disposition back before exec.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible(command: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(command, **kwargs)`` whose SIGINT behaves as on a terminal."""
    return subprocess.Popen(command, preexec_fn=_default_sigint, **kwargs)
