"""The http_json connector against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from connectors.base import (
    AmbiguousResult,
    NoData,
    QueryRejected,
    RateLimited,
    SourceUnavailable,
)
from connectors.http_json import HttpJsonConnector, HttpJsonQuery, HttpJsonSettings
from tests.conftest import free_port, require_binary

AT = datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC)
TOKEN = "s3cret-token-value"
RETRY_AFTER_SECONDS = 120
SLOW_SECONDS = 2.0

ENGAGEMENT: dict[str, Any] = {
    "data": {
        "feature": "feature-x",
        "engaged_users": 1234,
        "active_users": 5000,
        "weekly": [{"week": "W1", "users": 300}, {"week": "W2", "users": 420}],
    }
}
TYPES: dict[str, Any] = {
    "word": "lots",
    "numeric_string": "42.5",
    "nan_string": "NaN",
    "flag": True,
    "nothing": None,
    "object": {"n": 1},
    "list": [1],
    "huge": 10**400,
}
# Not valid JSON, but what some servers emit; Python's json module accepts it by default.
NAN_BODY = '{"value": NaN, "other": 7, "big": 1e999, "neg": -Infinity}'


BIG_PADDING = 5000  # bytes: over a 1,000-byte limit, far under the default


class _Handler(BaseHTTPRequestHandler):
    """Serve the fixed endpoints the tests name; record what each request carried."""

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _send(self, status: int, body: str, *, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body: Any = None) -> None:
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )

    def do_POST(self) -> None:
        """Echo the JSON body back under `received`."""
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        self._send(200, json.dumps({"received": body}))

    def do_GET(self) -> None:
        """Route a GET by its path."""
        self._record()
        path = urlsplit(self.path).path
        if path == "/engagement":
            self._send(200, json.dumps(ENGAGEMENT))
        elif path == "/types":
            self._send(200, json.dumps(TYPES))
        elif path == "/nan":
            self._send(200, NAN_BODY)
        elif path == "/private":
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                self._send(200, json.dumps({"secret_count": 17}))
            else:
                self._send(401, json.dumps({"error": "unauthorized"}))
        elif path == "/broken":
            self._send(500, json.dumps({"error": "boom"}))
        elif path == "/busy":
            self._send(429, "{}", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        elif path == "/html":
            html = "<html><body>Sign in</body></html>"
            self._send(200, html, headers={"Content-Type": "text/html"})
        elif path == "/big":
            self._send(200, json.dumps({"value": 7, "padding": "x" * BIG_PADDING}))
        elif path == "/stream":  # no Content-Length: the body ends when the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            body = json.dumps({"value": 7, "padding": "x" * BIG_PADDING}).encode()
            for start in range(0, len(body), 512):
                self.wfile.write(body[start : start + 512])
        elif path == "/slow":
            time.sleep(SLOW_SECONDS)
            self._send(200, json.dumps({"value": 1}))
        else:
            self._send(404, json.dumps({"error": "not found"}))


class _Server(ThreadingHTTPServer):
    requests: list[dict[str, Any]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hung up (the timeout test does so on purpose)."""


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    """Serve a JSON API on 127.0.0.1 from a thread for the whole module."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve the same API over HTTPS with a self-signed certificate made by openssl."""
    openssl = require_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def base_url(server: _Server) -> str:
    """Return the server's base URL."""
    return f"http://127.0.0.1:{server.server_address[1]}"


def _connector(base_url: str | None, **settings: Any) -> HttpJsonConnector:
    return HttpJsonConnector(HttpJsonSettings.model_validate({"base_url": base_url, **settings}))


def _measure(connector: HttpJsonConnector, **query: Any) -> Any:
    try:
        return connector.measure(HttpJsonQuery.model_validate(query), AT)
    finally:
        connector.close()


@pytest.mark.parametrize("path", ["/big", "/stream"])
def test_an_answer_over_the_size_limit_is_rejected(base_url: str, path: str) -> None:
    """A url that serves too much stops the read with an error naming the setting."""
    with pytest.raises(QueryRejected, match=r"larger than max_response_bytes = 1,000 bytes"):
        _measure(_connector(base_url, max_response_bytes=1000), url=path, jsonpath="$.value")
    value = _measure(_connector(base_url), url=path, jsonpath="$.value").value
    assert value == 7


def test_nested_value_by_jsonpath(base_url: str) -> None:
    """A JSONPath to a nested number returns exactly the number the server served."""
    m = _measure(_connector(base_url), url="/engagement", jsonpath="$.data.engaged_users")
    assert m.value == float(ENGAGEMENT["data"]["engaged_users"])
    assert m.at == AT
    assert m.details["jsonpath"] == "$.data.engaged_users"


def test_jmespath_with_ratio_parts(base_url: str) -> None:
    """A JMESPath expression can reduce values; numerator and denominator paths are stored."""
    m = _measure(
        _connector(base_url),
        url="/engagement",
        jmespath="sum(data.weekly[*].users)",
        numerator_path="data.engaged_users",
        denominator_path="data.active_users",
    )
    assert m.value == float(sum(week["users"] for week in ENGAGEMENT["data"]["weekly"]))
    assert m.numerator == ENGAGEMENT["data"]["engaged_users"]
    assert m.denominator == ENGAGEMENT["data"]["active_users"]


def test_absolute_url_without_base_url(base_url: str) -> None:
    """An absolute url works when the connector has no base_url."""
    m = _measure(_connector(None), url=f"{base_url}/engagement", jsonpath="$.data.active_users")
    assert m.value == float(ENGAGEMENT["data"]["active_users"])


def test_relative_url_without_base_url_is_rejected() -> None:
    """A relative url with no base_url is refused before any request is made."""
    with pytest.raises(QueryRejected, match="relative"):
        _measure(_connector(None), url="/engagement", jsonpath="$.data.active_users")


def test_post_sends_body_with_instant(server: _Server, base_url: str) -> None:
    """POST sends the body as JSON with `{at}`/`{at_unix}` filled in, and reads the echo."""
    body = {"filter": {"since": "{at}", "ts": "{at_unix}"}, "amount": 41.5}
    m = _measure(
        _connector(base_url), url="/echo", method="POST", body=body, jsonpath="$.received.amount"
    )
    assert m.value == body["amount"]
    sent = server.requests[-1]["body"]
    assert sent["filter"] == {"since": "2026-03-01T12:30:15Z", "ts": str(int(AT.timestamp()))}


def test_url_placeholders(server: _Server, base_url: str) -> None:
    """`{at}` and `{at_unix}` in the url are replaced by the sample instant."""
    m = _measure(
        _connector(base_url),
        url="/engagement?since={at}&ts={at_unix}",
        jsonpath="$.data.engaged_users",
    )
    assert m.value == float(ENGAGEMENT["data"]["engaged_users"])
    assert m.details["url"] == f"{base_url}/engagement?..."
    query = parse_qs(urlsplit(server.requests[-1]["path"]).query)
    assert query == {"since": ["2026-03-01T12:30:15Z"], "ts": [str(int(AT.timestamp()))]}


def test_token_is_sent_as_bearer(base_url: str) -> None:
    """The token goes out as `Authorization: Bearer`, so the protected endpoint answers."""
    m = _measure(_connector(base_url, token=TOKEN), url="/private", jsonpath="$.secret_count")
    assert m.value == 17.0


def test_missing_token_says_check_the_token(base_url: str) -> None:
    """A 401 is QueryRejected telling to check the token, and never shows the token."""
    with pytest.raises(QueryRejected, match="check the token") as caught:
        _measure(_connector(base_url, token="wrong-token"), url="/private", jsonpath="$.x")
    assert "wrong-token" not in str(caught.value)


def test_server_error_is_unavailable(base_url: str) -> None:
    """A 500 is SourceUnavailable naming the status and the url without its query string."""
    with pytest.raises(SourceUnavailable, match="HTTP 500") as caught:
        _measure(_connector(base_url), url="/broken?api_key=hunter2", jsonpath="$.x")
    assert f"{base_url}/broken" in caught.value.reason
    assert "hunter2" not in caught.value.reason


def test_not_found_is_rejected(base_url: str) -> None:
    """A 404 is QueryRejected."""
    with pytest.raises(QueryRejected, match="HTTP 404"):
        _measure(_connector(base_url), url="/nowhere", jsonpath="$.x")


def test_rate_limit_until_follows_retry_after(base_url: str) -> None:
    """A 429 is RateLimited, with `until` set Retry-After seconds from now."""
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        _measure(_connector(base_url), url="/busy", jsonpath="$.x")
    after = datetime.now(UTC)
    until = caught.value.until
    assert until is not None
    assert before + timedelta(seconds=RETRY_AFTER_SECONDS) <= until
    assert until <= after + timedelta(seconds=RETRY_AFTER_SECONDS)


def test_non_json_body_is_rejected(base_url: str) -> None:
    """An HTML answer is QueryRejected naming its content type."""
    with pytest.raises(QueryRejected, match="not JSON \\(text/html\\)"):
        _measure(_connector(base_url), url="/html", jsonpath="$.x")


@pytest.mark.parametrize("path", ["$.value", "$.big", "$.neg"])
def test_non_finite_literals_are_not_numbers(base_url: str, path: str) -> None:
    """NaN, Infinity and overflowing numbers in the JSON are NoData "not a number"."""
    with pytest.raises(NoData, match="not a number"):
        _measure(_connector(base_url), url="/nan", jsonpath=path)


def test_nan_elsewhere_does_not_spoil_the_value(base_url: str) -> None:
    """A NaN in another field of the document does not prevent reading a good number."""
    m = _measure(_connector(base_url), url="/nan", jsonpath="$.other")
    assert m.value == json.loads(NAN_BODY)["other"]


def test_numeric_string_is_accepted(base_url: str) -> None:
    """A numeric string such as "42.5" is read as that number and noted in details."""
    m = _measure(_connector(base_url), url="/types", jsonpath="$.numeric_string")
    assert m.value == float(TYPES["numeric_string"])
    assert "numeric string" in m.details["note"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("word", "is a string 'lots', not a number"),
        ("nan_string", "'NaN', which is not a number"),
        ("flag", "is a boolean True, not a number"),
        ("nothing", "is a null, not a number"),
        ("object", "is an object, not a number"),
        ("list", "is an array, not a number"),
        ("huge", "too large"),
    ],
)
def test_non_numeric_values_are_no_data(base_url: str, key: str, expected: str) -> None:
    """A value that is not a number is NoData naming the path and the value's type."""
    with pytest.raises(NoData) as caught:
        _measure(_connector(base_url), url="/types", jsonpath=f"$.{key}")
    assert f"$.{key}" in caught.value.reason
    assert expected in caught.value.reason


def test_missing_path_is_no_data(base_url: str) -> None:
    """A path that matches nothing is NoData naming the path."""
    with pytest.raises(NoData, match=r"\$\.data\.retained_users matched nothing"):
        _measure(_connector(base_url), url="/engagement", jsonpath="$.data.retained_users")


def test_missing_jmespath_is_no_data(base_url: str) -> None:
    """A JMESPath expression that selects nothing is NoData naming the expression."""
    with pytest.raises(NoData, match="data.retained_users matched nothing"):
        _measure(_connector(base_url), url="/engagement", jmespath="data.retained_users")


def test_several_matches_are_ambiguous(base_url: str) -> None:
    """A path matching several values is AmbiguousResult saying how many."""
    expected = len(ENGAGEMENT["data"]["weekly"])
    with pytest.raises(AmbiguousResult, match=f"matched {expected} values"):
        _measure(_connector(base_url), url="/engagement", jsonpath="$.data.weekly[*].users")


def test_slow_answer_times_out(base_url: str) -> None:
    """An answer slower than timeout_seconds is SourceUnavailable, well before it arrives."""
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="no answer within 0.3 s"):
        _measure(_connector(base_url, timeout_seconds=0.3), url="/slow", jsonpath="$.value")
    assert time.monotonic() - started < SLOW_SECONDS


def test_refused_connection_is_unavailable() -> None:
    """A port nobody listens on is SourceUnavailable naming the url without secrets."""
    url = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(SourceUnavailable) as caught:
        _measure(_connector(None), url=f"{url}?token=hunter2", jsonpath="$.x")
    assert url in caught.value.reason
    assert "hunter2" not in caught.value.reason


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"url": "/x"}, "exactly one of jsonpath or jmespath"),
        ({"url": "/x", "jsonpath": "$.a", "jmespath": "a"}, "exactly one of jsonpath or jmespath"),
        ({"url": "/x", "jsonpath": "$.a[", "method": "GET"}, "not a valid jsonpath"),
        ({"url": "/x", "jmespath": "a.["}, "not a valid jmespath"),
        ({"url": "/x", "jsonpath": "$.a", "body": {"a": 1}}, "only sent with method"),
        ({"url": "/x", "jsonpath": "$.a", "numerator_path": "$["}, "not a valid jsonpath"),
    ],
)
def test_query_is_checked_when_loaded(query: dict[str, Any], message: str) -> None:
    """Bad queries fail validation with a message saying what is wrong."""
    with pytest.raises(ValidationError, match=message):
        HttpJsonQuery.model_validate(query)


def test_settings_hide_secrets() -> None:
    """Neither the token nor header values appear in the settings' repr or its errors."""
    settings = HttpJsonSettings.model_validate(
        {"token": TOKEN, "headers": {"X-Api-Key": "hdr-secret"}}
    )
    assert TOKEN not in repr(settings) and "hdr-secret" not in repr(settings)
    with pytest.raises(ValidationError) as caught:
        HttpJsonSettings.model_validate(
            {"token": TOKEN, "headers": {"Authorization": "Bearer hdr-secret"}}
        )
    assert "token or an Authorization header" in str(caught.value)
    assert TOKEN not in str(caught.value) and "hdr-secret" not in str(caught.value)


def test_tls_trusts_ca_bundle(tls_server: tuple[str, Path]) -> None:
    """A self-signed server is trusted when its certificate is the ca_bundle."""
    url, cert = tls_server
    connector = _connector(url, ca_bundle=str(cert))
    m = _measure(connector, url="/engagement", jsonpath="$.data.active_users")
    assert m.value == float(ENGAGEMENT["data"]["active_users"])


def test_tls_refuses_unknown_certificate(tls_server: tuple[str, Path]) -> None:
    """Without the ca_bundle the self-signed certificate is refused: SourceUnavailable."""
    url, _ = tls_server
    with pytest.raises(SourceUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        _measure(_connector(url), url="/engagement", jsonpath="$.data.active_users")


def test_tls_verification_can_be_turned_off(tls_server: tuple[str, Path]) -> None:
    """verify_tls = false accepts the self-signed certificate."""
    url, _ = tls_server
    connector = _connector(url, verify_tls=False)
    m = _measure(connector, url="/engagement", jsonpath="$.data.active_users")
    assert m.value == float(ENGAGEMENT["data"]["active_users"])
