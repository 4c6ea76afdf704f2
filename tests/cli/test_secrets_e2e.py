"""End to end: sources and receivers that echo credentials cannot get a secret out of `serve`.

A loopback server poses as Prometheus, GitHub, an HTTP JSON API and a coverage host, and
answers every request `503 bad credentials <token>` (a second variant also echoes the
Authorization header, a Basic credential and a URL with userinfo). The service samples them
and alerts to a webhook whose URL carries a secret path and `?token=`, and to one whose
receiver echoes the request in its error body. Then every place a string can leave the
process is searched for every secret of the config and its derived forms: the database
file (or every text column of PostgreSQL), every API answer, `/metrics`, the payloads the
receivers got, and the service's log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from tests.alerts.delivery.support import SECRET as SIGNING_SECRET
from tests.alerts.delivery.support import Receiver
from tests.conftest import require_postgres, write_config
from tests.support.krtracker_server import krtracker_serve, log_tail
from tests.support.loopback import QuietHandler, start_loopback, stop_loopback, url_of
from tests.support.waiting import wait_until

API_TOKEN = "api-token-7Hq2mXv9Lp4sRt8w"
PROM_BEARER = "prom/bearer+Tok3n=9f2c1a"
PROM_USER, PROM_PASSWORD = "krt-reader", "pr0m:p@ss/w0rd-77aa"
GITHUB_TOKEN = "ghp_GiTHubT0kenXYZ0123456789abcd"
HTTP_TOKEN = "http-json-token-4b5c6d7e8f"
HTTP_QUERY_KEY = "query-api-key-5e6f7a8b"
COVERAGE_TOKEN = "coverage-token-0f1e2d3c"
COVERAGE_QUERY_TOKEN = "coverage-query-token-9a8b7c"
HEADER_SECRET = "x-api-key-secret-11223344"
SLACK_PATH_SECRET = "SlackPathSecret0123456789"
SLACK_HEADER = "slack-header-secret-556677"
HOOK_PATH_SECRET = "generic-path-secret-0a1b2c3d"
HOOK_TOKEN = "hook-query-token-4d5e6f"
DB_PASSWORD = "db-pass-8c7d6e5f"
SQL_PASSWORD = "sql-pass-3c4d5e6f"


def _forms(secret: str) -> set[str]:
    """Return the secret and the forms a careless path would store it in."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    }


def every_secret_form() -> set[str]:
    """Return every secret of the test config with its derived forms."""
    secrets = [
        API_TOKEN,
        PROM_BEARER,
        PROM_PASSWORD,
        GITHUB_TOKEN,
        HTTP_TOKEN,
        HTTP_QUERY_KEY,
        COVERAGE_TOKEN,
        COVERAGE_QUERY_TOKEN,
        HEADER_SECRET,
        SLACK_PATH_SECRET,
        SLACK_HEADER,
        HOOK_PATH_SECRET,
        HOOK_TOKEN,
        DB_PASSWORD,
        SQL_PASSWORD,
        SIGNING_SECRET,
        SIGNING_SECRET.removeprefix("whsec_"),
    ]
    forms = set().union(*(_forms(s) for s in secrets))
    forms.add(base64.b64encode(f"{PROM_USER}:{PROM_PASSWORD}".encode()).decode())
    forms.add(base64.b64encode(f"x-access-token:{GITHUB_TOKEN}".encode()).decode())
    return forms


class EchoingSource:
    """A loopback HTTP server posing as every source; each answer echoes a credential.

    The first path segment names the connector; `*-echo` connectors also echo the
    Authorization header they got, a Basic credential and a URL with userinfo.
    """

    tokens = {
        "prom": PROM_BEARER,
        "prom-echo": PROM_PASSWORD,
        "gh": GITHUB_TOKEN,
        "gh-echo": GITHUB_TOKEN,
        "api": HTTP_TOKEN,
        "api-echo": HTTP_TOKEN,
        "cov": COVERAGE_TOKEN,
        "cov-echo": COVERAGE_TOKEN,
    }

    def __init__(self) -> None:
        source = self
        self.requests: list[str] = []

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                source.answer(self)

            def do_POST(self) -> None:  # noqa: N802
                source.answer(self)

        self.server = start_loopback(Handler)
        self.url = url_of(self.server)

    def answer(self, request: QuietHandler) -> None:
        """Answer 503 with a body that quotes the connector's token (and more for `*-echo`)."""
        name = request.path.strip("/").split("/")[0]
        self.requests.append(request.path)
        token = self.tokens.get(name, "unknown")
        text = f"bad credentials {token}"
        if name.endswith("-echo"):
            basic = base64.b64encode(f"{PROM_USER}:{PROM_PASSWORD}".encode()).decode()
            text += (
                f"; you sent Authorization: {request.headers.get('Authorization')}"
                f"; expected Basic {basic}"
                f"; log in at https://{PROM_USER}:{quote(PROM_PASSWORD, safe='')}@127.0.0.1/"
                f"?token={quote(token, safe='')}"
            )
        body = json.dumps({"message": text}) if name.startswith("gh") else text
        content_type = "application/json" if name.startswith("gh") else "text/plain"
        request.reply(503, body.encode(), {"Content-Type": content_type})

    def stop(self) -> None:
        """Close the port."""
        stop_loopback(self.server)


class EchoingReceiver:
    """A webhook receiver that fails every delivery with a body quoting the request."""

    def __init__(self) -> None:
        receiver = self
        self.bodies: list[bytes] = []

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.bodies.append(body)
                self.reply(500, f"no such hook {self.path}; headers {dict(self.headers)}".encode())

        self.server = start_loopback(Handler)
        self.port = self.server.server_address[1]

    def stop(self) -> None:
        """Close the port."""
        stop_loopback(self.server)


def key_result(kr_id: str, connector: str, source: str) -> str:
    """Return one polled Key Result's TOML."""
    return f"""
[[objectives.key_results]]
id = "{kr_id}"
title = "Keep {kr_id} healthy"
direction = "increase"
baseline = 0
target = 100
every = "1h"
source = {{ connector = "{connector}", {source} }}
"""


def config_text(
    source: EchoingSource, receiver: Receiver, echo: EchoingReceiver, sql_url: str
) -> str:
    """Return a config whose every kind of secret is set, pointing at the loopback servers."""
    hook = f"http://127.0.0.1:{receiver.port}/hooks/{HOOK_PATH_SECRET}?token={HOOK_TOKEN}"
    slack = f"http://127.0.0.1:{echo.port}/services/T0001/B0001/{SLACK_PATH_SECRET}"
    krs = "".join(
        [
            key_result("prom-bearer", "prom", 'query = "up"'),
            key_result("prom-basic", "prom-echo", 'query = "up"'),
            key_result("gh-plain", "gh", 'repo = "acme/shop", metric = "deployment_frequency"'),
            key_result("gh-echo", "gh-echo", 'repo = "acme/shop", metric = "deployment_frequency"'),
            key_result(
                "api-plain", "api", f'url = "/m?api_key={HTTP_QUERY_KEY}", jsonpath = "$.v"'
            ),
            key_result("api-echo", "api-echo", 'url = "/m", jsonpath = "$.v"'),
            key_result(
                "cov-plain", "cov", f'url = "{source.url}/cov/c.xml?token={COVERAGE_QUERY_TOKEN}"'
            ),
            key_result("cov-echo", "cov-echo", f'url = "{source.url}/cov-echo/c.xml"'),
            key_result(
                "sql-echo",
                "sql",
                f"query = \"SELECT CAST('bad credentials {SQL_PASSWORD}' AS integer)\"",
            ),
        ]
    )
    return f"""
[api]
tokens = [{{ name = "ci", token = "${{KRT_API_TOKEN}}" }}]

[scheduler]
leader_poll_seconds = 0.5

[alerts]
for_samples = 1
allow_private_targets = ["127.0.0.1/32"]

[[webhooks]]
name = "ops"
url = "{hook}"
secret = "{SIGNING_SECRET}"
headers = {{ X-Api-Key = "{HEADER_SECRET}" }}

[[webhooks]]
name = "chat"
format = "slack"
url = "{slack}"
headers = {{ Authorization = "Bearer {SLACK_HEADER}" }}

[connectors.prom]
type = "prometheus"
url = "{source.url}/prom"
bearer_token = "${{KRT_PROM_BEARER}}"
retries = 0

[connectors.prom-echo]
type = "prometheus"
url = "{source.url}/prom-echo"
username = "{PROM_USER}"
password = "{PROM_PASSWORD}"
retries = 0

[connectors.gh]
type = "github"
base_url = "{source.url}/gh"
token = "{GITHUB_TOKEN}"

[connectors.gh-echo]
type = "github"
base_url = "{source.url}/gh-echo"
token = "{GITHUB_TOKEN}"

[connectors.api]
type = "http_json"
base_url = "{source.url}/api"
token = "{HTTP_TOKEN}"

[connectors.api-echo]
type = "http_json"
base_url = "{source.url}/api-echo"
headers = {{ Authorization = "Bearer {HTTP_TOKEN}" }}

[connectors.cov]
type = "coverage"
token = "{COVERAGE_TOKEN}"

[connectors.cov-echo]
type = "coverage"
headers = {{ Authorization = "Bearer {COVERAGE_TOKEN}" }}

[connectors.sql]
type = "sql"
url = "{sql_url}"

[[objectives]]
id = "platform"
title = "A platform people trust"
team = "platform"
start = 2026-01-01
end = 2030-12-31
{krs}"""


def with_password(url: str, password: str) -> str:
    """Return a PostgreSQL URL with a password (the local server trusts loopback anyway)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@", 1)


@pytest.fixture
def loopback() -> Iterator[tuple[EchoingSource, Receiver, EchoingReceiver]]:
    """Run the echoing source, a signature-checking receiver and an echoing receiver."""
    source, receiver, echo = EchoingSource(), Receiver(), EchoingReceiver()
    yield source, receiver, echo
    source.stop()
    receiver.stop()
    echo.stop()


def stored_text(database_url: str) -> str:
    """Return everything the database holds: the SQLite files' bytes, or every PostgreSQL row."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        files = [path, *path.parent.glob(path.name + "-*")]
        return b"".join(f.read_bytes() for f in files if f.exists()).decode("utf-8", "replace")
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        ]
        return "\n".join(
            str(row[0])
            for table in tables
            for row in conn.execute(f'SELECT t::text FROM "{table}" t')
        )


def api_text(base: str) -> str:
    """Return every API answer a reader can get, with the API token, concatenated."""
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    paths = [
        "/api/v1/objectives",
        "/api/v1/key-results",
        "/api/v1/alerts",
        "/api/v1/webhooks",
        "/metrics",
    ]
    key_results = httpx.get(f"{base}/api/v1/key-results", headers=auth, timeout=10).json()
    for kr in key_results:
        kr_id = kr["id"]
        paths += [
            f"/api/v1/objectives/{kr['objective_id']}",
            f"/api/v1/key-results/{kr_id}",
            f"/api/v1/key-results/{kr_id}/samples",
            f"/api/v1/key-results/{kr_id}/check-ins",
            f"/api/v1/key-results/{kr_id}/revisions",
        ]
    paths += ["/api/v1/webhooks/ops/deliveries", "/api/v1/webhooks/chat/deliveries"]
    answers = []
    for path in paths:
        response = httpx.get(f"{base}{path}", headers=auth, timeout=10)
        assert response.status_code == 200, (path, response.text)
        answers.append(response.text)
    return "\n".join(answers)


def test_no_secret_leaves_the_process(
    tmp_path: Path,
    database_url: str,
    loopback: tuple[EchoingSource, Receiver, EchoingReceiver],
) -> None:
    """Echoed credentials never reach the database, the API, /metrics, webhooks or the log."""
    source, receiver, echo = loopback
    sql_url = with_password(require_postgres(), SQL_PASSWORD)
    if database_url.startswith("postgresql://"):
        database_url = with_password(database_url, DB_PASSWORD)
    config = write_config(
        tmp_path / "krtracker.toml",
        config_text(source, receiver, echo, sql_url),
        database_url=database_url,
    )
    env = {"KRT_API_TOKEN": API_TOKEN, "KRT_PROM_BEARER": PROM_BEARER}
    log_path = tmp_path / "serve.log"
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with krtracker_serve(config, log=log_path, env=env) as server:
        base = server.url

        def all_failed() -> bool:
            try:
                krs = httpx.get(f"{base}/api/v1/key-results", headers=auth, timeout=2).json()
                details = [
                    httpx.get(
                        f"{base}/api/v1/key-results/{k['id']}", headers=auth, timeout=2
                    ).json()
                    for k in krs
                ]
            except (httpx.TransportError, ValueError):
                return False
            return len(details) == 9 and all(d["last_error"] for d in details)

        def deliveries_tried() -> bool:
            pages = [
                httpx.get(
                    f"{base}/api/v1/webhooks/{n}/deliveries", headers=auth, timeout=2
                ).json()
                for n in ("ops", "chat")
            ]
            return (
                all(any(d["attempt_count"] for d in page["items"]) for page in pages)
                and bool(receiver.accepted)
                and bool(echo.bodies)
            )

        assert wait_until(all_failed, timeout=90, every=0.3), (
            f"every Key Result failing did not happen within 90 s:\n{log_tail(log_path, 5000)}"
        )
        assert wait_until(deliveries_tried, timeout=60, every=0.3), (
            f"both webhooks tried did not happen within 60 s:\n{log_tail(log_path, 5000)}"
        )
        answers = api_text(base)
    logs = log_path.read_text()
    # The sources did echo the secrets, and the failures are there to be seen, redacted.
    assert "bad credentials ***" in answers, answers[:3000]
    assert receiver.bad_signatures == 0
    payloads = "\n".join(
        [json.dumps(p) for _, p in receiver.accepted] + [b.decode() for b in echo.bodies]
    )
    assert "bad credentials ***" in payloads
    # httpx's request log names the host and a redacted path; every record was formatted.
    assert f"HTTP Request: POST http://127.0.0.1:{receiver.port}/hooks/***?***" in logs, logs
    assert "Logging error" not in logs, logs
    places = {
        "database": stored_text(database_url),
        "api": answers,
        "webhook payloads": payloads,
        "log": logs,
    }
    leaks = [
        (where, form)
        for where, text in places.items()
        for form in sorted(every_secret_form())
        if form in text
    ]
    assert not leaks, leaks
