"""End to end: the real `krtracker serve` process on a free port, spoken to over HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, write_config

TOKEN = "e2e-token-0123456789abcdef"
CONFIG = """
[api]
tokens = [{ name = "ci", token = "${KRT_E2E_TOKEN}" }]

[connectors.people]
type = "manual"

[[objectives]]
id = "reliability"
title = "Reliable payments"
team = "payments"
start = 2026-01-01
end = 2030-12-31

[[objectives.key_results]]
id = "p99-latency"
title = "Reduce P99 latency of payment processing by 30%"
unit = "ms"
direction = "decrease"
baseline = 420
target = "-30%"
source = { connector = "people" }
"""


def krtracker_command() -> list[str]:
    """Return the command that runs the installed `krtracker` console script."""
    script = shutil.which("krtracker") or str(Path(sys.executable).parent / "krtracker")
    return [script]


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[str]:
    """Start `krtracker serve` with the config, wait for /readyz, stop it afterwards."""
    config = write_config(tmp_path / "krtracker.toml", CONFIG, database_url=database_url)
    port = free_port()
    env = {**os.environ, "KRT_E2E_TOKEN": TOKEN}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*krtracker_command(), "serve", "--config", str(config), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"krtracker serve exited: {(tmp_path / 'serve.log').read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        pytest.fail("krtracker serve did not become ready in 30 s")
    yield base
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_serve_end_to_end(server: str) -> None:
    """A user sees the KR, is refused without a token, posts a value with one, and sees progress."""
    with httpx.Client(base_url=server, timeout=10) as client:
        objectives = client.get("/api/v1/objectives").json()
        assert objectives[0]["key_results"][0]["target"] == pytest.approx(420 * 0.7)
        refused = client.post("/api/v1/key-results/p99-latency/values", json={"value": 380})
        assert refused.status_code == 401
        posted = client.post("/api/v1/key-results/p99-latency/values", json={"value": 378},
                             headers={"Authorization": f"Bearer {TOKEN}"})
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
        capture_output=True, text=True, env={**os.environ, "KRT_E2E_TOKEN": TOKEN, "COLUMNS": "160"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Reliable payments" in result.stdout
    assert "p99-latency" in result.stdout and "no_data" in result.stdout
