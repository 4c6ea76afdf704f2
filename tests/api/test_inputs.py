"""No input gives a 500: out-of-range integers, NUL characters, huge values, loose types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.tracker import Tracker, open_tracker
from tests.conftest import write_config
from tests.support import configs

NOW = 1_793_000_000  # 2026-10-26T07:33:20Z, inside 2026-Q4
TOKEN = "inputs-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = configs.text(
    configs.api(configs.token("ci", TOKEN, "read", "write")),
    configs.manual_connector(),
    configs.objective(
        "quality", "Ship with confidence", period="2026-Q4",
        key_results=[
            configs.key_result(
                "coverage", "Coverage", direction="increase", baseline=60, target=85
            )
        ],
    ),
)


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """Return a client of the app on a fresh database (SQLite and PostgreSQL), clock at NOW."""
    config = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    tracker: Tracker = open_tracker(config, clock=lambda: NOW)
    with TestClient(create_app(tracker), raise_server_exceptions=False) as client:
        yield client
    tracker.close()


def assert_refused(answer: Any, field: str) -> None:
    """Assert a 422 problem+json whose `errors` list names `field`."""
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 422 and field in body["detail"]
    assert any(e["field"] == field and e["message"] for e in body["errors"]), body


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/api/v1/objectives?limit=10&offset=99999999999999999999", "query.offset"),
        ("GET", "/api/v1/webhooks/w/deliveries?before=-3072008952054100262912", "query.before"),
        ("POST", "/api/v1/deliveries/99999999999999999999/redeliver", "path.seq"),
        ("POST", "/api/v1/deliveries/39613945358459088/redeliver", "path.seq"),
        ("GET", "/api/v1/key-results/kr%00", "path.key_result_id"),
        ("GET", "/api/v1/key-results/kr%00/samples", "path.key_result_id"),
        ("GET", "/api/v1/key-results/kr%00/check-ins", "path.key_result_id"),
        ("GET", "/api/v1/key-results/kr%00/revisions", "path.key_result_id"),
        ("GET", "/api/v1/objectives/o%00", "path.objective_id"),
        ("GET", "/api/v1/key-results?objective_id=o%00", "query.objective_id"),
        ("GET", "/api/v1/webhooks/w%00/deliveries", "path.name"),
        ("GET", "/api/v1/webhooks/w/deliveries?state=x%00", "query.state"),
    ],
)
def test_parameters_beyond_what_the_database_holds_are_422(
    client: TestClient, method: str, url: str, field: str
) -> None:
    """Integers beyond 64 bits and ids with NUL are refused naming the parameter, never a 500."""
    assert_refused(client.request(method, url, headers=AUTH), field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("values", {"value": 1, "note": "a\x00b"}, "body.note"),
        ("values", {"value": True}, "body.value"),
        ("values", {"value": "12.5"}, "body.value"),
        ("values", {"value": 1, "numerator": False}, "body.numerator"),
        ("values", {"value": 1, "at": "0001-01-01T00:00:00Z"}, "body.at"),
        ("values", {"value": 1, "at": "0001-01-01T00:00:00+01:00"}, "body.at"),
        ("values", {"value": 1, "at": "2027-02-01T00:00:00Z"}, "body.at"),
        ("check-ins", {"confidence": True}, "body.confidence"),
        ("check-ins", {"confidence": "0.5"}, "body.confidence"),
        ("check-ins", {"confidence": 0.5, "note": "\x00"}, "body.note"),
        ("check-ins", {"confidence": 0.5, "author": "ann\x00"}, "body.author"),
    ],
)
def test_bodies_are_checked_strictly(
    client: TestClient, path: str, body: dict[str, object], field: str
) -> None:
    """Loose types, NUL characters and instants outside the period are a 422 naming the field."""
    answer = client.post(f"/api/v1/key-results/coverage/{path}", json=body, headers=AUTH)
    assert_refused(answer, field)
    samples = client.get("/api/v1/key-results/coverage/samples").json()["points"]
    assert samples == [] and client.get("/api/v1/key-results/coverage/check-ins").json() == []


def test_hand_made_422s_have_the_same_shape(client: TestClient) -> None:
    """A 422 raised by a route (not by the models) also lists the field in `errors`."""
    window = {"since": "2026-10-10T00:00:00Z", "until": "2026-10-01T00:00:00Z"}
    assert_refused(client.get("/api/v1/key-results/coverage/samples", params=window), "query.until")
    naive = {"since": "2026-10-10T00:00:00"}
    assert_refused(client.get("/api/v1/key-results/coverage/samples", params=naive), "query.since")
    future = {"value": 1, "at": "2026-10-27T00:00:00Z"}
    answer = client.post("/api/v1/key-results/coverage/values", json=future, headers=AUTH)
    assert_refused(answer, "body.at")


def test_a_bucket_of_huge_values_has_a_mean(client: TestClient) -> None:
    """Two samples of 1.7e308 in one bucket average to 1.7e308, not null."""
    for day in ("2026-10-02", "2026-10-03", "2026-10-20"):
        body = {"value": 1.7e308, "at": f"{day}T00:00:00Z"}
        answer = client.post("/api/v1/key-results/coverage/values", json=body, headers=AUTH)
        assert answer.status_code == 201, answer.text
    points = client.get("/api/v1/key-results/coverage/samples?max_points=2").json()["points"]
    assert [p["count"] for p in points] == [2, 1]
    assert [p["value"] for p in points] == [1.7e308, 1.7e308]


def test_a_value_at_a_taken_instant_is_refused(client: TestClient) -> None:
    """A second value at the same instant is a 409 problem; the first one stays."""
    body = {"value": 70, "at": "2026-10-20T00:00:00Z"}
    first = client.post("/api/v1/key-results/coverage/values", json=body, headers=AUTH)
    second = client.post(
        "/api/v1/key-results/coverage/values", json={**body, "value": 71}, headers=AUTH
    )
    assert first.status_code == 201 and second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert "2026-10-20T00:00:00Z" in second.json()["detail"]
    points = client.get("/api/v1/key-results/coverage/samples").json()["points"]
    assert [p["value"] for p in points] == [70.0]
