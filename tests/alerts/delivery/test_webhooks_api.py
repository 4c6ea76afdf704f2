"""The webhook API over a real outbox, and what a Slack receiver gets."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.api import create_app
from tests.alerts.delivery.support import AUTH, Receiver, Rig, config_text, sqlite_url


def test_slack_message_has_text_and_blocks(tmp_path: Path) -> None:
    """A Slack webhook receives `text` plus header, fields, reason and link blocks."""
    slack = Receiver(secret=None)
    url = f"http://127.0.0.1:{slack.port}/services/T1/B1/abc"
    rig = Rig(
        tmp_path, sqlite_url(tmp_path), config_text(url, fmt="slack", events='["kr.regressed"]')
    )
    rig.values("k1", [100, 80])
    rig.worker.deliver_due()
    [(_, body)] = slack.accepted
    assert slack.seen[0].path == "/services/T1/B1/abc"
    assert (
        "Key Result regressed: Raise k1 adoption" in body["text"]
        and "80 % vs target 200 %" in body["text"]
    )
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": "Key Result regressed: Raise k1 adoption",
        "emoji": True,
    }
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*Value vs target*\n80 % vs target 200 %" in fields and "*Team*\nplatform" in fields
    assert (
        body["blocks"][3]["elements"][0]["text"]
        == "<https://okr.example.com/key-results/k1|Open the Key Result>"
    )
    rig.close()
    slack.stop()


def test_api_lists_alerts_webhooks_and_sends_a_test_event(
    tmp_path: Path, receiver: Receiver
) -> None:
    """GET /alerts shows the firing condition; /webhooks counts; /test goes out signed."""
    rig = Rig(tmp_path, sqlite_url(tmp_path), config_text(receiver.url, events='["kr.regressed"]'))
    rig.values("k1", [100, 80])
    rig.values("k2", [100, 98])
    with TestClient(create_app(rig.tracker)) as client:
        [alert] = client.get("/api/v1/alerts").json()
        assert alert["key_result_id"] == "k1" and alert["title"] == "Raise k1 adoption"
        assert [(c["condition"], c["state"]) for c in alert["conditions"]] == [
            ("regressed", "firing")
        ]
        assert client.get("/api/v1/alerts", params={"state": "pending"}).json() == []
        assert client.post("/api/v1/webhooks/ops/test").status_code == 401
        queued = client.post("/api/v1/webhooks/ops/test", headers=AUTH)
        assert queued.status_code == 202 and queued.json()["event_type"] == "krtracker.test"
        assert client.post("/api/v1/webhooks/nope/test", headers=AUTH).status_code == 404
        rig.worker.deliver_due()
        [hook] = client.get("/api/v1/webhooks").json()
        assert hook["deliveries"] == {"pending": 0, "sending": 0, "delivered": 2, "failed": 0}
        assert hook["url"] == receiver.url and "secret" not in hook
        first = client.get("/api/v1/webhooks/ops/deliveries", params={"limit": 1}).json()
        assert (
            first["items"][0]["event_type"] == "krtracker.test" and first["next_before"] is not None
        )
        second = client.get(
            "/api/v1/webhooks/ops/deliveries", params={"limit": 1, "before": first["next_before"]}
        ).json()
        assert second["items"][0]["event_type"] == "kr.regressed" and second["next_before"] is None
        assert client.get("/api/v1/webhooks/nope/deliveries").status_code == 404
    # Different (webhook, Key Result) pairs go out in parallel: no order between them.
    assert sorted(p["type"] for _, p in receiver.accepted) == ["kr.regressed", "krtracker.test"]
    assert receiver.bad_signatures == 0
    rig.close()
