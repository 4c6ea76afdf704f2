"""The Key Result chart's points are reused until the Key Result's row changes, never after."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from app.store.samples import SamplePoint
from app.web.chart_cache import ChartPointsCache
from tests.web.test_pages import HTML, NOW, TOKEN
from tests.web.test_pages import client as client  # the fixture, shared

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_points_are_loaded_once_per_row_version() -> None:
    """Same version: one load; a new version or range: a new load; the size stays bounded."""
    cache = ChartPointsCache(max_entries=2)
    loads: list[int] = []

    def load_for(version: int) -> list[SamplePoint]:
        loads.append(version)
        return [SamplePoint(ts=version, value=1.0, min=1.0, max=1.0, count=1)]

    for version in (1, 1, 2, 2, 1):
        cache.get("kr", version=version, since=0, until=9, load=lambda v=version: load_for(v))
    assert loads == [1, 2]
    cache.get("kr", version=3, since=0, until=9, load=lambda: load_for(3))
    cache.get("kr", version=2, since=0, until=9, load=lambda: load_for(2))  # least recent: evicted
    cache.get("kr", version=3, since=0, until=9, load=lambda: load_for(3))  # kept
    assert loads == [1, 2, 3, 2]
    cache.get("kr", version=None, since=0, until=9, load=lambda: load_for(0))
    cache.get("kr", version=None, since=0, until=9, load=lambda: load_for(0))
    assert loads[-2:] == [0, 0]  # no row stamp: never reused


def test_the_page_shows_a_value_posted_after_it_was_viewed(client: TestClient) -> None:
    """A value stored after the page was rendered is in the chart's data the next time."""

    def chart_values() -> list[float]:
        page = client.get("/key-results/coverage", headers=HTML).text
        block = re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1)
        return json.loads(block)["points"]["value"]

    client.post(
        "/api/v1/key-results/coverage/values",
        json={"value": 70, "at": _iso(NOW - 7200)},
        headers=AUTH,
    )
    assert chart_values() == [70.0]
    assert chart_values() == [70.0]  # served again (from the cache)
    client.post(
        "/api/v1/key-results/coverage/values",
        json={"value": 74, "at": _iso(NOW - 60)},
        headers=AUTH,
    )
    assert chart_values() == [70.0, 74.0]


def _iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
