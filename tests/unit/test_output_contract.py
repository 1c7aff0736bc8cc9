"""The one output contract, without a database: key casing, timestamps, redaction, escaping, plurals,
listing formats (issue 15, "One output contract")."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import pytest

from forgea_cli import documents
from forgea_cli.cli import output
from forgea_cli.redaction import redact_credentials


def test_camel_renames_snake_keys_and_leaves_codes_and_data_alone():
    document = {
        "dry_run": True,
        "invalid_by_reason": {"NOT_GITHUB": 2, "would-create": 1},
        "rows": [{"lab_session_id": 1}],
        "metadata": {"from_status": "x"},  # audit metadata is data: its keys are kept
    }
    assert documents.camel_keys(document) == {
        "dryRun": True,
        "invalidByReason": {"NOT_GITHUB": 2, "would-create": 1},
        "rows": [{"labSessionId": 1}],
        "metadata": {"from_status": "x"},
    }
    assert documents.key_violations(document) == [
        "$.dry_run",
        "$.invalid_by_reason",
        "$.rows[0].lab_session_id",
    ]
    assert documents.key_violations(documents.camel_keys(document)) == []


def test_timestamps_are_iso_8601_with_their_offset():
    naive = datetime(2026, 1, 5, 9, 30, 0, 123456)  # TIMESTAMP(3): UTC without a zone
    assert documents.iso(naive) == "2026-01-05T09:30:00.123+00:00"
    paris = datetime(2026, 1, 5, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert documents.iso(paris) == "2026-01-05T10:30:00.000+01:00"
    assert documents.iso(datetime(2026, 1, 5, tzinfo=UTC)).endswith("+00:00")


class Colour(StrEnum):
    RED = "RED"


@dataclass
class Result:
    when: datetime
    id: uuid.UUID

    def to_json(self):
        return {"when": self.when, "id": self.id, "colour": Colour.RED, "url": "https://tok@github.com/a/b"}


def test_emit_json_renders_to_json_results_once_with_redaction(capsys):
    result = Result(datetime(2026, 1, 5, 9, 30), uuid.UUID(int=7))
    output.emit_json([result])
    [document] = json.loads(capsys.readouterr().out)
    assert document == {
        "when": "2026-01-05T09:30:00.000+00:00",
        "id": "00000000-0000-0000-0000-000000000007",
        "colour": "RED",
        "url": "https://***@github.com/a/b",
    }


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://ops:hunter2@db/forgea", "postgresql://ops:***@db/forgea"),
        ("https://ghp_secret@github.com/Ada/x", "https://***@github.com/Ada/x"),
        ("https://ada:ghp_secret@github.com/Ada/x", "https://ada:***@github.com/Ada/x"),
        ("git@github.com:Ada/x.git", "git@github.com:Ada/x.git"),
        ("ssh://git@github.com/Ada/x", "ssh://git@github.com/Ada/x"),
        ("https://github.com/Ada/x?tab=1", "https://github.com/Ada/x?tab=1"),
        ("host=db password=hunter2 user=ops", "host=db password=*** user=ops"),
        (
            "https://github.com/Ada/x?access_token=ghp_x&tab=1",
            "https://github.com/Ada/x?access_token=***&tab=1",
        ),
        (
            "postgresql://ops@db/f?password=pw&sslmode=require",
            "postgresql://ops@db/f?password=***&sslmode=require",
        ),
    ],
)
def test_one_redaction_rule_for_credentials_in_urls(text, shown):
    assert redact_credentials(text) == shown


def test_messages_and_cells_are_escaped_for_rich_markup(capsys):
    output.table("[bold]keys[/bold]", ["key"], [["k[/x]y"], ["[red]not red[/red]"]])
    output.say("[bold]title[/bold] of k[/x]y")
    out, err = capsys.readouterr()
    assert "[bold]keys[/bold]" in out and "k[/x]y" in out and "[red]not red[/red]" in out
    assert "[bold]title[/bold] of k[/x]y" in err


def test_tables_do_not_cut_uuids_at_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    ids = [str(uuid.UUID(int=n)) for n in range(3)]
    output.table(
        None,
        ["id", "lab", "student", "status", "last activity"],
        [[i, i, "a@b.c", "STUCK", "x"] for i in ids],
    )
    out = capsys.readouterr().out
    folded = out.replace("│", "").replace("\n", "").replace(" ", "")
    assert all(i.replace("-", "") in folded.replace("-", "") for i in ids)
    assert "…" not in out


def test_plain_and_csv_never_cut_values(capsys):
    long = "x" * 300
    output.delimited(["id", "note"], [[long, "a\tb"]], kind=output.Format.plain)
    output.delimited(["id", "note"], [[long, "c,d"]], kind=output.Format.csv)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{long}\ta b"
    assert out[1:] == ["id,note", f'{long},"c,d"']


@pytest.mark.parametrize(
    ("count", "noun", "written"),
    [
        (1, "batch", "1 batch"),
        (2, "batch", "2 batches"),
        (0, "row", "0 rows"),
        (1234, "session", "1,234 sessions"),
    ],
)
def test_plurals(count, noun, written):
    assert output.plural(count, noun) == written


def test_error_codes_name_the_error_class():
    from forgea_cli import errors

    assert documents.error_code(errors.NotFound("x")) == "NOT_FOUND"
    assert documents.error_code(errors.DatabaseUnreachable("x")) == "DATABASE_UNREACHABLE"
    assert documents.error_code(errors.IdempotencyMismatch("x")) == "IDEMPOTENCY_MISMATCH"


def test_every_exit_code_of_the_table_is_documented():
    import re
    from pathlib import Path

    from forgea_cli.cli import errors, reference

    codes = {code for _kind, code in errors.EXIT_CODES} | {errors.EX_SOFTWARE, 0}
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    runbook = (root / "docs" / "runbook.md").read_text()
    texts = {
        "README": readme[readme.index("Exit codes:") :][:700],
        "runbook": runbook[: runbook.index("Before anything")],
        "cli-reference": reference.HEADER,
    }
    for name, text in texts.items():
        documented = {int(n) for n in re.findall(r"\b(\d{1,3})\b", text)}
        assert codes <= documented, f"{name} does not list exit codes {sorted(codes - documented)}"
