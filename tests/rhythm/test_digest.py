"""The weekly digest: its figures equal the review API's, and it reaches real receivers.

The period of `tests.api.test_reports` (values, failed attempts and check-ins at known
instants, on SQLite and the real PostgreSQL) is digested at its `NOW`; the outbox rows go
through the real delivery worker to receivers on loopback: a Slack-shaped one that records
the message, and a generic one that verifies the Standard Webhooks signature.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.alerts.delivery import DeliveryWorker
from app.config.delivery import AlertsConfig, DigestConfig, WebhookConfig
from app.core.domain import DIGEST_EVENT
from app.rhythm.digest_schedule import digest_key, enqueue_digest
from app.store.models import Delivery
from tests.alerts.delivery.support import SECRET, Receiver
from tests.api import test_reports as test_api_reports
from tests.api.test_reports import NOW, SINCE, Timeline, _iso

LOOPBACK = AlertsConfig(allow_private_targets=["127.0.0.1/32"])

# The period of values, failed attempts and check-ins that the review tests use.
timeline = test_api_reports.timeline


def _enqueue(t: Timeline, digest: DigestConfig, *, instant: int = NOW) -> int:
    with Session(t.tracker.engine) as session:
        return enqueue_digest(
            session,
            digest,
            instant=instant,
            now_ts=NOW,
            thresholds=t.tracker.thresholds,
            public_url="https://okr.example.com",
            redactor=t.tracker.redactor,
        )


def _payloads(t: Timeline) -> list[dict[str, Any]]:
    with Session(t.tracker.engine) as session:
        rows = session.exec(
            select(Delivery).where(Delivery.event_type == DIGEST_EVENT).order_by(col(Delivery.seq))
        ).all()
        return [r.payload for r in rows]


def _digest(**fields: Any) -> DigestConfig:
    return DigestConfig.model_validate({"name": "weekly", "webhooks": ["hook"], **fields})


def test_digest_figures_equal_the_review_api(timeline: Timeline) -> None:
    """Status changes, movers, missing check-ins and sources are the API's; objectives too."""
    since = f"{(NOW - SINCE) // 86400}d"
    assert _enqueue(timeline, _digest(since=since)) == 1
    (payload,) = _payloads(timeline)
    data = payload["data"]
    review = timeline.client.get("/api/v1/review", params={"since": _iso(SINCE)}).json()
    assert payload["type"] == "okr.digest" and data["since"] == _iso(SINCE)
    assert [
        (c["key_result"]["id"], c["status_then"], c["status_now"]) for c in data["status_changes"]
    ] == [
        (c["key_result"]["id"], c["status_then"], c["status_now"]) for c in review["status_changes"]
    ]
    assert [(m["key_result"]["id"], m["delta"]) for m in data["movers"]] == [
        (m["key_result"]["id"], pytest.approx(m["delta"])) for m in review["movers"]
    ]
    assert {m["key_result"]["id"]: m["key_result"]["owner"] for m in data["missing_check_ins"]} == {
        m["key_result"]["id"]: m["key_result"]["owner"] for m in review["missing_check_ins"]
    }
    assert [(p["key_result"]["id"], p["status"]) for p in data["source_problems"]] == [
        (p["key_result"]["id"], p["status"]) for p in review["source_problems"]
    ]
    assert data["status_changes"] and data["movers"] and data["source_problems"]
    api = {k["id"]: k for k in timeline.client.get("/api/v1/key-results").json()}
    for objective in data["objectives"]:
        scores = [
            min(1.0, max(0.0, api[kr["id"]]["progress"]))
            for kr in objective["key_results"]
            if api[kr["id"]]["progress"] is not None
        ]
        assert objective["progress"] == pytest.approx(sum(scores) / len(scores))
        for kr in objective["key_results"]:
            assert (kr["progress"], kr["status"]) == (
                api[kr["id"]]["progress"],
                api[kr["id"]]["status"],
            )


def test_team_digest_keeps_only_that_team(timeline: Timeline) -> None:
    """A digest for team `delivery` lists its objective and Key Results only."""
    _enqueue(timeline, _digest(teams=["delivery"], since="31d"))
    data = _payloads(timeline)[0]["data"]
    assert [o["id"] for o in data["objectives"]] == ["speed"]
    listed = {
        entry["key_result"]["id"]
        for section in ("status_changes", "movers", "missing_check_ins", "source_problems")
        for entry in data[section]
    }
    assert listed and listed <= {"latency", "deploys"}
    assert data["teams"] == ["delivery"]


def test_two_enqueues_of_one_instant_give_one_delivery(timeline: Timeline) -> None:
    """A second enqueue of the same instant writes nothing; the unique key refuses a copy."""
    digest = _digest()
    assert _enqueue(timeline, digest) == 1
    assert _enqueue(timeline, digest) == 0
    assert _enqueue(timeline, digest, instant=NOW + 7 * 86400) == 1
    assert len(_payloads(timeline)) == 2
    with Session(timeline.tracker.engine) as session:
        row = session.exec(
            select(Delivery).where(Delivery.event_type == DIGEST_EVENT).order_by(col(Delivery.seq))
        ).first()
        assert row is not None and row.idempotency_key == digest_key("weekly", NOW, "hook")
        copy = Delivery(
            **{**row.model_dump(exclude={"seq"}), "event_id": "evt_copy"},
        )
        session.add(copy)
        with pytest.raises(IntegrityError):
            session.commit()


@pytest.fixture
def slack() -> Iterator[Receiver]:
    """Run a Slack-shaped receiver: it records JSON bodies and answers 204."""
    server = Receiver(secret=None)
    yield server
    server.stop()


@pytest.fixture
def generic() -> Iterator[Receiver]:
    """Run a generic receiver that verifies Standard Webhooks signatures."""
    server = Receiver()
    yield server
    server.stop()


def test_digest_reaches_slack_as_a_readable_message_and_generic_signed(
    timeline: Timeline, slack: Receiver, generic: Receiver
) -> None:
    """Slack gets Block Kit sections with the figures; the generic receiver a signed event."""
    hooks = [
        WebhookConfig(name="chat", url=slack.url, format="slack"),
        WebhookConfig(name="signed", url=generic.url, secret=SecretStr(SECRET)),
    ]
    _enqueue(timeline, _digest(webhooks=["chat", "signed"], since="31d"))
    worker = DeliveryWorker(
        timeline.tracker.engine, webhooks=hooks, alerts=LOOPBACK, clock=lambda: NOW
    )
    try:
        assert worker.deliver_due() == 2
    finally:
        worker.stop()
    ((_, message),) = slack.accepted
    ((event_id, event),) = generic.accepted
    assert event["type"] == "okr.digest" and event_id.startswith("dgst_")
    assert event == _payloads(timeline)[1]
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header" and "weekly" in blocks[0]["text"]["text"]
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    for heading in (
        "Status changes",
        "Biggest movers",
        "No check-in in 7 days",
        "Failing or stale",
    ):
        assert f"*{heading}" in text
    assert "*Ship with confidence*" in text and "*Ship faster*" in text
    assert "owner bo" in text and "Increase automated test coverage" in text
    assert "{" not in text  # prose, not a JSON dump
    assert len(blocks) <= 50 and all(len(json.dumps(b)) < 3500 for b in blocks)
    assert "Weekly OKR digest for everyone" in message["text"]


def test_two_processes_enqueueing_one_instant_at_once_give_one_delivery(
    timeline: Timeline,
) -> None:
    """Two concurrent enqueues (own sessions, as two replicas) write one row: the key is unique."""
    digest = _digest()
    start = threading.Barrier(2)
    written: list[int] = []

    def enqueue() -> None:
        start.wait()
        written.append(_enqueue(timeline, digest))

    threads = [threading.Thread(target=enqueue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(written) == [0, 1]
    assert len(_payloads(timeline)) == 1
