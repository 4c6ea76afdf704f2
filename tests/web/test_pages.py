"""The pages over HTTP without a browser: what they show with JavaScript off, auth and CSRF."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.tracker import Tracker, open_tracker
from app.web.key_result_view import source_fields
from tests.conftest import REPO_ROOT, write_config
from tests.support import configs

NOW = 1_793_000_000  # 2026-10-26T07:33:20Z, inside 2026-Q4
TOKEN = "write-token-0123456789abcdef"
READ_TOKEN = "read-token-0123456789abcdef"
HTML = {"Accept": "text/html"}
EXAMPLE_COVERAGE = REPO_ROOT / "examples" / "coverage.xml"


def config_text(*, reads: bool = False, ci_token: str = TOKEN) -> str:
    """Return the config: a parent and a child objective; reads open unless `reads`."""
    return configs.text(
        configs.api(
            configs.token("ci", ci_token, "read", "write"),
            configs.token("dash", READ_TOKEN, "read"),
            require_token_for_reads=reads,
        ),
        configs.section("web", session_secret="pages-test-secret"),
        configs.manual_connector(),
        configs.connector("coverage", "coverage"),
        configs.objective(
            "quality", "Ship with confidence", team="platform", owner="Sam", period="2026-Q4",
            key_results=[
                configs.key_result(
                    "coverage", "Increase automated test coverage from 60% to 85%",
                    unit="%", direction="increase", baseline=60, target=85,
                ),
                configs.key_result(
                    "report", "Coverage report says 85%",
                    unit="%", direction="increase", baseline=60, target=85,
                    source={"connector": "coverage", "path": str(EXAMPLE_COVERAGE)},
                ),
            ],
        ),
        configs.objective(
            "child", "Flaky tests under control",
            team="qa", owner="Ana", parent="quality", period="2026-Q4",
            key_results=[
                configs.key_result(
                    "flaky", "Keep flaky tests under 2%", unit="%", direction="at_most", target=2
                )
            ],
        ),
    )


def _tracker(tmp_path: Path, database_url: str, *, reads: bool = False) -> Tracker:
    text = config_text(reads=reads)
    return open_tracker(
        write_config(tmp_path / "c.toml", text, database_url=database_url), clock=lambda: NOW
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """Yield a client of the app on a SQLite file, reads open, clock at NOW."""
    tracker = _tracker(tmp_path, f"sqlite:///{tmp_path / 'k.db'}")
    with TestClient(create_app(tracker), base_url="http://testserver") as client:
        yield client
    tracker.close()


def _signed_in(client: TestClient, token: str = TOKEN) -> str:
    """Sign in through the form; return the CSRF token of the new session."""
    page = client.get("/sign-in", headers=HTML)
    csrf = _csrf(page.text)
    response = client.post(
        "/sign-in", data={"token": token, "csrf": csrf, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _csrf(client.get("/", headers=HTML).text)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def test_pages_show_the_api_figures_without_javascript(tmp_path: Path, database_url: str) -> None:
    """The overview's HTML alone holds titles, status words, reasons, values and the tree."""
    tracker = _tracker(tmp_path, database_url)
    with TestClient(create_app(tracker)) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=auth)
        client.post(
            "/api/v1/key-results/coverage/check-ins", json={"confidence": 0.4}, headers=auth
        )
        html = client.get("/", headers=HTML).text
        for objective in client.get("/api/v1/objectives").json():
            assert objective["title"] in html
            for kr in objective["key_results"]:
                assert kr["title"] in html and kr["status_reason"] in html
        assert "70%" in html and 'data-confidence="0.4"' in html
        assert html.index("Ship with confidence") < html.index("Flaky tests under control")
        assert 'data-objective="child" data-depth="1"' in html
        assert "No data yet" in html  # the flaky-tests KR tells a new user what to do
        kr_page = client.get("/key-results/coverage", headers=HTML).text
        data = json.loads(re.search(r'id="chart-data">(.*?)</script>', kr_page, re.S).group(1))
        assert data["points"]["value"] == [70.0] and data["target"] == 85.0
        assert "<table>" in kr_page and "70%" in kr_page  # the samples as a table
    tracker.close()


def test_filters_and_worst_first(client: TestClient) -> None:
    """`?team=` and `?owner=` narrow the objectives; `?sort=worst` lists errors first."""
    qa = client.get("/?team=qa", headers=HTML).text
    assert "Flaky tests under control" in qa and "Ship with confidence</h2>" not in qa
    assert "Ship with confidence" in client.get("/?owner=Sam", headers=HTML).text
    nobody = client.get("/?team=nobody", headers=HTML).text
    assert "Nothing matches this filter" in nobody
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.post("/api/v1/key-results/flaky/values", json={"value": 1.0}, headers=auth)
    worst = client.get("/?sort=worst", headers=HTML).text
    order = re.findall(r'<article class="kr" id="kr-([^"]+)"', worst)
    assert order[-1] == "flaky" and set(order) == {"coverage", "report", "flaky"}


def test_no_objectives_tells_what_to_do(tmp_path: Path) -> None:
    """An empty config shows how to add the first objective."""
    config = write_config(tmp_path / "c.toml", "", database_url=f"sqlite:///{tmp_path / 'k.db'}")
    tracker = open_tracker(config, clock=lambda: NOW)
    with TestClient(create_app(tracker)) as client:
        html = client.get("/", headers=HTML).text
    tracker.close()
    assert "No objectives yet" in html and "[[objectives]]" in html


def test_htmx_refresh_gets_only_the_content(client: TestClient) -> None:
    """A request from htmx gets the content fragment, not the whole page."""
    fragment = client.get("/", headers={**HTML, "HX-Request": "true"}).text
    assert "<html" not in fragment and 'data-kr="coverage"' in fragment


def test_unknown_key_result_is_a_404_page(client: TestClient) -> None:
    """An unknown Key Result is an HTML page saying so; the API keeps problem+json."""
    page = client.get("/key-results/nope", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "No such Key Result" in page.text and "&#39;nope&#39;" in page.text
    api = client.get("/api/v1/key-results/nope", headers=HTML)
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    bad_query = client.get("/?page=zero", headers=HTML)
    assert bad_query.status_code == 422 and "Invalid request" in bad_query.text


def test_sign_in_keeps_a_signed_http_only_strict_cookie(client: TestClient) -> None:
    """The cookie is HttpOnly and SameSite=Strict and never holds the token."""
    csrf = _csrf(client.get("/sign-in", headers=HTML).text)
    wrong = client.post("/sign-in", data={"token": "not-a-token", "csrf": csrf})
    assert wrong.status_code == 401 and "not one of this server" in wrong.text
    response = client.post(
        "/sign-in",
        data={"token": TOKEN, "csrf": csrf, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert TOKEN not in cookie
    assert "Signed in as <strong>ci</strong>" in client.get("/", headers=HTML).text


def test_reads_follow_require_token_for_reads(tmp_path: Path) -> None:
    """With reads closed, pages send the browser to sign in; a read token opens them."""
    tracker = _tracker(tmp_path, f"sqlite:///{tmp_path / 'k.db'}", reads=True)
    with TestClient(create_app(tracker)) as client:
        refused = client.get("/key-results/coverage?x=1", headers=HTML, follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"] == "/sign-in?next=%2Fkey-results%2Fcoverage%3Fx%3D1"
        refresh = client.get("/", headers={**HTML, "HX-Request": "true"}, follow_redirects=False)
        assert refresh.status_code == 204 and refresh.headers["HX-Redirect"] == "/sign-in?next=%2F"
        _signed_in(client, READ_TOKEN)
        assert client.get("/key-results/coverage", headers=HTML).status_code == 200
        csrf = _csrf(client.get("/key-results/coverage", headers=HTML).text)
        write = client.post(
            "/key-results/coverage/check-ins", data={"confidence": "0.5", "csrf": csrf}
        )
        assert write.status_code == 403 and "write scope" in write.text
    tracker.close()


def test_forms_refuse_forged_requests(client: TestClient) -> None:
    """No CSRF token, a wrong one, another Origin or a cross-site fetch: 403, nothing stored."""
    csrf = _signed_in(client)
    url = "/key-results/coverage/check-ins"
    for data, headers in (
        ({"confidence": "0.5"}, {}),
        ({"confidence": "0.5", "csrf": "guess"}, {}),
        ({"confidence": "0.5", "csrf": csrf}, {"Origin": "https://evil.example"}),
        ({"confidence": "0.5", "csrf": csrf}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        assert client.post(url, data=data, headers=headers).status_code == 403, (data, headers)
    assert client.get("/api/v1/key-results/coverage/check-ins").json() == []
    ok = client.post(
        url,
        data={"confidence": "0.5", "note": "fine", "csrf": csrf},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    stored = client.get("/api/v1/key-results/coverage/check-ins").json()
    assert [(c["confidence"], c["author"]) for c in stored] == [(0.5, "ci")]


def test_form_mistakes_are_shown_on_the_page(client: TestClient) -> None:
    """Bad input comes back on the page with its reason, never a 500."""
    csrf = _signed_in(client)
    bad = client.post("/key-results/coverage/check-ins", data={"confidence": "high", "csrf": csrf})
    assert bad.status_code == 422 and "confidence" in bad.text and 'value="high"' in bad.text
    nan = client.post("/key-results/coverage/values", data={"value": "nan", "csrf": csrf})
    assert nan.status_code == 422 and "value" in nan.text
    polled = client.post("/key-results/report/values", data={"value": "80", "csrf": csrf})
    assert polled.status_code == 409 and "sampled from its data source" in polled.text
    missing = client.post("/key-results/nope/check-ins", data={"confidence": "0.5", "csrf": csrf})
    assert missing.status_code == 404
    recorded = client.post(
        "/key-results/coverage/values", data={"value": "72.5", "csrf": csrf}, follow_redirects=False
    )
    assert recorded.status_code == 303
    assert client.get("/api/v1/key-results/coverage").json()["current"]["value"] == 72.5


def test_sources_never_show_secrets() -> None:
    """Secret-looking fields and passwords in URLs are hidden; the query is shown."""
    fields = dict(
        source_fields(
            {
                "connector": "api",
                "url": "https://user:hunter2@example.com/x?q=1",
                "token": "abc",
                "headers": {"Authorization": "Bearer abc"},
                "query": "sum(rate(x[5m]))",
            }
        )
    )
    assert fields["url"] == "https://example.com/x?q=1" and fields["token"] == "(hidden)"
    assert fields["headers.Authorization"] == "(hidden)" and fields["query"] == "sum(rate(x[5m]))"


def test_assets_are_cached_compressed_and_match_their_manifest(client: TestClient) -> None:
    """Vendored files match VENDOR.json's sha256 and are served gzipped with a year's cache."""
    check = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "fetch_browser_assets"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout
    html = client.get("/key-results/coverage", headers=HTML)
    assert html.headers.get("content-encoding") == "gzip"
    for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html.text):
        asset = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200, url
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    manifest = json.loads((REPO_ROOT / "app/web/static/vendor/VENDOR.json").read_text())
    assert {p["name"] for p in manifest["packages"]} == {"uplot", "htmx.org"}
    for package in manifest["packages"]:
        assert package["license"] and any("LICENSE" in f["file"] for f in package["files"])


def test_sign_out_ends_the_session(client: TestClient) -> None:
    """After signing out the forms are gone and a write is refused."""
    csrf = _signed_in(client)
    assert client.get("/key-results/coverage", headers=HTML).text.count('id="check-in-form"') == 1
    out = client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    page = client.get("/key-results/coverage", headers=HTML).text
    assert 'id="check-in-form"' not in page and "Sign in</a> with a write token" in page
    refused = client.post(
        "/key-results/coverage/check-ins", data={"confidence": "0.5", "csrf": csrf}
    )
    assert refused.status_code == 403


def test_a_token_removed_from_the_config_ends_its_sessions(tmp_path: Path) -> None:
    """The cookie names a token by fingerprint; once the config drops it, it proves nothing."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    tracker = _tracker(tmp_path, url)
    with TestClient(create_app(tracker)) as client:
        _signed_in(client)
        cookies = dict(client.cookies)
    tracker.close()
    text = config_text(ci_token="another-token-0123456789abcdef")
    tracker = open_tracker(
        write_config(tmp_path / "c2.toml", text, database_url=url), clock=lambda: NOW
    )
    with TestClient(create_app(tracker), cookies=cookies) as client:
        page = client.get("/key-results/coverage", headers=HTML).text
        assert "Signed in as" not in page and 'id="check-in-form"' not in page
    tracker.close()


def test_notes_cannot_inject_markup(client: TestClient) -> None:
    """A note with HTML is shown as text and cannot close the chart's JSON block."""
    note = "</script><script>alert(1)</script>"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.post(
        "/api/v1/key-results/coverage/check-ins",
        json={"confidence": 0.5, "note": note},
        headers=auth,
    )
    page = client.get("/key-results/coverage", headers=HTML).text
    assert note not in page and "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    block = re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(block)["check_ins"][0]["note"] == note
