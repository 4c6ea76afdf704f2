"""Check-in reminders: once per overdue interval, to the objective's owner, never while muted.

A real tracker (SQLite and the real PostgreSQL) with an injected clock; check-ins go
through the API; reminders go through the outbox and the real delivery worker to a
Slack-shaped receiver on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from app.alerts.delivery import DeliveryWorker
from app.api import create_app
from app.config.delivery import AlertsConfig
from app.core.domain import REMINDER_EVENT
from app.rhythm.reminders import enqueue_due_reminders, reminder_due
from app.store.models import Delivery
from app.tracker import Tracker, open_tracker
from tests.alerts.delivery.support import Receiver
from tests.conftest import write_config
from tests.support import configs

DAY = 86400
Q4_START = 1_790_812_800  # 2026-10-01T00:00:00Z
TOKEN = "reminders-write-token-0123456789"
OFFSITE_START = datetime(2026, 10, 22, tzinfo=UTC)  # reminders are muted until OFFSITE_END
OFFSITE_END = datetime(2026, 10, 25, tzinfo=UTC)


@given(
    last=st.integers(0, 100 * DAY),
    every=st.integers(3600, 30 * DAY),
    offset=st.integers(0, 200 * DAY),
)
def test_at_most_one_reminder_per_interval(last: int, every: int, offset: int) -> None:
    """Never due within `every` of a check-in; every instant of one interval has one index."""
    start, end = 0, 400 * DAY
    now = last + offset
    due = reminder_due(
        now=now, last_check_in_ts=last, measured_from=start, period_end=end, every=every
    )
    if offset < every or now >= end:
        assert due is None
        return
    assert due is not None and due.interval_index == offset // every
    interval_start = last + due.interval_index * every
    again = reminder_due(
        now=interval_start, last_check_in_ts=last, measured_from=start, period_end=end, every=every
    )
    assert again == due


def test_no_reminder_outside_the_period() -> None:
    """A period that has not started or is over asks for no check-in."""
    for now in (-1, 100 * DAY):
        assert (
            reminder_due(
                now=now, last_check_in_ts=None, measured_from=0, period_end=50 * DAY, every=DAY
            )
            is None
        )


def config_text(url: str) -> str:
    """Return a config: two manual KRs (default 7d, one with 3d), a mute window, a Slack hook."""
    return configs.text(
        configs.api(configs.token("ana", TOKEN, "read", "write")),
        configs.section(
            "alerts",
            allow_private_targets=["127.0.0.1/32"],
            mute=[{"start": OFFSITE_START, "end": OFFSITE_END, "reason": "offsite"}],
        ),
        configs.webhook("team", url, format="slack"),
        configs.section("reminders", webhooks=["team"]),
        configs.manual_connector(),
        configs.objective(
            "quality", "Ship with confidence", owner="ana", team="platform", period="2026-Q4",
            key_results=[
                configs.key_result(
                    "coverage", "Raise test coverage to 85%",
                    unit="%", direction="increase", baseline=60, target=85,
                ),
                configs.key_result(
                    "latency", "Keep p95 latency under 300 ms",
                    unit="ms", direction="at_most", target=300, checkin_every="3d",
                ),
            ],
        ),
    )


@pytest.fixture
def slack() -> Iterator[Receiver]:
    """Run a Slack-shaped receiver that records JSON bodies."""
    server = Receiver(secret=None)
    yield server
    server.stop()


def _reminders(tracker: Tracker) -> list[tuple[str, str]]:
    with Session(tracker.engine) as session:
        rows = session.exec(
            select(Delivery)
            .where(Delivery.event_type == REMINDER_EVENT)
            .order_by(col(Delivery.seq))
        ).all()
        return [(r.key_result_id, r.payload["timestamp"][:10]) for r in rows]


def test_reminders_once_per_interval_reset_by_check_in_and_held_while_muted(
    tmp_path: Path, database_url: str, slack: Receiver
) -> None:
    """Walk a month: each due interval gives one reminder; a check-in resets; mute holds."""
    clock = {"now": Q4_START}
    path = write_config(tmp_path / "c.toml", config_text(slack.url), database_url=database_url)
    tracker = open_tracker(path, clock=lambda: clock["now"])

    def run(at: int) -> int:
        clock["now"] = at
        with Session(tracker.engine) as session:
            return enqueue_due_reminders(session, tracker.loaded.config, tracker.routing, now_ts=at)

    try:
        with TestClient(create_app(tracker)) as client:
            assert run(Q4_START + 2 * DAY) == 0
            assert run(Q4_START + 3 * DAY + 60) == 1  # latency, 3 days without a check-in
            assert run(Q4_START + 3 * DAY + 120) == 0
            assert run(Q4_START + 5 * DAY) == 0  # same interval
            assert run(Q4_START + 6 * DAY + 1) == 1  # latency's second interval
            assert run(Q4_START + 7 * DAY + 1) == 1  # coverage's first (7 days)
            clock["now"] = Q4_START + 8 * DAY
            answer = client.post(
                "/api/v1/key-results/coverage/check-ins",
                json={"confidence": 0.7, "note": "on it"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert answer.status_code == 201, answer.text
            assert run(Q4_START + 14 * DAY + 1) == 1  # latency only: coverage checked in
            assert run(Q4_START + 21 * DAY + 1) == 0  # both due, but muted (offsite)
            assert run(Q4_START + 24 * DAY + 1) == 2  # the window ended: both go out
        assert _reminders(tracker) == [
            ("latency", "2026-10-04"),
            ("latency", "2026-10-07"),
            ("coverage", "2026-10-08"),
            ("latency", "2026-10-15"),
            ("coverage", "2026-10-25"),
            ("latency", "2026-10-25"),
        ]
        worker = DeliveryWorker(
            tracker.engine,
            webhooks=tracker.loaded.config.webhooks,
            alerts=AlertsConfig(allow_private_targets=["127.0.0.1/32"]),
            clock=lambda: clock["now"],
        )
        try:
            assert worker.deliver_due() == 6
        finally:
            worker.stop()
        texts = [body["blocks"][0]["text"]["text"] for _, body in slack.accepted]
        assert len(texts) == 6
        assert all("ana, how confident are you?" in t for t in texts)
        # In order per Key Result (the outbox's rule), not across Key Results.
        coverage = [t for t in texts if "Raise test coverage to 85%" in t]
        assert ["Last check-in: never" in t for t in coverage] == [True, False]
        assert "Last check-in: 2026-10-09" in coverage[1]
    finally:
        tracker.close()
