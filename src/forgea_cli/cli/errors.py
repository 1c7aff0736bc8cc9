"""The one table from exception to exit code, and the one-line message a user sees."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from urllib.parse import urlsplit

from forgea_cli import errors
from forgea_cli.redaction import mask_urls_in_text, scrub_text

# Most specific first. Exit codes are the CLI contract (DESIGN §6).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.DatabaseUnreachable, 6),
    (errors.GitHubError, 5),
    (errors.Conflict, 4),
    (errors.NotFound, 3),
    (errors.InvalidInput, 2),
    (errors.ForgeaError, 1),
    (KeyboardInterrupt, 130),
)
EX_SOFTWARE = 70  # an unexpected exception: the tool itself failed, not a check

DEBUG_HINT = "run with --debug (or FORGEA_DEBUG=1) for the traceback"


def exit_code_for(exc: BaseException) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EX_SOFTWARE


def message_for(exc: BaseException) -> str:
    if isinstance(exc, errors.ForgeaError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"unexpected {type(exc).__name__}: {_first_line(str(exc))}"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def known_secrets() -> list[str]:
    """Secrets this process may know, read without building settings (errors can precede them)."""
    secrets = [os.environ.get("FORGEA_GITHUB_TOKEN", "")]
    url = os.environ.get("FORGEA_DATABASE_URL", "")
    if "://" in url:
        with contextlib.suppress(ValueError):
            secrets.append(urlsplit(url).password or "")
    return [s for s in secrets if len(s) >= 4]


def debug_enabled(flag: bool) -> bool:
    return flag or os.environ.get("FORGEA_DEBUG", "").lower() in {"1", "true", "yes", "on"}


def report(exc: BaseException, *, debug: bool) -> int:
    """Print the one-line error (and traceback when debugging) to stderr; return the exit code."""
    secrets = known_secrets()
    if debug:
        text = "".join(traceback.format_exception(exc))
        sys.stderr.write(scrub_text(mask_urls_in_text(text), secrets))
    message = scrub_text(mask_urls_in_text(message_for(exc)), secrets)
    sys.stderr.write(f"error: {message}\n")
    hint = getattr(exc, "hint", None)
    if hint:
        sys.stderr.write(f"hint: {scrub_text(hint, secrets)}\n")
    if not debug and not isinstance(exc, errors.ForgeaError):
        sys.stderr.write(f"({DEBUG_HINT})\n")
    return exit_code_for(exc)
