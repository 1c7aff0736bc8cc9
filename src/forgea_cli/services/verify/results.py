"""What every verify-constraints check reports (pure: standard library only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

GROUPS = ("migrations", "catalog", "probes", "data")


class CheckStatus(StrEnum):
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    PASS = "pass"
    INFO = "info"  # reported, never judged: the web app's own objects


# Failures first, then what needs a look, then what was not checked, then what holds, then the rest.
STATUS_ORDER = {
    CheckStatus.FAIL: 0,
    CheckStatus.WARN: 1,
    CheckStatus.SKIP: 2,
    CheckStatus.PASS: 3,
    CheckStatus.INFO: 4,
}


@dataclass(frozen=True)
class CheckResult:
    """One check: a stable id (e.g. ``catalog.trigger.labsession_lifecycle_guard``) and its verdict."""

    id: str
    group: str
    object: str
    status: CheckStatus
    message: str
    expected: Any = None
    found: Any = None
    hint: str | None = None
    kind: str | None = None  # catalog checks: owned, depended or webapp (schema_manifest)
    diff: str | None = None  # a unified diff of the reference text and the live one

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)  # its keys are camelCase; expected/found are data (documents.OPAQUE_KEYS)
        document["status"] = str(self.status)
        return document

    def escalated(self) -> CheckResult:
        """The same result as a failure (``--fail-on warn``)."""
        return CheckResult(**{**self.__dict__, "status": CheckStatus.FAIL})


def passed(check_id: str, obj: str, message: str, *, expected: Any = None, found: Any = None) -> CheckResult:
    return CheckResult(check_id, _group(check_id), obj, CheckStatus.PASS, message, expected, found)


def failed(
    check_id: str, obj: str, message: str, *, expected: Any = None, found: Any = None, hint: str | None = None
) -> CheckResult:
    return CheckResult(check_id, _group(check_id), obj, CheckStatus.FAIL, message, expected, found, hint)


def warned(
    check_id: str, obj: str, message: str, *, expected: Any = None, found: Any = None, hint: str | None = None
) -> CheckResult:
    return CheckResult(check_id, _group(check_id), obj, CheckStatus.WARN, message, expected, found, hint)


def skipped(check_id: str, obj: str, message: str, *, hint: str | None = None) -> CheckResult:
    return CheckResult(check_id, _group(check_id), obj, CheckStatus.SKIP, message, hint=hint)


def judged(
    ok: bool,
    check_id: str,
    obj: str,
    message: str,
    *,
    expected: Any = None,
    found: Any = None,
    hint: str | None = None,
    otherwise: CheckStatus = CheckStatus.FAIL,
) -> CheckResult:
    """Pass when ``ok``; else ``otherwise`` (fail by default) with the hint."""
    if ok:
        return passed(check_id, obj, message, expected=expected, found=found)
    return CheckResult(check_id, _group(check_id), obj, otherwise, message, expected, found, hint)


def _group(check_id: str) -> str:
    group = check_id.split(".", 1)[0]
    if group not in GROUPS:
        raise ValueError(f"check id {check_id!r} does not start with a group ({', '.join(GROUPS)})")
    return group
