"""Identifiers read from operators' input: the one UUID parser (standard library only)."""

from __future__ import annotations

import uuid

from forgea_cli.errors import InvalidInput


def uuid_or_none(text: object) -> uuid.UUID | None:
    """The UUID ``text`` spells (surrounding blanks allowed), or None: for "an id or an email"."""
    if isinstance(text, uuid.UUID):
        return text
    try:
        return uuid.UUID(str(text).strip())
    except ValueError:
        return None


def parse_uuid(text: object, what: str) -> uuid.UUID:
    """The UUID ``text`` spells, or a one-line InvalidInput naming what was expected."""
    parsed = uuid_or_none(text)
    if parsed is None:
        raise InvalidInput(f"not a {what} (a UUID): {text!r}")
    return parsed
