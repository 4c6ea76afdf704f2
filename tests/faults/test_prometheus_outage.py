"""A real Prometheus killed under 50 Key Results at `every = "1s"`: back off, resume, fill."""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import Session, col, func, select

from app.sampling.scheduler import SamplingScheduler
from app.store.models import KeyResult, Sample, SamplingAttempt
from app.tracker import Tracker, open_tracker
from tests.conftest import write_config
from tests.faults.support import GAUGE, live_prometheus, prometheus_series
from tests.support.loopback import CountingProxy
from tests.support.waiting import wait_until

KEY_RESULTS = 50


def query(i: int) -> str:
    """Return the PromQL of Key Result `i` (distinct, so each one's requests can be told apart)."""
    return f"{GAUGE} + {i}"


def config(
    url: str, *, backoff_max: str = "1h", timeout: int = 1, key_results: int = KEY_RESULTS
) -> str:
    """`key_results` Key Results sampled every second from one Prometheus connector."""
    today = datetime.now(UTC).date()
    krs = "\n".join(
        f"""
[[objectives.key_results]]
id = "kr-{i}"
title = "Queue depth {i}"
direction = "decrease"
baseline = 1000
target = 0
every = "1s"
source = {{ connector = "prom", query = '{query(i)}' }}
"""
        for i in range(key_results)
    )
    return f"""
[scheduler]
max_workers = 16
per_connector_concurrency = 8
attempt_timeout_seconds = {timeout + 4}
backoff_max = "{backoff_max}"

[connectors.prom]
type = "prometheus"
url = "{url}"
timeout_seconds = {timeout}
retries = 0

[[objectives]]
id = "queues"
title = "Queues stay short"
start = {today}
end = 2040-12-31
{krs}
"""


def sampled_since(tracker: Tracker, ts: int) -> set[str]:
    """Return the Key Results with a successful live attempt at an instant at or after `ts`."""
    with Session(tracker.engine) as session:
        rows = session.exec(
            select(SamplingAttempt.key_result_id).where(
                col(SamplingAttempt.ok), col(SamplingAttempt.scheduled_ts) >= ts
            )
        ).all()
    return set(rows)


def first_ok_after(tracker: Tracker, ts: int) -> dict[str, int]:
    """Return, per Key Result, when its first successful attempt after `ts` was made."""
    with Session(tracker.engine) as session:
        rows = session.exec(
            select(SamplingAttempt.key_result_id, func.min(SamplingAttempt.attempted_ts))
            .where(col(SamplingAttempt.ok), col(SamplingAttempt.scheduled_ts) >= ts)
            .group_by(col(SamplingAttempt.key_result_id))
        ).all()
    return dict(rows)  # type: ignore[arg-type]


class SchedulerLines(logging.Handler):
    """Collects the sampler's log lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.parametrize(("outage", "backoff_max"), [(3, "1h"), (60, "4s")], ids=["3s", "60s"])
def test_outage_backs_off_per_instant_and_resumes(
    tmp_path: Path, outage: int, backoff_max: str
) -> None:
    """Skipped Key Results say why; all resume within an interval plus the backoff step; no hole."""
    prometheus = live_prometheus(tmp_path / "prom")
    tracker = open_tracker(
        write_config(
            tmp_path / "c.toml",
            config(prometheus.url, backoff_max=backoff_max),
            database_url=f"sqlite:///{tmp_path / 'k.db'}",
        )
    )
    lines = SchedulerLines()
    sampler_log = logging.getLogger("app.sampling.scheduler")
    level = sampler_log.level
    sampler_log.setLevel(logging.INFO)
    sampler_log.addHandler(lines)
    scheduler = SamplingScheduler(tracker)
    scheduler.start()
    try:
        started = int(time.time())
        assert wait_until(
            lambda: len(sampled_since(tracker, started + 1)) == KEY_RESULTS, timeout=60
        )
        lines.lines.clear()
        killed_at = int(time.time())
        prometheus.kill()

        # While it is down, skipped Key Results show an error that says since when and the next try.
        def skipped_show_why() -> bool:
            with Session(tracker.engine) as session:
                krs = session.exec(select(KeyResult)).all()
            return (
                sum("source unavailable since" in (kr.status_reason or "") for kr in krs)
                >= KEY_RESULTS // 2
            )

        assert wait_until(skipped_show_why, timeout=outage + 5)
        time.sleep(max(0.0, killed_at + outage - time.time()))
        if outage > 10:  # no sample for more than 3 intervals: stale, still saying why
            with Session(tracker.engine) as session:
                statuses = Counter(kr.status for kr in session.exec(select(KeyResult)))
            assert statuses["stale"] >= KEY_RESULTS // 2, statuses
        prometheus.start()
        back_at = time.time()
        health = scheduler.health["prom"]
        step = max(0.0, health.next_try_ts - back_at) if health.down else 0.0
        bound = 1 + step + 4  # one interval, the backoff step, and slack for a loaded machine
        assert wait_until(
            lambda: len(sampled_since(tracker, int(back_at) + 1)) == KEY_RESULTS, timeout=bound + 30
        )
        lag = max(first_ok_after(tracker, int(back_at) + 1).values()) - back_at
        assert lag <= bound, (lag, bound, health)
        resumed = int(time.time())
        # The hole is filled from Prometheus's history: every instant has its value, once.
        assert wait_until(lambda: holes(tracker, killed_at - 2, resumed) == 0, timeout=20), holes(
            tracker, killed_at - 2, resumed
        )
    finally:
        scheduler.shutdown()
        sampler_log.removeHandler(lines)
        sampler_log.setLevel(level)
    try:
        check_series(tracker, prometheus.url, start=killed_at - 2, end=resumed)
        with Session(tracker.engine) as session:
            per_instant = session.exec(
                select(SamplingAttempt.key_result_id, SamplingAttempt.scheduled_ts, func.count())
                .group_by(col(SamplingAttempt.key_result_id), col(SamplingAttempt.scheduled_ts))
                .having(func.count() > 1)
            ).all()
        assert per_instant == [], per_instant[:5]
        # One line per state change (down, each failed probe, up), not one per skipped job.
        # With 50 jobs a second that is a handful of lines where it was thousands.
        assert all(line.startswith("connector prom ") for line in lines.lines), lines.lines
        assert len(lines.lines) <= (8 if outage < 10 else 25), lines.lines
        assert any("answers again" in line for line in lines.lines), lines.lines
    finally:
        tracker.close()
        prometheus.stop()


def holes(tracker: Tracker, start: int, end: int) -> int:
    """Return how many (Key Result, second) in [start, end] have no sample."""
    with Session(tracker.engine) as session:
        count = session.exec(
            select(func.count()).where(col(Sample.ts) >= start, col(Sample.ts) <= end)
        ).one()
    return KEY_RESULTS * (end - start + 1) - count


def check_series(tracker: Tracker, url: str, *, start: int, end: int) -> None:
    """Check stored values in [start, end] equal Prometheus's own; live samples keep their label."""
    with Session(tracker.engine) as session:
        rows = session.exec(
            select(Sample.key_result_id, Sample.ts, Sample.value, Sample.source).where(
                col(Sample.ts) >= start, col(Sample.ts) <= end
            )
        ).all()
        live = set(
            session.exec(
                select(SamplingAttempt.key_result_id, SamplingAttempt.scheduled_ts).where(
                    col(SamplingAttempt.ok)
                )
            ).all()
        )
    truth = {i: prometheus_series(url, query(i), start=start, end=end) for i in range(KEY_RESULTS)}
    for kr_id, ts, value, source in rows:
        assert value == truth[int(kr_id.split("-")[1])][ts], (kr_id, ts)
        assert (source == "prom") is ((kr_id, ts) in live), (kr_id, ts, source)


def test_catch_up_and_scheduled_start_backfill_each_key_result_once(tmp_path: Path) -> None:
    """Catch-up and scheduled jobs started together fetch history once, sample each instant once."""
    prometheus = live_prometheus(tmp_path / "prom")
    proxy = CountingProxy(prometheus.url)
    tracker = open_tracker(
        write_config(
            tmp_path / "c.toml",
            config(proxy.url, timeout=10),
            database_url=f"sqlite:///{tmp_path / 'k.db'}",
        )
    )
    scheduler = SamplingScheduler(tracker)
    scheduler.start()
    try:
        started = int(time.time())
        assert wait_until(
            lambda: len(sampled_since(tracker, started + 3)) == KEY_RESULTS, timeout=60
        )
    finally:
        scheduler.shutdown()
    try:
        # Each Key Result's history is fetched once: no instant is in two of its range queries.
        ranges: dict[int, list[tuple[float, float]]] = {}
        for path in proxy.requests:
            if path.startswith("/api/v1/query_range"):
                params = parse_qs(urlparse(path).query)
                kr = int(params["query"][0].rsplit("+", 1)[1])
                ranges.setdefault(kr, []).append(
                    (float(params["start"][0]), float(params["end"][0]))
                )
        assert set(ranges) == set(range(KEY_RESULTS))
        for kr, spans in ranges.items():
            spans.sort()
            assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), (kr, spans)
            assert sum(start <= started - 100 for start, _ in spans) == 1, (kr, spans)
        with Session(tracker.engine) as session:
            twice = session.exec(
                select(SamplingAttempt.key_result_id, SamplingAttempt.scheduled_ts, func.count())
                .group_by(col(SamplingAttempt.key_result_id), col(SamplingAttempt.scheduled_ts))
                .having(func.count() > 1)
            ).all()
        assert twice == []
        check_series(tracker, prometheus.url, start=started - 100, end=int(time.time()) - 2)
    finally:
        tracker.close()
        proxy.close()
        prometheus.stop()
