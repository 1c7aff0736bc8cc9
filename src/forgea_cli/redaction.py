"""Keeping secrets out of what the tool shows (standard library only)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_MASK = "***"
_SECRET_KEYS = frozenset({"password", "token", "secret", "apikey", "accesstoken", "refreshtoken", "idtoken"})
_PASSWORD_IN_DSN = re.compile(r"(password\s*=\s*)([^\s&#]+)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """Replace the password of a database URL (or libpq key=value string) with ***."""
    if "://" not in url:
        return _PASSWORD_IN_DSN.sub(rf"\g<1>{_MASK}", url)
    parts = urlsplit(url)
    if parts.password is None:
        masked = parts
    else:
        user = parts.username or ""
        host_and_port = parts.netloc.rpartition("@")[2]  # as written: a bad port must not raise here
        masked = parts._replace(netloc=f"{user}:{_MASK}@{host_and_port}")
    query = _PASSWORD_IN_DSN.sub(rf"\g<1>{_MASK}", masked.query.replace("&", " &")).replace(" &", "&")
    return urlunsplit(masked._replace(query=query))


def is_secret_key(key: str) -> bool:
    """Audit metadata keys that look like secrets, compared case- and punctuation-insensitively."""
    return re.sub(r"[^a-z0-9]", "", key.lower()) in _SECRET_KEYS


def scrub_metadata(value: object) -> object:
    """Drop secret-looking keys at any depth of a JSON-like value."""
    if isinstance(value, dict):
        return {k: scrub_metadata(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [scrub_metadata(v) for v in value]
    return value


def scrub_text(text: str, secrets: list[str]) -> str:
    """Remove any literal occurrence of known secret values from a message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return text


_PASSWORD_IN_URL = re.compile(r"([a-zA-Z][\w+.-]*://[^:/@\s]*:)([^@\s]+)(@)")
# A token alone as the user of a web URL (https://ghp_…@github.com/o/r); `git@` is SSH's, not a secret.
_TOKEN_IN_WEB_URL = re.compile(r"(https?://)(?!git@)([^:/@\s]+)(@)", re.IGNORECASE)
# A query parameter of a URL whose name looks like a secret (?access_token=…, &password=…).
_QUERY_PARAMETER = re.compile(r"([?&])([A-Za-z0-9_.-]+)=([^&#\s]+)")


def redact_credentials(text: str) -> str:
    """The one redaction rule of what the tool shows: the credentials inside URLs.

    ``scheme://user:password@host`` keeps its user and masks the password; a web URL whose user
    part is a token (``https://TOKEN@github.com/…``) masks it (``git@`` stays: it is SSH's user);
    a query parameter named like a secret (``?access_token=…``, as ``is_secret_key`` judges audit
    keys) and a ``password=…`` pair of a libpq string are masked. Everything else of the URL is
    kept, so the same URL reads the same in every command. Applied by ``cli.output`` to every
    message, table cell and JSON string, and by ``cli.errors`` to error messages."""
    text = _PASSWORD_IN_URL.sub(rf"\g<1>{_MASK}\g<3>", text)
    text = _TOKEN_IN_WEB_URL.sub(rf"\g<1>{_MASK}\g<3>", text)
    text = _QUERY_PARAMETER.sub(
        lambda m: f"{m.group(1)}{m.group(2)}={_MASK}" if is_secret_key(m.group(2)) else m.group(), text
    )
    return _PASSWORD_IN_DSN.sub(rf"\g<1>{_MASK}", text)


def mask_urls_in_text(text: str) -> str:
    """Mask the credentials of every URL that appears inside a free-form message."""
    return redact_credentials(text)
