"""The redactor: every known secret, in every form a source may echo it, is removed."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.config.secrets import basic_forms
from app.core.redaction import ELLIPSIS, MASK, Redactor
from connectors.base import Measurement, RateLimited, SourceUnavailable, excerpt

# Secrets as people configure them: printable, no surrounding whitespace, long enough.
secrets = st.text(
    st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=8, max_size=40
)
texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)
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
    assume(head not in before and before == before.lstrip())
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
