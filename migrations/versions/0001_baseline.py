"""Baseline: the Forgea schema as Prisma built it (DESIGN §2).

A database Prisma already built is adopted at this revision by `forgea migrate adopt`: in that mode
the revision creates only "ForgeaAdoptedObject" and records in it the web app's functions and
triggers as adopt found them (definition and fingerprint), so later drift is measured against the
adopted database. Otherwise it builds the whole baseline, giving tests, the demo and new
environments the same start (nothing is recorded: the reference is this revision's own text).

Revision ID: 0001_baseline
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from forgea_cli.db import readiness
from forgea_cli.errors import OperationFailed

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

ENUMS = {
    "UserRole": ("CANDIDATE", "ADMIN", "RECRUITER"),
    "SubscriptionTier": ("FREE", "PRO", "ENTERPRISE"),
    "LabStatus": ("IN_PROGRESS", "STUCK", "VERIFIED_PASS", "DEFERRED"),
    "FailureClass": (
        "RESOURCE_LEAK",
        "STATE_CORRUPTION",
        "RENDERING_FAILURE",
        "SECURITY_EXPOSURE",
        "PERFORMANCE_DEGRADATION",
        "DATA_INTEGRITY",
    ),
}

UUID = pg.UUID(as_uuid=True)
TS3 = pg.TIMESTAMP(precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def enum(name: str) -> pg.ENUM:
    return pg.ENUM(*ENUMS[name], name=name, create_type=False)


def fk(column: str, table: str, target: str, ref: str = "id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{ref}"], name=f"{table}_{column}_fkey", ondelete="RESTRICT", onupdate="CASCADE"
    )


def pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=f"{table}_pkey")


APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION prevent_destructive_action()
RETURNS TRIGGER AS $$
BEGIN
    RAISE EXCEPTION 'Action forbidden: This table is append-only. Modifications and deletions are not allowed.';
END;
$$ LANGUAGE plpgsql;
"""

AUDITLOG_FUNCTION = """
CREATE OR REPLACE FUNCTION prevent_auditlog_mutations()
RETURNS TRIGGER AS $$
BEGIN
    RAISE EXCEPTION 'AuditLog is append-only: % is not allowed', TG_OP
        USING ERRCODE = '42501';
END;
$$ LANGUAGE plpgsql;
"""

LIFECYCLE_FUNCTION = """
CREATE OR REPLACE FUNCTION enforce_lab_session_status_transition()
RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW."status" <> 'IN_PROGRESS' THEN
            RAISE EXCEPTION 'Invalid LabSession status transition: % -> %', 'NONE', NEW."status";
        END IF;
        RETURN NEW;
    END IF;

    IF NEW."status" = OLD."status" THEN
        RETURN NEW;
    END IF;

    IF OLD."status" = 'IN_PROGRESS' AND NEW."status" IN ('STUCK', 'VERIFIED_PASS', 'DEFERRED') THEN
        RETURN NEW;
    END IF;

    IF OLD."status" = 'STUCK' AND NEW."status" IN ('IN_PROGRESS', 'VERIFIED_PASS', 'DEFERRED') THEN
        RETURN NEW;
    END IF;

    IF OLD."status" = 'DEFERRED' AND NEW."status" = 'IN_PROGRESS' THEN
        RETURN NEW;
    END IF;

    RAISE EXCEPTION 'Invalid LabSession status transition: % -> %', OLD."status", NEW."status";
END;
$$ LANGUAGE plpgsql;
"""

# (trigger, table, timing/events, function)
TRIGGERS = (
    ("verificationlog_immutable", "VerificationLog", "BEFORE UPDATE OR DELETE", "prevent_destructive_action"),
    ("auditlog_immutable", "AuditLog", "BEFORE UPDATE OR DELETE", "prevent_destructive_action"),
    ("resumebullet_immutable", "ResumeBullet", "BEFORE UPDATE OR DELETE", "prevent_destructive_action"),
    ("auditlog_no_update", "AuditLog", "BEFORE UPDATE", "prevent_auditlog_mutations"),
    ("auditlog_no_delete", "AuditLog", "BEFORE DELETE", "prevent_auditlog_mutations"),
    (
        "labsession_lifecycle_guard",
        "LabSession",
        "BEFORE INSERT OR UPDATE",
        "enforce_lab_session_status_transition",
    ),
)

FUNCTIONS_IN_DROP_ORDER = (
    "enforce_lab_session_status_transition",
    "prevent_auditlog_mutations",
    "prevent_destructive_action",
)

TABLES_IN_DROP_ORDER = (
    "ForgeaAdoptedObject",
    "AuditLog",
    "ResumeBullet",
    "VerificationLog",
    "LabSession",
    "Lab",
    "VerificationToken",
    "Session",
    "Account",
    "User",
)


def create_enums() -> None:
    for name, labels in ENUMS.items():
        pg.ENUM(*labels, name=name).create(op.get_bind(), checkfirst=False)


def create_auth_tables() -> None:
    op.create_table(
        "User",
        sa.Column("id", UUID, nullable=False),
        sa.Column("githubId", sa.Text()),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role", enum("UserRole"), nullable=False, server_default="CANDIDATE"),
        sa.Column("icprScore", sa.Integer(), nullable=False, server_default=sa.text("0")),
        pk("User", "id"),
    )
    op.create_table(
        "Account",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("userId", UUID, nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("providerAccountId", sa.Text(), nullable=False),
        *(sa.Column(c, sa.Text()) for c in ("refresh_token", "access_token")),
        sa.Column("expires_at", sa.Integer()),
        *(sa.Column(c, sa.Text()) for c in ("token_type", "scope", "id_token", "session_state")),
        pk("Account", "id"),
        fk("userId", "Account", "User"),
    )
    op.create_table(
        "Session",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("sessionToken", sa.Text(), nullable=False),
        sa.Column("userId", UUID, nullable=False),
        sa.Column("expires", TS3, nullable=False),
        pk("Session", "id"),
        fk("userId", "Session", "User"),
    )
    op.create_table(
        "VerificationToken",
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires", TS3, nullable=False),
    )


def create_lab_tables() -> None:
    op.create_table(
        "Lab",
        sa.Column("id", UUID, nullable=False),
        *(
            sa.Column(c, sa.Text(), nullable=False)
            for c in ("title", "epic", "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl")
        ),
        sa.Column("failureClass", enum("FailureClass"), nullable=False),
        sa.Column("constraints", pg.JSONB(), nullable=False),
        pk("Lab", "id"),
    )
    op.create_table(
        "LabSession",
        sa.Column("id", UUID, nullable=False),
        sa.Column("userId", UUID, nullable=False),
        sa.Column("labId", UUID, nullable=False),
        sa.Column("status", enum("LabStatus"), nullable=False, server_default="IN_PROGRESS"),
        sa.Column("userForkUrl", sa.Text(), nullable=False),
        sa.Column("previewUrl", sa.Text()),
        sa.Column("startedAt", TS3, nullable=False, server_default=NOW),
        sa.Column("lastActivityAt", TS3, nullable=False, server_default=NOW),
        pk("LabSession", "id"),
        fk("userId", "LabSession", "User"),
        fk("labId", "LabSession", "Lab"),
    )
    op.create_table(
        "VerificationLog",
        sa.Column("id", UUID, nullable=False),
        sa.Column("sessionId", UUID, nullable=False),
        *(sa.Column(c, sa.Text(), nullable=False) for c in ("commitSha", "prDiff", "ciOutput")),
        sa.Column("verifiedAt", TS3, nullable=False, server_default=NOW),
        pk("VerificationLog", "id"),
        fk("sessionId", "VerificationLog", "LabSession"),
    )
    op.create_table(
        "ResumeBullet",
        sa.Column("id", UUID, nullable=False),
        sa.Column("sessionId", UUID, nullable=False),
        sa.Column("bulletText", sa.Text(), nullable=False),
        sa.Column("atsKeywords", pg.ARRAY(sa.Text())),
        pk("ResumeBullet", "id"),
        fk("sessionId", "ResumeBullet", "LabSession"),
    )
    op.create_table(
        "AuditLog",
        sa.Column("id", UUID, nullable=False),
        sa.Column("userId", UUID),
        sa.Column("actorId", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("metadata", pg.JSONB()),
        sa.Column("createdAt", TS3, nullable=False, server_default=NOW),
        pk("AuditLog", "id"),
        fk("userId", "AuditLog", "User"),
    )


def create_indexes() -> None:
    unique = {
        "User_githubId_key": ("User", ["githubId"]),
        "User_email_key": ("User", ["email"]),
        "Account_provider_providerAccountId_key": ("Account", ["provider", "providerAccountId"]),
        "Session_sessionToken_key": ("Session", ["sessionToken"]),
        "VerificationToken_token_key": ("VerificationToken", ["token"]),
        "VerificationToken_identifier_token_key": ("VerificationToken", ["identifier", "token"]),
        "VerificationLog_sessionId_key": ("VerificationLog", ["sessionId"]),
        "ResumeBullet_sessionId_key": ("ResumeBullet", ["sessionId"]),
    }
    for name, (table, columns) in unique.items():
        op.create_index(name, table, columns, unique=True)
    op.create_index("Lab_failureClass_idx", "Lab", ["failureClass"])


def create_triggers() -> None:
    for function_sql in (APPEND_ONLY_FUNCTION, AUDITLOG_FUNCTION, LIFECYCLE_FUNCTION):
        op.execute(function_sql)
    for name, table, when, function in TRIGGERS:
        op.execute(f'CREATE TRIGGER {name} {when} ON "{table}" FOR EACH ROW EXECUTE FUNCTION {function}()')


ADOPTION_TABLE = "ForgeaAdoptedObject"


def create_adoption_table() -> None:
    op.create_table(
        ADOPTION_TABLE,
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tableName", sa.Text()),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("adoptedAt", TS3, nullable=False, server_default=NOW),
        sa.Column("adoptedBy", sa.Text(), nullable=False),
        pk(ADOPTION_TABLE, "kind", "name"),
    )


def adopted_objects() -> list[dict] | None:
    """The records `forgea migrate adopt` passes in; None when this is not an adoption."""
    return op.get_context().config.attributes.get("adopted_objects")


def refuse_prisma_database() -> None:
    """In `forgea_cli.db.readiness`, where `migrate upgrade --dry-run` runs it too."""
    readiness.refuse_prisma_database(op.get_bind())


def upgrade() -> None:
    records = adopted_objects()
    if records is not None:
        create_adoption_table()
        table = sa.table(ADOPTION_TABLE, *(sa.column(c, sa.Text()) for c in records[0])) if records else None
        if table is not None:
            op.bulk_insert(table, records)
        return
    if not context_is_offline():
        refuse_prisma_database()
    create_enums()
    create_auth_tables()
    create_lab_tables()
    create_indexes()
    create_triggers()
    create_adoption_table()


def refuse_to_drop_data() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT to_regclass('\"_prisma_migrations\"') IS NOT NULL")).scalar():
        raise OperationFailed(
            "refusing to downgrade below the baseline: this database was built by Prisma and "
            "its tables belong to the web app"
        )
    for table in TABLES_IN_DROP_ORDER:
        if bind.execute(sa.text(f'SELECT EXISTS (SELECT 1 FROM "{table}")')).scalar():
            raise OperationFailed(f'refusing to downgrade below the baseline: "{table}" holds rows')


def downgrade() -> None:
    if not context_is_offline():
        refuse_to_drop_data()
    for table in TABLES_IN_DROP_ORDER:
        op.drop_table(table)
    for function in FUNCTIONS_IN_DROP_ORDER:
        op.execute(f"DROP FUNCTION {function}()")
    for name in ENUMS:
        op.execute(f'DROP TYPE "{name}"')


def context_is_offline() -> bool:
    return op.get_context().as_sql


# Checked by tests/unit/test_migration_lint.py (squawk); each waiver says why.
SQUAWK_WAIVERS = {
    "prefer-timestamp-tz": "Prisma maps DateTime to TIMESTAMP(3); the web app's schema is adopted as it is",
    "prefer-bigint-over-int": "Prisma's Int columns (icprScore, expires_at) are adopted as they are",
    "prefer-text-field": "alembic_version.version_num is Alembic's own VARCHAR(32)",
}
