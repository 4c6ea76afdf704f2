"""`okr.period_closed`: queued once per period and webhook when the period is seen closed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from app.alerts.slack import slack_message
from app.config.loading import ConfigError, parse_config
from app.core.domain import PERIOD_CLOSED
from app.rhythm.period_events import period_label, raise_period_closed
from app.sampling.scheduler import SamplingScheduler
from app.store.models import KeyResult
from tests.alerts.delivery.support import Receiver, Rig, config_text
from tests.api.test_reports import DAY, Q4_END, Q4_START
from tests.support.config_documents import document

SILENT_WEBHOOK = """
[[webhooks]]
name = "alerts-only"
url = "{url}-silent"
format = "slack"
events = ["kr.stale"]
"""


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """Run the signature-checking webhook receiver of the delivery tests."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def rig(tmp_path: Path, database_url: str, hook: Receiver) -> Iterator[Rig]:
    """Yield a Q4 objective, `ops` asking for okr.period_closed and a webhook that does not."""
    text = config_text(
        hook.url,
        events='["okr.period_closed", "kr.achieved"]',
        extra=SILENT_WEBHOOK.format(url=hook.url),
    ).replace("start = 2020-01-01\nend = 2040-12-31", 'period = "2026-Q4"')
    rig = Rig(tmp_path, database_url, text, now=Q4_START + DAY)
    rig.values("k1", [50, 60])
    rig.values("k2", [10])
    yield rig
    rig.close()


def _pass(rig: Rig, at: int) -> int:
    """Run the scheduler's re-evaluation pass at `at`, then raise period events."""
    rig.clock["now"] = at
    tracker = rig.tracker
    tracker.writer.reevaluate_each()
    return raise_period_closed(tracker.engine, tracker.routing, now_ts=at)


def test_the_close_is_sent_once_with_the_frozen_scores(rig: Rig, hook: Receiver) -> None:
    """Nothing before the end; one signed event after, to `ops` only, even after a restart."""
    assert _pass(rig, Q4_END - DAY) == 0
    # Seen closed only once every Key Result was evaluated after the end.
    assert raise_period_closed(rig.tracker.engine, rig.tracker.routing, now_ts=Q4_END + 60) == 0
    assert _pass(rig, Q4_END + 3600) == 1
    assert _pass(rig, Q4_END + 7200) == 0
    rig.restart()
    assert _pass(rig, Q4_END + 3 * 3600) == 0
    closed = [d for d in rig.deliveries() if d.event_type == PERIOD_CLOSED]
    assert [(d.webhook, d.event_id) for d in closed] == [("ops", "evt_period_closed_2026-Q4")]

    rig.drain()
    assert not [seen for seen in hook.seen if seen.path.endswith("-silent")]
    [(event_id, payload)] = [(i, p) for i, p in hook.accepted if p["type"] == PERIOD_CLOSED]
    assert event_id == "evt_period_closed_2026-Q4"
    with Session(rig.tracker.engine) as session:
        finals = {k: session.get(KeyResult, k).final_score for k in ("k1", "k2", "k3")}
    [objective] = payload["data"]["objectives"]
    assert {kr["id"]: kr["score"] for kr in objective["key_results"]} == finals
    assert finals["k1"] == pytest.approx(0.3) and finals["k3"] is None
    assert objective["score"] == pytest.approx((0.3 + 0.05) / 2)
    assert payload["data"]["period"] == "2026-Q4"
    assert payload["data"]["report"].endswith("/api/v1/periods/2026-Q4/report?format=html")

    message = slack_message(payload)
    assert "Period 2026-Q4 closed" in message["text"]
    assert "Customers trust our platform*: 0.17 (missed)" in str(message["blocks"])


def test_period_labels_name_quarters_or_their_days() -> None:
    """A quarter's bounds read "2026-Q4"; other periods their first and last day."""
    assert period_label(Q4_START, Q4_END) == "2026-Q4"
    assert period_label(Q4_START, Q4_START + 10 * DAY) == "2026-10-01_2026-10-10"


def test_an_alertmanager_webhook_cannot_take_the_period_event() -> None:
    """Alertmanager takes alerts about Key Results: asking it for a period's close is an error."""
    hook = {
        "name": "am",
        "url": "http://alertmanager.example:9093",
        "format": "alertmanager",
        "events": ["okr.period_closed"],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(document(webhooks=[hook]))
    assert "webhooks[0]" in str(caught.value) and "okr.period_closed" in str(caught.value)


def test_the_schedulers_reevaluation_pass_raises_it(rig: Rig) -> None:
    """The scheduler's periodic re-evaluation is what first sees the period closed."""
    scheduler = SamplingScheduler(rig.tracker)
    rig.clock["now"] = Q4_END - DAY
    scheduler.reevaluate()
    assert not [d for d in rig.deliveries() if d.event_type == PERIOD_CLOSED]
    rig.clock["now"] = Q4_END + 600
    scheduler.reevaluate()
    scheduler.reevaluate()
    closed = [d for d in rig.deliveries() if d.event_type == PERIOD_CLOSED]
    assert [d.webhook for d in closed] == ["ops"]
