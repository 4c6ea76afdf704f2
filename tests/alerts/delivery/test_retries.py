"""Failed tries: exponential backoff with full jitter, giving up, redelivery, 3xx and 410."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.alerts.retry import backoff_ceiling
from app.api import create_app
from app.store.models import WebhookState
from tests.alerts.delivery.support import AUTH, Receiver, Rig, config_text, sqlite_url


def test_failures_back_off_exponentially_then_fail_and_can_be_redelivered(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Waits double from 5 s; after max_retry_age the row is failed, kept and redeliverable."""
    text = config_text(receiver.url, events='["kr.regressed"]')
    rig = Rig(tmp_path, sqlite_url(tmp_path), text, jitter=lambda ceiling: ceiling)
    receiver.mode = "503"
    rig.values("k1", [100, 80])
    [row] = rig.deliveries()
    waits = []
    for _ in range(11):
        rig.worker.deliver_due()
        [row] = rig.deliveries()
        waits.append(row.next_attempt_ts - int(rig.clock["now"]))
        rig.clock["now"] = row.next_attempt_ts
    assert waits == [min(3600, 5 * 2**n) for n in range(11)]
    rig.clock["now"] = row.created_ts + 24 * 3600
    rig.worker.deliver_due()
    [row] = rig.deliveries()
    assert (row.state, row.attempts, row.last_error) == ("failed", 12, "HTTP 503")
    with TestClient(create_app(rig.tracker)) as client:
        page = client.get("/api/v1/webhooks/ops/deliveries").json()
        assert page["items"][0]["state"] == "failed" and len(page["items"][0]["attempts"]) == 12
        assert client.post(f"/api/v1/deliveries/{row.seq}/redeliver").status_code == 401
        again = client.post(f"/api/v1/deliveries/{row.seq}/redeliver", headers=AUTH)
        assert again.status_code == 202 and again.json()["state"] == "pending"
    receiver.mode = "ok"
    rig.worker.deliver_due()
    [row] = rig.deliveries()
    assert row.state == "delivered"
    assert {s.headers["webhook-id"] for s in receiver.seen} == {row.event_id}
    assert [event_id for event_id, _ in receiver.accepted] == [row.event_id]
    rig.close()


def test_full_jitter_stays_within_the_exponential_ceiling(
    tmp_path: Path, receiver: Receiver
) -> None:
    """With the default jitter every wait lies between 1 s and base·2^(n−1) (capped at 1 h)."""
    rig = Rig(tmp_path, sqlite_url(tmp_path), config_text(receiver.url, events='["kr.regressed"]'))
    receiver.mode = "503"
    rig.values("k1", [100, 80])
    for attempt in range(1, 13):
        rig.worker.deliver_due()
        [row] = rig.deliveries()
        wait = row.next_attempt_ts - int(rig.clock["now"])
        assert 1 <= wait <= max(1, min(3600, 5 * 2 ** (attempt - 1))), (attempt, wait)
        assert backoff_ceiling(attempt) == min(3600, 5 * 2 ** (attempt - 1))
        rig.clock["now"] = row.next_attempt_ts
    rig.close()


def test_redirects_are_failures_and_never_followed(tmp_path: Path, receiver: Receiver) -> None:
    """A 302 is recorded as a failed try; the Location is never requested."""
    rig = Rig(tmp_path, sqlite_url(tmp_path), config_text(receiver.url, events='["kr.regressed"]'))
    receiver.mode = "302"
    rig.values("k1", [100, 80])
    rig.worker.deliver_due()
    [row] = rig.deliveries()
    assert (row.state, row.last_status_code, row.attempts) == ("pending", 302, 1)
    assert [(s.method, s.path) for s in receiver.seen] == [("POST", "/hooks")]
    rig.close()


def test_gone_disables_the_webhook_until_enabled(tmp_path: Path, receiver: Receiver) -> None:
    """A 410 disables the endpoint: nothing sent, nothing dropped, until the API enables it."""
    rig = Rig(tmp_path, sqlite_url(tmp_path), config_text(receiver.url, events='["kr.regressed"]'))
    receiver.mode = "410"
    rig.values("k1", [100, 80])
    rig.worker.deliver_due()
    rig.values("k2", [100, 80])
    rig.clock["now"] += 7200
    rig.worker.deliver_due()
    assert len(receiver.seen) == 1
    assert [d.state for d in rig.deliveries()] == ["pending", "pending"]
    with TestClient(create_app(rig.tracker)) as client:
        [hook] = client.get("/api/v1/webhooks").json()
        assert hook["disabled"] is True and "410" in hook["disabled_reason"]
        assert hook["deliveries"]["pending"] == 2
        assert client.post("/api/v1/webhooks/ops/enable", headers=AUTH).json()["disabled"] is False
    receiver.mode = "ok"
    rig.worker.deliver_due()
    assert [d.state for d in rig.deliveries()] == ["delivered", "delivered"]
    with Session(rig.tracker.engine) as session:
        state = session.get(WebhookState, "ops")
        assert state is not None and state.disabled_ts is None
    rig.close()
