"""Keep every configured secret out of what krtracker stores, sends and logs: one rule, here.

`redactor_for(loaded)` collects the config's secrets (every `SecretStr`, header values,
passwords and secret query values of configured URLs, webhook URL paths, the database
URL's password) and the forms a source may echo them in (URL-encoded, JSON-escaped,
base64, `base64(user:password)` of Basic auth). `Redactor.text` replaces each with `***`;
URL userinfo, `token=`-like query values and bearer credentials are removed whatever
their value. It is applied where connector failures become stored data
(`app.live_store`, `app.sampling.store_outcome`), to the definitions synced into the
database (`app.sync`), to alert payloads (`app.alerts`) and delivery errors
(`app.delivery`), and to every log record through `RedactingFilter`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from pydantic import BaseModel, SecretStr

from connectors.base import ConnectorError, Measurement

if TYPE_CHECKING:
    from app.config import LoadedConfig

MASK = "***"
# Shorter secrets would blank out ordinary words; `krtracker validate` warns about them.
MIN_SECRET_LENGTH = 4
# Text cut short by a connector ends with this; a secret may have been cut in two there.
ELLIPSIS = "…"
SENSITIVE_QUERY_KEYS = (
    "access_token|token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd"
    "|pass|auth|sig|signature|private_token|x-amz-signature|x-goog-signature|code"
)
# Header values are secrets unless the header is one of these well-known harmless ones.
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
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>`]+")
_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@\"'<>?#]+@")
_QUERY_SECRET = re.compile(rf"(?i)([?&;](?:{SENSITIVE_QUERY_KEYS})=)[^&#\s\"'<>]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*")
_TRAILING_PUNCTUATION = ".,;:!?)]}"


def _trie_pattern(forms: Iterable[str]) -> str:
    """Return a regex matching any of `forms`, longest first, built as a trie.

    A plain alternation tries every secret at every position; the trie tries only the
    secrets that share the characters seen so far, which keeps a search near one pass.
    """
    trie: dict[str, Any] = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}  # the end of a form

    def render(node: dict[str, Any]) -> str:
        chain = []
        while len(node) == 1 and "" not in node:  # a run without branches: no recursion
            ((char, node),) = node.items()
            chain.append(re.escape(char))
        branches = [re.escape(c) + render(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return "".join(chain)
        # `(?:...)?` is greedy: a longer form wins over one that ends here.
        if "" in node:
            tail = f"(?:{'|'.join(branches)})?"
        else:
            tail = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return "".join(chain) + tail

    return render(trie)


class Redactor:
    """Replaces configured secrets (and their echoed forms) and URL credentials with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= derived_forms(secret)
        self.forms = sorted(
            (f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True
        )
        secrets = _trie_pattern(self.forms)
        self._pattern = re.compile(secrets) if secrets else None

    def _needs_work(self, value: str) -> bool:
        """Return whether `value` may hold anything to redact (most strings hold nothing)."""
        if "://" in value or "bearer" in value.lower():
            return True
        if "=" in value and _QUERY_SECRET.search(value):
            return True
        return self._pattern is not None and (
            ELLIPSIS in value or self._pattern.search(value) is not None
        )

    def text(self, value: str) -> str:
        """Return `value` without any secret, URL userinfo, secret query value or bearer token."""
        if not self._needs_work(value):
            return value
        value = self._mask_secrets(value)
        value = _USERINFO.sub(rf"\1{MASK}@", value)
        value = _QUERY_SECRET.sub(rf"\1{MASK}", value)
        value = _BEARER.sub(rf"\1{MASK}", value)
        return self._mask_secrets(value)

    def _mask_secrets(self, value: str) -> str:
        """Mask every form of every secret, also one cut short before an ellipsis."""
        if self._pattern is None:
            return value
        # Each pass replaces at least MIN_SECRET_LENGTH characters by three: it ends.
        while self._pattern.search(value):
            value = self._pattern.sub(MASK, value)
        return self._cut_secrets(value) if ELLIPSIS in value else value

    def optional(self, value: str | None) -> str | None:
        """Return `text(value)`, None staying None."""
        return None if value is None else self.text(value)

    def json(self, value: Any) -> Any:
        """Return a JSON-like document with every string (keys too) passed through `text`."""
        if isinstance(value, dict | list | tuple):
            # One search over the whole document first: most documents hold nothing to redact.
            if not self._needs_work(json.dumps(value, ensure_ascii=False, default=str)):
                return value
        return self._json(value)

    def _json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._json(k): self._json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._json(v) for v in value]
        return value

    def error(self, error: ConnectorError) -> ConnectorError:
        """Return the error (same type and attributes) with its reason redacted."""
        reason = self.text(error.reason)
        if reason == error.reason:
            return error
        scrubbed = copy.copy(error)
        scrubbed.reason, scrubbed.args = reason, (reason,)
        return scrubbed

    def measurement(self, measurement: Measurement) -> Measurement:
        """Return the measurement with its details redacted."""
        details = self.json(measurement.details) if measurement.details else None
        if details is None or details is measurement.details:
            return measurement
        return replace(measurement, details=details)

    def log_text(self, value: str) -> str:
        """Return `text(value)` with each URL cut to its origin and a redacted path."""
        return _URL.sub(_log_url, self.text(value))

    def _cut_secrets(self, value: str) -> str:
        """Mask the start of a secret right before an ellipsis (text cut inside a secret)."""
        out, start = [], 0
        for match in re.finditer(re.escape(ELLIPSIS), value):
            head = value[start : match.start()]
            cut = max(
                (
                    k
                    for form in self.forms
                    for k in range(min(len(form) - 1, len(head)), MIN_SECRET_LENGTH - 1, -1)
                    if head.endswith(form[:k])
                ),
                default=0,
            )
            out.append((head[:-cut] + MASK) if cut else head)
            out.append(ELLIPSIS)
            start = match.end()
        out.append(value[start:])
        return "".join(out)


def _log_url(match: re.Match[str]) -> str:
    """Render a URL found in a log line as its origin, first path segment and `…`."""
    url = match.group(0)
    tail = ""
    while url and url[-1] in _TRAILING_PUNCTUATION:
        url, tail = url[:-1], url[-1] + tail
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK + tail
    if ":" in host:
        host = f"[{host}]"
    segments = [s for s in parts.path.split("/") if s]
    path = f"/{segments[0]}" if segments else ""
    if len(segments) > 1:
        path += "/…"
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{path}{query}{tail}"


def derived_forms(secret: str) -> set[str]:
    """Return the secret and the ways a source may echo it (encoded, escaped, base64)."""
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
    }
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    forms |= {f.rstrip("=") for f in forms if f.endswith("=") and len(f.rstrip("=")) >= 8}
    # A PEM key or other multi-line secret may be echoed one line at a time.
    for line in secret.splitlines():
        line = line.strip()
        if len(line) >= 16 and not line.startswith("-----"):
            forms.add(line)
    return forms


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
    sensitive = re.compile(rf"(?i)^(?:{SENSITIVE_QUERY_KEYS})$")
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if webhook or sensitive.match(key):
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


class RedactingFilter(logging.Filter):
    """Redact every record that passes a handler: message, arguments, traceback, stack."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's template and each argument in place, and keep the record.

        Arguments stay arguments: some formatters (uvicorn's access log) read them.
        """
        redactor = self.redactor
        # A template with arguments is code (`%s://%s:%d`): only the arguments carry data.
        if isinstance(record.msg, str) and not record.args:
            record.msg = redactor.log_text(record.msg)
        elif not isinstance(record.msg, str):
            record.msg = redactor.log_text(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_argument(redactor, a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted_argument(redactor, v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.log_text(record.stack_info)
        return True


def _redacted_argument(redactor: Redactor, value: Any) -> Any:
    """Return a log argument redacted: numbers as they are, anything else as redacted text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        text = str(value)
    except Exception:  # logging reports a broken argument itself; do not fail first
        return value
    redacted = redactor.log_text(text)
    return value if redacted == text and isinstance(value, str) else redacted


LOG_FILTER = RedactingFilter()


def install_log_redaction(redactor: Redactor | None = None) -> RedactingFilter:
    """Put the process's redacting filter on every root handler and give it `redactor`.

    Call it where logging is configured; handlers of other loggers (uvicorn's) take
    `LOG_FILTER` through their own configuration.
    """
    if redactor is not None:
        LOG_FILTER.redactor = redactor
    for handler in logging.getLogger().handlers:
        if LOG_FILTER not in handler.filters:
            handler.addFilter(LOG_FILTER)
    return LOG_FILTER
