"""Digests on their cron schedule: only the leader enqueues, once per instant, even across restarts.

Real trackers on SQLite and the real PostgreSQL with the real leader lock and an injected
clock; the leader's delivery worker sends to a signature-checking receiver on loopback.
The tests wait for the election thread (polling every 0.1 s), never for the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from app.core.domain import DIGEST_EVENT
from app.sampling.leader import LeaderElectedScheduler
from app.store.leader_lock import LeaderLock, leader_lock_for
from app.store.models import Delivery
from app.tracker import Tracker, open_tracker
from tests.alerts.delivery.support import SECRET, Receiver
from tests.conftest import write_config
from tests.support import configs
from tests.support.waiting import wait_until

MONDAY_NOV_2 = int(datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp())
MONDAY_NOV_23 = int(datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp())


def config_text(url: str) -> str:
    """Return a config with one manual Key Result, a generic webhook at `url`, one digest."""
    return configs.text(
        configs.section("scheduler", leader_poll_seconds=0.1),
        configs.section("alerts", allow_private_targets=["127.0.0.1/32"]),
        configs.webhook("team", url, secret=SECRET),
        configs.digest("monday", "0 9 * * MON", webhooks=["team"]),
        configs.manual_connector(),
        configs.objective(
            "quality", "Ship with confidence", owner="ana", team="platform", period="2026-Q4",
            key_results=[
                configs.key_result(
                    "coverage", "Raise test coverage to 85%",
                    unit="%", direction="increase", baseline=60, target=85,
                )
            ],
        ),
    )


class CountingLock:
    """The real leader lock, counting how often this process tried to take it."""

    def __init__(self, lock: LeaderLock) -> None:
        self.lock = lock
        self.tries = 0

    def try_acquire(self) -> bool:  # noqa: D102
        self.tries += 1
        return self.lock.try_acquire()

    def still_held(self) -> bool:  # noqa: D102
        return self.lock.still_held()

    def release(self) -> None:  # noqa: D102
        self.lock.release()


def digest_rows(tracker: Tracker) -> list[Delivery]:
    """Return the digest deliveries in the outbox, oldest first."""
    with Session(tracker.engine) as session:
        return list(
            session.exec(
                select(Delivery)
                .where(Delivery.event_type == DIGEST_EVENT)
                .order_by(col(Delivery.seq))
            ).all()
        )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Run a generic receiver that verifies signatures."""
    server = Receiver()
    yield server
    server.stop()


def test_a_replica_that_is_not_the_leader_sends_nothing(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    """While another process holds the lock nothing is enqueued; once it is free, one digest."""
    clock = {"now": MONDAY_NOV_2 + 300}
    path = write_config(tmp_path / "c.toml", config_text(receiver.url), database_url=database_url)
    tracker = open_tracker(path, clock=lambda: clock["now"])
    holder = leader_lock_for(tracker.engine)
    assert holder.try_acquire()
    lock = CountingLock(leader_lock_for(tracker.engine))
    replica = LeaderElectedScheduler(tracker, lock)
    try:
        replica.start()
        assert wait_until(lambda: lock.tries >= 5, timeout=20, every=0.05)
        assert not replica.is_leader
        assert digest_rows(tracker) == [] and receiver.seen == []
        holder.release()
        assert wait_until(lambda: len(receiver.accepted) == 1, timeout=20, every=0.05)
        assert replica.is_leader and len(digest_rows(tracker)) == 1
    finally:
        replica.stop()
        holder.release()
        tracker.close()


def _lead(tracker: Tracker) -> LeaderElectedScheduler:
    leader = LeaderElectedScheduler(tracker, leader_lock_for(tracker.engine))
    leader.start()
    assert wait_until(lambda: leader.is_leader, timeout=20, every=0.05)
    return leader


def test_a_restart_after_three_missed_mondays_sends_one_digest(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    """Down from Nov 2 to Thu Nov 26: one digest (Nov 23's) on start, not three."""
    clock = {"now": MONDAY_NOV_2 + 300}
    path = write_config(tmp_path / "c.toml", config_text(receiver.url), database_url=database_url)
    tracker = open_tracker(path, clock=lambda: clock["now"])
    leader = _lead(tracker)
    try:
        assert wait_until(lambda: len(receiver.accepted) == 1, timeout=20, every=0.05)
    finally:
        leader.stop()
        tracker.close()
    clock["now"] = MONDAY_NOV_23 + 3 * 86400 + 3600  # Thursday, Mondays 9, 16, 23 missed
    tracker = open_tracker(path, clock=lambda: clock["now"])
    leader = _lead(tracker)
    try:
        assert wait_until(lambda: len(receiver.accepted) == 2, timeout=20, every=0.05)
        assert leader.sampler is not None
        leader.sampler.enqueue_digests_and_reminders()  # the next minute's pass: nothing new is due
        rows = digest_rows(tracker)
        assert [r.payload["data"]["scheduled_for"] for r in rows] == [
            "2026-11-02T09:00:00Z",
            "2026-11-23T09:00:00Z",
        ]
        assert rows[1].payload["data"]["until"] == "2026-11-26T10:00:00Z"
        assert len({event_id for event_id, _ in receiver.accepted}) == 2
    finally:
        leader.stop()
        tracker.close()
    assert len(receiver.accepted) == 2
