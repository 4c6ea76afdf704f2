"""The redactor: every configured secret, in every form a source may echo it, is removed."""

from __future__ import annotations

import base64
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.config import load_config
from app.redaction import (
    ELLIPSIS,
    MASK,
    RedactingFilter,
    Redactor,
    basic_forms,
    redactor_for,
)
from connectors.base import Measurement, RateLimited, SourceUnavailable, excerpt

# Secrets as people configure them: printable, no surrounding whitespace, long enough.
secrets = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=8, max_size=40
)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
usernames = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)


@given(secret=secrets, before=texts, after=texts)
def test_a_secret_anywhere_in_a_string_is_removed(secret: str, before: str, after: str) -> None:
    """Whatever surrounds it, the secret is gone from the result."""
    redacted = Redactor([secret]).text(before + secret + after)
    assert secret not in redacted
    assert MASK in redacted


@given(secret=secrets, before=texts, after=texts)
def test_url_encoded_and_json_escaped_forms_are_removed(
    secret: str, before: str, after: str
) -> None:
    """A secret echoed percent-encoded (as in a query string) or JSON-escaped is removed."""
    redactor = Redactor([secret])
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe=""))
    for form in (quote(secret, safe=""), quote_plus(secret), lower_hex):
        assume(len(form) >= 8)
        assert form not in redactor.text(before + form + after)
    escaped = secret.replace("\\", "\\\\").replace('"', '\\"')
    assert escaped not in redactor.text(f'{before}{{"token": "{escaped}"}}{after}')


@given(user=usernames, password=secrets, before=texts, after=texts)
def test_basic_credentials_are_removed(user: str, password: str, before: str, after: str) -> None:
    """`Authorization: Basic base64(user:password)` echoed by a source loses its credential."""
    credential = base64.b64encode(f"{user}:{password}".encode()).decode()
    redactor = Redactor([password, *basic_forms(user, password)])
    redacted = redactor.text(f"{before}Authorization: Basic {credential}{after}")
    assert credential not in redacted and password not in redacted


@given(secret=secrets, before=texts, cut=st.integers(min_value=4, max_value=39))
def test_a_secret_cut_short_before_an_ellipsis_is_removed(
    secret: str, before: str, cut: int
) -> None:
    """A body excerpt that ends inside the secret does not keep its start."""
    assume(cut < len(secret))
    head = secret[:cut]
    assume(head not in before)
    redacted = Redactor([secret]).text(excerpt(before + secret, limit=len(before) + cut))
    assert head not in redacted
    assert redacted.endswith(ELLIPSIS)


@given(secret=secrets, text=texts)
def test_strings_without_secrets_are_unchanged(secret: str, text: str) -> None:
    """Text that holds no secret, no URL credential and no bearer token is returned as it is."""
    redactor = Redactor([secret])
    assume(all(form not in text for form in redactor.forms))
    assume(ELLIPSIS not in text and "://" not in text and "=" not in text)
    assume("bearer" not in text.lower())
    assert redactor.text(text) == text


@given(
    user=usernames, password=secrets, host=st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True)
)
def test_url_userinfo_is_removed_even_when_not_configured(
    user: str, password: str, host: str
) -> None:
    """`scheme://user:password@host` keeps its host and loses its userinfo."""
    url = f"https://{quote(user, safe='')}:{quote(password, safe='')}@{host}/path"
    redacted = Redactor().text(f"cannot reach {url}: refused")
    assert redacted == f"cannot reach https://{MASK}@{host}/path: refused"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x?token=abc123&page=2", f"GET /x?token={MASK}&page=2"),
        ("GET /x?page=2&api_key=k3y", f"GET /x?page=2&api_key={MASK}"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9", f"Authorization: Bearer {MASK}"),
        ("check the bearer token", "check the bearer token"),
    ],
)
def test_credentials_in_urls_and_headers_are_removed_whatever_their_value(
    text: str, expected: str
) -> None:
    """Query values named like credentials and bearer tokens are masked even if not configured."""
    assert Redactor().text(text) == expected


def test_log_lines_show_a_url_as_its_host_and_a_redacted_path() -> None:
    """The request log line of httpx keeps the host, not the webhook's secret path or query."""
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s %d %s"',
        (
            "POST",
            "https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXX?token=t0k",
            "HTTP/1.1",
            500,
            "Internal Server Error",
        ),
        None,
    )
    RedactingFilter(Redactor()).filter(record)
    shown = "https://hooks.slack.com/services/…?…"
    assert record.getMessage() == f'HTTP Request: POST {shown} "HTTP/1.1 500 Internal Server Error"'


def test_log_records_lose_secrets_in_arguments_and_tracebacks() -> None:
    """A secret in a log argument or in the message of a logged exception is masked."""
    redactor = Redactor(["tok-0123456789"])
    try:
        raise ValueError("source said: bad credentials tok-0123456789")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed: %s", ("tok-0123456789",), exc_info
    )
    RedactingFilter(redactor).filter(record)
    text = logging.Formatter().format(record)
    assert "tok-0123456789" not in text and "bad credentials ***" in text


def test_errors_keep_their_type_and_attributes() -> None:
    """A redacted RateLimited is still RateLimited, with its `until`; a clean error is untouched."""
    until = datetime(2030, 1, 1, tzinfo=UTC)
    error = RateLimited("quota for tok-0123456789 used up", until=until)
    redacted = Redactor(["tok-0123456789"]).error(error)
    assert isinstance(redacted, RateLimited) and redacted.until == until
    assert "tok-0123456789" not in redacted.reason and "tok-0123456789" not in str(redacted)
    clean = SourceUnavailable("refused")
    assert Redactor(["tok-0123456789"]).error(clean) is clean


def test_measurement_details_are_redacted() -> None:
    """Details stored with a sample (a URL with an API key) lose the secret."""
    at = datetime(2030, 1, 1, tzinfo=UTC)
    measurement = Measurement(1.0, at, details={"url": "https://x.example/m?key=k3y-0123456789"})
    redacted = Redactor(["k3y-0123456789"]).measurement(measurement)
    assert "k3y-0123456789" not in str(redacted.details)


CONFIG = """
[database]
url = "postgresql://krt:db-password-0001@db.example:5432/krt"

[api]
tokens = [{ name = "ci", token = "api-token-0001-abcdefgh" }]

[[webhooks]]
name = "chat"
format = "slack"
url = "https://hooks.slack.com/services/T0001/B0001/slack-secret-0001"

[[webhooks]]
name = "ops"
url = "https://ops.example/hooks/generic-path-secret-0001?token=hook-token-0001"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
headers = { X-Api-Key = "header-secret-0001" }

[connectors.prom]
type = "prometheus"
url = "http://prom.example:9090"
username = "krt"
password = "prom-password-0001"

[connectors.gh]
type = "github"
token = "ghp_github-token-0001"

[connectors.api]
type = "http_json"
headers = { Authorization = "Bearer http-bearer-0001" }

[connectors.db]
type = "sql"
url = "postgresql://reader:sql-password-0001@db.example/analytics"

[[objectives]]
id = "o"
title = "O"
start = 2026-01-01
end = 2026-12-31

[[objectives.key_results]]
id = "k"
title = "K"
direction = "increase"
target = 1
source = { connector = "api", url = "https://api.example/m?api_key=query-key-0001", jsonpath = "$" }
"""

CONFIGURED_SECRETS = [
    "db-password-0001",
    "api-token-0001-abcdefgh",
    "slack-secret-0001",
    "/services/T0001/B0001/slack-secret-0001",
    "generic-path-secret-0001",
    "hook-token-0001",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "header-secret-0001",
    "prom-password-0001",
    base64.b64encode(b"krt:prom-password-0001").decode(),
    "ghp_github-token-0001",
    "http-bearer-0001",
    "sql-password-0001",
    "query-key-0001",
]


@pytest.mark.parametrize("secret", CONFIGURED_SECRETS)
def test_the_config_redactor_knows_every_configured_secret(tmp_path: Path, secret: str) -> None:
    """Each kind of secret a config holds (tokens, passwords, URL paths and queries) is masked."""
    path = tmp_path / "c.toml"
    path.write_text(CONFIG, encoding="utf-8")
    redactor = redactor_for(load_config(path))
    for form in (secret, quote(secret, safe="")):
        assert form not in redactor.text(f"503 bad credentials {form}!")
    assert redactor.text("nothing to hide here") == "nothing to hide here"


@settings(max_examples=50)
@given(
    document=st.recursive(
        st.none() | st.integers() | texts,
        lambda inner: st.lists(inner) | st.dictionaries(texts, inner),
    )
)
def test_json_documents_keep_their_shape(document: object) -> None:
    """Redacting a document without secrets returns an equal document."""
    redactor = Redactor(["tok-0123456789"])
    assume("tok-0123456789" not in repr(document))
    assume(
        "://" not in repr(document) and "=" not in repr(document) and ELLIPSIS not in repr(document)
    )
    assume("bearer" not in repr(document).lower())
    assert redactor.json(document) == document


def test_a_template_with_arguments_still_formats() -> None:
    """A template such as uvicorn's `%s://%s:%d` is left alone; its arguments are redacted."""
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
        ("http", "127.0.0.1", 8080),
        None,
    )
    RedactingFilter(Redactor(["tok-0123456789"])).filter(record)
    assert record.getMessage() == "Uvicorn running on http://127.0.0.1:8080 (Press CTRL+C to quit)"


def test_header_values_are_secrets_when_named_or_long_enough(tmp_path: Path) -> None:
    """A short `X-Api-Key` is masked; a short tenant header and `Accept` are ordinary words."""
    path = tmp_path / "c.toml"
    path.write_text(
        """
[connectors.prom]
type = "prometheus"
url = "http://prom.example:9090"
headers = { X-Api-Key = "k3y!", X-Scope-OrgID = "tenant1", Accept = "application/json" }
""",
        encoding="utf-8",
    )
    redactor = redactor_for(load_config(path))
    assert redactor.text("key k3y! for tenant1") == "key *** for tenant1"
    assert redactor.text("not application/json") == "not application/json"
