"""Who changed what on a Key Result: check-in authors, corrected values, attempts, archives."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.sampling.measure import write_outcome
from app.sampling.outcomes import SampleToStore
from app.tracker import Tracker, open_tracker
from connectors.base import ConnectorError
from tests.api.test_api import AUTH, CONFIG, NOW, READ_TOKEN, client, tracker  # noqa: F401
from tests.conftest import write_config

VALUES = "/api/v1/key-results/coverage/values"


def test_check_in_author_is_the_token_name(client: TestClient) -> None:  # noqa: F811
    """A check-in is signed with the name of the token that wrote it, not a claimed name."""
    posted = client.post(
        "/api/v1/key-results/coverage/check-ins",
        headers=AUTH,
        json={"confidence": 0.6, "note": "on the way"},
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["author"] == "ci"
    listed = client.get("/api/v1/key-results/coverage/check-ins").json()
    assert listed[0]["author"] == "ci"
    claimed = client.post(
        "/api/v1/key-results/coverage/check-ins",
        headers=AUTH,
        json={"confidence": 0.6, "author": "the-ceo"},
    )
    assert claimed.status_code == 422


def test_a_manual_value_is_corrected_and_the_key_result_re_evaluated(
    client: TestClient,  # noqa: F811
) -> None:
    """PUT replaces the value at its instant, re-evaluates, and records who changed it."""
    assert client.post(VALUES, json={"value": 70}, headers=AUTH).status_code == 201
    at = "2026-10-26T07:33:20Z"
    assert client.put(f"{VALUES}/{at}", json={"value": 80}).status_code == 401
    read_only = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert client.put(f"{VALUES}/{at}", json={"value": 80}, headers=read_only).status_code == 403
    corrected = client.put(f"{VALUES}/{at}", json={"value": 80, "note": "typo"}, headers=AUTH)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["value"] == 80
    kr = client.get("/api/v1/key-results/coverage").json()
    assert kr["current"]["value"] == 80
    assert kr["progress"] == pytest.approx((80 - 60) / (85 - 60))
    assert corrected.json()["status"] == kr["status"]
    points = client.get("/api/v1/key-results/coverage/samples").json()["points"]
    assert [p["value"] for p in points] == [80]
    changes = client.get(f"{VALUES}/changes").json()
    assert changes == [
        {
            "at": at,
            "action": "corrected",
            "old_value": 70.0,
            "new_value": 80.0,
            "author": "ci",
            "changed_at": at,
            "note": "typo",
        }
    ]


def test_a_manual_value_is_deleted_and_the_key_result_re_evaluated(
    client: TestClient,  # noqa: F811
) -> None:
    """DELETE removes the value; progress falls back to what is left; the change is kept."""
    assert client.post(VALUES, json={"value": 70}, headers=AUTH).status_code == 201
    deleted = client.delete(f"{VALUES}/2026-10-26T07:33:20Z", headers=AUTH)
    assert deleted.status_code == 200, deleted.text
    kr = client.get("/api/v1/key-results/coverage").json()
    assert kr["current"]["value"] is None and kr["progress"] is None
    assert kr["status"] == "no_data"
    assert client.get("/api/v1/key-results/coverage/samples").json()["points"] == []
    changes = client.get(f"{VALUES}/changes").json()
    assert [(c["action"], c["old_value"], c["new_value"], c["author"]) for c in changes] == [
        ("deleted", 70.0, None, "ci")
    ]
    again = client.delete(f"{VALUES}/2026-10-26T07:33:20Z", headers=AUTH)
    assert again.status_code == 404


def test_only_manual_values_can_be_changed(client: TestClient) -> None:  # noqa: F811
    """A value at an instant with no sample is a 404; a missing time zone a 422."""
    assert (
        client.put(f"{VALUES}/2026-10-20T00:00:00Z", json={"value": 1}, headers=AUTH).status_code
        == 404
    )
    assert (
        client.put(f"{VALUES}/2026-10-20T00:00:00", json={"value": 1}, headers=AUTH).status_code
        == 422
    )
    assert (
        client.put(
            "/api/v1/key-results/nope/values/2026-10-20T00:00:00Z", json={"value": 1}, headers=AUTH
        ).status_code
        == 404
    )


def test_attempts_are_listed_newest_first_with_errors_and_paged(
    client: TestClient,  # noqa: F811
    tracker: Tracker,  # noqa: F811
) -> None:
    """GET /attempts pages with limit/offset, X-Total-Count and a next link, errors included."""
    for i in range(5):
        failure = ConnectorError(f"source down #{i}")
        write_outcome(
            tracker,
            SampleToStore("rollback-rate", NOW - 3600 * (5 - i), "test", error=failure, duration_ms=7),
        )
    page = client.get("/api/v1/key-results/rollback-rate/attempts?limit=2&offset=1")
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in page.headers["Link"] and "offset=3" in page.headers["Link"]
    body = page.json()
    assert [a["error"] for a in body] == ["source down #3", "source down #2"]
    assert body[0]["ok"] is False and body[0]["error_kind"] == "connector_error"
    assert body[0]["scheduled_at"] == "2026-10-26T05:33:20Z"
    last = client.get("/api/v1/key-results/rollback-rate/attempts?limit=2&offset=4")
    assert len(last.json()) == 1 and "Link" not in last.headers
    assert client.get("/api/v1/key-results/rollback-rate/attempts?limit=0").status_code == 422
    assert client.get("/api/v1/key-results/nope/attempts").status_code == 404


def test_archived_key_results_are_listed_on_request(tmp_path: Path, database_url: str) -> None:
    """A Key Result removed from the file is listed with ?include=archived, not without."""
    config = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    open_tracker(config, clock=lambda: NOW).close()
    head, _, rest = CONFIG.partition('[[objectives.key_results]]\nid = "rollback-rate"')
    config.write_text(config.read_text().replace(CONFIG, head.rstrip() + "\n"))
    trimmed = open_tracker(config, clock=lambda: NOW)
    try:
        with TestClient(create_app(trimmed)) as api:
            active = [k["id"] for k in api.get("/api/v1/key-results").json()]
            every = [k["id"] for k in api.get("/api/v1/key-results?include=archived").json()]
            assert active == ["coverage"] and every == ["coverage", "rollback-rate"]
            assert api.get("/api/v1/key-results?include=everything").status_code == 422
            objectives = api.get("/api/v1/objectives?include=archived").json()
            assert [k["id"] for k in objectives[0]["key_results"]] == ["coverage", "rollback-rate"]
    finally:
        trimmed.close()


def test_interactive_documentation_is_served_at_docs(client: TestClient) -> None:  # noqa: F811
    """/docs, which the README points to, serves the interactive API documentation."""
    page = client.get("/docs")
    assert page.status_code == 200 and "openapi.json" in page.text
    assert "/docs" in (Path(__file__).resolve().parents[2] / "README.md").read_text()
