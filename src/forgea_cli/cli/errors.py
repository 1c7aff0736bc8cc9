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
        return getattr(exc, "message", None) or "interrupted"
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


def code_for(exc: BaseException) -> str:
    """The ``code`` of the error document: the error's class (``NOT_FOUND``, ``DATABASE_UNREACHABLE``…);
    ``INTERRUPTED`` for Ctrl-C, ``USAGE`` for bad usage, ``INTERNAL_ERROR`` for the tool's own failure."""
    from forgea_cli.documents import error_code

    if isinstance(exc, KeyboardInterrupt):
        return "INTERRUPTED"
    if type(exc).__module__.startswith(("click", "typer")):
        return "USAGE"
    if exit_code_for(exc) == EX_SOFTWARE:
        return "INTERNAL_ERROR"
    return error_code(exc)


def report(exc: BaseException, *, debug: bool, json: bool = False) -> int:
    """Print the one-line error (and traceback when debugging) to stderr; return the exit code.

    With ``json`` the error is also one JSON document on stdout, ``{"error": {"code", "exitCode",
    "message", "hint"}}``, plus ``"result"`` when the error carries the command's answer or what was
    done before it (``exc.result``, or a backfill's ``exc.report`` when it stopped or was interrupted)."""
    secrets = known_secrets()
    if debug:
        text = "".join(traceback.format_exception(exc))
        sys.stderr.write(scrub_text(mask_urls_in_text(text), secrets))
    message = scrub_text(mask_urls_in_text(message_for(exc)), secrets)
    hint = getattr(exc, "hint", None)
    hint = scrub_text(mask_urls_in_text(hint), secrets) if hint else None
    code = exit_code_for(exc)
    if json:
        emit_error_json(exc, code, message, hint)
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    if not debug and code == EX_SOFTWARE:
        sys.stderr.write(f"({DEBUG_HINT})\n")
    return code


def emit_error_json(exc: BaseException, code: int, message: str, hint: str | None) -> None:
    from forgea_cli.cli.output import json_text
    from forgea_cli.documents import error_document

    document = error_document(code_for(exc), code, message, hint)
    result = getattr(exc, "result", None)
    result = getattr(exc, "report", None) if result is None else result
    if result is not None:
        document["result"] = result
    text = json_text(document)
    secrets = known_secrets()
    sys.stdout.write(scrub_text(text, secrets))
    sys.stdout.flush()


def report_usage_error(exc: BaseException) -> None:
    """Bad usage under ``--json``: Click prints its own message on stderr; stdout gets the document."""
    message = getattr(exc, "format_message", lambda: str(exc))()
    emit_error_json(exc, getattr(exc, "exit_code", 2), message, None)
