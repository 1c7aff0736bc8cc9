"""Where the shared test corpus is: other people's data, read in place, never copied into the repo.

``FORGEA_CORPUS_DIR`` when set; else the nearest ``shared/corpus`` beside the checkout or one of its
ancestors (a clone anywhere below the workspace finds it), else beside the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve()


def corpus_dir() -> Path:
    configured = os.environ.get("FORGEA_CORPUS_DIR")
    if configured:
        return Path(configured)
    for start in (HERE, Path.cwd().resolve()):
        for folder in start.parents:
            candidate = folder / "shared" / "corpus"
            if candidate.is_dir():
                return candidate
    return HERE.parents[4] / "shared" / "corpus"  # a checkout beside shared/: where it would be
