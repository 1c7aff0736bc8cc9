"""The lifecycle module against the legacy trigger's table, written out here by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType

import pytest

from forgea_cli import lifecycle
from forgea_cli.errors import InvalidInput
from forgea_cli.lifecycle import Facts, Outcome, Status

IP, ST, VP, DF = "IN_PROGRESS", "STUCK", "VERIFIED_PASS", "DEFERRED"

# (from, to) -> legal in the legacy trigger `enforce_lab_session_status_transition()`.
LEGACY_TABLE = {
    (IP, IP): True,
    (IP, ST): True,
    (IP, VP): True,
    (IP, DF): True,
    (ST, IP): True,
    (ST, ST): True,
    (ST, VP): True,
    (ST, DF): True,
    (VP, IP): False,
    (VP, ST): False,
    (VP, VP): True,
    (VP, DF): False,
    (DF, IP): True,
    (DF, ST): False,
    (DF, VP): False,
    (DF, DF): True,
}

EVERYTHING_KNOWN_GOOD = Facts(has_pass_evidence=True, other_active_session=False)
DOCS_LIFECYCLE = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_states_and_sets() -> None:
    assert [str(status) for status in Status] == [IP, ST, VP, DF]
    assert lifecycle.INITIAL == IP
    assert {IP, ST} == lifecycle.ACTIVE
    assert {VP} == lifecycle.TERMINAL


def test_transition_table_is_exactly_legacy() -> None:
    derived = {
        (src, dst): src == dst or dst in lifecycle.TRANSITIONS[Status(src)] for src, dst in LEGACY_TABLE
    }
    assert derived == LEGACY_TABLE
    assert set(lifecycle.TRANSITIONS) == set(Status)


def test_all_pairs_lists_the_sixteen_pairs_once_in_a_stable_order() -> None:
    assert len(lifecycle.ALL_PAIRS) == 16
    assert set(lifecycle.ALL_PAIRS) == set(LEGACY_TABLE)
    assert lifecycle.ALL_PAIRS[:4] == ((IP, IP), (IP, ST), (IP, VP), (IP, DF))


@pytest.mark.parametrize(("src", "dst"), list(LEGACY_TABLE))
def test_judge_with_every_precondition_met_follows_the_legacy_table(src: str, dst: str) -> None:
    outcome = lifecycle.judge(Status(src), Status(dst), EVERYTHING_KNOWN_GOOD)
    if src == dst:
        assert outcome is Outcome.UNCHANGED
    elif LEGACY_TABLE[(src, dst)]:
        assert outcome is Outcome.ALLOWED
    else:
        assert outcome is Outcome.ILLEGAL


@pytest.mark.parametrize("src", [IP, ST])
def test_entering_verified_pass_needs_pass_evidence(src: str) -> None:
    assert lifecycle.judge(Status(src), Status.VERIFIED_PASS) is Outcome.NEEDS_PASS_EVIDENCE
    assert lifecycle.judge(Status(src), Status.VERIFIED_PASS, Facts(has_pass_evidence=True)) is (
        Outcome.ALLOWED
    )


def test_pass_evidence_does_not_make_an_illegal_pair_legal() -> None:
    assert lifecycle.judge(Status.DEFERRED, Status.VERIFIED_PASS, Facts(True, False)) is Outcome.ILLEGAL


def test_resuming_a_deferred_session_needs_no_other_active_session() -> None:
    blocked = Facts(other_active_session=True)
    assert lifecycle.judge(Status.DEFERRED, Status.IN_PROGRESS, blocked) is Outcome.OTHER_ACTIVE_SESSION
    assert lifecycle.judge(Status.DEFERRED, Status.IN_PROGRESS, Facts()) is Outcome.ALLOWED


def test_other_active_session_only_matters_for_resuming() -> None:
    blocked = Facts(has_pass_evidence=True, other_active_session=True)
    assert lifecycle.judge(Status.IN_PROGRESS, Status.DEFERRED, blocked) is Outcome.ALLOWED
    assert lifecycle.judge(Status.STUCK, Status.IN_PROGRESS, blocked) is Outcome.ALLOWED
    assert lifecycle.judge(Status.IN_PROGRESS, Status.VERIFIED_PASS, blocked) is Outcome.ALLOWED


@pytest.mark.parametrize("status", [IP, ST, VP, DF])
def test_unchanged_status_passes_whatever_the_facts(status: str) -> None:
    worst = Facts(has_pass_evidence=False, other_active_session=True)
    assert lifecycle.judge(Status(status), Status(status), worst) is Outcome.UNCHANGED
    assert lifecycle.precondition_for(Status(status), Status(status)) is None


def test_completed_at_is_stamped_only_on_entering_verified_pass() -> None:
    assert [s for s in Status if lifecycle.completed_at_on_entry(s)] == [Status.VERIFIED_PASS]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IN_PROGRESS", IP),
        ("in_progress", IP),
        ("  Stuck ", ST),
        ("verified-pass", VP),
        ("Verified Pass", VP),
        ("deferred", DF),
    ],
)
def test_parse_status_is_case_insensitive(text: str, expected: str) -> None:
    assert lifecycle.parse_status(text) is Status(expected)


@pytest.mark.parametrize("text", ["", "DONE", "in progress!", "VERIFIED_FAIL"])
def test_parse_status_lists_the_valid_values(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        lifecycle.parse_status(text)
    for name in (IP, ST, VP, DF):
        assert name in str(raised.value)


def _mermaid_edges(diagram: str) -> set[tuple[str, str]]:
    edges = set()
    for line in diagram.splitlines():
        found = re.fullmatch(r"\s*(\S+) --> (\S+)(?: : .*)?", line)
        if found:
            edges.add((found.group(1), found.group(2)))
    return edges


def test_mermaid_has_every_edge_and_nothing_else() -> None:
    diagram = lifecycle.mermaid()
    expected = {pair for pair, legal in LEGACY_TABLE.items() if legal and pair[0] != pair[1]}
    expected |= {("[*]", IP), (VP, "[*]")}
    assert diagram.startswith("stateDiagram-v2\n")
    assert _mermaid_edges(diagram) == expected
    assert diagram.count("-->") == len(expected)


def test_mermaid_notes_both_preconditions() -> None:
    diagram = lifecycle.mermaid()
    assert "IN_PROGRESS --> VERIFIED_PASS : PASS_EVIDENCE" in diagram
    assert "DEFERRED --> IN_PROGRESS : NO_OTHER_ACTIVE_SESSION" in diagram
    assert diagram.count("end note") == 2
    assert "VerificationLog" in diagram


def test_rows_cover_every_pair_with_precondition_text() -> None:
    rows = lifecycle.as_rows()
    assert [(row["from"], row["to"]) for row in rows] == list(lifecycle.ALL_PAIRS)
    assert {(row["from"], row["to"]): row["allowed"] for row in rows} == LEGACY_TABLE
    guarded = {(row["from"], row["to"]): row["precondition"] for row in rows if row["precondition"]}
    assert guarded == {
        (IP, VP): "PASS_EVIDENCE",
        (ST, VP): "PASS_EVIDENCE",
        (DF, IP): "NO_OTHER_ACTIVE_SESSION",
    }
    assert all(row["precondition_text"] for row in rows if row["precondition"])


def test_json_document_is_serialisable_and_carries_the_fingerprint() -> None:
    document = json.loads(json.dumps(lifecycle.as_json_document()))
    assert document["fingerprint"] == lifecycle.fingerprint()
    assert document["transitions"][DF] == [IP]
    assert document["terminal"] == [VP]
    assert len(document["pairs"]) == 16


def test_fingerprint_is_a_stable_sha256() -> None:
    first = lifecycle.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert lifecycle.fingerprint() == first


def test_fingerprint_changes_when_the_table_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = lifecycle.fingerprint()
    changed = dict(lifecycle.TRANSITIONS)
    changed[Status.DEFERRED] = frozenset({Status.IN_PROGRESS, Status.STUCK})
    monkeypatch.setattr(lifecycle, "TRANSITIONS", MappingProxyType(changed))
    assert lifecycle.fingerprint() != before


def test_fingerprint_changes_when_terminal_or_active_sets_change(monkeypatch: pytest.MonkeyPatch) -> None:
    before = lifecycle.fingerprint()
    with monkeypatch.context() as patched:
        patched.setattr(lifecycle, "TERMINAL", frozenset({Status.VERIFIED_PASS, Status.DEFERRED}))
        assert lifecycle.fingerprint() != before
    with monkeypatch.context() as patched:
        patched.setattr(lifecycle, "ACTIVE", frozenset({Status.IN_PROGRESS}))
        assert lifecycle.fingerprint() != before
    assert lifecycle.fingerprint() == before


def test_fingerprint_changes_when_a_precondition_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = lifecycle.fingerprint()
    monkeypatch.setattr(lifecycle, "precondition_for", lambda current, target: None)
    assert lifecycle.fingerprint() != before


def test_fingerprint_ignores_prose(monkeypatch: pytest.MonkeyPatch) -> None:
    before = lifecycle.fingerprint()
    monkeypatch.setattr(lifecycle, "PRECONDITION_TEXT", {})
    assert lifecycle.fingerprint() == before


def test_docs_embed_exactly_the_rendered_diagram() -> None:
    text = DOCS_LIFECYCLE.read_text(encoding="utf-8")
    embedded = text.split("<!-- lifecycle:begin -->\n", 1)[1].split("<!-- lifecycle:end -->", 1)[0]
    assert embedded == lifecycle.markdown_block()
