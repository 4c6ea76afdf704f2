"""Codecov's API totals, served by a local HTTP server."""

from __future__ import annotations

import math
from typing import Any

import pytest

from connectors.base import (
    NoData,
    QueryRejected,
)
from tests.connectors.coverage.support import measure
from tests.support.loopback import json_reply, needs_header


def test_codecov_totals_give_hits_over_lines(make_connector: Any, start_server: Any) -> None:
    """Codecov's totals give hits/lines, the figure Codecov rounds down to 2 decimals."""
    server = start_server()
    # Shaped after the documented repos_totals_retrieve answer (no recording is stored).
    totals = {
        "files": 8,
        "lines": 42,
        "hits": 25,
        "misses": 15,
        "partials": 2,
        "coverage": 59.52,
        "branches": 14,
        "methods": 6,
        "sessions": 1,
    }
    route = "/api/v2/github/acme/repos/widgets/totals/"
    server.routes[route] = needs_header(
        "Authorization", "Bearer cc-token", json_reply({"totals": totals, "files": []})
    )
    connector = make_connector(codecov_url=server.base, token="cc-token")
    codecov = {"service": "github", "owner": "acme", "repo": "widgets", "branch": "main"}
    result = measure(connector, codecov=codecov)
    assert (result.numerator, result.denominator) == (totals["hits"], totals["lines"])
    assert math.floor(result.value * 100) / 100 == totals["coverage"]
    assert server.seen[0].query == {"branch": ["main"]}
    with pytest.raises(QueryRejected, match="codecov format has no branch"):
        measure(connector, codecov=codecov, metric="branch")


def test_codecov_without_totals_is_no_data(make_connector: Any, start_server: Any) -> None:
    """A branch Codecov has no report for is NoData, not zero."""
    server = start_server()
    server.routes["/api/v2/github/acme/repos/widgets/totals/"] = lambda _: json_reply(
        {"totals": None, "files": []}
    )
    with pytest.raises(NoData, match="no totals"):
        measure(
            make_connector(codecov_url=server.base),
            codecov={"owner": "acme", "repo": "widgets", "branch": "gone"},
        )
