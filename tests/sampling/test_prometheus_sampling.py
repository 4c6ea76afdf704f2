"""A Prometheus Key Result end to end: sampled, backfilled, through an outage, against a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from app.sampling.measure import sample_key_result
from app.store.models import KeyResult, Sample
from app.tracker import open_tracker
from tests.conftest import require_binary, write_config
from tests.support.prometheus_server import RunningPrometheus, start_prometheus, synthetic_history

P99 = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="payments"}[5m])))'


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningPrometheus, int]]:
    """A real Prometheus with four hours of history; yields it and the history's last second."""
    history = synthetic_history()
    server = start_prometheus(
        tmp_path_factory.mktemp("prometheus"), openmetrics_text=history.text,
        prometheus=require_binary("prometheus"), promtool=require_binary("promtool"),
    )
    yield server, history.end
    server.stop()


def prometheus_value(url: str, query: str, at: int) -> float:
    """Ask Prometheus itself for `query` at `at`, independently of the connector."""
    body = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": at}, timeout=10).json()
    result = body["data"]["result"]
    return float(result[1] if body["data"]["resultType"] == "scalar" else result[0]["value"][1])


def config(url: str) -> str:
    """A config with the seed Key Result: P99 latency down 30% from its first sample."""
    return f"""
[connectors.prom]
type = "prometheus"
url = "{url}"
timeout_seconds = 2
retries = 0

[[objectives]]
id = "payments"
title = "Payments feel instant"
start = 2020-01-01
end = 2040-12-31

[[objectives.key_results]]
id = "p99-latency"
title = "Reduce P99 latency of payment processing by 30%"
unit = "s"
direction = "decrease"
baseline = "first_sample"
target = "-30%"
every = "5m"
source = {{ connector = "prom", query = '{P99}' }}
"""


def test_prometheus_key_result_end_to_end(
    tmp_path: Path, database_url: str, prometheus: tuple[RunningPrometheus, int]
) -> None:
    """The stored value equals Prometheus's to the last digit, history is backfilled, outages are errors."""
    server, end = prometheus
    clock = {"now": float(end)}
    tracker = open_tracker(write_config(tmp_path / "c.toml", config(server.url), database_url=database_url),
                           clock=lambda: clock["now"])
    instant = end - end % 300
    outcome = sample_key_result(tracker, "p99-latency", scheduled_ts=instant)
    assert outcome.ok, outcome.error
    assert outcome.value == prometheus_value(server.url, P99, instant)
    assert outcome.backfilled > 10

    with Session(tracker.engine) as session:
        samples = session.exec(select(Sample).order_by(col(Sample.ts))).all()
        kr = session.get(KeyResult, "p99-latency")
    assert all(s.ts % 300 == 0 for s in samples)
    for sample in samples[:: max(1, len(samples) // 8)]:
        assert sample.value == prometheus_value(server.url, P99, sample.ts), sample.ts
    assert kr is not None and kr.baseline_value == samples[0].value
    assert kr.target_value == pytest.approx(samples[0].value * 0.7)
    assert kr.forecast is not None  # a trend on the first day, thanks to the backfill

    server.kill()
    try:
        clock["now"] += 300
        failed = sample_key_result(tracker, "p99-latency", scheduled_ts=instant + 300)
        assert failed.value is None and failed.error_kind == "source_unavailable"
        assert failed.status == "error" and "Prometheus" in failed.status_reason
        with Session(tracker.engine) as session:
            assert session.exec(select(Sample).where(col(Sample.ts) > instant)).all() == []
    finally:
        server.restart()
    recovered = sample_key_result(tracker, "p99-latency", scheduled_ts=instant)
    assert recovered.ok and recovered.value == outcome.value and recovered.status != "error"
    tracker.close()
