"""SQLAlchemy Core tables for the schema at head (a test compares them with the migrated database).

Quoted Prisma names are kept as they are; Python code refers to columns by those names
(`lab_session.c.userForkUrl`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ENUM, JSONB, TIMESTAMP, UUID

metadata = MetaData()

TS3 = TIMESTAMP(precision=3)
NOW = text("CURRENT_TIMESTAMP")
GEN_UUID = text("gen_random_uuid()")


def _enum(name: str, *labels: str) -> ENUM:
    return ENUM(*labels, name=name, create_type=False, metadata=metadata)


user_role = _enum("UserRole", "CANDIDATE", "ADMIN", "RECRUITER")
subscription_tier = _enum("SubscriptionTier", "FREE", "PRO", "ENTERPRISE")
lab_status = _enum("LabStatus", "IN_PROGRESS", "STUCK", "VERIFIED_PASS", "DEFERRED")
failure_class = _enum(
    "FailureClass",
    "RESOURCE_LEAK",
    "STATE_CORRUPTION",
    "RENDERING_FAILURE",
    "SECURITY_EXPOSURE",
    "PERFORMANCE_DEGRADATION",
    "DATA_INTEGRITY",
)
verification_result = _enum("VerificationResult", "PASS", "FAIL", "ERROR")
repo_resolution = _enum("RepoResolution", "PENDING", "RESOLVED", "NOT_FOUND")
repo_mapping_source = _enum("RepoMappingSource", "CREATED", "BACKFILL", "WEBHOOK", "MANUAL")
recovery_point = _enum("IdempotencyRecoveryPoint", "STARTED", "REPO_CREATED", "FINISHED", "FAILED")
webhook_outcome = _enum(
    "WebhookDeliveryOutcome",
    "APPLIED",
    "NO_SESSION",
    "TEMPLATE_REPOSITORY",
    "SESSION_INACTIVE",
    "MAPPING_UPDATED",
    "MAPPING_NOT_FOUND",
    "RECORDED",
)


def _fk(target: str) -> ForeignKey:
    return ForeignKey(target, ondelete="RESTRICT", onupdate="CASCADE")


user = Table(
    "User",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("githubId", Text, unique=True),
    Column("email", Text, nullable=False, unique=True),
    Column("role", user_role, nullable=False, server_default="CANDIDATE"),
    Column("icprScore", Integer, nullable=False, server_default=text("0")),
)

lab = Table(
    "Lab",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("title", Text, nullable=False),
    Column("epic", Text, nullable=False),
    Column("sourceGithubIssueUrl", Text, nullable=False),
    Column("repoVersion", Text, nullable=False),
    Column("baseRepoUrl", Text, nullable=False),
    Column("failureClass", failure_class, nullable=False, index=True),
    Column("constraints", JSONB, nullable=False),
)

lab_version = Table(
    "LabVersion",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=GEN_UUID),
    Column("labId", UUID(as_uuid=True), _fk("Lab.id"), nullable=False),
    Column("version", Text, nullable=False),
    Column("templateRepoUrl", Text, nullable=False),
    Column("templateRepoId", BigInteger),
    Column("commitSha", Text),
    Column("createdAt", TS3, nullable=False, server_default=NOW),
    Index("LabVersion_labId_version_key", "labId", "version", unique=True),
    Index("LabVersion_id_labId_key", "id", "labId", unique=True),
)

lab_session = Table(
    "LabSession",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("userId", UUID(as_uuid=True), _fk("User.id"), nullable=False),
    Column("labId", UUID(as_uuid=True), _fk("Lab.id"), nullable=False),
    Column("status", lab_status, nullable=False, server_default="IN_PROGRESS"),
    Column("userForkUrl", Text, nullable=False),
    Column("previewUrl", Text),
    Column("startedAt", TS3, nullable=False, server_default=NOW),
    Column("lastActivityAt", TS3, nullable=False, server_default=NOW),
    Column("labVersionId", UUID(as_uuid=True), nullable=False),
    Column("completedAt", TS3),
    ForeignKeyConstraint(
        ["labVersionId", "labId"],
        ["LabVersion.id", "LabVersion.labId"],
        name="LabSession_labVersionId_labId_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
    CheckConstraint(
        "(\"completedAt\" IS NOT NULL) = (status = 'VERIFIED_PASS')", name="LabSession_completedAt_check"
    ),
    Index("LabSession_status_lastActivityAt_idx", "status", "lastActivityAt"),
    Index("LabSession_labId_status_idx", "labId", "status"),
    Index("LabSession_userId_status_idx", "userId", "status"),
    Index("LabSession_lastActivityAt_idx", "lastActivityAt"),
    Index(
        "LabSession_userId_labId_active_key",
        "userId",
        "labId",
        unique=True,
        postgresql_where=text("status IN ('IN_PROGRESS', 'STUCK')"),
    ),
)

verification_log = Table(
    "VerificationLog",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("sessionId", UUID(as_uuid=True), _fk("LabSession.id"), nullable=False, unique=True),
    Column("commitSha", Text, nullable=False),
    Column("prDiff", Text, nullable=False),
    Column("ciOutput", Text, nullable=False),
    Column("verifiedAt", TS3, nullable=False, server_default=NOW),
)

verification_attempt = Table(
    "VerificationAttempt",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=GEN_UUID),
    Column("labSessionId", UUID(as_uuid=True), _fk("LabSession.id"), nullable=False),
    Column("attemptNumber", Integer, nullable=False),
    Column("commitSha", Text, nullable=False),
    Column("result", verification_result, nullable=False),
    Column("ciOutput", Text, nullable=False),
    Column("prDiff", Text),
    Column("deliveryId", Text, unique=True),
    Column("legacyVerificationLogId", UUID(as_uuid=True), _fk("VerificationLog.id"), unique=True),
    Column("createdAt", TS3, nullable=False, server_default=NOW),
    CheckConstraint('"attemptNumber" >= 1', name="VerificationAttempt_attemptNumber_check"),
    Index("VerificationAttempt_labSessionId_attemptNumber_key", "labSessionId", "attemptNumber", unique=True),
    Index("VerificationAttempt_labSessionId_result_idx", "labSessionId", "result"),
)

resume_bullet = Table(
    "ResumeBullet",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("sessionId", UUID(as_uuid=True), _fk("LabSession.id"), nullable=False, unique=True),
    Column("bulletText", Text, nullable=False),
    Column("atsKeywords", ARRAY(Text)),
)

audit_log = Table(
    "AuditLog",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("userId", UUID(as_uuid=True), _fk("User.id")),
    Column("actorId", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("metadata", JSONB),
    Column("createdAt", TS3, nullable=False, server_default=NOW),
)

repo_mapping = Table(
    "GitHubRepoMapping",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=GEN_UUID),
    Column("labSessionId", UUID(as_uuid=True), _fk("LabSession.id"), nullable=False, unique=True),
    Column("providerRepoId", BigInteger, unique=True),
    Column("owner", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("canonicalUrl", Text, nullable=False, unique=True),
    Column("htmlUrl", Text),
    Column("defaultBranch", Text),
    Column("resolution", repo_resolution, nullable=False, server_default="PENDING", index=True),
    Column("source", repo_mapping_source, nullable=False),
    Column("createdAt", TS3, nullable=False, server_default=NOW),
    Column("updatedAt", TS3, nullable=False, server_default=NOW),
    Column("resolvedAt", TS3),
    CheckConstraint(
        "(resolution = 'RESOLVED') = (\"providerRepoId\" IS NOT NULL)",
        name="GitHubRepoMapping_resolution_check",
    ),
    CheckConstraint('"canonicalUrl" = lower("canonicalUrl")', name="GitHubRepoMapping_canonicalUrl_check"),
)

idempotency_key = Table(
    "IdempotencyKey",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=GEN_UUID),
    Column("actorId", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("requestHash", Text, nullable=False),
    Column("requestParams", JSONB, nullable=False),
    Column("recoveryPoint", recovery_point, nullable=False, server_default="STARTED"),
    Column("plannedSessionId", UUID(as_uuid=True), nullable=False, unique=True),
    Column("repoFullName", Text),
    Column("providerRepoId", BigInteger),
    Column("labSessionId", UUID(as_uuid=True), _fk("LabSession.id")),
    Column("result", JSONB),
    Column("errorCode", Text),
    Column("lockedAt", TS3),
    Column("lastRunAt", TS3, nullable=False, server_default=NOW),
    Column("createdAt", TS3, nullable=False, server_default=NOW),
    Index("IdempotencyKey_actorId_key_key", "actorId", "key", unique=True),
    Index("IdempotencyKey_recoveryPoint_lastRunAt_idx", "recoveryPoint", "lastRunAt"),
)

webhook_delivery = Table(
    "WebhookDelivery",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=GEN_UUID),
    Column("deliveryId", Text, nullable=False, unique=True),
    Column("event", Text, nullable=False),
    Column("action", Text),
    Column("hookId", BigInteger),
    Column("providerRepoId", BigInteger),
    Column("repoFullName", Text),
    Column("labSessionId", UUID(as_uuid=True), _fk("LabSession.id"), index=True),
    Column("outcome", webhook_outcome, nullable=False),
    Column("detail", Text),
    Column("commitSha", Text),
    Column("payloadSha256", Text, nullable=False),
    Column("signatureVerified", Boolean, nullable=False, server_default=text("false")),
    Column("deliveredAt", TS3),
    Column("appliedAt", TS3, nullable=False, server_default=NOW, index=True),
    Column("appliedBy", Text, nullable=False),
)

adopted_object = Table(
    "ForgeaAdoptedObject",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("tableName", Text),
    Column("definition", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("adoptedAt", TS3, nullable=False, server_default=NOW),
    Column("adoptedBy", Text, nullable=False),
)
