"""The GitHub token never shows: not in stdout, stderr, logs, exceptions, audit metadata or key rows —
also when GitHub answers 401 or 500."""

from __future__ import annotations

import logging

import pytest

from forgea_cli.errors import ForgeaError
from forgea_cli.services.sessions.create import create_session
from forgea_cli.testing.github_server import FakeGitHub
from tests.integration.session_create_support import (
    CONFIG,
    TEMPLATE,
    TOKEN,
    cli_env,
    run_subprocess,
    spec,
    sql,
)

pytest_plugins = ("tests.integration.session_create_fixtures",)

PIECES = (TOKEN, TOKEN[:14], TOKEN[-14:])


def assert_secret_free(*texts: str) -> None:
    for text in texts:
        for piece in PIECES:
            assert piece not in text


def stored_rows(url: str) -> list[str]:
    return [
        row[0]
        for table in ("IdempotencyKey", "AuditLog", "LabSession", "GitHubRepoMapping")
        for row in sql(url, f'SELECT row_to_json(t)::text FROM "{table}" t')
    ]


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    return caplog


def _create(forgea, seeded, fake, tmp_path, *extra: str, debug: bool = False):
    env = cli_env(seeded, fake, tmp_path)
    root = ["--debug"] if debug else []
    return forgea(
        *root, "session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id), *extra, env=env
    )


def test_success_and_replay_show_no_token(forgea, seeded, fake_github, tmp_path, debug_logs):
    first = _create(forgea, seeded, fake_github, tmp_path, "--json")
    again = _create(forgea, seeded, fake_github, tmp_path)
    assert (first.exit_code, again.exit_code) == (0, 0), first.stderr
    assert_secret_free(
        first.stdout, first.stderr, again.stdout, again.stderr, debug_logs.text, *stored_rows(seeded.url)
    )


def test_a_401_fails_the_key_with_exit_5_and_no_token_anywhere(forgea, seeded, tmp_path, debug_logs):
    with FakeGitHub(token="a-different-token-entirely") as wrong:
        wrong.add_repo(TEMPLATE, is_template=True)
        result = _create(forgea, seeded, wrong, tmp_path, debug=True)
    assert result.exit_code == 5
    assert "Bad credentials" in result.stderr and "Traceback" in result.stderr
    [key] = seeded.key_rows()
    assert (key["recoveryPoint"], key["errorCode"]) == ("FAILED", "GITHUB_AUTH_FAILED")
    assert_secret_free(result.stdout, result.stderr, debug_logs.text, *stored_rows(seeded.url))


def test_500s_then_success_show_no_token(forgea, seeded, fake_github, tmp_path, debug_logs):
    fake_github.fail_next("generate", 2, status=500)
    result = _create(forgea, seeded, fake_github, tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    assert "retry" in debug_logs.text  # the retries were logged ...
    assert_secret_free(result.stdout, result.stderr, debug_logs.text, *stored_rows(seeded.url))  # ... cleanly


def test_500s_until_giving_up_leave_no_token_in_the_exception_chain(
    seeded, fake_github, make_gateway, uow, debug_logs
):
    fake_github.fail_next("generate", 5, status=500)
    fake_github.fail_next("get_repo", 5, status=500)
    with pytest.raises(ForgeaError) as failed:
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    chain, current = [], failed.value
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    assert_secret_free(*(str(e) for e in chain), *(repr(e) for e in chain), debug_logs.text)
    assert_secret_free(*stored_rows(seeded.url))
    [key] = seeded.key_rows()
    assert (key["recoveryPoint"], key["lockedAt"]) == ("STARTED", None)  # transient: retryable at once


def test_a_subprocess_with_debug_and_a_wrong_token_prints_no_token(seeded, tmp_path):
    with FakeGitHub(token="a-different-token-entirely") as wrong:
        wrong.add_repo(TEMPLATE, is_template=True)
        env = cli_env(seeded, wrong, tmp_path, FORGEA_DEBUG="1")
        run = run_subprocess(
            ["session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id)], env, tmp_path
        )
    assert run.returncode == 5 and "Traceback" in run.stderr
    assert_secret_free(run.stdout, run.stderr, *stored_rows(seeded.url))
