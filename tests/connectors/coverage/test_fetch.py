"""Where a report comes from: a local path or glob, or a URL on a real local HTTP server."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    ConnectorError,
    NoData,
    QueryRejected,
    RateLimited,
    SourceUnavailable,
)
from tests.conftest import free_port
from tests.connectors.coverage.support import measure
from tests.support.loopback import OMIT_LENGTH, needs_header


def test_url_source_sends_the_configured_header(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """The URL source sends Settings.headers and reads the report the server returns."""
    server = start_server()
    lcov = (shared_fixtures / "coverage/lcov/gcovr-8.6-nested-cpp.lcov").read_bytes()
    server.routes["/reports/coverage.lcov"] = needs_header(
        "X-Api-Key", "k3y-s3cret", (200, {}, lcov)
    )
    connector = make_connector(headers={"X-Api-Key": "k3y-s3cret"})
    result = measure(connector, url=f"{server.base}/reports/coverage.lcov?ref=main")
    assert (result.numerator, result.denominator) == (25, 42)
    assert result.details["url"] == f"{server.base}/reports/coverage.lcov"


def test_url_source_without_credentials_is_rejected(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A 401 answer is QueryRejected, and the reason never carries the secret."""
    server = start_server()
    server.routes["/r.lcov"] = needs_header("Authorization", "Bearer right-token", (200, {}, b""))
    with pytest.raises(QueryRejected, match="HTTP 401") as raised:
        measure(make_connector(token="wrong-token-value"), url=f"{server.base}/r.lcov")
    assert "wrong-token-value" not in raised.value.reason
    assert server.seen[0].headers["Authorization"] == "Bearer wrong-token-value"


def test_url_redirect_to_another_origin_drops_credentials(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A redirect to another origin is followed without the configured secret headers."""
    api, storage = start_server(), start_server()
    body = (shared_fixtures / "coverage/go-coverprofile/gin.out").read_bytes()
    api.routes["/latest"] = lambda _: (302, {"Location": f"{storage.base}/blob/gin.out"}, b"")
    storage.routes["/blob/gin.out"] = lambda _: (200, {}, body)
    result = measure(make_connector(headers={"X-Api-Key": "k3y"}), url=f"{api.base}/latest")
    assert (result.numerator, result.denominator) == (1884, 1900)
    assert api.seen[0].headers["X-Api-Key"] == "k3y"
    assert "X-Api-Key" not in storage.seen[0].headers


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (500, {}, SourceUnavailable),
        (404, {}, QueryRejected),
        (429, {"Retry-After": "60"}, RateLimited),
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1684195041"}, RateLimited),
    ],
)
def test_http_errors_map_to_typed_errors(
    make_connector: Any,
    start_server: Any,
    status: int,
    headers: dict[str, str],
    error: type[ConnectorError],
) -> None:
    """Server errors, missing reports and rate limits raise their own connector errors."""
    server = start_server()
    server.routes["/r"] = lambda _: (status, headers, b"{}")
    with pytest.raises(error):
        measure(make_connector(), url=f"{server.base}/r")


def test_download_over_the_limit_is_stopped(make_connector: Any, start_server: Any) -> None:
    """A body larger than max_report_bytes is refused, whether or not it declares its size."""
    server = start_server()
    big = b"SF:x\n" + b"DA:1,1\n" * 400_000
    server.routes["/declared"] = lambda _: (200, {}, big)
    server.routes["/undeclared"] = lambda _: (200, {OMIT_LENGTH: "1"}, big)
    connector = make_connector(max_report_bytes=1_000_000)
    with pytest.raises(QueryRejected, match="is 2800005 bytes, over the limit"):
        measure(connector, url=f"{server.base}/declared")
    with pytest.raises(QueryRejected, match="over the limit of 1000000 bytes; stopped"):
        measure(connector, url=f"{server.base}/undeclared")


def test_unreachable_url_is_source_unavailable(make_connector: Any) -> None:
    """A connection refused is SourceUnavailable, not a number."""
    url = f"http://127.0.0.1:{free_port()}/coverage.xml"
    with pytest.raises(SourceUnavailable, match="ConnectError"):
        measure(make_connector(timeout_seconds=2), url=url)


def test_glob_takes_the_newest_file(
    shared_fixtures: Path, tmp_path: Path, make_connector: Any
) -> None:
    """Of the files a glob matches, the one with the newest mtime is read."""
    reports = tmp_path / "reports"
    reports.mkdir()
    sources = {
        "a.lcov": "lcov/lcov2-cpp-fnl.lcov",
        "b.lcov": "lcov/gcovr-8.6-nested-cpp.lcov",
        "c.lcov": "lcov/coveragepy-python.lcov",
    }
    for name, source in sources.items():
        shutil.copyfile(shared_fixtures / "coverage" / source, reports / name)
    os.utime(reports / "a.lcov", (1_700_000_000, 1_700_000_000))
    os.utime(reports / "b.lcov", (1_700_000_300, 1_700_000_300))
    os.utime(reports / "c.lcov", (1_700_000_100, 1_700_000_100))
    result = measure(make_connector(), path=str(tmp_path / "**" / "*.lcov"))
    assert result.details["file"] == str(reports / "b.lcov")
    assert result.details["matched_files"] == 3
    assert result.details["file_mtime"] == datetime.fromtimestamp(1_700_000_300, UTC).isoformat()
    assert (result.numerator, result.denominator) == (25, 42)


def test_no_matching_file_is_no_data(tmp_path: Path, make_connector: Any) -> None:
    """A path that matches nothing is NoData naming the pattern."""
    with pytest.raises(NoData, match="no report file matches"):
        measure(make_connector(), path=str(tmp_path / "*.xml"))
