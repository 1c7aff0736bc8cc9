"""Pure parts of the repo-mapping backfill and `mapping canonicalize`: stage lines, COPY escapes,
problem records, and the fast path of urls.py agreeing with its general parser."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forgea_cli import urls
from forgea_cli.db.mapping_backfill import ProblemRow, decode_copy_field
from forgea_cli.services.mapping import canonicalize_urls
from forgea_cli.services.mapping.backfill import problem_record, stage_line

HEAD = b"c0000000-0000-4000-8000-000000000001\tt\t2025-01-01 10:00:00"


def line(url: bytes) -> bytes:
    return HEAD + b"\t" + url + b"\n"


@pytest.mark.parametrize(
    ("url", "staged"),
    [
        (b"https://github.com/Octo/Hello.git", b"\thttps://github.com/octo/hello\tOcto\tHello\t\\N\n"),
        (b"  git@github.com:o/r.git  ", b"\thttps://github.com/o/r\to\tr\t\\N\n"),
        (b"https://github.com/o/r?tab=readme", b"\thttps://github.com/o/r\to\tr\t\\N\n"),
        (b"https://gitlab.com/o/r", b"\t\\N\t\\N\t\\N\tNOT_GITHUB\n"),
        (b"not a url", b"\t\\N\t\\N\t\\N\tNOT_A_URL\n"),
        (b"https://github.com/o", b"\t\\N\t\\N\t\\N\tNO_REPO_PART\n"),
        # COPY escapes a tab inside a value; the decoded URL has a blank inside, so it is rejected.
        (b"https://github.com/o/r\\tx", b"\t\\N\t\\N\t\\N\tNOT_A_URL\n"),
        (b"https://github.com/o/r\\\\x", b"\t\\N\t\\N\t\\N\tNOT_A_URL\n"),
    ],
)
def test_stage_line(url: bytes, staged: bytes) -> None:
    assert stage_line(line(url)) == HEAD + staged


def test_stage_line_uses_the_configured_web_host() -> None:
    staged = stage_line(line(b"https://GHE.example.com/Team/App"), "https://ghe.example.com")
    assert staged == HEAD + b"\thttps://ghe.example.com/team/app\tTeam\tApp\t\\N\n"
    assert stage_line(line(b"https://github.com/o/r"), "ghe.example.com").endswith(b"\tNOT_GITHUB\n")


def test_decode_copy_field() -> None:
    assert decode_copy_field(b"plain") == "plain"
    assert decode_copy_field(b"a\\tb\\nc\\\\d\\re") == "a\tb\nc\\d\re"
    assert decode_copy_field("é".encode()) == "é"


def test_problem_record_masks_credentials_and_names_the_winner() -> None:
    winner, loser = uuid.uuid4(), uuid.uuid4()
    duplicate = problem_record(
        ProblemRow(
            loser, "https://github.com/o/r", None, winner, False, "https://u:ghp_secret@github.com/o/r"
        )
    )
    assert duplicate["problem"] == "DUPLICATE_URL"
    assert duplicate["reason"] == "ANOTHER_SESSION_CHOSEN"
    assert duplicate["winner_session_id"] == str(winner)
    assert "ghp_secret" not in str(duplicate)
    invalid = problem_record(
        ProblemRow(loser, None, "NOT_GITHUB", None, False, "https://tok@gitlab.com/o/r?access_token=s3cr3t")
    )
    assert invalid["problem"] == "INVALID_URL"
    assert invalid["reason"] == "NOT_GITHUB"
    assert "gitlab.com" in invalid["detail"]
    assert "tok" not in str(invalid) and "s3cr3t" not in str(invalid)


def test_canonicalize_urls_masks_inputs() -> None:
    accepted, rejected = canonicalize_urls(["https://x:ghp_abc@github.com/O/R.git", "https://gitlab.com/o/r"])
    assert accepted["canonicalUrl"] == "https://github.com/o/r"
    assert (accepted["owner"], accepted["name"]) == ("O", "R")
    assert "ghp_abc" not in accepted["input"]
    assert rejected["canonicalUrl"] is None and rejected["reason"] == "NOT_GITHUB"


# -- the fast path of urls.py gives the general parser's answer whenever it answers -------------------


def general(raw: str, web_host: str = "github.com") -> tuple[str, str] | str:
    host = urls._web_host(web_host)
    try:
        location = urls._locate(raw)
        urls._check_host(location, host)
        return urls._owner_and_name(location.path)
    except urls._Rejected as rejected:
        return rejected.reason.value


segment = st.text(alphabet="abcXYZ019-._", min_size=0, max_size=8) | st.sampled_from(
    [
        "",
        ".",
        "..",
        "-",
        "a--b",
        "-a",
        "a-",
        "orgs",
        "Settings",
        "x" * 40,
        "r" * 101,
        ".git",
        "r.git.git",
        "r.GIT",
    ]
)
plain_urls = st.builds(
    lambda scheme, www, host, owner, name, suffix, slash: (
        f"{scheme}://{www}{host}/{owner}/{name}{suffix}{slash}"
    ),
    st.sampled_from(["https", "http", "HTTPS", "ftp"]),
    st.sampled_from(["", "www.", "WWW."]),
    st.sampled_from(["github.com", "GitHub.com", "gist.github.com", "github.com:443", "github.com:8443"]),
    segment,
    segment,
    st.sampled_from(["", ".git", ".Git", ".git.git"]),
    st.sampled_from(["", "/", "//"]),
)


@settings(max_examples=600, deadline=None)
@given(plain_urls)
def test_fast_path_agrees_with_the_general_parser(raw: str) -> None:
    fast = urls._plain_web_ref(raw, urls._web_host("github.com"))
    if fast is not None:
        assert general(raw) == (fast.owner, fast.name)


@pytest.mark.parametrize(
    "raw",
    [
        "https://github.com/Octo-Cat/Hello.World",
        "https://github.com/octocat/hello.git",
        "http://www.github.com/octocat/hello/",
        "https://github.com/o/r.GIT",
    ],
)
def test_fast_path_takes_the_html_url_spellings(raw: str) -> None:
    fast = urls._plain_web_ref(raw, urls._web_host("github.com"))
    assert fast is not None
    assert general(raw) == (fast.owner, fast.name)


def test_fast_path_on_an_enterprise_host_with_a_port() -> None:
    host = urls._web_host("https://ghe.example.com:8443")
    fast = urls._plain_web_ref("https://ghe.example.com:8443/team/app", host)
    assert fast is not None and fast.canonical_url == "https://ghe.example.com:8443/team/app"
    assert urls._plain_web_ref("https://ghe.example.com/team/app", host) is None
