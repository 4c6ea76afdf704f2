"""PostgreSQL restarted under a sampling worker (a private cluster, never the shared one)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.faults.support import live_prometheus
from tests.faults.test_prometheus_outage import config
from tests.faults.test_service_kill import KEY_RESULTS, check_sampled_series, latest_sample
from tests.support.krtracker_server import ServiceProcess
from tests.support.postgres_cluster import PostgresCluster, private_postgres
from tests.support.waiting import wait_until


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """Start a PostgreSQL cluster of this test alone; remove it afterwards."""
    with private_postgres() as running:
        yield running


def test_worker_resumes_after_a_postgres_restart_and_fills_the_gap(
    tmp_path: Path, cluster: PostgresCluster
) -> None:
    """After a PostgreSQL crash-restart the same worker samples again and fills what it missed."""
    prometheus = live_prometheus(tmp_path / "prom")
    url = cluster.url
    text = config(prometheus.url, key_results=KEY_RESULTS).replace(
        "[scheduler]", "[scheduler]\nleader_poll_seconds = 0.5"
    )
    worker = ServiceProcess(
        "worker", write_config(tmp_path / "c.toml", text, database_url=url), tmp_path / "worker.log"
    )
    try:
        worker.start()
        assert wait_until(lambda: latest_sample(url) > 0, timeout=60), worker.log.read_text()[
            -3000:
        ]
        start = latest_sample(url)
        pid = worker.pid
        cluster.stop("immediate")
        time.sleep(5)  # five instants with no database
        cluster.start()
        back = int(time.time())
        assert wait_until(lambda: latest_sample(url) > back + 1, timeout=60), (
            worker.log.read_text()[-3000:]
        )
        assert worker.pid == pid, "the worker was restarted"
        end = latest_sample(url) - 1
        assert wait_until(lambda: _filled(url, prometheus.url, start, end), timeout=30)
        check_sampled_series(url, prometheus.url, start=start, end=end)
    finally:
        worker.stop()
        prometheus.stop()


def _filled(url: str, prometheus_url: str, start: int, end: int) -> bool:
    try:
        check_sampled_series(url, prometheus_url, start=start, end=end)
    except AssertionError:
        return False
    return True
