"""Comparing SQL object text: fingerprints that ignore layout, diffs for people (standard library only)."""

from __future__ import annotations

import difflib
import hashlib
import re


def normalise_body(body: str) -> str:
    """Function bodies and trigger definitions compared modulo comments, blank lines and indentation."""
    without_comments = re.sub(r"--[^\n]*", "", body)
    return " ".join(without_comments.split())


def fingerprint(text: str) -> str:
    return hashlib.sha256(normalise_body(text).encode()).hexdigest()[:16]


def unified_diff(reference: str, found: str, reference_label: str, found_label: str) -> str:
    lines = difflib.unified_diff(
        reference.splitlines(), found.splitlines(), reference_label, found_label, lineterm=""
    )
    return "\n".join(lines)
