"""Small things operators expect: --quiet, `lab list`, shell completion that keeps --help fast."""

from __future__ import annotations

import json


def test_quiet_keeps_the_answer_and_the_errors_but_no_messages(forgea, migrated_db):
    loud = forgea("keys", "list", url=migrated_db)
    assert loud.exit_code == 0 and "no keys" in loud.stderr
    quiet = forgea("--quiet", "keys", "list", url=migrated_db)
    assert quiet.exit_code == 0 and quiet.stderr == ""

    as_json = forgea("-q", "backfill", "all", "--dry-run", "--json", url=migrated_db)
    assert json.loads(as_json.stdout)["backfills"] and as_json.stderr == ""
    status = forgea("-q", "migrate", "status", url=migrated_db)
    assert "current:" in status.stdout  # the answer is not a message

    failed = forgea("--quiet", "session", "show", "not-a-session", url=migrated_db)
    assert failed.exit_code != 0 and failed.stderr.startswith("error: ")
