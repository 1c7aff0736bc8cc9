"""The README opens by saying what the tool does, in words a new operator knows."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _opening() -> str:
    text = README.read_text()
    return text.split("\n## ", 1)[0].split("\n", 1)[1].strip()  # after the title, before the first section


def test_the_opening_says_what_the_tool_does_without_insider_names():
    opening = _opening()
    assert not re.search(r"\bF\d+\b", opening), "feature codes (F6) mean nothing to a new operator"
    assert "§" not in opening and not re.search(r"section \d", opening), "no design section numbers"
    assert "binding" not in opening, "say what is bound to what instead"
    for plain in ("PostgreSQL", "student", "GitHub repository", "push", "dry run"):
        assert plain in opening, plain
    assert "forgea rollout status" in opening  # and where to start
