"""The JSON contract every `--json` document follows (standard library only).

- A result that is printed as JSON has one ``to_json()`` (a dict or list of JSON values, datetimes,
  UUIDs, enums, paths, or further results); ``cli.output.emit_json`` is the one place that renders
  it, through ``jsonable`` below.
- Keys are camelCase (``dryRun``, ``labSessionId``), as the database's columns are. Keys that are
  data rather than names keep their spelling: UPPER_CASE codes (``INVALID_URL``), statuses
  (``would-create``), check ids, and whatever sits under an opaque key (``OPAQUE_KEYS``: audit
  metadata, a check's expected/found values, stored request parameters).
- Timestamps are ISO 8601 with their offset. The database's ``TIMESTAMP(3)`` columns hold UTC
  without a zone (Prisma's convention; forgea's connections run with TimeZone=UTC), so a naive
  datetime is UTC: ``2026-01-05T09:30:00.123+00:00``.
- A failure is one document too: ``{"error": {"code", "exitCode", "message", "hint"}}``, with
  ``"result"`` beside it when the error carries the command's answer or what was done before it
  (a lookup that matched nothing, a backfill stopped after some batches).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

# Values under these keys are data (database JSON, a check's evidence): their keys are not names.
OPAQUE_KEYS = frozenset({"metadata", "expected", "found", "requestParams"})

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def camel(name: str) -> str:
    """``dry_run`` → ``dryRun``; a name already in camelCase (or a code) is returned unchanged."""
    if not _SNAKE.match(name):
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(value: Any) -> Any:
    """``value`` with every snake_case key renamed by ``camel``, at any depth, except under
    ``OPAQUE_KEYS`` (data keeps its keys)."""
    if isinstance(value, Mapping):
        return {camel(str(k)): v if camel(str(k)) in OPAQUE_KEYS else camel_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [camel_keys(v) for v in value]
    return value


def is_contract_key(key: str) -> bool:
    """camelCase, or a key that is data (a code, a status, a check id): never snake_case."""
    return bool(_CAMEL.match(key) or _CODE.match(key) or not _SNAKE.match(key))


def key_violations(document: Any, path: str = "$") -> list[str]:
    """Paths of the snake_case keys in a document (outside ``OPAQUE_KEYS``): should be none."""
    found: list[str] = []
    if isinstance(document, Mapping):
        for key, value in document.items():
            where = f"{path}.{key}"
            if not is_contract_key(str(key)):
                found.append(where)
            if str(key) not in OPAQUE_KEYS:
                found += key_violations(value, where)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += key_violations(value, f"{path}[{index}]")
    return found


def iso(moment: datetime | date | time | None) -> str | None:
    """ISO 8601 with the offset (naive datetimes are UTC, see above); milliseconds, as stored."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return aware.isoformat(timespec="milliseconds")
    return moment.isoformat()


def jsonable(value: Any, *, text=lambda s: s) -> Any:
    """``value`` as plain JSON types: ``to_json()`` called, timestamps by ``iso``, UUIDs, enums,
    paths and decimals as JSON scalars; ``text`` applied to every string (the CLI redacts there)."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, type):
        return jsonable(to_json(), text=text)
    if isinstance(value, str):
        return text(value.value if isinstance(value, Enum) else value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value, text=text)
    if isinstance(value, datetime | date | time):
        return iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, PurePath):
        return text(str(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, text=text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, text=text) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v, text=text) for v in value), key=str)
    if dataclasses.is_dataclass(value):
        return jsonable(camel_keys(dataclasses.asdict(value)), text=text)
    if isinstance(value, bytes):
        return text(value.decode("utf-8", "replace"))
    return text(str(value))


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 batch``, ``2 batches``, ``1,234 rows``: the one way a count and its noun are written."""
    if count == 1:
        return f"1 {singular}"
    if plural_form is None:
        plural_form = singular + ("es" if singular.endswith(("s", "sh", "ch", "x", "z")) else "s")
    return f"{count:,} {plural_form}"


def error_code(exc: BaseException) -> str:
    """The stable code of an error document: the error's class in UPPER_SNAKE (``NotFound`` →
    ``NOT_FOUND``); ``INTERNAL_ERROR`` for an unexpected exception is the caller's choice."""
    name = type(exc).__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()


def error_document(code: str, exit_code: int, message: str, hint: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "exitCode": exit_code, "message": message, "hint": hint}}
