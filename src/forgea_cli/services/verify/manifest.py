"""What forgea depends on in the web app's schema, declared once (DESIGN §2a).

Every catalog object is one of three kinds:
- **owned**: created or replaced by forgea's migrations; its expected state is the revision's
  snapshot and it must match exactly;
- **depended on**: listed here, each with what forgea needs it for; it must be present and
  compatible (extras around it are allowed);
- **the web app's**: everything else; reported, never a failure.

Functions and triggers forgea did not write are judged by signature, trigger shape and behaviour
(the probes), never by their text. Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OWNED = "owned"
DEPENDED = "depended"
WEBAPP = "webapp"
KINDS = (OWNED, DEPENDED, WEBAPP)

# Created by the baseline revision when it adopts a Prisma database: owned from the start.
BASELINE_OWNED_TABLES = frozenset({"ForgeaAdoptedObject"})

UUID = "uuid"
TEXT = "text"
TIMESTAMP3 = "timestamp(3) without time zone"
NOW = "CURRENT_TIMESTAMP"


@dataclass(frozen=True)
class Column:
    type: str
    nullable: bool
    default: str | None = None  # checked only when set: a default forgea or the legacy writers rely on


@dataclass(frozen=True)
class TableNeed:
    name: str
    why: str
    columns: dict[str, Column]


@dataclass(frozen=True)
class EnumNeed:
    name: str
    why: str
    labels: frozenset[str]  # exactly these labels (order is not relied on)


@dataclass(frozen=True)
class KeyNeed:
    """A primary key or unique index on exactly these columns, whatever its name."""

    table: str
    columns: tuple[str, ...]
    why: str
    primary: bool = False

    @property
    def name(self) -> str:
        suffix = "pkey" if self.primary else "_".join(self.columns) + "_key"
        return f"{self.table}_{suffix}"


@dataclass(frozen=True)
class TriggerNeed:
    name: str
    table: str
    timing: str
    events: frozenset[str]
    function: str
    why: str
    level: str = "ROW"


@dataclass(frozen=True)
class FunctionNeed:
    name: str
    why: str
    probes: tuple[str, ...]  # check-id prefixes of the probes that judge its behaviour
    arguments: str = ""
    result: str = "trigger"
    language: str = "plpgsql"


@dataclass(frozen=True)
class Manifest:
    tables: tuple[TableNeed, ...]
    enums: tuple[EnumNeed, ...]
    keys: tuple[KeyNeed, ...]
    triggers: tuple[TriggerNeed, ...]
    functions: tuple[FunctionNeed, ...]
    adopted_kinds: tuple[str, ...] = field(default=("function", "trigger"))

    def table(self, name: str) -> TableNeed | None:
        return next((t for t in self.tables if t.name == name), None)

    def names(self, section: str) -> frozenset[str]:
        return frozenset(need.name for need in getattr(self, section))


def _not_null(type_: str, default: str | None = None) -> Column:
    return Column(type_, False, default)


def _null(type_: str) -> Column:
    return Column(type_, True)


_APPEND_ONLY = "probes.append_only"
_LIFECYCLE = "probes.lifecycle"

DEPENDED_ON = Manifest(
    tables=(
        TableNeed(
            "User",
            "sessions belong to students; `session create --user` resolves an id or an email",
            {"id": _not_null(UUID), "email": _not_null(TEXT)},
        ),
        TableNeed(
            "Lab",
            "lab versions are backfilled from repoVersion/baseRepoUrl; templates are never student repos",
            {
                "id": _not_null(UUID),
                "title": _not_null(TEXT),
                "repoVersion": _not_null(TEXT),
                "baseRepoUrl": _not_null(TEXT),
            },
        ),
        TableNeed(
            "LabSession",
            "the session forgea binds to a repository; the web app inserts id, userId, labId, userForkUrl "
            "and looks pushes up by userForkUrl",
            {
                "id": _not_null(UUID),
                "userId": _not_null(UUID),
                "labId": _not_null(UUID),
                "status": _not_null('"LabStatus"', "'IN_PROGRESS'::\"LabStatus\""),
                "userForkUrl": _not_null(TEXT),
                "previewUrl": _null(TEXT),
                "startedAt": _not_null(TIMESTAMP3, NOW),
                "lastActivityAt": _not_null(TIMESTAMP3, NOW),
            },
        ),
        TableNeed(
            "VerificationLog",
            "legacy pass evidence: carried over as attempt 1 and mirrored into VerificationAttempt",
            {
                "id": _not_null(UUID),
                "sessionId": _not_null(UUID),
                "commitSha": _not_null(TEXT),
                "prDiff": _not_null(TEXT),
                "ciOutput": _not_null(TEXT),
                "verifiedAt": _not_null(TIMESTAMP3, NOW),
            },
        ),
        TableNeed(
            "AuditLog",
            "every transition and session creation writes one audit row",
            {
                "id": _not_null(UUID),
                "userId": _null(UUID),
                "actorId": _not_null(TEXT),
                "action": _not_null(TEXT),
                "metadata": _null("jsonb"),
                "createdAt": _not_null(TIMESTAMP3, NOW),
            },
        ),
    ),
    enums=(
        EnumNeed(
            "LabStatus",
            "the lifecycle module, its trigger and the active-session index speak exactly these statuses",
            frozenset({"IN_PROGRESS", "STUCK", "VERIFIED_PASS", "DEFERRED"}),
        ),
    ),
    keys=(
        KeyNeed("User", ("id",), "LabSession.userId and session creation reference it", primary=True),
        KeyNeed("User", ("email",), "`--user EMAIL` must name one student"),
        KeyNeed("Lab", ("id",), "LabVersion.labId references it", primary=True),
        KeyNeed("LabSession", ("id",), "the mapping, attempts and keys reference it", primary=True),
        KeyNeed(
            "VerificationLog", ("sessionId",), "a legacy log is carried over as attempt 1 of its session"
        ),
    ),
    triggers=(
        TriggerNeed(
            "labsession_lifecycle_guard",
            "LabSession",
            "BEFORE",
            frozenset({"INSERT", "UPDATE"}),
            "enforce_lab_session_status_transition",
            "the database refuses illegal status changes from every writer",
        ),
        TriggerNeed(
            "verificationlog_immutable",
            "VerificationLog",
            "BEFORE",
            frozenset({"UPDATE", "DELETE"}),
            "prevent_destructive_action",
            "pass evidence stays append-only",
        ),
        TriggerNeed(
            "auditlog_immutable",
            "AuditLog",
            "BEFORE",
            frozenset({"UPDATE", "DELETE"}),
            "prevent_destructive_action",
            "the audit trail stays append-only",
        ),
        TriggerNeed(
            "auditlog_no_update",
            "AuditLog",
            "BEFORE",
            frozenset({"UPDATE"}),
            "prevent_auditlog_mutations",
            "the audit trail refuses updates with SQLSTATE 42501",
        ),
        TriggerNeed(
            "auditlog_no_delete",
            "AuditLog",
            "BEFORE",
            frozenset({"DELETE"}),
            "prevent_auditlog_mutations",
            "the audit trail refuses deletes with SQLSTATE 42501",
        ),
        TriggerNeed(
            "resumebullet_immutable",
            "ResumeBullet",
            "BEFORE",
            frozenset({"UPDATE", "DELETE"}),
            "prevent_destructive_action",
            "a session's hiring evidence stays append-only; forgea's downgrades promise no row lost",
        ),
    ),
    functions=(
        FunctionNeed(
            "enforce_lab_session_status_transition",
            "the legacy lifecycle guard (replaced by forgea's own from revision 0004_f6_lifecycle)",
            (_LIFECYCLE,),
        ),
        FunctionNeed(
            "prevent_destructive_action",
            "the append-only guard of the evidence tables, reused by VerificationAttempt's trigger",
            (_APPEND_ONLY, "probes.function.prevent_destructive_action"),
        ),
        FunctionNeed(
            "prevent_auditlog_mutations",
            "AuditLog's own guard (SQLSTATE 42501)",
            ("probes.append_only.AuditLog", "probes.function.prevent_auditlog_mutations"),
        ),
    ),
)
