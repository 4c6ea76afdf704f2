"""The service SIGKILLed mid-sampling (SQLite and PostgreSQL) and mid-delivery, then restarted."""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, func, select

from app.store.db import normalise_url
from app.store.models import Delivery, Sample, SamplingAttempt
from tests.alerts.delivery.support import TOKEN, Receiver, config_text
from tests.conftest import free_port, write_config
from tests.faults.support import live_prometheus, prometheus_series
from tests.faults.test_prometheus_outage import config, query
from tests.support.krtracker_server import ServiceProcess
from tests.support.waiting import wait_until

KEY_RESULTS = 10


def check_sampled_series(url: str, prometheus_url: str, *, start: int, end: int) -> None:
    """Check one sample per instant in [start, end], no NaN, equal to Prometheus's, none lost."""
    engine = create_engine(normalise_url(url))
    with Session(engine) as session:
        rows = session.exec(
            select(Sample.key_result_id, Sample.ts, Sample.value).where(
                col(Sample.ts) >= start, col(Sample.ts) <= end
            )
        ).all()
        twice = session.exec(
            select(SamplingAttempt.key_result_id, SamplingAttempt.scheduled_ts)
            .where(col(SamplingAttempt.ok))
            .group_by(col(SamplingAttempt.key_result_id), col(SamplingAttempt.scheduled_ts))
            .having(func.count() > 1)
        ).all()
        unkept = session.exec(
            select(SamplingAttempt.key_result_id, SamplingAttempt.scheduled_ts)
            .where(col(SamplingAttempt.ok))
            .where(
                ~select(Sample.ts)
                .where(
                    Sample.key_result_id == SamplingAttempt.key_result_id,
                    Sample.ts == SamplingAttempt.scheduled_ts,
                )
                .exists()
            )
        ).all()
    engine.dispose()
    assert twice == [], twice[:5]
    assert unkept == [], unkept[:5]
    assert len(rows) == len({(k, t) for k, t, _ in rows}) == KEY_RESULTS * (end - start + 1), (
        KEY_RESULTS * (end - start + 1) - len(rows)
    )
    truth = {
        i: prometheus_series(prometheus_url, query(i), start=start, end=end)
        for i in range(KEY_RESULTS)
    }
    for kr_id, ts, value in rows:
        assert math.isfinite(value)
        assert value == truth[int(kr_id.split("-")[1])][ts], (kr_id, ts)


def latest_sample(url: str) -> int:
    """Return the newest sample's instant of the slowest Key Result (0 when one has none)."""
    engine = create_engine(normalise_url(url))
    try:
        with Session(engine) as session:
            latest = session.exec(
                select(Sample.key_result_id, func.max(Sample.ts)).group_by(
                    col(Sample.key_result_id)
                )
            ).all()
    except DBAPIError:  # not migrated yet, or the database is restarting
        return 0
    finally:
        engine.dispose()
    return min((ts for _, ts in latest), default=0) if len(latest) == KEY_RESULTS else 0


def test_sigkill_mid_sampling_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, database_url: str
) -> None:
    """Killed twice while sampling, the worker leaves one true value per instant, no hole."""
    prometheus = live_prometheus(tmp_path / "prom")
    cfg = write_config(
        tmp_path / "c.toml",
        config(prometheus.url, key_results=KEY_RESULTS),
        database_url=database_url,
    )
    worker = ServiceProcess("worker", cfg, tmp_path / "worker.log")
    rng = random.Random(12)
    try:
        worker.start()
        assert wait_until(lambda: latest_sample(database_url) > 0, timeout=60), (
            worker.log.read_text()[-3000:]
        )
        start = latest_sample(database_url)
        for _ in range(2):
            time.sleep(rng.uniform(1.0, 3.0))
            worker.kill()
            time.sleep(rng.uniform(1.0, 2.5))  # instants pass with no process at all
            worker.start()
            restarted = int(time.time())
            assert wait_until(lambda t=restarted: latest_sample(database_url) > t, timeout=60), (
                worker.log.read_text()[-3000:]
            )
        end = latest_sample(database_url) - 1
        # The restarted worker fills what it missed from Prometheus's history.
        check_sampled_series(database_url, prometheus.url, start=start, end=end)
    finally:
        worker.stop()
        prometheus.stop()


class SlowReceiver(Receiver):
    """A webhook receiver that takes its time, so a delivery is in flight when the service dies."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = threading.Event()
        super().__init__()

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        """Hold the request for `delay` seconds, then answer as the plain receiver does."""
        self.in_flight.set()
        time.sleep(self.delay)
        super().handle(request, body)
        self.in_flight.clear()


def test_sigkill_mid_delivery_delivers_every_alert_in_order(tmp_path: Path) -> None:
    """Killed mid-send, the restarted service delivers every alert at least once, in order per KR.

    A send cut by the kill holds its lease (30 s plus four delivery timeouts) before it is
    sent again: the short timeout keeps the test short.
    """
    database_url = f"sqlite:///{tmp_path / 'k.db'}"
    receiver = SlowReceiver(delay=0.4)
    text = config_text(
        receiver.url,
        events='["kr.regressed", "kr.recovered"]',
        rules="for_samples = 1\ndelivery_timeout_seconds = 1",
    )
    cfg = write_config(tmp_path / "c.toml", text, database_url=database_url)
    service = ServiceProcess("serve", cfg, tmp_path / "serve.log", port=free_port())
    base = f"http://127.0.0.1:{service.port}"
    try:
        service.start()
        service.wait_ready()
        first = int(time.time()) - 600
        with httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            for step, value in enumerate([100, 80, 100, 80, 100]):
                for kr in ("k1", "k2", "k3"):
                    at = datetime.fromtimestamp(first + step * 10, UTC).isoformat()
                    answer = client.post(
                        f"/api/v1/key-results/{kr}/values", json={"value": value, "at": at}
                    )
                    assert answer.status_code == 201, answer.text
        assert wait_until(
            lambda: len(receiver.accepted) >= 2 and receiver.in_flight.is_set(), timeout=30
        )
        service.kill()
        sent_before = len(receiver.accepted)
        service.start()
        service.wait_ready()
        engine = create_engine(normalise_url(database_url))

        def outbox() -> list[Delivery]:
            with Session(engine) as session:
                return list(session.exec(select(Delivery).order_by(col(Delivery.seq))).all())

        def all_delivered() -> bool:
            received = {event_id for event_id, _ in receiver.accepted}
            return all(d.event_id in received and d.state == "delivered" for d in outbox())

        assert wait_until(all_delivered, timeout=90), [(d.seq, d.state) for d in outbox()]
        deliveries = outbox()
        engine.dispose()
        assert len(deliveries) == 12 and sent_before < 12, (len(deliveries), sent_before)
        # Per Key Result, the first arrival of each event follows the outbox order.
        seq_of = {d.event_id: (d.key_result_id, d.seq) for d in deliveries}
        arrivals: dict[str, list[int]] = {}
        for event_id, _ in receiver.accepted:
            kr, seq = seq_of[event_id]
            if seq not in arrivals.setdefault(kr, []):
                arrivals[kr].append(seq)
        assert all(seqs == sorted(seqs) for seqs in arrivals.values()), arrivals
    finally:
        service.stop()
        receiver.stop()
