"""Alertmanager format against a real Alertmanager: a regression fires, the recovery resolves it.

Alertmanager judges `endsAt` by its own wall clock, so these tests run on real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.alerts.alertmanager import alertmanager_url
from app.alerts.delivery import DeliveryWorker
from app.api import create_app
from app.sampling.measure import store_manual_value
from app.store.models import Delivery, KeyResult
from tests.alerts.delivery.support import Rig
from tests.conftest import require_binary
from tests.support import configs
from tests.support.alertmanager_server import RunningAlertmanager, start_alertmanager
from tests.support.waiting import wait_until

KR_TITLE = "Lift checkout conversion from 50% to 150% of baseline"


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAlertmanager]:
    """Run a real Alertmanager on a free loopback port, null receiver, no clustering."""
    binary = require_binary("prometheus-alertmanager")
    server = start_alertmanager(tmp_path_factory.mktemp("alertmanager"), binary=binary)
    yield server
    server.stop()


def config_text(url: str) -> str:
    """Return a config with one manual KR and an alertmanager webhook with a custom header."""
    return configs.text(
        configs.api(public_url="https://okr.example.com"),
        configs.section(
            "alerts",
            for_samples=1,
            regression_threshold="5%",
            allow_private_targets=["127.0.0.1/32"],
        ),
        configs.webhook(
            "am", url, format="alertmanager", headers={"X-Scope-OrgID": "platform"}
        ),
        configs.manual_connector(),
        configs.objective(
            "growth", "Grow revenue",
            team="payments", start=date(2020, 1, 1), end=date(2040, 12, 31),
            key_results=[
                configs.key_result(
                    "checkout-conversion", KR_TITLE,
                    unit="%", direction="increase", baseline=50, target=150,
                )
            ],
        ),
    )


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _deliver_all(worker: DeliveryWorker, rig: Rig) -> list[Delivery]:
    worker.deliver_due()
    with Session(rig.tracker.engine) as session:
        rows = list(session.exec(select(Delivery).order_by(col(Delivery.seq))).all())
    assert [(d.state, d.last_error) for d in rows] == [("delivered", None)] * len(rows)
    return rows


def test_regression_fires_and_recovery_resolves_in_alertmanager(
    tmp_path: Path, alertmanager: RunningAlertmanager
) -> None:
    """A regressed KR shows in Alertmanager with labels and annotations; recovery resolves it."""
    rig = Rig(
        tmp_path, f"sqlite:///{tmp_path / 'k.db'}", config_text(alertmanager.url), now=time.time()
    )
    rig.clock = {"now": time.time()}
    now = int(time.time())
    store_manual_value(rig.tracker, kr_id="checkout-conversion", ts=now - 120, value=100)
    store_manual_value(rig.tracker, kr_id="checkout-conversion", ts=now - 60, value=80)
    rows = _deliver_all(rig.worker, rig)
    regressed = [d for d in rows if d.event_type == "kr.regressed"]
    assert len(regressed) == 1

    [alert] = alertmanager.alerts(alertname="KeyResultRegressed", key_result="checkout-conversion")
    assert alert["labels"] == {
        "alertname": "KeyResultRegressed",
        "objective": "growth",
        "key_result": "checkout-conversion",
        "team": "payments",
        "condition": "regressed",
        "severity": "warning",
    }
    # The link opens the Key Result's page in the dashboard (issue 10), not its JSON.
    link = "https://okr.example.com/key-results/checkout-conversion"
    assert alert["annotations"]["value_vs_target"] == f"{80:g} % vs target {150:g} %"
    assert alert["annotations"]["link"] == link and alert["generatorURL"] == link
    assert KR_TITLE in alert["annotations"]["title"] and alert["annotations"]["status_reason"]
    assert alert["status"]["state"] == "active"
    firing_since = regressed[0].payload["data"]["firing_since"]
    assert _when(alert["startsAt"]) == datetime.fromtimestamp(firing_since, UTC)
    # Default repeat interval 4 h: a firing alert is kept up for two of them.
    assert _when(alert["endsAt"]) == datetime.fromtimestamp(
        regressed[0].created_ts, UTC
    ) + timedelta(hours=8)

    rig.clock["now"] = time.time()
    store_manual_value(rig.tracker, kr_id="checkout-conversion", ts=int(time.time()), value=100)
    rows = _deliver_all(rig.worker, rig)
    assert [d.event_type for d in rows].count("kr.recovered") == 1
    wait_until(
        lambda: not alertmanager.alerts(alertname="KeyResultRegressed"), timeout=10, every=0.1
    )
    assert alertmanager.alerts(alertname="KeyResultRegressed") == [], alertmanager.log_tail()
    rig.close()


def test_test_event_reaches_alertmanager(tmp_path: Path, alertmanager: RunningAlertmanager) -> None:
    """The API's test event is an alert (`KrtrackerTest`) that Alertmanager accepts and shows."""
    token = "write-token-0123456789abcdef"
    text = config_text(f"{alertmanager.url}/api/v2/alerts").replace(
        "[api]\n", f'[api]\ntokens = [{{ name = "t", token = "{token}" }}]\n'
    )
    rig = Rig(tmp_path, f"sqlite:///{tmp_path / 'k.db'}", text, now=time.time())
    with TestClient(create_app(rig.tracker)) as client:
        assert (
            client.post(
                "/api/v1/webhooks/am/test", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 202
        )
    _deliver_all(rig.worker, rig)
    [alert] = alertmanager.alerts(alertname="KrtrackerTest")
    assert alert["labels"]["severity"] == "info" and alert["status"]["state"] == "active"
    rig.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://am:9093", "http://am:9093/api/v2/alerts"),
        ("http://am:9093/", "http://am:9093/api/v2/alerts"),
        (
            "https://proxy.example.com/alertmanager",
            "https://proxy.example.com/alertmanager/api/v2/alerts",
        ),
        ("http://am:9093/api/v2/alerts", "http://am:9093/api/v2/alerts"),
        ("http://am:9093/api/v2/alerts?x=1", "http://am:9093/api/v2/alerts?x=1"),
    ],
)
def test_alertmanager_path_is_appended_once(url: str, expected: str) -> None:
    """The alerts path is appended to a base URL, and not again when the URL ends with it."""
    assert alertmanager_url(url) == expected


def test_status_alert_moves_with_the_status(
    tmp_path: Path, alertmanager: RunningAlertmanager
) -> None:
    """At risk fires `KeyResultStatusChanged`; off track replaces it; on track resolves it."""
    text = config_text(alertmanager.url).replace('id = "checkout-conversion"', 'id = "nps"')
    rig = Rig(tmp_path, f"sqlite:///{tmp_path / 'k.db'}", text, now=time.time())
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2041, 1, 1, tzinfo=UTC)
    expected = (datetime.now(UTC) - start) / (end - start)
    # The documented rule: behind the linear expectation by >10% is at_risk, by >25% off_track.
    steps = [
        (100.0, "on_track"),
        (50 + 100 * (expected - 0.17), "at_risk"),
        (50 + 100 * (expected - 0.30), "off_track"),
        (50 + 100 * expected, "on_track"),
    ]
    now = int(time.time())
    for i, (value, status) in enumerate(steps):
        rig.clock["now"] = time.time()
        store_manual_value(rig.tracker, kr_id="nps", ts=now - 300 + i * 60, value=value)
        _deliver_all(rig.worker, rig)
        assert _status(rig) == status
        shown = {
            a["labels"]["condition"]
            for a in alertmanager.alerts(alertname="KeyResultStatusChanged", key_result="nps")
        }
        assert shown == ({status} if status in ("at_risk", "off_track") else set()), (value, status)
    rig.close()


def _status(rig: Rig) -> str:
    with Session(rig.tracker.engine) as session:
        kr = session.get(KeyResult, "nps")
        assert kr is not None
        return kr.status
