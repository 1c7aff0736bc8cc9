"""`forgea schema prisma` against a real database: the fragment follows the live catalog, read-only.

Expectations are read from the catalog in each test (information_schema / pg_catalog), never from a
copy of the output, so a migration that changes a column fails here until the fragment follows it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from forgea_cli.db.engine import connect
from forgea_cli.db.snapshots import load_snapshot
from tests.conftest import REPO_ROOT, migrate_to

BASELINE = "0001_baseline"
PRISMA_BIN = REPO_ROOT / "tests" / "interop" / "node" / "node_modules" / ".bin" / "prisma"
FIELD = re.compile(r"^\s+(\w+)\s+(\S+)\s*(.*)$")


# -- helpers ---------------------------------------------------------------------------------------------


def _document(forgea, url: str, *args: str) -> dict:
    result = forgea("schema", "prisma", "--json", *args, url=url)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _blocks(schema: str) -> dict[tuple[str, str], list[str]]:
    """(kind, name) -> body lines of each model/enum, comments dropped."""
    blocks: dict[tuple[str, str], list[str]] = {}
    current: list[str] | None = None
    for line in schema.splitlines():
        code = line.split("//", 1)[0].rstrip()
        match = re.match(r"^(model|enum)\s+(\w+)\s*\{", code)
        if match:
            current = blocks.setdefault((match.group(1), match.group(2)), [])
        elif code.strip() == "}":
            current = None
        elif current is not None and code.strip():
            current.append(code)
    return blocks


def _fields(lines: list[str]) -> dict[str, tuple[str, str]]:
    fields = {}
    for line in lines:
        match = FIELD.match(line)
        if match and not match.group(1).startswith("@@"):
            fields[match.group(1)] = (match.group(2), match.group(3))
    return fields


def _rows(engine, sql: str, **params) -> list[dict]:
    with connect(engine) as connection:
        return [dict(r) for r in connection.execute(text(sql), params).mappings()]


def _execute(engine, *statements: str) -> None:
    with connect(engine) as connection:
        for statement in statements:
            connection.execute(text(statement))
        connection.commit()


def _owned_tables(engine) -> list[str]:
    baseline = load_snapshot(BASELINE)["tables"].keys()
    rows = _rows(
        engine,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    return [
        r["table_name"]
        for r in rows
        if r["table_name"] not in baseline and r["table_name"] != "alembic_version"
    ]


def _columns(engine, table: str) -> list[dict]:
    return _rows(
        engine,
        """SELECT column_name, data_type, udt_name, is_nullable = 'YES' AS nullable, column_default,
                  datetime_precision
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t
           ORDER BY ordinal_position""",
        t=table,
    )


SCALARS = {
    "uuid": ("String", "@db.Uuid"),
    "text": ("String", None),
    "integer": ("Int", None),
    "bigint": ("BigInt", "@db.BigInt"),
    "jsonb": ("Json", None),
    "boolean": ("Boolean", None),
}


def _expected_type(column: dict) -> tuple[str, str | None]:
    kind = column["data_type"]
    if kind == "USER-DEFINED":
        return column["udt_name"], None
    if kind == "timestamp without time zone":
        return "DateTime", f"@db.Timestamp({column['datetime_precision']})"
    if kind == "character varying":
        return "String", "@db.VarChar("
    return SCALARS[kind]


def _assert_field_matches(table: str, column: dict, fields: dict[str, tuple[str, str]]) -> None:
    name = column["column_name"]
    assert name in fields, f"{table}.{name} is missing from the fragment"
    prisma_type, attributes = fields[name]
    scalar, native = _expected_type(column)
    assert prisma_type.rstrip("?") == scalar, f"{table}.{name}: {prisma_type} for {column['data_type']}"
    assert prisma_type.endswith("?") == column["nullable"], f"{table}.{name}: nullability"
    if native:
        assert native in attributes, f"{table}.{name}: {native} missing from {attributes!r}"
    default = column["column_default"]
    if default is None:
        assert "@default(" not in attributes or "@default(dbgenerated())" in attributes, f"{table}.{name}"
    elif default == "CURRENT_TIMESTAMP":
        assert "@default(now())" in attributes, f"{table}.{name}"
    elif default == "gen_random_uuid()":
        assert '@default(dbgenerated("gen_random_uuid()"))' in attributes, f"{table}.{name}"
    elif "::" in default and column["data_type"] == "USER-DEFINED":
        label = default.split("'")[1]
        assert f"@default({label})" in attributes, f"{table}.{name}"
    else:
        assert "@default(" in attributes, f"{table}.{name}: default {default} not rendered"


def _unique_and_indexes(engine, table: str) -> list[dict]:
    return _rows(
        engine,
        """SELECT i.relname AS name, x.indisunique AS is_unique, x.indisprimary AS is_primary,
                  x.indpred IS NOT NULL AS partial,
                  ARRAY(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
                        ORDER BY k.o) AS cols
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           WHERE t.relname = :t""",
        t=table,
    )


def _foreign_keys(engine, table: str | None = None) -> list[dict]:
    return _rows(
        engine,
        """SELECT c.conname AS name, t.relname AS table_name, r.relname AS ref_table,
                  ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                        ORDER BY k.o) AS cols,
                  ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                        ORDER BY k.o) AS refs
           FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
           WHERE c.contype = 'f' AND (CAST(:t AS text) IS NULL OR t.relname = :t)""",
        t=table,
    )


# -- the fragment against the live catalog ------------------------------------------------------------------


def test_every_owned_table_and_column_is_in_the_fragment_with_its_attributes(forgea, migrated_db, engine_for):
    engine = engine_for(migrated_db)
    document = _document(forgea, migrated_db)
    blocks = _blocks(document["fragment"])
    owned = _owned_tables(engine)
    assert {"LabVersion", "VerificationAttempt", "GitHubRepoMapping", "IdempotencyKey"} <= set(owned)
    assert sorted(document["models"]) == sorted(owned)
    for table in owned:
        lines = blocks[("model", table)]
        fields = _fields(lines)
        for column in _columns(engine, table):
            _assert_field_matches(table, column, fields)
        for index in _unique_and_indexes(engine, table):
            cols = index["cols"]
            if index["is_primary"]:
                assert (
                    "@id" in fields[cols[0]][1] if len(cols) == 1 else f"@@id([{', '.join(cols)}])" in lines
                )
            elif index["is_unique"] and len(cols) == 1:
                assert "@unique" in fields[cols[0]][1], f"{index['name']}"
            else:
                kind = "@@unique" if index["is_unique"] else "@@index"
                assert any(line.strip().startswith(f"{kind}([{', '.join(cols)}]") for line in lines), index
        for fk in _foreign_keys(engine, table):
            relation = f"@relation(fields: [{', '.join(fk['cols'])}], references: [{', '.join(fk['refs'])}]"
            assert any(
                relation in attrs and ftype.rstrip("?") == fk["ref_table"] for ftype, attrs in fields.values()
            ), fk
    enums = _rows(
        engine,
        """SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname""",
    )
    baseline_enums = load_snapshot(BASELINE)["enums"].keys()
    for enum in enums:
        if enum["name"] in baseline_enums:
            assert ("enum", enum["name"]) not in blocks, (
                f"the web app's enum {enum['name']} is declared again"
            )
        else:
            assert [line.strip() for line in blocks[("enum", enum["name"])]] == list(enum["labels"])


def test_the_web_apps_models_get_additions_never_a_second_declaration(forgea, migrated_db, engine_for):
    engine = engine_for(migrated_db)
    document = _document(forgea, migrated_db)
    blocks = _blocks(document["fragment"])
    for table in load_snapshot(BASELINE)["tables"]:
        assert ("model", table) not in blocks, f"model {table} belongs to the web app"
    additions = document["additions"]
    lab_session = _fields(additions["LabSession"])
    baseline_columns = load_snapshot(BASELINE)["tables"]["LabSession"].keys()
    new_columns = [c for c in _columns(engine, "LabSession") if c["column_name"] not in baseline_columns]
    assert {c["column_name"] for c in new_columns} >= {"labVersionId", "completedAt"}
    for column in new_columns:
        _assert_field_matches("LabSession", column, lab_session)
    composite = next(fk for fk in _foreign_keys(engine, "LabSession") if len(fk["cols"]) > 1)
    assert composite["refs"] == ["id", "labId"]
    assert lab_session["labVersion"][0] == "LabVersion"
    assert "@relation(fields: [labVersionId, labId], references: [id, labId]" in lab_session["labVersion"][1]
    assert lab_session["verificationAttempts"][0] == "VerificationAttempt[]"
    assert lab_session["gitHubRepoMapping"][0] == "GitHubRepoMapping?"  # labSessionId is unique: one-to-one
    assert _fields(additions["Lab"])["labVersions"][0] == "LabVersion[]"
    # labVersionId has no SQL default, but the fill trigger makes it optional for legacy creates
    assert "@default(dbgenerated())" in lab_session["labVersionId"][1]
    baseline_indexes = load_snapshot(BASELINE)["indexes"].keys()
    text_lines = "\n".join(additions["LabSession"])
    for index in _unique_and_indexes(engine, "LabSession"):
        name = index["name"]
        if name in baseline_indexes:
            continue
        if index["partial"]:
            assert name in text_lines  # as a hint comment; it is listed in notExpressible too
        else:
            assert f"@@index([{', '.join(index['cols'])}])" in text_lines, name


def test_json_document_and_what_prisma_cannot_express(forgea, migrated_db, engine_for):
    engine = engine_for(migrated_db)
    document = _document(forgea, migrated_db)
    assert {"fragment", "config", "notExpressible"} <= document.keys()
    assert document["revision"]["atHead"] is True and document["warnings"] == []
    listed = {(e["kind"], e["name"]) for e in document["notExpressible"]}
    owned = set(_owned_tables(engine))
    baseline = load_snapshot(BASELINE)
    triggers = _rows(
        engine,
        "SELECT tg.tgname AS name, c.relname AS table_name FROM pg_trigger tg "
        "JOIN pg_class c ON c.oid = tg.tgrelid WHERE NOT tg.tgisinternal",
    )
    for trigger in triggers:
        if trigger["table_name"] in owned or trigger["name"] not in baseline["triggers"]:
            assert ("trigger", trigger["name"]) in listed, trigger
    assert ("trigger", "labsession_lifecycle_guard") in listed  # its function was rewritten by forgea
    checks = _rows(
        engine,
        "SELECT c.conname AS name, t.relname AS table_name FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype = 'c'",
    )
    for check in checks:
        if check["table_name"] in owned or check["name"] not in baseline["constraints"]:
            assert ("check", check["name"]) in listed, check
    assert ("partial unique index", "LabSession_userId_labId_active_key") in listed
    assert ("foreign key", "LabSession_labVersionId_labId_fkey") in listed
    functions = {e["name"] for e in document["notExpressible"] if e["kind"] == "function"}
    assert {
        "fill_lab_session_version",
        "mirror_verification_log",
        "enforce_lab_session_status_transition",
    } <= functions
    config = document["config"]
    assert "experimental: {\n    externalTables: true," in config
    bookkeeping = [
        t
        for t in ("alembic_version", "ForgeaAdoptedObject")
        if _rows(engine, f"SELECT to_regclass('\"{t}\"') AS r")[0]["r"]
    ]
    for table in [*owned, *bookkeeping]:
        assert f'"{table}",' in config
    assert ("model", "ForgeaAdoptedObject") not in _blocks(document["fragment"])  # bookkeeping: no model
    for enum in document["enums"]:
        assert f'"{enum}",' in config
    assert "initShadowDb" in config and 'CREATE TABLE "LabVersion"' in config


def test_plain_output_has_the_three_sections_and_output_writes_the_fragment(forgea, migrated_db, tmp_path):
    result = forgea("schema", "prisma", url=migrated_db)
    assert result.exit_code == 0, result.stderr
    for heading in ("1. Prisma fragment", "2. prisma.config.ts", "3. What Prisma cannot express"):
        assert heading in result.stdout
    assert "@relation(fields: [labVersionId, labId], references: [id, labId]" in result.stdout

    target = tmp_path / "forgea.prisma"
    written = forgea("schema", "prisma", "--output", str(target), url=migrated_db)
    assert written.exit_code == 0, written.stderr
    assert target.read_text() == _document(forgea, migrated_db)["fragment"]
    assert "1. Prisma fragment" not in written.stdout and "2. prisma.config.ts" in written.stdout


# -- the fragment follows the catalog ------------------------------------------------------------------------


def test_a_changed_column_changes_the_fragment(forgea, migrated_db, engine_for):
    engine = engine_for(migrated_db)
    before = _fields(_blocks(_document(forgea, migrated_db)["fragment"])[("model", "GitHubRepoMapping")])
    assert before["htmlUrl"][0] == "String?" and before["owner"] == ("String", "")
    _execute(
        engine,
        'ALTER TABLE "GitHubRepoMapping" ALTER COLUMN "htmlUrl" SET NOT NULL',
        'ALTER TABLE "GitHubRepoMapping" ALTER COLUMN "defaultBranch" SET DEFAULT \'main\'',
        'ALTER TABLE "GitHubRepoMapping" ALTER COLUMN "owner" TYPE VARCHAR(100)',
        'ALTER TABLE "LabVersion" ADD COLUMN "notes" TEXT',
        'ALTER TABLE "LabSession" ALTER COLUMN "completedAt" TYPE TIMESTAMP(6)',
        'ALTER TABLE "VerificationAttempt" ADD CONSTRAINT "VerificationAttempt_commitSha_check" '
        'CHECK (length("commitSha") >= 7) NOT VALID',
    )
    document = _document(forgea, migrated_db)
    blocks = _blocks(document["fragment"])
    mapping = _fields(blocks[("model", "GitHubRepoMapping")])
    assert mapping["htmlUrl"][0] == "String"
    assert '@default("main")' in mapping["defaultBranch"][1]
    assert "@db.VarChar(100)" in mapping["owner"][1]
    assert _fields(blocks[("model", "LabVersion")])["notes"][0] == "String?"
    assert "@db.Timestamp(6)" in _fields(document["additions"]["LabSession"])["completedAt"][1]
    check = next(e for e in document["notExpressible"] if e["name"] == "VerificationAttempt_commitSha_check")
    assert check["kind"] == "check" and check["validated"] is False
    for table in _owned_tables(engine):
        fields = _fields(blocks[("model", table)])
        for column in _columns(engine, table):
            _assert_field_matches(table, column, fields)


def test_a_database_behind_head_is_described_as_it_is_with_a_warning(forgea, empty_db):
    migrate_to(empty_db, "0002_f6_expand")
    result = forgea("schema", "prisma", "--json", url=empty_db)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["revision"] == {
        "current": "0002_f6_expand",
        "head": document["revision"]["head"],
        "atHead": False,
        "known": True,
    }
    stderr = " ".join(result.stderr.split())  # the console wraps long warnings
    assert "forgea migrate upgrade" in stderr and "not at forgea's head" in stderr
    assert any("forgea migrate upgrade" in w for w in document["warnings"])
    lab_session = _fields(document["additions"]["LabSession"])
    assert lab_session["labVersionId"][0] == "String?"  # still nullable before the contract
    assert lab_session["labVersion"][0] == "LabVersion?"
    kinds = {(e["kind"], e["name"]) for e in document["notExpressible"]}
    assert ("partial unique index", "LabSession_userId_labId_active_key") not in kinds
    fk = next(e for e in document["notExpressible"] if e["name"] == "LabSession_labVersionId_labId_fkey")
    assert fk["validated"] is False and "NOT VALID" in fk["does"]


# -- read-only -------------------------------------------------------------------------------------------


def test_it_never_writes_it_runs_on_a_read_only_database(forgea, migrated_db, engine_for, pg):
    engine = engine_for(migrated_db)
    name = make_url(migrated_db).database

    def state():
        return _rows(
            engine,
            """SELECT (SELECT count(*) FROM pg_class) AS relations,
                      (SELECT count(*) FROM pg_attribute) AS attributes,
                      (SELECT count(*) FROM pg_constraint) AS constraints,
                      (SELECT string_agg(version_num, ',') FROM alembic_version) AS revision,
                      (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)
                       FROM pg_stat_user_tables) AS writes""",
        )[0]

    before = state()
    with pg.admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    engine.dispose()
    try:
        result = forgea("schema", "prisma", "--json", url=migrated_db)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["revision"]["atHead"] is True
    finally:
        with pg.admin() as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        engine.dispose()
    after = state()
    assert after == before


# -- merging into the web app's schema, checked by Prisma itself -----------------------------------------


def test_merge_into_the_web_apps_schema_is_idempotent(forgea, migrated_db, corpus, tmp_path):
    schema = corpus / "forgea" / "prisma" / "schema.prisma"
    first = forgea("schema", "prisma", "--merge", str(schema), url=migrated_db)
    assert first.exit_code == 0, first.stderr
    merged = first.stdout
    blocks = _blocks(merged)
    for kind_name in _blocks(schema.read_text()):
        assert kind_name in blocks
    assert merged.count("model LabSession {") == 1 and merged.count("model LabVersion {") == 1
    assert "labVersionId" in _fields(blocks[("model", "LabSession")])
    assert "labVersions" in _fields(blocks[("model", "Lab")])
    again = tmp_path / "schema.prisma"
    again.write_text(merged)
    second = forgea(
        "schema", "prisma", "--merge", str(again), "--output", str(tmp_path / "out.prisma"), url=migrated_db
    )
    assert second.exit_code == 0, second.stderr
    assert (tmp_path / "out.prisma").read_text() == merged


def test_merge_refuses_a_schema_without_the_web_apps_models(forgea, migrated_db, tmp_path):
    schema = tmp_path / "schema.prisma"
    schema.write_text('datasource db {\n  provider = "postgresql"\n}\n')
    result = forgea("schema", "prisma", "--merge", str(schema), "--json", url=migrated_db)
    assert result.exit_code == 2
    assert "has no model" in json.loads(result.stdout)["error"]["message"]


@pytest.fixture(scope="module")
def prisma_bin() -> Path:
    """Prisma 7 from the interop workspace (installed there with `npm ci` when Node is available)."""
    from tests.interop.webapp import NodeMissing, install_workspace

    try:
        install_workspace()
    except NodeMissing as missing:
        pytest.skip(f"Prisma 7 needs Node.js and npm: {missing}")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as failed:
        if not PRISMA_BIN.exists():
            pytest.skip(f"Prisma 7 could not be installed in tests/interop/node: {str(failed)[:300]}")
    if not PRISMA_BIN.exists():
        pytest.skip(f"Prisma 7 is not installed at {PRISMA_BIN}")
    return PRISMA_BIN


def _prisma(prisma_bin: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    from tests.interop.webapp import PRISMA_ENV

    env = {**os.environ, **PRISMA_ENV, "DATABASE_URL": "postgresql://u@localhost/db"}
    return subprocess.run(
        [str(prisma_bin), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


def test_prisma_validates_the_merged_schema_and_loads_the_config(
    forgea, migrated_db, corpus, tmp_path, prisma_bin
):
    project = tmp_path / "webapp"
    (project / "prisma").mkdir(parents=True)
    (project / "node_modules").symlink_to(prisma_bin.parents[1])
    merged = forgea(
        "schema", "prisma", "--merge", str(corpus / "forgea" / "prisma" / "schema.prisma"), url=migrated_db
    )
    assert merged.exit_code == 0, merged.stderr
    (project / "prisma" / "schema.prisma").write_text(merged.stdout)
    (project / "prisma.config.ts").write_text(_document(forgea, migrated_db)["config"])

    result = _prisma(prisma_bin, "validate", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Loaded Prisma config from" in result.stdout + result.stderr

    # the config really is parsed: external tables without the experimental flag are refused
    config = project / "prisma.config.ts"
    config.write_text(config.read_text().replace("externalTables: true", "externalTables: false"))
    refused = _prisma(prisma_bin, "validate", cwd=project)
    assert refused.returncode != 0 and "externalTables" in refused.stdout + refused.stderr
