"""End to end: the real `krtracker serve` process on a free port, spoken to over HTTP."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from tests.conftest import write_config
from tests.support import configs
from tests.support.krtracker_server import krtracker_command, krtracker_serve

TOKEN = "e2e-token-0123456789abcdef"
CONFIG = configs.text(
    configs.api(configs.token("ci", "${KRT_E2E_TOKEN}")),
    configs.manual_connector(),
    configs.objective(
        "reliability", "Reliable payments",
        team="payments", start=date(2026, 1, 1), end=date(2030, 12, 31),
        key_results=[
            configs.key_result(
                "p99-latency", "Reduce P99 latency of payment processing by 30%",
                unit="ms", direction="decrease", baseline=420, target="-30%",
            )
        ],
    ),
)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[str]:
    """Start `krtracker serve` with the config, wait for /readyz, stop it afterwards."""
    config = write_config(tmp_path / "krtracker.toml", CONFIG, database_url=database_url)
    with krtracker_serve(
        config, log=tmp_path / "serve.log", env={"KRT_E2E_TOKEN": TOKEN}
    ) as running:
        yield running.url


def test_serve_end_to_end(server: str) -> None:
    """A user sees the KR, is refused without a token, posts a value with one, and sees progress."""
    with httpx.Client(base_url=server, timeout=10) as client:
        objectives = client.get("/api/v1/objectives").json()
        assert objectives[0]["key_results"][0]["target"] == pytest.approx(420 * 0.7)
        refused = client.post("/api/v1/key-results/p99-latency/values", json={"value": 380})
        assert refused.status_code == 401
        posted = client.post(
            "/api/v1/key-results/p99-latency/values",
            json={"value": 378},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert posted.status_code == 201, posted.text
        kr = client.get("/api/v1/key-results/p99-latency").json()
        assert kr["current"]["value"] == 378.0
        assert kr["progress"] == pytest.approx((378 - 420) / (294 - 420))
        assert kr["status"] in {"on_track", "at_risk", "off_track"}
        assert "krtracker_key_result_value" in client.get("/metrics").text


def test_status_command_prints_the_table(tmp_path: Path, database_url: str) -> None:
    """`krtracker status` prints each objective and KR with its status."""
    config = write_config(tmp_path / "krtracker.toml", CONFIG, database_url=database_url)
    result = subprocess.run(
        [*krtracker_command(), "status", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "KRT_E2E_TOKEN": TOKEN, "COLUMNS": "160"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Reliable payments" in result.stdout
    assert "p99-latency" in result.stdout and "no_data" in result.stdout
