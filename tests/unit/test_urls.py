"""canonical_repo_url against the shared corpus, our documented decisions and generated spellings."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from forgea_cli.errors import InvalidInput
from forgea_cli.testing.corpus import corpus_dir
from forgea_cli.urls import (
    RESERVED_FIRST_SEGMENTS,
    RejectReason,
    RepoRef,
    RepoUrlRejected,
    canonical_repo_url,
    parse_repo_url,
    redact_url,
)

R = RejectReason


def _corpus_dir() -> Path:
    folder = corpus_dir()
    return folder if (folder / "cases.tsv").exists() else folder / "git-urls"


def _corpus_rows(name: str) -> list[object]:
    path = _corpus_dir() / name
    if not path.is_file():
        reason = f"corpus file {path} is absent (set FORGEA_CORPUS_DIR to the shared corpus folder)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="corpus-absent")]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [pytest.param(row, id=row["url"]) for row in rows]


@pytest.mark.parametrize("row", _corpus_rows("cases.tsv"))
def test_corpus_case(row: dict[str, str]) -> None:
    ref = parse_repo_url(row["url"])
    assert (ref.owner.lower(), ref.name.lower()) == (
        row["expected_owner"].lower(),
        row["expected_repo"].lower(),
    )
    expected = f"https://github.com/{row['expected_owner']}/{row['expected_repo']}".lower()
    assert canonical_repo_url(row["url"]) == expected


# Our decision for every row of other-cases.tsv; docs/url-canonicalization.md explains each one.
OTHER_CASE_DECISIONS: dict[str, tuple[str, str] | RejectReason] = {
    "@github.com:Org/Repo.git": R.NOT_A_URL,
    "git@github.com:Org": R.NO_REPO_PART,
    "https://github.com/Org": R.NO_REPO_PART,
    "git://github.com/Org": R.NO_REPO_PART,
    "joe@github.com-work:nephila/giturlparse.git": R.NOT_GITHUB,
    "ftp://github.com/42IonicaBizau/git-url-parse": R.UNSUPPORTED_SCHEME,
    "ftps://github.com/42IonicaBizau/git-url-parse": R.UNSUPPORTED_SCHEME,
    "42IonicaBizau/git-url-parse": R.NOT_A_URL,
    "https://gist.github.com/owner/id": R.NOT_GITHUB,
    "https://gist.github.com/id": R.NOT_GITHUB,
    "github:user/repo": R.NOT_A_URL,
    "git@gist.github.com:9284722.git": R.NOT_GITHUB,
    "https://gist.github.com/9284722.git": R.NOT_GITHUB,
    "https://github.com": R.NO_REPO_PART,
    "http://github.com/assemble": R.NO_REPO_PART,
    "git+https://github.com/assemble": R.NO_REPO_PART,
    "git+ssh://github.com/assemble": R.NO_REPO_PART,
    "github.com:foo/bar": ("foo", "bar"),
    "github.com/foo/bar": R.NOT_A_URL,
    "git+ssh://git@github.com:": R.NO_REPO_PART,
    "https://github.com/foo/bar/issues": ("foo", "bar"),
    "foo/bar/": R.NOT_A_URL,
    "github:foo/bar": R.NOT_A_URL,
    "foo/bar#lk/br@nch.t#st:^1.0.0-pre.4": R.NOT_A_URL,
    "https://example.com/one/two": R.NOT_GITHUB,
    "https://ghe.something.com/foo/bar": R.NOT_GITHUB,
    "git@github.com/nephila/giturlparse": R.NOT_A_URL,
    "git@github.com/nephila/giturlparse/": R.NOT_A_URL,
    "git@github.com/nephila/giturlparse.git/": R.NOT_A_URL,
    "user:password@github.com:foo/bar.git": R.NOT_A_URL,
    ":password@github.com:foo/bar.git": R.NOT_A_URL,
    "git+ssh://github.com:foo/bar.git": R.INVALID_PORT,
    "git+ssh://user@github.com:foo/bar.git": R.INVALID_PORT,
    "ssh://github.com:foo/bar": R.INVALID_PORT,
    "ssh://user@github.com:foo/bar.git": R.INVALID_PORT,
    "git+ssh://github.com:foo/bar.git#lk/br@nch.t#st:^1.0.0-pre.4": R.INVALID_PORT,
}


def _assert_decision(url: str, decision: tuple[str, str] | RejectReason) -> None:
    if isinstance(decision, RejectReason):
        with pytest.raises(RepoUrlRejected) as raised:
            canonical_repo_url(url)
        assert raised.value.reason is decision
    else:
        assert canonical_repo_url(url) == f"https://github.com/{decision[0]}/{decision[1]}"


@pytest.mark.parametrize("row", _corpus_rows("other-cases.tsv"))
def test_other_corpus_case_follows_our_decision(row: dict[str, str]) -> None:
    assert row["url"] in OTHER_CASE_DECISIONS, "new corpus row: decide it and document it"
    _assert_decision(row["url"], OTHER_CASE_DECISIONS[row["url"]])


@pytest.mark.parametrize(("url", "decision"), list(OTHER_CASE_DECISIONS.items()))
def test_documented_decision_without_corpus(url: str, decision: tuple[str, str] | RejectReason) -> None:
    _assert_decision(url, decision)


def test_every_documented_decision_is_in_the_docs() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "url-canonicalization.md").read_text("utf-8")
    for url, decision in OTHER_CASE_DECISIONS.items():
        shown = f"`{url}`"
        assert shown in docs, url
        line = next(line for line in docs.splitlines() if line.startswith(f"| {shown} |"))
        expected = decision if isinstance(decision, RejectReason) else f"{decision[0]}/{decision[1]}"
        assert expected in line, url


# --- hand-written edge cases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Octo-Org/Hello.World",
        "  https://github.com/octo-org/hello.world  ",
        "\thttps://github.com/octo-org/hello.world\n",
        "https://github.com/octo-org/hello.world?tab=readme-ov-file",
        "https://github.com/octo-org/hello.world#readme",
        "https://github.com/octo-org/hello.world/?a=b#c",
        "HTTPS://GITHUB.COM/OCTO-ORG/HELLO.WORLD",
        "https://github.com/octo-org/hello.world.git/",
        "https://github.com/octo-org/hello.world.GIT",
        "https://github.com/octo-org/hello.world/tree/main/src",
        "https://github.com/octo-org/hello.world/pull/3/files",
        "https://github.com/octo-org/hello.world/wiki",
        "https://github.com/octo-org/hello.world//",
        "https://github.com:443/octo-org/hello.world",
        "http://github.com:80/octo-org/hello.world",
        "https://github.com./octo-org/hello.world",
        "https://x-access-token:ghp_abc@github.com/octo-org/hello.world.git",
        "ssh://git@github.com:22/octo-org/hello.world.git",
        "ssh://git@ssh.github.com:443/octo-org/hello.world.git",
        "git+ssh://git@github.com/octo-org/hello.world",
        "ssh+git://git@github.com/octo-org/hello.world",
        "git+http://github.com/octo-org/hello.world",
        "git@github.com:/octo-org/hello.world.git",
        "git@github.com:octo-org/hello.world.git/",
        "git://github.com:9418/octo-org/hello.world",
    ],
)
def test_accepted_spellings(url: str) -> None:
    assert canonical_repo_url(url) == "https://github.com/octo-org/hello.world"


def test_ref_keeps_case_for_display_and_lowers_the_canonical_url() -> None:
    ref = parse_repo_url("git@github.com:Octo-Org/Hello-World.git")
    assert ref == RepoRef("Octo-Org", "Hello-World", "github.com")
    assert ref.full_name == "Octo-Org/Hello-World"
    assert ref.canonical_url == "https://github.com/octo-org/hello-world"


@pytest.mark.parametrize(
    "web_host",
    [
        "github.example.com",
        "https://github.example.com",
        "HTTPS://GitHub.Example.com/",
        " github.example.com:443 ",
    ],
)
def test_enterprise_host_spellings(web_host: str) -> None:
    ref = parse_repo_url("git@github.example.com:Team/App.git", web_host=web_host)
    assert ref.canonical_url == "https://github.example.com/team/app"
    assert canonical_repo_url("https://github.example.com/team/app/issues/1", web_host) == ref.canonical_url
    with pytest.raises(RepoUrlRejected) as raised:
        canonical_repo_url("https://github.com/team/app", web_host=web_host)
    assert raised.value.reason is R.NOT_GITHUB


def test_enterprise_host_with_a_port() -> None:
    web_host = "https://ghe.internal:8443"
    assert canonical_repo_url("https://ghe.internal:8443/o/r", web_host) == "https://ghe.internal:8443/o/r"
    assert canonical_repo_url("git@ghe.internal:o/r.git", web_host) == "https://ghe.internal:8443/o/r"
    with pytest.raises(RepoUrlRejected) as raised:
        canonical_repo_url("https://ghe.internal/o/r", web_host)
    assert raised.value.reason is R.NOT_GITHUB


def test_ghe_something_row_is_accepted_when_configured() -> None:
    assert canonical_repo_url("https://ghe.something.com/foo/bar", "ghe.something.com") == (
        "https://ghe.something.com/foo/bar"
    )


@pytest.mark.parametrize("web_host", ["", "not a host", "https://", "user@github.com", "github.com:99999"])
def test_invalid_web_host_is_a_configuration_error(web_host: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        canonical_repo_url("https://github.com/o/r", web_host=web_host)
    assert not isinstance(raised.value, RepoUrlRejected)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", R.NOT_A_URL),
        ("   ", R.NOT_A_URL),
        ("https://github.com/o/r https://github.com/x/y", R.NOT_A_URL),
        ("https://github.com/o/r\n/x", R.NOT_A_URL),
        ("https://evil.example\\@github.com/o/r", R.NOT_A_URL),
        ("https:github.com/o/r", R.NOT_A_URL),
        ("https:/github.com/o/r", R.NOT_A_URL),
        ("gitlab:o/r", R.NOT_A_URL),
        ("https:///o/r", R.NOT_A_URL),
        ("https://[::1/o/r", R.NOT_A_URL),
        ("file:///srv/git/o/r.git", R.UNSUPPORTED_SCHEME),
        ("javascript://github.com/o/r", R.UNSUPPORTED_SCHEME),
        ("https://github.com:0/o/r", R.INVALID_PORT),
        ("https://github.com:65536/o/r", R.INVALID_PORT),
        ("https://github.com:8080/o/r", R.NOT_GITHUB),
        ("https://[::1]:8080/o/r", R.NOT_GITHUB),
        ("https://gitlab.com/o/r", R.NOT_GITHUB),
        ("https://api.github.com/repos/o/r", R.NOT_GITHUB),
        ("https://raw.githubusercontent.com/o/r/main/README.md", R.NOT_GITHUB),
        ("https://github.com.evil.example/o/r", R.NOT_GITHUB),
        ("https://evil.example/github.com/o/r", R.NOT_GITHUB),
        ("https://gıthub.com/o/r", R.NOT_GITHUB),
        ("https://ssh.github.com/o/r", R.NOT_GITHUB),
        ("https://github.com/", R.NO_REPO_PART),
        ("https://github.com/?tab=repositories", R.NO_REPO_PART),
        ("https://github.com/octocat?tab=repositories", R.NO_REPO_PART),
        ("https://github.com/orgs/acme/teams", R.RESERVED_OWNER),
        ("https://github.com/settings/profile", R.RESERVED_OWNER),
        ("https://github.com/marketplace/actions/checkout", R.RESERVED_OWNER),
        ("https://github.com/topics/python", R.RESERVED_OWNER),
        ("https://github.com/sponsors/octocat", R.RESERVED_OWNER),
        ("https://github.com/About/x", R.RESERVED_OWNER),
        ("https://github.com/-octo/r", R.INVALID_OWNER),
        ("https://github.com/octo-/r", R.INVALID_OWNER),
        ("https://github.com/oc--to/r", R.INVALID_OWNER),
        ("https://github.com/oc_to/r", R.INVALID_OWNER),
        ("https://github.com/oc.to/r", R.INVALID_OWNER),
        ("https://github.com/%6Fcto/r", R.INVALID_OWNER),
        (f"https://github.com/{'a' * 40}/r", R.INVALID_OWNER),
        ("https://github.com/o/.", R.INVALID_REPO),
        ("https://github.com/o/..", R.INVALID_REPO),
        ("https://github.com/o/.git", R.INVALID_REPO),
        ("https://github.com/o/r.git.git", R.INVALID_REPO),
        ("https://github.com/o/r%20x", R.INVALID_REPO),
        ("https://github.com/o/r+x", R.INVALID_REPO),
        (f"https://github.com/o/{'r' * 101}", R.INVALID_REPO),
    ],
)
def test_rejections(url: str, reason: RejectReason) -> None:
    with pytest.raises(RepoUrlRejected) as raised:
        canonical_repo_url(url)
    assert raised.value.reason is reason
    assert str(reason) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_length_limits_are_inclusive() -> None:
    owner, repo = "a" * 39, "r" * 100
    assert canonical_repo_url(f"https://github.com/{owner}/{repo}") == f"https://github.com/{owner}/{repo}"
    assert canonical_repo_url(f"https://github.com/o/{repo}.git") == f"https://github.com/o/{repo}"


def test_every_reserved_segment_is_rejected() -> None:
    for segment in sorted(RESERVED_FIRST_SEGMENTS):
        with pytest.raises(RepoUrlRejected) as raised:
            canonical_repo_url(f"https://github.com/{segment}/x")
        assert raised.value.reason is R.RESERVED_OWNER, segment


def test_rejection_is_invalid_input_with_url_and_reason() -> None:
    with pytest.raises(InvalidInput) as raised:
        canonical_repo_url("https://github.com/Org")
    rejected = raised.value
    assert isinstance(rejected, RepoUrlRejected)
    assert rejected.url == "https://github.com/Org"
    assert rejected.reason == "NO_REPO_PART"
    assert rejected.message.startswith("NO_REPO_PART: ")


@pytest.mark.parametrize(
    "url",
    [
        "https://x-access-token:ghp_SECRET123@example.com/o/r.git",
        "https://ghp_SECRET123@gitlab.com/o/r",
        "https://user:ghp_SECRET123@github.com/Org",
        "https://user:ghp_SECRET123@github.com:notaport/o/r",
        "https://user:ghp/SECRET123@github.com/o/r",
        "ghp_SECRET123:x@github.com:o/r.git",
        "user:ghp_SECRET123@github.com/o/r",
        "https://github.com/o?access_token=ghp_SECRET123",
        "https://github.com/orgs/x#ghp_SECRET123",
        "ftp://u:ghp_SECRET123@github.com/o/r",
    ],
)
def test_rejections_never_echo_credentials(url: str) -> None:
    with pytest.raises(RepoUrlRejected) as raised:
        canonical_repo_url(url)
    assert "SECRET123" not in str(raised.value)
    assert "SECRET123" not in raised.value.url
    assert "SECRET123" not in repr(raised.value.args)


def test_rejection_survives_pickling() -> None:
    with pytest.raises(RepoUrlRejected) as raised:
        canonical_repo_url("https://u:ghp_SECRET123@gitlab.com/o/r?token=x")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (copy.url, copy.reason, str(copy)) == (raised.value.url, raised.value.reason, str(raised.value))


def test_redaction_keeps_the_conventional_git_user() -> None:
    assert redact_url("git@github.com:Org") == "git@github.com:Org"
    assert redact_url("https://u:p@github.com/o?x=1") == "https://***@github.com/o?..."


def test_non_text_is_rejected_not_crashed() -> None:
    with pytest.raises(RepoUrlRejected) as raised:
        canonical_repo_url(None)  # type: ignore[arg-type]
    assert raised.value.reason is R.NOT_A_URL


# --- properties ----------------------------------------------------------------------------------

URLISH = st.text(alphabet="gitHubcom.:/@#?-_ 0123456789[]%\\+sw:www", max_size=60)
PREFIXES = st.sampled_from(
    [
        "",
        "https://",
        "http://",
        "git@",
        "ssh://git@",
        "git+ssh://",
        "git://",
        "github:",
        "https://github.com/",
    ]
)


ARBITRARY = st.one_of(st.text(), st.builds(lambda prefix, rest: prefix + rest, PREFIXES, URLISH))


@settings(max_examples=500)
@given(ARBITRARY)
@example("https://github.com:99999999999999999999/o/r")
@example("https://[")
@example("git@:o/r")
@example("https://github.com/\u212aelvin/r")
def test_only_repo_url_rejected_is_ever_raised(text: str) -> None:
    try:
        canonical_repo_url(text)
    except RepoUrlRejected as rejected:
        assert rejected.reason in set(RejectReason)
        assert "\n" not in str(rejected)


OWNERS = st.from_regex(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,14}", fullmatch=True).filter(
    lambda owner: owner.lower() not in RESERVED_FIRST_SEGMENTS
)
REPOS = st.from_regex(r"[A-Za-z0-9._-]{1,30}", fullmatch=True).filter(
    lambda repo: repo not in {".", ".."} and not repo.lower().endswith(".git")
)
SUFFIXES = st.sampled_from(
    ["", "/", "/tree/main", "/tree/main/src", "/issues/1", "/blob/main/README.md", "/pull/3", "/wiki"]
)
TAILS = st.sampled_from(["", "?tab=readme", "#readme", "?a=b#c"])


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, str]:
    owner, repo = draw(OWNERS), draw(REPOS)
    git = draw(st.sampled_from(["", ".git", ".git/", "/"]))
    host = draw(st.sampled_from(["github.com", "www.github.com", "GitHub.com", "github.com:443"]))
    form = draw(st.sampled_from(["https", "http", "git+https", "creds", "ssh", "git+ssh", "git", "scp"]))
    if form == "scp":
        url = f"git@{host.removesuffix(':443')}:{owner}/{repo}{git}"
    elif form in {"ssh", "git+ssh"}:
        url = f"{form}://git@{host.removesuffix(':443')}/{owner}/{repo}{git}"
    elif form == "git":
        url = f"git://{host.removesuffix(':443')}/{owner}/{repo}{git}"
    else:
        scheme = "https://x-access-token:ghp_abc@" if form == "creds" else f"{form}://"
        url = f"{scheme}{host}/{owner}/{repo}{git if git != '.git/' else '.git'}{draw(SUFFIXES)}"
    url += draw(TAILS)
    flips = draw(st.lists(st.booleans(), min_size=len(url), max_size=len(url)))
    url = "".join(char.swapcase() if flip else char for char, flip in zip(url, flips, strict=True))
    blanks = draw(st.sampled_from(["", " ", "\t", "\n "]))
    return f"{blanks}{url}{blanks}", f"https://github.com/{owner}/{repo}".lower()


@settings(max_examples=400)
@given(spellings())
def test_spelling_variants_map_to_one_string(case: tuple[str, str]) -> None:
    url, expected = case
    assert canonical_repo_url(url) == expected


@settings(max_examples=400)
@given(st.one_of(spellings().map(lambda case: case[0]), ARBITRARY))
def test_canonicalization_is_idempotent(text: str) -> None:
    try:
        once = canonical_repo_url(text)
    except RepoUrlRejected:
        return
    assert canonical_repo_url(once) == once
    assert once == once.strip().lower()


@given(st.from_regex(r"[A-Za-z0-9_]{12,24}", fullmatch=True), URLISH)
def test_credentials_in_userinfo_are_never_echoed(secret: str, rest: str) -> None:
    for url in (f"https://user:{secret}@{rest}", f"https://{secret}@{rest}", f"{secret}:pw@{rest}"):
        try:
            canonical_repo_url(url)
        except RepoUrlRejected as rejected:
            assert secret not in str(rejected)
            assert secret not in rejected.url
