"""LabSession status lifecycle: the single source of truth (standard library only).

The database trigger `labsession_lifecycle_guard` enforces the same table; migrations freeze its SQL
together with `fingerprint()`, and verify-constraints probes the live trigger against `ALL_PAIRS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import product
from types import MappingProxyType
from typing import Any

from forgea_cli.documents import camel_keys
from forgea_cli.errors import InvalidInput

__all__ = [
    "ACTIVE",
    "ALL_PAIRS",
    "INITIAL",
    "PRECONDITION_TEXT",
    "STAMPS_COMPLETED_AT",
    "TERMINAL",
    "TRANSITIONS",
    "Facts",
    "Outcome",
    "Precondition",
    "Status",
    "as_json_document",
    "as_rows",
    "completed_at_on_entry",
    "fingerprint",
    "judge",
    "markdown_block",
    "mermaid",
    "parse_status",
    "precondition_for",
]


class Status(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    STUCK = "STUCK"
    VERIFIED_PASS = "VERIFIED_PASS"
    DEFERRED = "DEFERRED"


INITIAL = Status.IN_PROGRESS
ACTIVE = frozenset({Status.IN_PROGRESS, Status.STUCK})
TERMINAL = frozenset({Status.VERIFIED_PASS})
STAMPS_COMPLETED_AT = frozenset({Status.VERIFIED_PASS})

# Exactly the legacy trigger's table. Staying in the same status is always allowed and is not listed.
TRANSITIONS: Mapping[Status, frozenset[Status]] = MappingProxyType(
    {
        Status.IN_PROGRESS: frozenset({Status.STUCK, Status.VERIFIED_PASS, Status.DEFERRED}),
        Status.STUCK: frozenset({Status.IN_PROGRESS, Status.VERIFIED_PASS, Status.DEFERRED}),
        Status.DEFERRED: frozenset({Status.IN_PROGRESS}),
        Status.VERIFIED_PASS: frozenset(),
    }
)

ALL_PAIRS: tuple[tuple[Status, Status], ...] = tuple(product(Status, Status))


class Precondition(StrEnum):
    PASS_EVIDENCE = "PASS_EVIDENCE"
    NO_OTHER_ACTIVE_SESSION = "NO_OTHER_ACTIVE_SESSION"


PRECONDITION_TEXT: Mapping[Precondition, str] = MappingProxyType(
    {
        Precondition.PASS_EVIDENCE: (
            "needs pass evidence: a PASS VerificationAttempt or a legacy VerificationLog row"
        ),
        Precondition.NO_OTHER_ACTIVE_SESSION: (
            "needs no other active (IN_PROGRESS or STUCK) session for the same student and lab"
        ),
    }
)


@dataclass(frozen=True)
class Facts:
    """What the database knows about the session that the preconditions depend on."""

    has_pass_evidence: bool = False
    other_active_session: bool = False


class Outcome(StrEnum):
    ALLOWED = "ALLOWED"
    UNCHANGED = "UNCHANGED"
    ILLEGAL = "ILLEGAL"
    NEEDS_PASS_EVIDENCE = "NEEDS_PASS_EVIDENCE"
    OTHER_ACTIVE_SESSION = "OTHER_ACTIVE_SESSION"


def precondition_for(current: Status, target: Status) -> Precondition | None:
    """The precondition a change of status would need (None if unchanged or unconditional).

    Rules are stated per target, not per table row, so a future edge into VERIFIED_PASS inherits
    the pass-evidence rule.
    """
    if current == target:
        return None
    if target == Status.VERIFIED_PASS:
        return Precondition.PASS_EVIDENCE
    if (current, target) == (Status.DEFERRED, Status.IN_PROGRESS):
        return Precondition.NO_OTHER_ACTIVE_SESSION
    return None


def judge(current: Status, target: Status, facts: Facts = Facts()) -> Outcome:
    if current == target:
        return Outcome.UNCHANGED
    if target not in TRANSITIONS.get(current, frozenset()):
        return Outcome.ILLEGAL
    precondition = precondition_for(current, target)
    if precondition is Precondition.PASS_EVIDENCE and not facts.has_pass_evidence:
        return Outcome.NEEDS_PASS_EVIDENCE
    if precondition is Precondition.NO_OTHER_ACTIVE_SESSION and facts.other_active_session:
        return Outcome.OTHER_ACTIVE_SESSION
    return Outcome.ALLOWED


def completed_at_on_entry(target: Status) -> bool:
    """Whether the database stamps completedAt when a session enters `target` (never re-stamped)."""
    return target in STAMPS_COMPLETED_AT


def parse_status(text: str) -> Status:
    """A status from user input, case-insensitively; `verified-pass` and `verified pass` work too."""
    key = str(text).strip().upper().replace("-", "_").replace(" ", "_")
    try:
        return Status(key)
    except ValueError:
        valid = ", ".join(Status)
        raise InvalidInput(f"unknown LabSession status {text!r}; valid values: {valid}") from None


# --- renderers ------------------------------------------------------------------------------------

_MERMAID_NOTES = (
    (
        "right of VERIFIED_PASS",
        "Entering VERIFIED_PASS needs a PASS VerificationAttempt",
        "or a legacy VerificationLog row. completedAt is stamped once.",
    ),
    (
        "left of DEFERRED",
        "DEFERRED to IN_PROGRESS needs no other active",
        "(IN_PROGRESS or STUCK) session for the same student and lab.",
    ),
)


def _edges() -> list[tuple[Status, Status]]:
    return [(src, dst) for src, dst in ALL_PAIRS if dst in TRANSITIONS.get(src, frozenset())]


def mermaid() -> str:
    """A `stateDiagram-v2` of the lifecycle, ending in a newline."""
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL}"]
    for src, dst in _edges():
        precondition = precondition_for(src, dst)
        label = f" : {precondition}" if precondition else ""
        lines.append(f"    {src} --> {dst}{label}")
    lines.extend(f"    {state} --> [*]" for state in _names(TERMINAL))
    for position, *text in _MERMAID_NOTES:
        lines.append(f"    note {position}")
        lines.extend(f"        {line}" for line in text)
        lines.append("    end note")
    return "\n".join(lines) + "\n"


def markdown_block() -> str:
    """What docs/lifecycle.md holds between `<!-- lifecycle:begin -->` and `<!-- lifecycle:end -->`."""
    return f"```mermaid\n{mermaid()}```\n"


def as_rows() -> list[dict[str, Any]]:
    """One row per (from, to) pair in ALL_PAIRS order, for tables and `--json`."""
    rows = []
    for src, dst in ALL_PAIRS:
        allowed = src == dst or dst in TRANSITIONS.get(src, frozenset())
        precondition = precondition_for(src, dst) if allowed else None
        rows.append(
            {
                "from": str(src),
                "to": str(dst),
                "allowed": allowed,
                "unchanged": src == dst,
                "precondition": str(precondition) if precondition else None,
                "precondition_text": PRECONDITION_TEXT[precondition] if precondition else None,
            }
        )
    return rows


def as_json_document() -> dict[str, Any]:
    """`forgea lifecycle show --json`: the definition in camelCase keys (documents.camel_keys). The
    fingerprint is of the canonical definition (``_definition``, as the migrations froze it)."""
    return camel_keys(
        {
            **_definition(),
            "preconditions": {str(code): text for code, text in PRECONDITION_TEXT.items()},
            "pairs": as_rows(),
            "fingerprint": fingerprint(),
        }
    )


def _definition() -> dict[str, Any]:
    """Everything the trigger SQL encodes, and nothing it does not (no prose)."""
    return {
        "schema": "forgea.lifecycle/1",
        "states": _names(Status),
        "initial": str(INITIAL),
        "active": _names(ACTIVE),
        "terminal": _names(TERMINAL),
        "stamps_completed_at": _names(STAMPS_COMPLETED_AT),
        "transitions": {str(src): _names(TRANSITIONS.get(src, ())) for src in sorted(Status)},
        "guarded": [
            [str(src), str(dst), str(precondition)]
            for src, dst in sorted(_edges())
            if (precondition := precondition_for(src, dst))
        ],
    }


def _names(states: Iterable[Status]) -> list[str]:
    return sorted(str(state) for state in states)


def fingerprint() -> str:
    """sha256 of the canonical definition; a migration that freezes the trigger records it."""
    canonical = json.dumps(_definition(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
