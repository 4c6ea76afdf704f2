"""Sampling and scheduling with a real connector (HTTP JSON) against a local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.sampling.measure import sample_key_result
from app.sampling.scheduler import SamplingScheduler
from app.store.models import KeyResult, Sample, SamplingAttempt
from app.tracker import Tracker, open_tracker
from tests.conftest import write_config


class MetricsSource:
    """A local JSON endpoint whose value and health the test controls, counting requests."""

    def __init__(self) -> None:
        self.value: float = 10.0
        self.failing = False
        self.requests: list[tuple[str, float]] = []
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                source.requests.append((self.path, time.time()))
                if source.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"data": {"value": source.value, "path": self.path}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source() -> Iterator[MetricsSource]:
    """A running local JSON endpoint."""
    src = MetricsSource()
    yield src
    src.close()


def config_text(url: str, every: str = "1h", *, query: str = "") -> str:
    """Return a config with two KRs fed by the local endpoint (`query` is appended to paths)."""
    return f"""
[scheduler]
attempt_timeout_seconds = 5
leader_poll_seconds = 0.5

[connectors.analytics]
type = "http_json"
base_url = "{url}"
timeout_seconds = 2

[[objectives]]
id = "engagement"
title = "Feature X becomes a habit"
start = 2020-01-01
end = 2040-12-31

[[objectives.key_results]]
id = "weekly-users"
title = "Increase user engagement with Feature X by 20%"
direction = "increase"
baseline = "first_sample"
target = "+20%"
every = "{every}"
source = {{ connector = "analytics", url = "/users{query}", jsonpath = "$.data.value" }}

[[objectives.key_results]]
id = "sessions"
title = "More sessions"
direction = "increase"
baseline = 0
target = 100
every = "{every}"
source = {{ connector = "analytics", url = "/sessions{query}", jsonpath = "$.data.value" }}
"""


def open_with(tmp_path: Path, url: str, text: str, clock: dict[str, float]) -> Tracker:
    """Open a tracker on a SQLite or PostgreSQL URL with a controllable clock."""
    return open_tracker(write_config(tmp_path / "c.toml", text, database_url=url), clock=lambda: clock["now"])


def test_sample_stores_the_served_value(tmp_path: Path, database_url: str, source: MetricsSource) -> None:
    """The stored value is exactly what the source served, at the scheduled instant."""
    clock = {"now": 1_800_000_000.0}
    tracker = open_with(tmp_path, database_url, config_text(source.url), clock)
    source.value = 1234.5678
    outcome = sample_key_result(tracker, "weekly-users", scheduled_ts=1_799_996_400)
    assert outcome.ok and outcome.value == 1234.5678
    with Session(tracker.engine) as session:
        sample = session.exec(select(Sample)).one()
        assert (sample.key_result_id, sample.ts, sample.value) == ("weekly-users", 1_799_996_400, 1234.5678)
        kr = session.get(KeyResult, "weekly-users")
        assert kr is not None and kr.baseline_value == 1234.5678
        assert kr.target_value == pytest.approx(1234.5678 * 1.2)
    tracker.close()


def test_outage_is_an_error_then_recovers(tmp_path: Path, database_url: str, source: MetricsSource) -> None:
    """While the source fails the KR shows error with the reason and no number; then it recovers."""
    clock = {"now": 1_800_000_000.0}
    tracker = open_with(tmp_path, database_url, config_text(source.url), clock)
    assert sample_key_result(tracker, "sessions", scheduled_ts=1_799_992_800).ok
    source.failing = True
    failed = sample_key_result(tracker, "sessions", scheduled_ts=1_799_996_400)
    assert failed.error_kind == "source_unavailable" and failed.value is None
    assert failed.status == "error" and "503" in failed.status_reason
    with Session(tracker.engine) as session:
        assert [s.ts for s in session.exec(select(Sample)).all()] == [1_799_992_800]
    source.failing = False
    source.value = 55.0
    recovered = sample_key_result(tracker, "sessions", scheduled_ts=1_800_000_000)
    assert recovered.ok and recovered.status != "error"
    tracker.close()


def test_scheduler_samples_aligned_instants(tmp_path: Path, source: MetricsSource) -> None:
    """Each KR is sampled on its own schedule at aligned instants; reruns update the same row."""
    clock = {"now": time.time()}
    url = f"sqlite:///{tmp_path / 'k.db'}"
    tracker = open_tracker(write_config(tmp_path / "c.toml", config_text(source.url, every="2s"), database_url=url))
    scheduler = SamplingScheduler(tracker)
    scheduler.start()
    time.sleep(7)
    scheduler.shutdown()
    with Session(tracker.engine) as session:
        samples = session.exec(select(Sample).where(Sample.key_result_id == "sessions")).all()
        attempts = session.exec(select(SamplingAttempt).where(SamplingAttempt.key_result_id == "sessions")).all()
    assert len(samples) >= 3
    assert all(s.ts % 2 == 0 for s in samples)
    assert len({s.ts for s in samples}) == len(samples)
    assert all(a.ok for a in attempts)
    # Running the latest instant again updates its row instead of adding one.
    latest = max(s.ts for s in samples)
    sample_key_result(tracker, "sessions", scheduled_ts=latest)
    with Session(tracker.engine) as session:
        again = session.exec(select(Sample).where(Sample.key_result_id == "sessions")).all()
    assert len(again) == len(samples)
    del clock
    tracker.close()


def test_failing_source_backs_off(tmp_path: Path, source: MetricsSource) -> None:
    """After a failure the connector is not asked again until its backoff has passed."""
    clock = {"now": 1_800_000_000.0}
    url = f"sqlite:///{tmp_path / 'k.db'}"
    tracker = open_with(tmp_path, url, config_text(source.url), clock)
    scheduler = SamplingScheduler(tracker)
    source.failing = True
    failed = scheduler.run_sample("sessions")
    assert failed is not None and failed.result().error_kind == "source_unavailable"
    before = len(source.requests)
    skipped = scheduler.run_sample("weekly-users")  # same connector: backing off
    assert skipped is not None
    assert skipped.result().error_kind == "backing_off" and skipped.result().status == "error"
    assert "source unavailable since 08:00:00 UTC, next try 08:01:00 UTC" in (skipped.result().error or "")
    assert len(source.requests) == before
    clock["now"] += 3600
    source.failing = False
    stored = scheduler.run_sample("weekly-users")
    assert stored is not None and stored.result().ok
    assert not scheduler.health["analytics"].down
    scheduler.shutdown()
    tracker.close()


def test_catch_up_skips_an_instant_whose_write_is_still_queued(tmp_path: Path, source: MetricsSource) -> None:
    """The catch-up run must not sample again an instant this process already sampled."""
    clock = {"now": 1_800_000_000.0}
    tracker = open_with(tmp_path, f"sqlite:///{tmp_path / 'k.db'}", config_text(source.url), clock)
    scheduler = SamplingScheduler(tracker)
    assert scheduler.run_sample("sessions") is not None  # its write may still be queued
    scheduler.catch_up()
    assert scheduler.scheduler.get_job("catch-up:sessions") is None
    assert scheduler.scheduler.get_job("catch-up:weekly-users") is not None
    before = len(source.requests)
    assert scheduler.run_sample("sessions") is None
    assert len(source.requests) == before
    clock["now"] += 3600  # the next instant is new again
    stored = scheduler.run_sample("sessions")
    assert stored is not None and stored.result().ok
    scheduler.shutdown()
    tracker.close()
