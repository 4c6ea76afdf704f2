"""deploy/grafana/krtracker.json: every panel's query, against a real Prometheus scraping krtracker.

A `krtracker serve` process is scraped every second by a real Prometheus; each panel's PromQL,
with the dashboard's variables substituted as Grafana would, must return the series the
krtracker API describes, so a renamed metric or label breaks this test.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, require_binary, write_config
from tests.support import configs
from tests.support.krtracker_server import krtracker_command, krtracker_serve
from tests.support.prometheus_server import RunningPrometheus, start_scraping_prometheus
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "krtracker.json"
TOKEN = "grafana-token-0123456789abcdef"


def config_text(closed_port: int) -> str:
    """Return two objectives, one KR fed by a Prometheus that does not answer on `closed_port`."""
    return configs.text(
        configs.api(configs.token("ci", TOKEN)),
        configs.manual_connector(),
        configs.connector("prom", "prometheus", url=f"http://127.0.0.1:{closed_port}"),
        configs.webhook("okr-bot", f"http://127.0.0.1:{closed_port}/hook", format="slack"),
        configs.objective(
            "reliability", "Reliable payments",
            team="payments", start=date(2026, 1, 1), end=date(2030, 12, 31),
            key_results=[
                configs.key_result(
                    "p99-latency", "P99 latency",
                    unit="ms", direction="decrease", baseline=420, target=294,
                ),
                configs.key_result(
                    "availability", "Availability",
                    unit="%", direction="at_least", target=99.9, every="1h",
                    source={"connector": "prom", "query": "avg(up)"},
                ),
            ],
        ),
        configs.objective(
            "growth", "More sign-ups",
            team="sales", start=date(2026, 1, 1), end=date(2030, 12, 31),
            key_results=[
                configs.key_result(
                    "signups", "Weekly sign-ups", direction="increase", baseline=100, target=200
                )
            ],
        ),
    )
SELECTED = {"objective": "reliability", "team": "payments"}
IDENTITY = ("key_result", "status", "webhook", "state")


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace `$name` and `${name}` as Grafana does for a single selected value."""
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: re.escape(values[m.group(1) or m.group(2)]), expr
    )


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[tuple[str, RunningPrometheus]]:
    """Run `krtracker serve` (one sampled error, two manual values, one queued delivery)."""
    require_binary("prometheus")
    config = write_config(
        tmp_path / "krtracker.toml",
        config_text(closed_port=free_port()),
        database_url=f"sqlite:///{tmp_path / 'krtracker.db'}",
    )
    sampled = subprocess.run(
        [*krtracker_command(), "sample", "--config", str(config), "--kr", "availability", "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sampled.returncode == 1 and "availability" in sampled.stdout, sampled.stdout
    # No scheduler: the queued test delivery stays pending, as behind a stuck receiver.
    prometheus: RunningPrometheus | None = None
    with krtracker_serve(config, log=tmp_path / "serve.log", scheduler=False) as server:
        base = server.url
        try:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            for kr, value in (("p99-latency", 378), ("signups", 130)):
                posted = httpx.post(
                    f"{base}/api/v1/key-results/{kr}/values",
                    json={"value": value},
                    headers=auth,
                    timeout=10,
                )
                assert posted.status_code == 201, posted.text
            queued = httpx.post(f"{base}/api/v1/webhooks/okr-bot/test", headers=auth, timeout=10)
            assert queued.status_code == 202, queued.text
            prometheus = start_scraping_prometheus(
                tmp_path / "prometheus", targets=[f"127.0.0.1:{server.port}"]
            )
            yield base, prometheus
        finally:
            if prometheus is not None:
                prometheus.stop()


def _query(prometheus: RunningPrometheus, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]  # type: ignore[no-any-return]


def _wait_for_scrape(prometheus: RunningPrometheus) -> None:
    scraped = wait_until(
        lambda: _query(prometheus, 'krtracker_deliveries{webhook="okr-bot"}'), timeout=30, every=0.5
    )
    assert scraped, prometheus.log_tail()


def _series(result: list[dict[str, Any]]) -> dict[tuple[str, ...], float]:
    out = {}
    for series in result:
        labels = series["metric"]
        if "objective" in labels:
            assert labels["objective"] == SELECTED["objective"], labels
            assert labels["team"] == SELECTED["team"], labels
        key = tuple(labels[name] for name in IDENTITY if name in labels)
        out[key] = float(series["value"][1])
    return out


def _expected(base: str) -> dict[tuple[str, str], dict[tuple[str, ...], Any]]:
    krs = {
        kr["id"]: kr
        for kr in httpx.get(f"{base}/api/v1/key-results", timeout=10).json()
        if kr["objective_id"] == SELECTED["objective"]
    }
    p99, availability = krs["p99-latency"], krs["availability"]
    assert availability["status"] == "error" and p99["current"]["value"] == 378.0
    statuses: dict[tuple[str, ...], Any] = {}
    for kr in krs.values():
        statuses[(kr["status"],)] = statuses.get((kr["status"],), 0) + 1
    pending = httpx.get(
        f"{base}/api/v1/webhooks/okr-bot/deliveries", params={"state": "pending"}, timeout=10
    ).json()["items"]
    # The test delivery, and the alert the failed sample raised.
    assert {d["event_type"] for d in pending} >= {"krtracker.test"}
    approx = pytest.approx
    return {
        ("Progress against expected", "A"): {("p99-latency",): approx(p99["progress"])},
        ("Progress against expected", "B"): {
            (k,): approx(kr["expected_progress"], rel=1e-4)
            for k, kr in krs.items()
            if kr["expected_progress"] is not None
        },
        ("Ahead (+) or behind (-) schedule", "A"): {
            ("p99-latency",): approx(p99["progress"] - p99["expected_progress"], abs=1e-4)
        },
        ("Status", "A"): {(k, kr["status"]): 1.0 for k, kr in krs.items()},
        ("Key Results by status", "A"): statuses,
        ("Current value against target", "A"): {("p99-latency",): 378.0},
        ("Current value against target", "B"): {("p99-latency",): 294.0, ("availability",): 99.9},
        ("Source errors", "A"): {("availability", "error"): 1.0},
        ("Source errors", "B"): {("p99-latency",): approx(60, abs=60)},
        ("Alert outbox: undelivered", "A"): {("okr-bot", "pending"): float(len(pending))},
        ("Alert outbox: oldest pending age", "A"): {("okr-bot",): approx(60, abs=60)},
    }


@pytest.mark.timeout(180)
def test_every_panel_query_returns_the_series_the_api_describes(
    scraped: tuple[str, RunningPrometheus],
) -> None:
    """Each panel's query, variables substituted, gives the expected labels and values."""
    base, prometheus = scraped
    _wait_for_scrape(prometheus)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expected = _expected(base)
    seen = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            key = (panel["title"], target["refId"])
            seen.add(key)
            expr = substitute(target["expr"], SELECTED)
            assert _series(_query(prometheus, expr)) == expected[key], (key, expr)
    assert seen == set(expected), "a panel without expectations, or an expectation without panel"


def test_the_variables_list_teams_and_the_objectives_of_a_team(
    scraped: tuple[str, RunningPrometheus],
) -> None:
    """The team variable lists both teams; the objective variable only the chosen team's."""
    _, prometheus = scraped
    _wait_for_scrape(prometheus)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    answers = {}
    for name in ("team", "objective"):
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variables[name]["query"]["query"])
        assert match, variables[name]
        selector, label = substitute(match.group(1), {"team": "payments"}), match.group(2)
        values = httpx.get(
            f"{prometheus.url}/api/v1/label/{label}/values",
            params={"match[]": selector},
            timeout=10,
        ).json()["data"]
        answers[name] = set(values)
    assert answers == {"team": {"payments", "sales"}, "objective": {"reliability"}}
