"""`/review` and `/periods/{period}/scorecard` against SQLite and the real PostgreSQL.

Values, failed attempts and check-ins are stored at known instants with the clock moved
forward step by step; at chosen instants the scheduler's re-evaluation runs and the Key
Result API is read, and the review's and scorecard's figures must equal those readings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.api import create_app
from app.store.attempts import insert_attempts
from app.tracker import Tracker, open_tracker
from tests.conftest import write_config
from tests.support import configs

DAY = 86400
Q4_START = 1_790_812_800  # 2026-10-01T00:00:00Z
Q4_END = 1_798_761_600  # 2027-01-01T00:00:00Z
SINCE = Q4_START + 19 * DAY  # 2026-10-20
NOW = Q4_START + 50 * DAY  # 2026-11-20
TOKEN = "reports-write-token-0123456789"
READ_TOKEN = "reports-read-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CONFIG = configs.text(
    configs.api(
        configs.token("ci", TOKEN, "read", "write"), configs.token("dash", READ_TOKEN, "read")
    ),
    configs.section("alerts", for_samples=1, regression_threshold="1%"),
    configs.webhook(
        "hook", "https://hooks.example.org/okr", secret="reports-webhook-secret-0123456789"
    ),
    configs.manual_connector(),
    configs.objective(
        "quality", "Ship with confidence", owner="ana", team="platform", period="2026-Q4",
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
    configs.objective(
        "speed", "Ship faster", owner="bo", team="delivery", period="2026-Q4",
        key_results=[
            configs.key_result(
                "latency", "Keep p95 latency under 300 ms",
                unit="ms", direction="at_most", target=300,
            ),
            configs.key_result(
                "deploys", "Deploy 10 times a day", direction="increase", baseline=0, target=10,
                every="1d", aggregate={"function": "avg", "window": "7d"},
            ),
        ],
    ),
)


@dataclass
class Timeline:
    """A tracker whose clock the test moves, and the Key Result API read at chosen instants."""

    tracker: Tracker
    client: TestClient
    clock: dict[str, int]
    readings: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def at(self, ts: int) -> None:
        """Move the clock to `ts` (never backwards)."""
        assert ts >= self.clock["now"]
        self.clock["now"] = ts

    def value(self, kr: str, ts: int, value: float) -> None:
        """Post a value at `ts` with the clock at `ts`."""
        self.at(ts)
        body = {"value": value, "at": _iso(ts)}
        response = self.client.post(f"/api/v1/key-results/{kr}/values", json=body, headers=AUTH)
        assert response.status_code == 201, response.text

    def failed_attempt(self, kr: str, ts: int, reason: str) -> None:
        """Store a failed sampling attempt at `ts`, as the sampler does."""
        self.at(ts)
        with Session(self.tracker.engine) as session:
            insert_attempts(
                session.connection(),
                [
                    {
                        "key_result_id": kr,
                        "scheduled_ts": ts,
                        "attempted_ts": ts,
                        "ok": False,
                        "error_kind": "source_unavailable",
                        "error_message": reason,
                        "duration_ms": 0,
                    }
                ],
            )
            session.commit()

    def check_in(self, kr: str, ts: int) -> None:
        """Post a check-in with the clock at `ts`."""
        self.at(ts)
        body = {"confidence": 0.6, "note": "on it"}
        response = self.client.post(f"/api/v1/key-results/{kr}/check-ins", json=body, headers=AUTH)
        assert response.status_code == 201

    def read_api(self, ts: int) -> dict[str, dict[str, Any]]:
        """Re-evaluate everything at `ts` (the scheduler's job) and read every Key Result."""
        self.at(ts)
        self.tracker.writer.reevaluate_each()
        ids = [k["id"] for k in self.client.get("/api/v1/key-results").json()]
        self.readings[ts] = {i: self.client.get(f"/api/v1/key-results/{i}").json() for i in ids}
        return self.readings[ts]


def _iso(ts: int) -> str:
    from app.api.representations import iso_text

    text = iso_text(ts)
    assert text is not None
    return text


@pytest.fixture
def timeline(tmp_path: Path, database_url: str) -> Iterator[Timeline]:
    """Yield the period so far: on track on Oct 20; off track, failing and stale by Nov 20."""
    clock = {"now": Q4_START}
    path = write_config(tmp_path / "c.toml", CONFIG, database_url=database_url)
    tracker = open_tracker(path, clock=lambda: clock["now"])
    with TestClient(create_app(tracker)) as client:
        t = Timeline(tracker, client, clock)
        t.value("coverage", Q4_START + 1 * DAY, 61)
        t.value("rollback-rate", Q4_START + 4 * DAY, 0.5)
        t.value("coverage", Q4_START + 9 * DAY, 65)
        t.read_api(Q4_START + 14 * DAY)  # a weekly point of the scorecard's trajectory
        t.value("rollback-rate", Q4_START + 14 * DAY + 3600, 0.8)
        t.value("coverage", SINCE, 66)
        t.read_api(SINCE)
        t.value("latency", Q4_START + 24 * DAY, 250)
        t.value("rollback-rate", Q4_START + 31 * DAY, 1.5)
        t.value("deploys", Q4_START + 38 * DAY, 3)
        t.value("deploys", Q4_START + 40 * DAY, 4)
        t.check_in("rollback-rate", Q4_START + 40 * DAY)
        t.value("rollback-rate", Q4_START + 41 * DAY, 2.0)
        t.read_api(Q4_START + 42 * DAY)  # deploys' 7-day average is 3.5, its last value 4
        t.failed_attempt("latency", Q4_START + 48 * DAY, "connection refused")
        t.check_in("coverage", Q4_START + 48 * DAY)
        t.failed_attempt("latency", Q4_START + 49 * DAY, "connection refused")
        t.value("coverage", NOW, 64)
        t.read_api(NOW)
        yield t
    tracker.close()


def test_review_status_changes_equal_the_api_at_both_instants(timeline: Timeline) -> None:
    """Every Key Result whose API status differs between since and now is listed, with both."""
    review = timeline.client.get("/api/v1/review", params={"since": _iso(SINCE)}).json()
    then, now = timeline.readings[SINCE], timeline.readings[NOW]
    assert then["coverage"]["status"] == "on_track" and now["coverage"]["status"] == "off_track"
    expected = [
        {
            "id": kr_id,
            "status_then": then[kr_id]["status"],
            "reason_then": then[kr_id]["status_reason"],
            "status_now": now[kr_id]["status"],
            "reason_now": now[kr_id]["status_reason"],
        }
        for kr_id in now
        if then[kr_id]["status"] != now[kr_id]["status"]
    ]
    listed = [
        {"id": c["key_result"]["id"], **{k: v for k, v in c.items() if k != "key_result"}}
        for c in review["status_changes"]
    ]
    assert listed == expected
    assert "coverage" in {c["id"] for c in listed}
    assert review["since"] == _iso(SINCE) and review["now"] == _iso(NOW)


def test_review_movers_are_the_api_progress_deltas(timeline: Timeline) -> None:
    """Movers' deltas equal the API's progress now minus then, largest change first."""
    review = timeline.client.get("/api/v1/review", params={"since": _iso(SINCE)}).json()
    then, now = timeline.readings[SINCE], timeline.readings[NOW]
    expected = {
        kr_id: now[kr_id]["progress"] - then[kr_id]["progress"]
        for kr_id in now
        if now[kr_id]["progress"] is not None
        and then[kr_id]["progress"] is not None
        and now[kr_id]["progress"] != then[kr_id]["progress"]
    }
    movers = review["movers"]
    assert {m["key_result"]["id"]: m["delta"] for m in movers} == pytest.approx(expected)
    assert set(expected) == {"coverage", "rollback-rate"}
    deltas = [abs(m["delta"]) for m in movers]
    assert deltas == sorted(deltas, reverse=True)
    for m in movers:
        assert m["progress_now"] == pytest.approx(now[m["key_result"]["id"]]["progress"])


def test_review_lists_missing_check_ins_failing_and_stale_sources(timeline: Timeline) -> None:
    """No check-in for 7 days lists the KR with its owner; error and stale say since when."""
    client, now = timeline.client, timeline.readings[NOW]
    review = client.get("/api/v1/review", params={"since": _iso(SINCE)}).json()
    missing = {m["key_result"]["id"]: m for m in review["missing_check_ins"]}
    assert set(missing) == {"rollback-rate", "latency", "deploys"}
    latest = client.get("/api/v1/key-results/rollback-rate/check-ins").json()[0]["at"]
    assert missing["rollback-rate"]["last_check_in_at"] == latest
    assert missing["latency"]["key_result"]["owner"] == "bo"
    assert missing["latency"]["last_check_in_at"] is None
    problems = {p["key_result"]["id"]: p for p in review["source_problems"]}
    assert set(problems) == {kr for kr, body in now.items() if body["status"] in ("error", "stale")}
    assert problems["latency"]["status"] == now["latency"]["status"] == "error"
    assert problems["latency"]["reason"] == now["latency"]["status_reason"]
    assert "connection refused" in problems["latency"]["reason"]
    assert problems["latency"]["since"] == _iso(Q4_START + 48 * DAY)
    assert problems["deploys"]["status"] == now["deploys"]["status"] == "stale"
    assert now["deploys"]["current"] == {"value": None, "at": None}  # its 7-day window is empty
    assert problems["deploys"]["last_sample_at"] == _iso(Q4_START + 40 * DAY)
    assert problems["deploys"]["since"] == _iso(Q4_START + 40 * DAY + 3 * DAY)


def test_review_alerts_are_the_outbox_events_of_the_window(timeline: Timeline) -> None:
    """Alerts raised in [since, now) are the outbox's events of that window, once each."""
    client = timeline.client
    review = client.get("/api/v1/review", params={"since": _iso(SINCE)}).json()
    items = client.get("/api/v1/webhooks/hook/deliveries", params={"limit": 500}).json()["items"]
    in_window = {d["event_id"] for d in items if _iso(SINCE) <= d["created_at"] < _iso(NOW)}
    before = {d["event_id"] for d in items if d["created_at"] < _iso(SINCE)}
    assert in_window and before, "the seeded history raises alerts on both sides of since"
    listed = [a["event_id"] for a in review["alerts"]]
    assert sorted(listed) == sorted(in_window)
    assert all(a["webhooks"] == ["hook"] for a in review["alerts"])
    titles = {k["id"]: k["title"] for k in client.get("/api/v1/key-results").json()}
    assert all(a["key_result_title"] == titles[a["key_result_id"]] for a in review["alerts"])


def test_report_routes_are_in_the_openapi_spec(timeline: Timeline) -> None:
    """Both routes and their response models are part of the published contract."""
    paths = timeline.client.get("/openapi.json").json()["paths"]
    assert "ReviewOut" in str(paths["/api/v1/review"]["get"]["responses"]["200"])
    scorecard = paths["/api/v1/periods/{period}/scorecard"]["get"]["responses"]["200"]
    assert "ScorecardOut" in str(scorecard) and "text/csv" in scorecard["content"]


def test_review_since_defaults_to_a_week_and_bad_values_are_422(timeline: Timeline) -> None:
    """No since means 7 days ago; a date means midnight UTC; bad values name the parameter."""
    client = timeline.client
    assert client.get("/api/v1/review").json()["since"] == _iso(NOW - 7 * DAY)
    assert client.get("/api/v1/review?since=2026-10-20").json()["since"] == _iso(SINCE)
    for bad in ("yesterday", "2026-13-01", "2026-10-20T00:00:00", "2099-01-01", _iso(NOW)):
        response = client.get("/api/v1/review", params={"since": bad})
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
        assert "query.since" in response.json()["detail"]


def test_scorecard_running_scores_equal_the_api(timeline: Timeline) -> None:
    """Before the period closes each score is the API's progress clamped; objectives the mean."""
    card = timeline.client.get("/api/v1/periods/2026-Q4/scorecard").json()
    now = timeline.readings[NOW]
    assert card["closed"] is False and card["period"] == "2026-Q4"
    assert [o["id"] for o in card["objectives"]] == ["quality", "speed"]
    for objective in card["objectives"]:
        scores = []
        for kr in objective["key_results"]:
            api = now[kr["id"]]
            assert kr["status"] == api["status"] and kr["progress"] == api["progress"]
            progress = api["progress"]
            expected = None if progress is None else min(1.0, max(0.0, progress))
            assert kr["score"] == pytest.approx(expected) and kr["final"] is False
            if expected is not None:
                scores.append(expected)
        mean = sum(scores) / len(scores) if scores else None
        assert objective["score"] == pytest.approx(mean)


def test_scorecard_trajectory_is_the_api_at_each_point(timeline: Timeline) -> None:
    """The weekly trajectory's points equal the API's progress and expected line then."""
    card = timeline.client.get("/api/v1/periods/2026-Q4/scorecard").json()
    for objective in card["objectives"]:
        for kr in objective["key_results"]:
            points = {p["at"]: p for p in kr["trajectory"]}
            assert list(points)[0] == _iso(Q4_START) and list(points)[-1] == _iso(NOW)
            for ts in (Q4_START + 14 * DAY, Q4_START + 42 * DAY, NOW):
                api = timeline.readings[ts][kr["id"]]
                assert points[_iso(ts)]["progress"] == pytest.approx(api["progress"]), kr["id"]
                assert points[_iso(ts)]["expected"] == pytest.approx(api["expected_progress"])


def test_scorecard_after_close_is_the_frozen_score(timeline: Timeline) -> None:
    """After the period ends the score is the API's frozen final score, even after late data."""
    client = timeline.client
    closed = timeline.read_api(Q4_END + DAY)
    assert closed["coverage"]["final_score"] is not None
    late = {"value": 85, "at": _iso(Q4_END - DAY)}  # posted after the close, inside the period
    response = client.post("/api/v1/key-results/coverage/values", json=late, headers=AUTH)
    assert response.status_code == 201
    assert client.get("/api/v1/key-results/coverage").json()["final_score"] == pytest.approx(
        closed["coverage"]["final_score"]
    )
    card = client.get("/api/v1/periods/2026-Q4/scorecard").json()
    assert card["closed"] is True
    by_id = {kr["id"]: kr for o in card["objectives"] for kr in o["key_results"]}
    assert by_id["coverage"]["score"] == pytest.approx(closed["coverage"]["final_score"])
    assert by_id["coverage"]["score"] < 1.0  # not the recomputed score of the late value
    for kr_id, kr in by_id.items():
        assert kr["final"] is True and kr["status"] == "closed"
        assert kr["score"] == closed[kr_id]["final_score"]


def test_scorecard_downloads_list_every_key_result_once(timeline: Timeline) -> None:
    """CSV and Markdown downloads have their type, a filename, and each Key Result once."""
    client = timeline.client
    ids = ["coverage", "rollback-rate", "latency", "deploys"]
    as_csv = client.get("/api/v1/periods/2026-Q4/scorecard", params={"format": "csv"})
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = as_csv.headers["content-disposition"]
    assert disposition == 'attachment; filename="krtracker-scorecard-2026-Q4.csv"'
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["key_result_id"] for r in rows if r["level"] == "key_result"] == ids
    as_md = client.get("/api/v1/periods/2026-Q4/scorecard", params={"format": "md"})
    assert as_md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert as_md.headers["content-disposition"].endswith('.md"')
    for kr_id in ids:
        assert as_md.text.count(f"(`{kr_id}`)") == 1


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/v1/periods/2026-Q3/scorecard", 404, "no objectives in period 2026-Q3"),
        ("/api/v1/periods/2026-Q5/scorecard", 422, "path.period"),
        ("/api/v1/periods/banana/scorecard", 422, "path.period"),
        ("/api/v1/periods/2026-Q4/scorecard?format=pdf", 422, "query.format"),
    ],
)
def test_unknown_or_malformed_periods_are_problems(
    timeline: Timeline, path: str, status: int, words: str
) -> None:
    """A period with no objectives is a 404, a malformed one a 422; both problem+json."""
    response = timeline.client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_reports_follow_require_token_for_reads(tmp_path: Path, database_url: str) -> None:
    """With require_token_for_reads, both routes need a read token."""
    text = CONFIG.replace("[api]\n", "[api]\nrequire_token_for_reads = true\n", 1)
    tracker = open_tracker(
        write_config(tmp_path / "r.toml", text, database_url=database_url), clock=lambda: NOW
    )
    with TestClient(create_app(tracker)) as client:
        for path in ("/api/v1/review", "/api/v1/periods/2026-Q4/scorecard"):
            assert client.get(path).status_code == 401, path
            read = {"Authorization": f"Bearer {READ_TOKEN}"}
            assert client.get(path, headers=read).status_code == 200, path
    tracker.close()
