"""`forgea schema prisma` hands the web app a schema its own Prisma 7 client can use on forgea's tables.

The web app's schema.prisma (from the corpus) merged with forgea's models (`--merge`), the printed
prisma.config.ts used as is, `prisma generate`, and a client that reads and writes LabVersion,
VerificationAttempt, GitHubRepoMapping and IdempotencyKey beside the web app's tables — with the
database's triggers still deciding (filled labVersionId, evidence for VERIFIED_PASS, append-only).
"""

from __future__ import annotations

import re
import uuid

from tests.interop.checks import is_uuid
from tests.interop.support import sql

FORGEA_MODELS = {
    "LabVersion",
    "VerificationAttempt",
    "GitHubRepoMapping",
    "IdempotencyKey",
    "WebhookDelivery",
}
WEBAPP_BLOCKS = re.compile(r"^(model|enum) (\w+) \{", re.M)


def _with_output(schema: str, output: str) -> str:
    """Our edit of the merged schema: generate into the test's folder, not node_modules."""
    patched, count = re.subn(r"^(generator client \{\n)", rf'\1  output = "{output}"\n', schema, flags=re.M)
    assert count == 1, "the merged schema has no `generator client` block"
    return patched


def test_client_generated_from_the_merged_schema_uses_forgea_tables(rolled_out, webapp, clone, cli):
    rolled = rolled_out.require()
    url = clone(rolled.template)
    pre, post = rolled.legacy.pre, rolled.post

    described = cli("schema", "prisma", "--json", url=url)
    assert described.exit_code == 0, described.describe()
    handoff = described.json()
    assert handoff["revision"]["atHead"] is True and handoff["warnings"] == []
    assert set(handoff["models"]) == FORGEA_MODELS
    assert set(handoff["externalTables"]) >= FORGEA_MODELS

    package = webapp.root / "packages" / f"forgea-client-{uuid.uuid4().hex[:8]}"
    (package / "prisma").mkdir(parents=True)
    webapp_schema = webapp.schema_pkg / "prisma" / "schema.prisma"
    target = package / "prisma" / "schema.prisma"
    merged = cli("schema", "prisma", "--merge", str(webapp_schema), "--output", str(target), url=url)
    assert merged.exit_code == 0, merged.describe()
    merged_text = target.read_text()
    blocks = [name for _, name in WEBAPP_BLOCKS.findall(merged_text)]
    webapp_blocks = [name for _, name in WEBAPP_BLOCKS.findall(webapp_schema.read_text())]
    assert sorted(blocks) == sorted({*webapp_blocks, *FORGEA_MODELS, *handoff["enums"]})
    assert len(blocks) == len(set(blocks))  # no model declared twice

    target.write_text(_with_output(merged_text, str(package / "generated")))
    (package / "prisma.config.ts").write_text(handoff["config"])  # the printed snippet, verbatim
    webapp.npx("prisma", "generate", cwd=package, url=url)

    run = webapp.script("forgea_tables.ts", url=url, FORGEA_CLIENT=str(package / "generated"), TAG="gen")

    # Reads: every session has its version; legacy evidence shows up as attempts, via the relations.
    [seed_lab_version] = sql(
        url,
        'SELECT v.id::text FROM "LabVersion" v JOIN "Lab" l ON l.id = v."labId" '
        "WHERE l.title = 'React Stale Closure' AND v.version = 'v1'",
    )
    versions = {(v["labTitle"], v["version"]): v for v in run["versions"]}
    assert {("React Stale Closure", "v1"), ("Leaky Cache pre", "v1"), ("Leaky Cache post", "v1")} <= set(
        versions
    )
    assert (
        versions[("Leaky Cache post", "v1")]["templateRepoUrl"]
        == "https://github.com/forgea-labs/leaky-cache-post"
    )
    sessions = {s["id"]: s for s in run["sessions"]}
    assert all(is_uuid(s["labVersionId"]) and s["labVersion"] == "v1" for s in sessions.values())
    for writers in (pre, post):
        verified = sessions[writers["sessions"]["verified"]]
        assert verified["status"] == "VERIFIED_PASS" and verified["completedAt"] is not None
        assert verified["attempts"] == [
            {
                "attemptNumber": 1,
                "result": "PASS",
                "legacyVerificationLogId": writers["verificationLogId"],
                "legacyCommitSha": writers["commitSha"],
            }
        ]
        assert verified["logMirroredAs"] == 1
    assert sessions[pre["sessions"]["pushed"]]["mapping"] == {
        "canonicalUrl": pre["forkUrls"]["pushed"],
        "resolution": "PENDING",
    }
    assert run["idempotencyKeys"] == 0

    # Writes, with the database's rules still in charge.
    created = run["created"]
    assert created["labVersionId"] == seed_lab_version["id"]  # omitted by the client, filled by the trigger
    assert created["providerRepoId"] == "700000123"
    assert run["passWithoutEvidence"]["ok"] is None
    assert "cannot enter VERIFIED_PASS" in run["passWithoutEvidence"]["error"]["message"]
    assert run["duplicateDelivery"]["error"]["code"] == "P2002"  # deliveryId dedupes redeliveries
    assert run["toPass"] == 1
    assert run["after"]["status"] == "VERIFIED_PASS" and run["after"]["completedAt"] is not None
    assert run["after"]["attempts"] == [[1, "FAIL"], [2, "PASS"]]
    assert "append-only" in run["attemptUpdate"]["error"]["message"]
    assert run["fillOnce"] == {"ok": "abc1234", "error": None}  # filled once: allowed
    assert "immutable" in run["refill"]["error"]["message"]
    assert run["byRepoId"] == {
        "sessionId": created["sessionId"],
        "email": "cleo-gen@students.example",
        "version": "v1",
    }

    # forgea sees the client's rows as its own.
    found = cli("mapping", "lookup", "--repo-id", "700000123", "--json", url=url)
    assert found.exit_code == 0, found.describe()
    assert found.json()["rule"] == 1 and found.json()["session"]["id"] == created["sessionId"]
    verify = cli("verify-constraints", "--json", url=url)
    assert verify.exit_code == 0, verify.describe()
