"""End to end: a KR regresses in a running `krtracker serve`; a signed webhook arrives."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import httpx

from tests.alerts.delivery.support import SECRET, Receiver
from tests.conftest import write_config
from tests.support import configs
from tests.support.krtracker_server import krtracker_serve
from tests.support.waiting import wait_until

TOKEN = "alerts-e2e-token-0123456789"


def config(receiver_url: str) -> str:
    """Return a config: a manual KR whose regressions go to one signed generic webhook."""
    return configs.text(
        configs.api(configs.token("ci", TOKEN)),
        configs.section("scheduler", leader_poll_seconds=0.5),
        configs.section(
            "alerts",
            for_samples=1,
            regression_threshold="5%",
            allow_private_targets=["127.0.0.1/32"],
        ),
        configs.webhook(
            "okr-bot", receiver_url, format="generic", secret=SECRET, events=["kr.regressed"]
        ),
        configs.manual_connector(),
        configs.objective(
            "quality", "Ship with confidence",
            team="platform", start=date(2026, 1, 1), end=date(2030, 12, 31),
            key_results=[
                configs.key_result(
                    "coverage", "Increase automated test coverage from 60% to 85%",
                    unit="%", direction="increase", baseline=60, target=85,
                )
            ],
        ),
    )


def test_regression_reaches_a_signed_webhook(tmp_path: Path, database_url: str) -> None:
    """Posting a value 10% under the best makes the running service deliver a verified kr.regressed."""
    receiver = Receiver()
    cfg = write_config(tmp_path / "c.toml", config(receiver.url), database_url=database_url)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with krtracker_serve(cfg, log=tmp_path / "serve.log") as server:
            base, port = server.url, server.port
            now = int(time.time())
            for ago, value in ((120, 80.0), (60, 72.0)):  # 10% under the best of 80
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - ago))
                response = httpx.post(
                    f"{base}/api/v1/key-results/coverage/values",
                    json={"value": value, "at": at},
                    headers=auth,
                    timeout=10,
                )
                assert response.status_code == 201, response.text
            wait_until(lambda: receiver.accepted, timeout=20)
            assert receiver.bad_signatures == 0
            assert [p["type"] for _, p in receiver.accepted] == ["kr.regressed"], (
                tmp_path / "serve.log"
            ).read_text()
            event_id, payload = receiver.accepted[0]
            assert event_id.startswith("evt_")
            assert payload["data"]["key_result"]["id"] == "coverage"
            assert payload["data"]["value"] == 72.0
            # The link opens the Key Result's page, which lists the alert it raised.
            assert payload["data"]["link"] == f"http://localhost:{port}/key-results/coverage"
            page = httpx.get(f"{base}/key-results/coverage", timeout=10)
            assert (
                page.headers["content-type"].startswith("text/html") and "kr.regressed" in page.text
            )
            deliveries = httpx.get(f"{base}/api/v1/webhooks/okr-bot/deliveries", timeout=10).json()
            assert [d["state"] for d in deliveries["items"]] == ["delivered"]
    finally:
        receiver.stop()


def test_four_values_within_six_seconds_raise_no_forecast_alert(
    tmp_path: Path, database_url: str
) -> None:
    """Four manual values 2 s apart give no forecast and no kr.forecast_miss, only a regression."""
    receiver = Receiver()
    text = config(receiver.url).replace(
        'events = ["kr.regressed"]', 'events = ["kr.regressed", "kr.forecast_miss", "kr.recovered"]'
    )
    cfg = write_config(tmp_path / "c.toml", text, database_url=database_url)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with krtracker_serve(cfg, log=tmp_path / "serve.log") as server:
            base = server.url
            now = int(time.time())
            # A steep fall: a line through these points misses 85% by far at the deadline.
            for ago, value in ((6, 80.0), (4, 76.0), (2, 72.0), (0, 68.0)):
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - ago))
                response = httpx.post(
                    f"{base}/api/v1/key-results/coverage/values",
                    json={"value": value, "at": at},
                    headers=auth,
                    timeout=10,
                )
                assert response.status_code == 201, response.text
            # The regression (15% under the best) is the control: its delivery shows the rules ran.
            wait_until(lambda: receiver.accepted, timeout=20)
            time.sleep(1.0)
            types = [p["type"] for _, p in receiver.accepted]
            assert "kr.regressed" in types, (tmp_path / "serve.log").read_text()
            assert "kr.forecast_miss" not in types and "kr.recovered" not in types, types
            kr = httpx.get(f"{base}/api/v1/key-results/coverage", timeout=10).json()
            assert kr["forecast"] is None
            assert kr["forecast_unavailable"].startswith(
                "not enough history for a forecast: 4 samples"
            )
    finally:
        receiver.stop()
