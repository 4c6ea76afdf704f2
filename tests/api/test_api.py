"""The JSON API contract under /api/v1, against SQLite and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.tracker import Tracker, open_tracker
from tests.conftest import write_config
from tests.support import configs

NOW = 1_793_000_000  # 2026-10-26T07:33:20Z, inside 2026-Q4
TOKEN = "write-token-0123456789abcdef"
READ_TOKEN = "read-token-0123456789abcdef"

CONFIG = configs.text(
    configs.api(
        configs.token("ci", TOKEN, "read", "write"), configs.token("dash", READ_TOKEN, "read")
    ),
    configs.manual_connector(),
    configs.objective(
        "quality", "Ship with confidence", team="platform", period="2026-Q4",
        key_results=[
            configs.key_result(
                "coverage", "Increase automated test coverage from 60% to 85%",
                unit="%", direction="increase", baseline=60, target=85,
            ),
            configs.key_result(
                "rollback-rate", "Keep rollback rate under 1%",
                unit="%", direction="at_most", target=1,
            ),
        ],
    ),
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def tracker(tmp_path: Path, database_url: str) -> Iterator[Tracker]:
    """A tracker on a fresh database with the clock fixed at NOW."""
    clock = {"now": NOW}
    tracker = open_tracker(
        write_config(tmp_path / "c.toml", CONFIG, database_url=database_url), clock=lambda: clock["now"]
    )
    yield tracker
    tracker.close()


@pytest.fixture
def client(tracker: Tracker) -> Iterator[TestClient]:
    """A client of the app built around `tracker`."""
    with TestClient(create_app(tracker)) as client:
        yield client


def test_objectives_list_their_key_results(client: TestClient) -> None:
    """GET /objectives returns each objective with its KR summaries in file order."""
    body = client.get("/api/v1/objectives").json()
    assert [o["id"] for o in body] == ["quality"]
    assert body[0]["period_start"] == "2026-10-01T00:00:00Z"
    assert body[0]["period_end"] == "2027-01-01T00:00:00Z"
    assert [k["id"] for k in body[0]["key_results"]] == ["coverage", "rollback-rate"]
    assert body[0]["key_results"][0]["status"] == "no_data"


def test_manual_value_needs_a_write_token(client: TestClient) -> None:
    """Posting a value without a token is 401, with a read-only token 403, nothing stored."""
    assert client.post("/api/v1/key-results/coverage/values", json={"value": 70}).status_code == 401
    response = client.post(
        "/api/v1/key-results/coverage/values", json={"value": 70},
        headers={"Authorization": f"Bearer {READ_TOKEN}"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    wrong = client.post("/api/v1/key-results/coverage/values", json={"value": 70},
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/key-results/coverage/samples").json()["points"] == []


def test_manual_value_updates_progress_and_status(client: TestClient) -> None:
    """A posted value is stored and the KR's progress is (current − baseline)/(target − baseline)."""
    response = client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=AUTH)
    assert response.status_code == 201
    kr = client.get("/api/v1/key-results/coverage").json()
    assert kr["current"] == {"value": 70.0, "at": "2026-10-26T07:33:20Z"}
    assert kr["progress"] == pytest.approx((70 - 60) / (85 - 60))
    expected = (NOW - 1_790_812_800) / (1_798_761_600 - 1_790_812_800)
    assert kr["expected_progress"] == pytest.approx(expected)
    assert kr["status"] == "on_track", kr["status_reason"]
    assert kr["status_reason"]
    for key in ("id", "title", "unit", "direction", "baseline", "target", "current", "progress",
                "expected_progress", "status", "status_reason", "forecast", "last_error"):
        assert key in kr


def test_band_key_result_scores_share_in_band(client: TestClient) -> None:
    """An at_most KR's progress is the share of its samples at or under the target."""
    for i, value in enumerate([0.5, 0.8, 1.5, 0.9]):
        body = {"value": value, "at": f"2026-10-2{i}T00:00:00Z"}
        assert client.post("/api/v1/key-results/rollback-rate/values", json=body, headers=AUTH).status_code == 201
    kr = client.get("/api/v1/key-results/rollback-rate").json()
    assert kr["progress"] == pytest.approx(3 / 4)
    assert kr["status"] == "at_risk"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "seventy"}, "body.value"),
        ({}, "body.value"),
        ({"value": 1, "colour": "red"}, "body.colour"),
        ({"value": 1, "at": "2026-10-20T00:00:00"}, "body.at"),
        ({"value": 1, "at": "2099-01-01T00:00:00Z"}, "body.at"),
    ],
)
def test_bad_values_are_refused_with_the_field(client: TestClient, body: dict[str, object], field: str) -> None:
    """Bad input gets a 422 problem naming the field, never a 500."""
    response = client.post("/api/v1/key-results/coverage/values", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["detail"]


def test_nan_in_json_is_refused(client: TestClient) -> None:
    """A NaN literal in the body is refused; NaN never becomes a sample."""
    response = client.post(
        "/api/v1/key-results/coverage/values", content=b'{"value": NaN}',
        headers={**AUTH, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert client.get("/api/v1/key-results/coverage/samples").json()["points"] == []


def test_unknown_key_result_is_a_404_problem(client: TestClient) -> None:
    """Every per-KR path answers 404 problem+json for an unknown id."""
    for path in ("", "/samples", "/check-ins", "/revisions"):
        response = client.get(f"/api/v1/key-results/nope{path}")
        assert response.status_code == 404, path
        assert response.json()["detail"] == "no Key Result with id 'nope'"
    assert client.get("/api/v1/objectives/nope").status_code == 404


def test_check_ins_are_listed_with_the_key_result(client: TestClient) -> None:
    """A check-in needs a write token, is listed newest first and shown on the KR."""
    assert client.post("/api/v1/key-results/coverage/check-ins", json={"confidence": 0.6}).status_code == 401
    for confidence, note in ((0.6, "flaky suite"), (0.8, "fixed")):
        response = client.post("/api/v1/key-results/coverage/check-ins",
                               json={"confidence": confidence, "note": note}, headers=AUTH)
        assert response.status_code == 201
    bad = client.post("/api/v1/key-results/coverage/check-ins", json={"confidence": 1.5}, headers=AUTH)
    assert bad.status_code == 422 and "body.confidence" in bad.json()["detail"]
    listed = client.get("/api/v1/key-results/coverage/check-ins").json()
    assert [c["note"] for c in listed] == ["fixed", "flaky suite"]
    assert client.get("/api/v1/key-results/coverage").json()["latest_check_in"]["confidence"] == 0.8


def test_samples_since_until_and_max_points(client: TestClient) -> None:
    """Samples honour since/until and are downsampled to at most max_points."""
    for day in range(1, 21):
        body = {"value": 60 + day, "at": f"2026-10-{day:02d}T12:00:00Z"}
        assert client.post("/api/v1/key-results/coverage/values", json=body, headers=AUTH).status_code == 201
    window = client.get("/api/v1/key-results/coverage/samples",
                        params={"since": "2026-10-05T00:00:00Z", "until": "2026-10-07T23:59:59Z"}).json()
    assert [p["value"] for p in window["points"]] == [65.0, 66.0, 67.0]
    small = client.get("/api/v1/key-results/coverage/samples", params={"max_points": 5}).json()
    assert small["downsampled"] is True and len(small["points"]) <= 5
    assert sum(p["count"] for p in small["points"]) == 20
    assert client.get("/api/v1/key-results/coverage/samples", params={"max_points": 0}).status_code == 422


def test_metrics_expose_gauges_per_key_result(client: TestClient) -> None:
    """/metrics has value, target and progress gauges and a status state set; no NaN."""
    client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=AUTH)
    text = client.get("/metrics").text
    labels = 'key_result="coverage",objective="quality",team="platform"'
    assert f"krtracker_key_result_value{{{labels}}} 70.0" in text
    assert f"krtracker_key_result_target{{{labels}}} 85.0" in text
    assert f"krtracker_key_result_progress{{{labels}}} 0.4" in text
    assert 'krtracker_key_result_status{key_result="coverage",objective="quality",status="on_track",team="platform"} 1.0' in text
    assert "NaN" not in text


def test_health_and_openapi(client: TestClient) -> None:
    """/healthz, /readyz and /openapi.json answer; the public paths are in the spec."""
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/objectives", "/api/v1/objectives/{objective_id}", "/api/v1/key-results",
                 "/api/v1/key-results/{key_result_id}", "/api/v1/key-results/{key_result_id}/samples",
                 "/api/v1/key-results/{key_result_id}/values",
                 "/api/v1/key-results/{key_result_id}/check-ins",
                 "/api/v1/key-results/{key_result_id}/revisions"):
        assert path in paths, path


def test_listings_match_their_declared_models(client: TestClient) -> None:
    """The fast listings still validate against the response models the OpenAPI spec declares."""
    from pydantic import TypeAdapter

    from app.api.schemas import KeyResultSummary, ObjectiveOut

    client.post("/api/v1/key-results/coverage/values", json={"value": 70}, headers=AUTH)
    objectives = client.get("/api/v1/objectives").json()
    parsed = TypeAdapter(list[ObjectiveOut]).validate_python(objectives)
    assert TypeAdapter(list[ObjectiveOut]).dump_python(parsed, mode="json") == objectives
    summaries = client.get("/api/v1/key-results").json()
    parsed_krs = TypeAdapter(list[KeyResultSummary]).validate_python(summaries)
    assert TypeAdapter(list[KeyResultSummary]).dump_python(parsed_krs, mode="json") == summaries
    schema = client.get("/openapi.json").json()["paths"]["/api/v1/objectives"]["get"]
    assert "ObjectiveOut" in str(schema["responses"]["200"])


def test_metrics_expose_the_alert_outbox(tracker: Tracker, client: TestClient) -> None:
    """Unfinished deliveries per webhook and state, and the oldest waiting one's age."""
    from prometheus_client.parser import text_string_to_metric_families
    from sqlmodel import Session

    from app.store.models import Delivery

    made = [("a", "pending", NOW - 100), ("a", "pending", NOW - 40), ("a", "failed", NOW - 900),
            ("b", "sending", NOW - 10), ("a", "delivered", NOW - 5000), ("a", "delivered", NOW - 50)]
    with Session(tracker.engine) as session:
        for i, (webhook, state, created) in enumerate(made):
            session.add(Delivery(event_id=f"evt_{i}", webhook=webhook, event_type="kr.regressed",
                                 key_result_id="coverage", payload={}, created_ts=created,
                                 next_attempt_ts=created, state=state))
        session.commit()
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    counts = {(s.labels["webhook"], s.labels["state"]): s.value
              for s in families["krtracker_deliveries"].samples}
    expected: dict[tuple[str, str], float] = {}
    for webhook, state, _ in made:
        if state != "delivered":
            expected[(webhook, state)] = expected.get((webhook, state), 0) + 1
    assert counts == expected
    ages = {s.labels["webhook"]: s.value
            for s in families["krtracker_delivery_oldest_pending_age_seconds"].samples}
    assert ages == {"a": 100.0, "b": 10.0}  # failed deliveries are not waiting any more


def test_objectives_listing_pages_with_limit_and_offset(tmp_path: Path, database_url: str) -> None:
    """limit/offset give pages in file order with X-Total-Count and a rel="next" Link."""
    objectives = [
        configs.objective(
            f"o{i}", f"Objective {i}", period="2026-Q4",
            key_results=[
                configs.key_result(
                    f"kr{i}", f"Key Result {i}", direction="increase", baseline=0, target=10
                )
            ],
        )
        for i in range(5)
    ]
    text = configs.text(configs.manual_connector(), *objectives)
    path = write_config(tmp_path / "p.toml", text, database_url=database_url)
    tracker = open_tracker(path, clock=lambda: NOW)
    with TestClient(create_app(tracker)) as client:
        everything = client.get("/api/v1/objectives").json()
        assert "Link" not in client.get("/api/v1/objectives").headers
        pages, url = [], "/api/v1/objectives?limit=2"
        while url:
            answer = client.get(url)
            assert answer.status_code == 200
            assert answer.headers["X-Total-Count"] == str(len(everything))
            pages.append(answer.json())
            link = answer.headers.get("Link")
            url = link.split(">")[0].lstrip("<") if link else ""
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [o for page in pages for o in page] == everything
        assert [k["id"] for o in pages[1] for k in o["key_results"]] == ["kr2", "kr3"]
        refused = client.get("/api/v1/objectives?limit=0")
        assert refused.status_code == 422 and "limit" in refused.text
    tracker.close()
