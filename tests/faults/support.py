"""Shared helpers for fault tests: a live Prometheus whose history runs past the test.

Processes, polling, the proxy and the private PostgreSQL cluster they use are in tests/support/.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import require_binary
from tests.support.prometheus_server import RunningPrometheus, start_prometheus, synthetic_history

# A gauge of the synthetic history that changes at every one of its steps.
GAUGE = 'queue_depth{queue="emails"}'


def live_prometheus(
    tmp_path: Path, *, past_seconds: int = 120, ahead_seconds: int = 900
) -> RunningPrometheus:
    """Start a real Prometheus whose history runs from a little before now to after the test."""
    now = int(time.time())
    history = synthetic_history(
        end=now + ahead_seconds, duration_seconds=past_seconds + ahead_seconds, step_seconds=1
    )
    return start_prometheus(
        tmp_path,
        openmetrics_text=history.text,
        prometheus=require_binary("prometheus"),
        promtool=require_binary("promtool"),
    )


def prometheus_series(url: str, query: str, *, start: int, end: int) -> dict[int, float]:
    """Ask Prometheus itself for `query` at every second in [start, end] (not through krtracker)."""
    answer = httpx.get(
        f"{url}/api/v1/query_range",
        params={"query": query, "start": start, "end": end, "step": 1},
        timeout=30,
    ).json()
    values: dict[int, float] = {}
    for series in answer["data"]["result"]:
        for stamp, value in series["values"]:
            values[int(stamp)] = float(value)
    return values
