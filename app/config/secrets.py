"""Which secrets a loaded config holds, so the redactor (`app.core.redaction`) can mask them.

Every `SecretStr`; header values whose name says credential or that are long enough; the
password (and its Basic form) and credential-named query values of every configured URL,
queries' URLs included; a webhook URL's long path segments and query values (a Slack URL's
whole path); and the password of the database URL actually used.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, SecretStr

from app.core.redaction import SENSITIVE_QUERY_KEYS, Redactor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.config.loading import LoadedConfig

# Headers whose values are never secrets unless their name says credential (`_is_secret_header`).
PUBLIC_HEADERS = {
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-type",
    "user-agent",
    "x-github-api-version",
}
_CREDENTIAL_NAME = re.compile(r"(?i)auth|token|key|secret|password|cookie|signature|session")
_SENSITIVE_KEY = re.compile(rf"(?i)^(?:{SENSITIVE_QUERY_KEYS})$")


def credential_parts(value: str) -> list[str]:
    """Return the secrets inside one configured value: itself, a scheme's credential, URL parts."""
    parts = [value]
    scheme, _, credential = value.strip().partition(" ")
    if credential and scheme.lower() in ("bearer", "basic", "token", "digest", "apikey"):
        parts.append(credential.strip())
        if scheme.lower() == "basic":
            try:
                user_password = base64.b64decode(credential.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                user_password = ""
            parts += [user_password, user_password.partition(":")[2]]
    if "://" in value:
        parts += url_secrets(value)
    return [p for p in parts if p]


def url_secrets(url: str, *, webhook: bool = False, whole_path: bool = False) -> list[str]:
    """Return a URL's secrets: its password (and Basic form), secret query values, maybe its path.

    A `webhook` URL's path is often its credential (Slack, Discord, Teams): its long
    segments and every query value count; with `whole_path` (Slack) the whole path too.
    """
    try:
        parts = urlsplit(url.strip())
        username, password = parts.username, parts.password
    except ValueError:
        return []
    found: list[str] = []
    if password:
        found += [password, unquote(password)]
        found += basic_forms(unquote(username or ""), unquote(password))
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if webhook or _SENSITIVE_KEY.match(key):
            found.append(value)
    if webhook:
        found += [s for s in parts.path.split("/") if len(s) >= 12]
    if whole_path and len(parts.path) > 1:
        found.append(parts.path)
    return found


def basic_forms(username: str, password: str) -> list[str]:
    """Return `base64(user:password)`, the credential of HTTP Basic auth."""
    pair = f"{username}:{password}".encode()
    return [base64.b64encode(pair).decode(), base64.b64encode(pair).decode().rstrip("=")]


def config_secrets(loaded: LoadedConfig) -> list[str]:
    """Return every secret a loaded config holds (validated settings and the raw sections)."""
    found: list[str] = []
    models: list[Any] = [loaded.config]
    models += [c.settings for c in loaded.connectors.values()]
    models += list(loaded.queries.values())
    for model in models:
        found += _walk(model, header=None)
    for webhook in loaded.config.webhooks:
        if webhook.url is not None:
            found += url_secrets(webhook.url, webhook=True, whole_path=webhook.format == "slack")
    return found


def _walk(node: Any, *, header: str | None) -> Iterator[str]:
    """Yield the secrets in a config node; `header` names the header a value belongs to."""
    if isinstance(node, SecretStr):
        yield from credential_parts(node.get_secret_value())
    elif isinstance(node, str):
        if header is not None and _is_secret_header(header, node):
            yield from credential_parts(node)
        elif "://" in node or "?" in node:  # a url, maybe relative (`/m?api_key=...`)
            yield from url_secrets(node)
    elif isinstance(node, BaseModel):
        fields = dict(node)
        fields.update(node.model_extra or {})
        for name, value in fields.items():
            yield from _walk(value, header=None)
            if name == "headers" and isinstance(value, dict):
                for key, item in value.items():
                    yield from _walk(item, header=str(key))
        user, password = fields.get("username"), fields.get("password")
        if isinstance(user, str) and isinstance(password, SecretStr | str):
            secret = password.get_secret_value() if isinstance(password, SecretStr) else password
            yield from basic_forms(user, secret)
    elif isinstance(node, dict):
        for key, value in node.items():
            if str(key).lower() == "headers" and isinstance(value, dict):
                for name, item in value.items():
                    yield from _walk(item, header=str(name))
            else:
                yield from _walk(value, header=None)
        user, password = node.get("username"), node.get("password")
        if isinstance(user, str) and isinstance(password, str):
            yield from basic_forms(user, password)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _walk(item, header=header)


def _is_secret_header(name: str, value: str) -> bool:
    """Return whether a configured header value counts as a secret.

    Credential-like names always do; other headers unless well known, or so short that
    masking them would blank out ordinary words (`X-Debug = "true"`).
    """
    if _CREDENTIAL_NAME.search(name):
        return True
    return name.lower() not in PUBLIC_HEADERS and len(value.strip()) >= 8


def redactor_for(loaded: LoadedConfig, *, database_url: str | None = None) -> Redactor:
    """Build the redactor of a loaded config (and of the database URL actually used)."""
    secrets = config_secrets(loaded)
    if database_url:
        secrets += url_secrets(database_url)
    return Redactor(secrets)
