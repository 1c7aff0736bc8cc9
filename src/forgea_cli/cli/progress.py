"""Progress bars on a terminal (stderr), nothing elsewhere."""

from __future__ import annotations

import sys


class RichProgress:
    def __init__(self) -> None:
        self._progress = None
        self._task = None

    def start(self, label: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, count: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def for_terminal():
    """A Rich progress bar when stderr is a terminal; silence otherwise (CI logs, pipes)."""
    from forgea_cli.progress import NoProgress

    return RichProgress() if sys.stderr.isatty() else NoProgress()
