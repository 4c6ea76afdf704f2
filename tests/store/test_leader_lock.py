"""Leader election: two `krtracker worker` processes share one database; exactly one samples."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import require_postgres, write_config
from tests.sampling.test_measure import MetricsSource, config_text
from tests.support.krtracker_server import krtracker_command
from tests.support.waiting import wait_until

LEADER_LINE = "this process is now the scheduler leader"


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start one `krtracker worker` process writing to `log`."""
    return subprocess.Popen(
        [*krtracker_command(), "worker", "--config", str(config)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=dict(os.environ),
    )


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_one_leader_and_takeover(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """Only one of two workers samples; when it is killed the other takes over within an interval."""
    if backend == "postgres":
        require_postgres()
        url = request.getfixturevalue("database_url_postgres")
    else:
        url = f"sqlite:///{tmp_path / 'k.db'}"
    source = MetricsSource()
    # Each request names the instant it samples, so "one leader" is checked per instant exactly.
    text = config_text(source.url, every="2s", query="?at={at_unix}")
    config = write_config(tmp_path / "c.toml", text, database_url=url)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    first = start_worker(config, logs[0])
    try:
        first_led = wait_until(lambda: LEADER_LINE in logs[0].read_text(), timeout=30)
        assert first_led, logs[0].read_text()
        second = start_worker(config, logs[1])
        try:
            time.sleep(6)
            assert LEADER_LINE not in logs[1].read_text()
            # One leader means at most one request per KR per instant.
            per_instant = Counter(path for path, _ in source.requests)
            assert per_instant and max(per_instant.values()) == 1, per_instant
            assert all("?at=" in path for path in per_instant), per_instant
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed_at = time.time()
            second_led = wait_until(lambda: LEADER_LINE in logs[1].read_text(), timeout=15)
            assert second_led, logs[1].read_text()
            assert wait_until(
                lambda: any(t > killed_at + 0.5 for _, t in source.requests), timeout=10
            )
        finally:
            second.terminate()
            second.wait(15)
    finally:
        if first.poll() is None:
            first.kill()
        source.close()


@pytest.fixture
def database_url_postgres(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied."""
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_database)
    return postgres_database
