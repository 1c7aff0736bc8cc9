"""Expected catalog snapshots, one JSON file per revision, generated from the migrations.

Regenerate with `python -m forgea_cli.db.snapshots.build` (or `make snapshots`); a test fails
when a file is stale.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_snapshot(revision: str) -> dict[str, Any]:
    resource = resources.files(__package__).joinpath(f"{revision}.json")
    if not resource.is_file():
        raise FileNotFoundError(f"no expected catalog snapshot for revision {revision}")
    return json.loads(resource.read_text(encoding="utf-8"))


def dump_snapshot(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True) + "\n"
