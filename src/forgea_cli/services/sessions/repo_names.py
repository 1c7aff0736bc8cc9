"""Names of the repositories the tool creates (pure): `<prefix><lab>-<first 8 hex of the session id>`.

The name derives from the planned session id fixed when the idempotency key is created, so a rerun
after a crash looks for the same repository instead of creating a second one; `repo reconcile`
recognises our repositories by the prefix and the short id.
"""

from __future__ import annotations

import re
import uuid

from forgea_cli.errors import InvalidInput

MAX_REPO_NAME = 100  # GitHub's limit
SHORT_ID_LENGTH = 8
_PREFIX = re.compile(r"[A-Za-z0-9._-]*")
_SHORT_ID_SUFFIX = re.compile(rf"-([0-9a-f]{{{SHORT_ID_LENGTH}}})$")
_TEMPLATE_WORD = re.compile(r"^template-|-template$|^template$")


def short_id(planned_session_id: uuid.UUID) -> str:
    return planned_session_id.hex[:SHORT_ID_LENGTH]


def lab_part(template_repo_name: str | None, lab_title: str) -> str:
    """A slug for the lab: the template repo name without "template", else the lab title."""
    for text in (_TEMPLATE_WORD.sub("", (template_repo_name or "").lower()), lab_title):
        slug = slugify(text)
        if slug:
            return slug
    return "lab"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def session_repo_name(prefix: str, lab: str, planned_session_id: uuid.UUID) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise InvalidInput(f"invalid repo prefix {prefix!r}: use letters, digits, '.', '_' and '-' only")
    short = short_id(planned_session_id)
    room = MAX_REPO_NAME - len(prefix) - 1 - len(short)
    if room < 1:
        raise InvalidInput(f"repo prefix {prefix!r} is too long for a {MAX_REPO_NAME}-character repo name")
    return f"{prefix}{lab[:room].rstrip('-') or 'lab'[:room]}-{short}"


def short_id_in(repo_name: str) -> str | None:
    """The short session id a name of ours ends with, or None."""
    match = _SHORT_ID_SUFFIX.search(repo_name.lower())
    return match.group(1) if match else None
