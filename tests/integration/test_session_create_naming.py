"""The pure parts of session creation: repository names and request fingerprints (no database)."""

from __future__ import annotations

import re
import uuid

import pytest

from forgea_cli.errors import InvalidInput
from forgea_cli.services.sessions import repo_names
from forgea_cli.services.sessions.idempotency import CreateRequest, check_key, default_key, is_abandoned

PLANNED = uuid.UUID("1f2e3d4c-0000-4000-8000-000000000000")
VALID = re.compile(r"[A-Za-z0-9._-]{1,100}")


@pytest.mark.parametrize(
    ("template", "title", "lab"),
    [
        ("leak-hunt-template", "Leak Hunt", "leak-hunt"),
        ("template-Cache_Stampede", "x", "cache-stampede"),
        ("lab-3-template", "Lab 3", "lab-3"),
        ("template", "Rendering: the Ünicode lab!", "rendering-the-nicode-lab"),
        (None, "---", "lab"),
    ],
)
def test_the_lab_part_comes_from_the_template_name_then_the_title(template, title, lab):
    assert repo_names.lab_part(template, title) == lab


def test_names_are_deterministic_valid_and_at_most_100_characters():
    name = repo_names.session_repo_name("forgea-", "leak-hunt", PLANNED)
    assert (
        name == "forgea-leak-hunt-1f2e3d4c" == repo_names.session_repo_name("forgea-", "leak-hunt", PLANNED)
    )
    long = repo_names.session_repo_name("forgea-", "x" * 300, PLANNED)
    assert len(long) == 100 and VALID.fullmatch(long) and long.endswith("-1f2e3d4c")
    assert repo_names.short_id_in(long) == "1f2e3d4c" and repo_names.short_id_in("course-site") is None
    with pytest.raises(InvalidInput, match="too long"):
        repo_names.session_repo_name("p" * 95, "lab", PLANNED)
    with pytest.raises(InvalidInput, match="invalid repo prefix"):
        repo_names.session_repo_name("forgea/", "lab", PLANNED)


def test_equal_requests_hash_equally_and_any_difference_changes_the_hash():
    ids = [uuid.uuid4() for _ in range(3)]
    base = CreateRequest(*ids, None)
    assert base.request_hash() == CreateRequest(*ids, None).request_hash()
    assert CreateRequest.from_params(base.params()) == base
    others = [CreateRequest(ids[1], ids[0], ids[2], None), CreateRequest(*ids, "https://github.com/a/b")]
    assert len({base.request_hash(), *(o.request_hash() for o in others)}) == 3


def test_keys():
    user, version = uuid.uuid4(), uuid.uuid4()
    assert default_key(user, version) == f"create:{user}:{version}"
    assert check_key("roster-2026/row:7") == "roster-2026/row:7"
    for bad in ("", "has blank", "x" * 201, "tab\tkey"):
        with pytest.raises(InvalidInput):
            check_key(bad)
    assert is_abandoned("ABANDONED", None)
    assert is_abandoned("REPO_CLEANUP_PENDING", {"error": {"code": "ABANDONED"}})
    assert not is_abandoned("REPO_CLEANUP_PENDING", {"error": {"code": "ACTIVE_SESSION_EXISTS"}})
