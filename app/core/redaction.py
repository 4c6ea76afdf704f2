"""Keep every configured secret out of what krtracker stores, sends and logs: the one rule.

A `Redactor` knows a set of secrets and the forms a source may echo them in (URL-encoded,
JSON-escaped, base64; `derived_forms`) and replaces each with `***`; URL userinfo,
`token=`-like query values and bearer credentials go whatever their value. Which secrets a
config holds is `app.config.secrets` (`redactor_for`); the logging filter is
`app.cli.log_redaction`. It is applied where outcomes become stored data (the writer,
`app.sampling.outcomes.redacted`), to the definitions synced into the
database (`app.store.definitions`) and rows stored before (`app.store.redaction`), to
alert payloads (`app.alerts.routing`) and delivery errors (`app.alerts.delivery`), and to
every log record.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

    from connectors.base import ConnectorError, Measurement

MASK = "***"
# Shorter secrets would blank out ordinary words (and protect nothing): they are not masked.
MIN_SECRET_LENGTH = 4
# Text cut short by a connector ends with this; a secret may have been cut in two there.
ELLIPSIS = "…"
SENSITIVE_QUERY_KEYS = (
    "access_token|token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd"
    "|pass|auth|sig|signature|private_token|x-amz-signature|x-goog-signature|code"
)
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
        """Return `text(value)` with each URL cut to its origin and first path segment.

        URLs are cut first: masking a secret path first would leave `host:port***`.
        """
        return self.text(_URL.sub(_log_url, value))

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
    """Render a URL found in a log line as its origin and first path segment, the rest masked."""
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
        path += f"/{MASK}"
    query = f"?{MASK}" if parts.query else ""
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
