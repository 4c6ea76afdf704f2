"""The weekly review and scorecard pages: the same figures as their JSON routes, no JS needed."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.api import create_app
from tests.web.test_pages import HTML, NOW, TOKEN, _tracker
from tests.web.test_pages import client as client  # the fixture, shared

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = 86_400


def test_review_page_lists_what_the_review_route_lists(tmp_path: Path, database_url: str) -> None:
    """Movers, Key Results without a check-in and their owners appear as the API states them."""
    now = [NOW]
    tracker = _tracker(tmp_path, database_url)
    tracker.now = lambda: now[0]  # type: ignore[method-assign]
    with TestClient(create_app(tracker)) as client:
        for days_ago, value in ((6, 62.0), (1, 72.0)):
            at = NOW - days_ago * DAY
            stamp = f"{at}"
            response = client.post(
                "/api/v1/key-results/coverage/values",
                json={"value": value, "at": _iso(at)},
                headers=AUTH,
            )
            assert response.status_code == 201, (stamp, response.text)
        client.post("/api/v1/key-results/flaky/check-ins", json={"confidence": 0.9}, headers=AUTH)
        since = _iso(NOW - 5 * DAY)
        api = client.get(f"/api/v1/review?since={since}").json()
        html = client.get(f"/review?since={since}", headers=HTML).text
    tracker.close()
    assert "<h1>Weekly review</h1>" in html
    movers = re.search(r'aria-labelledby="movers">(.*?)</section>', html, re.S).group(1)
    assert [m["key_result"]["id"] for m in api["movers"]]  # the figures exist to compare
    for mover in api["movers"]:
        assert f'href="/key-results/{mover["key_result"]["id"]}"' in movers
    missing = re.search(r'aria-labelledby="check-ins">(.*?)</section>', html, re.S).group(1)
    listed = set(re.findall(r'href="/key-results/([^"]+)"', missing))
    assert listed == {m["key_result"]["id"] for m in api["missing_check_ins"]}
    assert "flaky" not in listed and "coverage" in listed and "Sam" in missing


def test_review_page_refuses_a_bad_date_with_a_page(client: TestClient) -> None:
    """A `since` that is not a date is a 422 page naming the problem, never a 500."""
    page = client.get("/review?since=yesterday-ish", headers=HTML)
    assert page.status_code == 422 and "not an ISO 8601 date" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_scorecard_page_shows_the_scorecard_routes_scores(client: TestClient) -> None:
    """Each Key Result's score and reading equal the JSON scorecard; downloads are linked."""
    client.post("/api/v1/key-results/coverage/values", json={"value": 75}, headers=AUTH)
    api = client.get("/api/v1/periods/2026-Q4/scorecard").json()
    html = client.get("/periods/2026-Q4", headers=HTML).text
    assert "Scorecard 2026-Q4" in html
    assert "/api/v1/periods/2026-Q4/scorecard?format=csv" in html
    assert "/api/v1/periods/2026-Q4/scorecard?format=md" in html
    assert "/api/v1/periods/2026-Q4/report?format=html" in html
    for objective in api["objectives"]:
        assert objective["title"] in html
        for kr in objective["key_results"]:
            row = re.search(rf'href="/key-results/{kr["id"]}">.*?</tr>', html, re.S).group(0)
            shown = "–" if kr["score"] is None else f"{kr['score']:.2f}"
            assert f"<td>{shown}" in row and kr["grade"] in row
    coverage = next(k for o in api["objectives"] for k in o["key_results"] if k["id"] == "coverage")
    assert coverage["score"] is not None and coverage["score"] > 0


def test_scorecard_page_for_an_unknown_period(client: TestClient) -> None:
    """A malformed period is a 404 page; a period with no objectives says so."""
    bad = client.get("/periods/not-a-quarter", headers=HTML)
    assert bad.status_code == 404 and "No such period" in bad.text
    empty = client.get("/periods/2020-Q1", headers=HTML)
    assert empty.status_code == 200 and "No objectives in 2020-Q1" in empty.text


def _iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
