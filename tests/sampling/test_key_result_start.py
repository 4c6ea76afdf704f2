"""Key Results added mid-period, or with their own `start`, are measured from that start.

Real trackers on SQLite and PostgreSQL, restarted between steps; values posted over the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from app.api import create_app
from app.tracker import open_tracker
from tests.conftest import write_config
from tests.support import configs

TOKEN = "write-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PERIOD_END = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())

HEAD = configs.text(
    configs.api(configs.token("ci", TOKEN, "read", "write")),
    configs.manual_connector(),
    configs.objective(
        "quality", "Ship with confidence", period="2026-Q4",
        key_results=[
            configs.key_result(
                "coverage", "Increase test coverage from 60% to 85%",
                unit="%", direction="increase", baseline=60, target=85,
            )
        ],
    ),
)

ADDED = configs.key_result(
    "p99", "Cut P99 latency from 400 ms to 280 ms",
    unit="ms", direction="decrease", baseline=400, target=280,
)

OWN_START = configs.key_result(
    "onboarding", "Raise onboarding completion from 40% to 70%",
    unit="%", direction="increase", baseline=40, target=70, start="2026-12-01",
)


def ts(text: str) -> int:
    """Return the UNIX seconds of an ISO UTC time."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@contextmanager
def running(tmp_path: Path, database_url: str, config: str, now: int) -> Iterator[TestClient]:
    """Open a tracker (a process start: sync and re-evaluation) at `now` and serve its API."""
    path = write_config(tmp_path / "c.toml", config, database_url=database_url)
    tracker = open_tracker(path, clock=lambda: now)
    try:
        with TestClient(create_app(tracker)) as client:
            yield client
    finally:
        tracker.close()


def test_a_key_result_added_mid_period_is_measured_from_the_day_it_appeared(
    tmp_path: Path, database_url: str
) -> None:
    """Added on Nov 20 with no progress, it is on track that day and after a restart."""
    with running(tmp_path, database_url, HEAD, ts("2026-10-02T09:00:00")):
        pass
    added_at = ts("2026-11-20T10:00:00")
    day_start = ts("2026-11-20T00:00:00")
    with running(tmp_path, database_url, HEAD + ADDED, added_at) as client:
        assert client.post("/api/v1/key-results/p99/values", json={"value": 400}, headers=AUTH)
        kr = client.get("/api/v1/key-results/p99").json()
        expected = (added_at - day_start) / (PERIOD_END - day_start)
        assert kr["expected_progress"] == expected
        assert kr["status"] == "on_track", kr["status_reason"]
        assert kr["measured_from"] == "2026-11-20T00:00:00Z"
    later = ts("2026-11-21T10:00:00")
    with running(tmp_path, database_url, HEAD + ADDED, later) as client:
        kr = client.get("/api/v1/key-results/p99").json()
        # Measured from Nov 20 still: the restart did not make it "first seen" again.
        assert kr["expected_progress"] == (later - day_start) / (PERIOD_END - day_start)
        # The Key Result present at the first sync keeps its period's start.
        coverage = client.get("/api/v1/key-results/coverage").json()
        assert coverage["measured_from"] == "2026-10-01T00:00:00Z"
        period_start = ts("2026-10-01T00:00:00")
        assert coverage["expected_progress"] == (later - period_start) / (PERIOD_END - period_start)


def test_a_key_result_with_its_own_start_waits_for_it_then_starts_at_zero(
    tmp_path: Path, database_url: str
) -> None:
    """With `start = 2026-12-01` it is not_started before that day and expects 0% at its start."""
    with running(tmp_path, database_url, HEAD + OWN_START, ts("2026-11-30T12:00:00")) as client:
        kr = client.get("/api/v1/key-results/onboarding").json()
        assert kr["status"] == "not_started" and "2026-12-01" in kr["status_reason"]
    with running(tmp_path, database_url, HEAD + OWN_START, ts("2026-12-01T00:00:00")) as client:
        client.post("/api/v1/key-results/onboarding/values", json={"value": 40}, headers=AUTH)
        kr = client.get("/api/v1/key-results/onboarding").json()
        assert kr["expected_progress"] == 0.0
        assert kr["measured_from"] == "2026-12-01T00:00:00Z"
        assert kr["status"] == "on_track", kr["status_reason"]


def test_no_negative_zero_in_reasons_or_payloads(tmp_path: Path, database_url: str) -> None:
    """A decrease Key Result at its baseline has progress 0 (not -0.0) and no "-0%" reason."""
    with running(tmp_path, database_url, HEAD + ADDED, ts("2026-10-01T06:00:00")) as client:
        client.post("/api/v1/key-results/p99/values", json={"value": 400}, headers=AUTH)
        response = client.get("/api/v1/key-results/p99")
        kr = response.json()
        assert kr["progress"] == 0.0
        assert "-0.0" not in response.text and "-0%" not in kr["status_reason"]
        assert "0% of the way" in kr["status_reason"]
        listing = client.get("/api/v1/objectives").text
        assert "-0.0" not in listing and "-0%" not in listing
