"""The Prometheus connector against a real Prometheus loaded with known history."""

from __future__ import annotations

import base64
import json
import math
import ssl
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from connectors.base import (
    AmbiguousResult,
    NoData,
    QueryRejected,
    RateLimited,
    SourceUnavailable,
)
from connectors.prometheus import PrometheusConnector, PrometheusQuery, PrometheusSettings
from tests.conftest import require_binary
from tests.support.prometheus_server import (
    COVERAGE,
    LATENCY_BUCKETS,
    NIGHTLY,
    RunningPrometheus,
    SyntheticHistory,
    start_prometheus,
    synthetic_history,
)
from tests.support.waiting import wait_until

P99 = (
    "histogram_quantile(0.99, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{service="payments"}[5m])))'
)
Connect = Callable[..., PrometheusConnector]


def utc(seconds: float) -> datetime:
    """Return the UTC datetime of unix `seconds`."""
    return datetime.fromtimestamp(seconds, UTC)


def instant(url: str, query: str, at: float) -> dict[str, Any]:
    """Ask Prometheus directly (plain httpx): the independent truth for the connector."""
    return httpx.get(f"{url}/api/v1/query", params={"query": query, "time": str(at)}).json()


def only_value(body: dict[str, Any]) -> float:
    """Return the single value of a scalar or one-series vector answer."""
    data = body["data"]
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    (series,) = data["result"]
    return float(series["value"][1])


def query_range(url: str, query: str, *, start: float, end: float, step: int) -> httpx.Response:
    """Run a range query directly against Prometheus."""
    params = {"query": query, "start": str(start), "end": str(end), "step": str(step)}
    return httpx.get(f"{url}/api/v1/query_range", params=params, timeout=30)


@dataclass
class Seen:
    """One request the recording server received."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


class Recorder(ThreadingHTTPServer):
    """A loopback server that records requests, plays scripted answers, forwards the rest."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.seen: list[Seen] = []
        self.scripted: list[tuple[int, dict[str, str], bytes]] = []
        self.warnings: list[str] = []
        self.delay_seconds = 0.0
        self.open_connections = 0
        self.lock = threading.Lock()
        self.scheme = "http"

    @property
    def url(self) -> str:
        """Return the base URL clients should use."""
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def range_requests(self) -> list[Seen]:
        """Return the recorded range queries."""
        return [seen for seen in self.seen if seen.path == "/api/v1/query_range"]


class RecordingHandler(BaseHTTPRequestHandler):
    """Record the request, then answer from the script or from Prometheus."""

    protocol_version = "HTTP/1.1"
    server: Recorder

    def setup(self) -> None:
        """Count the connection as open."""
        super().setup()
        with self.server.lock:
            self.server.open_connections += 1

    def finish(self) -> None:
        """Count the connection as closed."""
        super().finish()
        with self.server.lock:
            self.server.open_connections -= 1

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        """Record, wait if asked, then answer."""
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.seen.append(Seen(split.path, dict(parse_qsl(split.query)), headers))
        time.sleep(self.server.delay_seconds)
        if self.server.scripted:
            status, extra, body = self.server.scripted.pop(0)
        else:
            answer = self.server.upstream.get(self.path)
            status, body = answer.status_code, answer.content
            extra = {"Content-Type": answer.headers["content-type"]}
            if self.server.warnings and status == 200:
                document = json.loads(body)
                document["warnings"] = self.server.warnings
                body = json.dumps(document).encode()
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # The client gave up waiting (timeout tests).

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""


def serve(server: Recorder) -> Iterator[Recorder]:
    """Run `server` in a thread for the duration of a fixture."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    server.upstream.close()


@pytest.fixture(scope="module")
def history() -> SyntheticHistory:
    """Generate four hours of known history ending ten minutes ago."""
    return synthetic_history()


@pytest.fixture(scope="module")
def prometheus(
    history: SyntheticHistory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPrometheus]:
    """Start a real Prometheus serving `history`."""
    server = start_prometheus(
        tmp_path_factory.mktemp("prometheus"),
        openmetrics_text=history.text,
        prometheus=require_binary("prometheus"),
        promtool=require_binary("promtool"),
    )
    yield server
    server.stop()


@pytest.fixture
def recorder(prometheus: RunningPrometheus) -> Iterator[Recorder]:
    """Put a recording server in front of `prometheus`."""
    yield from serve(Recorder(prometheus.url))


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Build connectors from settings keywords and close them after the test."""
    made: list[PrometheusConnector] = []

    def make(url: str, **settings: Any) -> PrometheusConnector:
        made.append(PrometheusConnector(PrometheusSettings(url=url, **settings)))
        return made[-1]

    yield make
    for connector in made:
        connector.close()


REQUEST_RATE = 'sum(rate(http_request_duration_seconds_count{service="payments"}[5m]))'
DEPLOYS = 'increase(deployments_total{service="payments"}[1h])'
SCALAR = "scalar(sum(rate(http_request_duration_seconds_count[5m])))"
RATES = "rate(http_request_duration_seconds_count[5m])"


@pytest.mark.parametrize("offset", [0, -3600 + 7.5], ids=["at-a-sample", "between-samples"])
@pytest.mark.parametrize(
    ("query", "reduce", "reference"),
    [
        (P99, None, P99),
        (REQUEST_RATE, None, REQUEST_RATE),
        (DEPLOYS, None, DEPLOYS),
        (SCALAR, None, SCALAR),
        ("queue_depth", "sum", "sum(queue_depth)"),
        ("queue_depth", "max", "max(queue_depth)"),
        ("queue_depth", "min", "min(queue_depth)"),
        (RATES, "sum", f"sum({RATES})"),
    ],
)
def test_value_equals_prometheus_answer(
    prometheus: RunningPrometheus,
    history: SyntheticHistory,
    connect: Connect,
    query: str,
    reduce: Literal["sum", "max", "min"] | None,
    reference: str,
    offset: float,
) -> None:
    """The measured value is exactly what Prometheus answers for that query at that instant."""
    at = history.end + offset
    measured = connect(prometheus.url).measure(PrometheusQuery(query=query, reduce=reduce), utc(at))
    expected = only_value(instant(prometheus.url, reference, at))
    assert math.isfinite(expected)
    assert measured.value == expected
    assert measured.at == utc(at)


def test_avg_is_the_mean_of_the_series(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """`reduce = "avg"` gives the mean of the series Prometheus returns."""
    series = instant(prometheus.url, "queue_depth", history.end)["data"]["result"]
    expected = statistics.fmean(float(s["value"][1]) for s in series)
    query = PrometheusQuery(query="queue_depth", reduce="avg")
    measured = connect(prometheus.url).measure(query, utc(history.end))
    assert measured.value == expected
    assert measured.value == pytest.approx(
        only_value(instant(prometheus.url, "avg(queue_depth)", history.end))
    )


@pytest.mark.parametrize("after_sample", [0, 7, 299])
def test_gauge_equals_the_written_number(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect, after_sample: int
) -> None:
    """A gauge reads back as the exact number last written at or before the instant."""
    at = history.end - 1800 + after_sample
    written = history.gauges[COVERAGE][at - (at - history.start) % history.step_seconds]
    measured = connect(prometheus.url).measure(PrometheusQuery(query=COVERAGE), utc(at))
    assert measured.value == written
    assert float(measured.details["value_text"]) == written
    assert measured.details["series"] == [
        {"__name__": "test_coverage_ratio", "repo": "payments-api"}
    ]
    assert measured.details["query"] == COVERAGE
    assert measured.details["evaluated_at"] == utc(at).isoformat()


@pytest.mark.parametrize(
    ("query", "offset"),
    [('test_coverage_ratio{repo="nope"}', 0), (NIGHTLY, 0)],
    ids=["no-such-series", "series-ended"],
)
def test_empty_result_is_no_data(
    prometheus: RunningPrometheus,
    history: SyntheticHistory,
    connect: Connect,
    query: str,
    offset: int,
) -> None:
    """A query that matches no series raises NoData saying so."""
    with pytest.raises(NoData, match="returned no series") as error:
        connect(prometheus.url).measure(PrometheusQuery(query=query), utc(history.end + offset))
    assert query in error.value.reason


@pytest.mark.parametrize(("query", "shown"), [("0/0", "NaN"), ("1/0", "+Inf"), ("-1/0", "-Inf")])
def test_non_finite_scalar_is_no_data(
    prometheus: RunningPrometheus,
    history: SyntheticHistory,
    connect: Connect,
    query: str,
    shown: str,
) -> None:
    """NaN and infinities never become values: they raise NoData naming what came back."""
    with pytest.raises(NoData) as error:
        connect(prometheus.url).measure(PrometheusQuery(query=query), utc(history.end))
    assert f"returned {shown} for" in error.value.reason


def test_nan_sample_is_no_data(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """A NaN written into a series reads as NoData, not as a number."""
    nan_at = next(t for t, v in history.gauges[NIGHTLY].items() if math.isnan(v))
    with pytest.raises(NoData, match="returned NaN"):
        connect(prometheus.url).measure(PrometheusQuery(query=NIGHTLY), utc(nan_at))


def test_several_series_are_ambiguous(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """Two series without `reduce` raise AmbiguousResult naming both label sets."""
    with pytest.raises(AmbiguousResult) as error:
        connect(prometheus.url).measure(PrometheusQuery(query="queue_depth"), utc(history.end))
    assert "2 series" in error.value.reason
    assert 'queue_depth{queue="emails"}' in error.value.reason
    assert 'queue_depth{queue="webhooks"}' in error.value.reason


def test_ambiguity_lists_at_most_three_label_sets(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """With many series the message shows three label sets and counts the rest."""
    buckets = len(LATENCY_BUCKETS) + 1
    query = PrometheusQuery(query='http_request_duration_seconds_bucket{service="payments"}')
    with pytest.raises(AmbiguousResult) as error:
        connect(prometheus.url).measure(query, utc(history.end))
    assert f"{buckets} series" in error.value.reason
    assert f"and {buckets - 3} more" in error.value.reason
    assert error.value.reason.count("_bucket{le=") == 3


def test_bad_promql_is_rejected_with_prometheus_message(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """Bad PromQL raises QueryRejected carrying Prometheus's own error message."""
    bad = "sum(rate(deployments_total[5m])"
    message = instant(prometheus.url, bad, history.end)["error"]
    with pytest.raises(QueryRejected) as error:
        connect(prometheus.url).measure(PrometheusQuery(query=bad), utc(history.end))
    assert message in error.value.reason
    assert bad in error.value.reason


@pytest.mark.parametrize("query", [f"{COVERAGE}[5m]", '"a string"'])
def test_range_vector_and_string_are_rejected(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect, query: str
) -> None:
    """A matrix or string result raises QueryRejected asking for an instant vector or scalar."""
    with pytest.raises(QueryRejected, match="an instant vector or a scalar is needed"):
        connect(prometheus.url).measure(PrometheusQuery(query=query), utc(history.end))


def test_wrong_path_is_rejected(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """A url with a wrong path prefix raises QueryRejected with the HTTP status."""
    connector = connect(f"{prometheus.url}/not-prometheus")
    with pytest.raises(QueryRejected, match="unexpected HTTP 404"):
        connector.measure(PrometheusQuery(query=COVERAGE), utc(history.end))


def test_killed_prometheus_is_unavailable_until_restarted(tmp_path: Path, connect: Connect) -> None:
    """A killed Prometheus raises SourceUnavailable quickly; after a restart values flow again."""
    small = synthetic_history(duration_seconds=1800)
    server = start_prometheus(
        tmp_path,
        openmetrics_text=small.text,
        prometheus=require_binary("prometheus"),
        promtool=require_binary("promtool"),
    )
    try:
        connector = connect(server.url)
        query, at = PrometheusQuery(query=COVERAGE), utc(small.end)
        assert connector.measure(query, at).value == small.gauges[COVERAGE][small.end]
        server.kill()
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="after 3 attempts") as error:
            connector.measure(query, at)
        assert time.monotonic() - started < 5
        assert COVERAGE in error.value.reason
        server.restart()
        assert connector.measure(query, at).value == small.gauges[COVERAGE][small.end]
    finally:
        server.stop()


def test_read_timeout_is_unavailable_without_retry(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """A server slower than `timeout_seconds` raises SourceUnavailable once, without retrying."""
    recorder.delay_seconds = 2
    connector = connect(recorder.url, timeout_seconds=0.3, retries=2)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="did not answer within 0.3 s"):
        connector.measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert time.monotonic() - started < 1.5
    assert len(recorder.seen) == 1


def _prometheus_error(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {"status": "error", "errorType": "internal", "error": message}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def test_server_errors_are_retried(
    prometheus: RunningPrometheus, recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """HTTP 5xx answers are retried, and the answer after them is used."""
    recorder.scripted = [_prometheus_error(503, "restarting"), _prometheus_error(500, "oops")]
    measured = connect(recorder.url, retries=2).measure(
        PrometheusQuery(query=P99), utc(history.end)
    )
    assert measured.value == only_value(instant(prometheus.url, P99, history.end))
    assert len(recorder.seen) == 3


def test_server_errors_exhaust_retries(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """When every try answers 5xx the error is SourceUnavailable with Prometheus's message."""
    recorder.scripted = [_prometheus_error(503, "still restarting")] * 2
    with pytest.raises(SourceUnavailable, match="after 2 attempts") as error:
        connect(recorder.url, retries=1).measure(PrometheusQuery(query=P99), utc(history.end))
    assert "HTTP 503" in error.value.reason and "still restarting" in error.value.reason
    assert len(recorder.seen) == 2


def test_rejected_query_is_not_retried(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """A 400 from Prometheus is final: one request, QueryRejected."""
    with pytest.raises(QueryRejected, match="bad_data"):
        connect(recorder.url).measure(PrometheusQuery(query="sum("), utc(history.end))
    assert len(recorder.seen) == 1


def test_http_429_is_rate_limited(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """HTTP 429 raises RateLimited until the moment its Retry-After names, without retrying."""
    recorder.scripted = [(429, {"Retry-After": "120"}, b"slow down")]
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as error:
        connect(recorder.url).measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert error.value.until is not None
    assert before + timedelta(seconds=119) <= error.value.until <= before + timedelta(seconds=122)
    assert len(recorder.seen) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_rejected(
    recorder: Recorder, history: SyntheticHistory, connect: Connect, status: int
) -> None:
    """HTTP 401/403 raise QueryRejected asking to check credentials, never echoing them."""
    recorder.scripted = [(status, {}, b"denied")]
    connector = connect(recorder.url, bearer_token="s3cret-token-value")
    with pytest.raises(QueryRejected, match="check credentials") as error:
        connector.measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert "s3cret-token-value" not in error.value.reason
    assert "s3cret-token-value" not in repr(connector.settings)


def test_answer_that_is_not_prometheus_json_is_rejected(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """A 200 answer that is not the Prometheus API (a login page) raises QueryRejected."""
    recorder.scripted = [(200, {"Content-Type": "text/html"}, b"<html>login</html>")]
    with pytest.raises(QueryRejected, match="not Prometheus API JSON"):
        connect(recorder.url).measure(PrometheusQuery(query=COVERAGE), utc(history.end))


def test_warnings_are_kept_in_details(
    prometheus: RunningPrometheus, recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """Warnings Prometheus attaches to an answer are stored in the measurement's details."""
    recorder.warnings = ["partial response: store eu-1 unreachable"]
    measured = connect(recorder.url).measure(PrometheusQuery(query=P99), utc(history.end))
    assert measured.details["warnings"] == ["partial response: store eu-1 unreachable"]
    assert measured.value == only_value(instant(prometheus.url, P99, history.end))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("settings", "header", "expected"),
    [
        ({"bearer_token": "tok-123"}, "authorization", "Bearer tok-123"),
        (
            {"username": "alice", "password": "pa55 word"},
            "authorization",
            _basic("alice", "pa55 word"),
        ),
        ({"headers": {"X-Scope-OrgID": "team-payments"}}, "x-scope-orgid", "team-payments"),
    ],
    ids=["bearer", "basic", "custom-header"],
)
def test_credentials_and_headers_are_sent(
    prometheus: RunningPrometheus,
    recorder: Recorder,
    history: SyntheticHistory,
    connect: Connect,
    settings: dict[str, Any],
    header: str,
    expected: str,
) -> None:
    """Bearer token, basic auth and custom headers reach the server on every request."""
    connector = connect(recorder.url, **settings)
    measured = connector.measure(PrometheusQuery(query=P99), utc(history.end))
    connector.history(
        PrometheusQuery(query=P99),
        start=utc(history.end - 600),
        end=utc(history.end),
        step_seconds=60,
    )
    assert measured.value == only_value(instant(prometheus.url, P99, history.end))
    assert len(recorder.seen) == 2
    assert all(seen.headers.get(header) == expected for seen in recorder.seen)


def test_no_authorization_without_credentials(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """Without credentials no Authorization header is sent."""
    connect(recorder.url).measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert "authorization" not in recorder.seen[0].headers


def test_time_is_always_sent(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """Instant queries carry the evaluation time with millisecond precision."""
    at = utc(history.end) + timedelta(microseconds=1_234_567)
    connect(recorder.url).measure(PrometheusQuery(query=COVERAGE), at)
    assert recorder.seen[0].params["time"] == f"{history.end + 1}.234"


def test_close_closes_the_connection(
    recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """close() ends the kept-alive HTTP connection."""
    connector = connect(recorder.url)
    connector.measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert recorder.open_connections == 1
    connector.close()
    wait_until(lambda: recorder.open_connections == 0, timeout=2, every=0.01)
    assert recorder.open_connections == 0


def _written_at(history: SyntheticHistory, selector: str, at: int) -> float | None:
    """Return what Prometheus should see at `at`: the latest sample within its 5 m lookback."""
    for stamp in range(
        at - (at - history.start) % history.step_seconds, at - 300, -history.step_seconds
    ):
        if stamp in history.gauges[selector]:
            return history.gauges[selector][stamp]
    return None


def test_history_in_small_chunks_matches_query_range(
    prometheus: RunningPrometheus, recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """Chunked history equals one Prometheus range query: same steps, same values, in order."""
    start, end, step = history.end - 1800 + 3, history.end, 60
    connector = connect(recorder.url)
    connector.max_points_per_chunk = 7
    got = connector.history(
        PrometheusQuery(query=P99), start=utc(start), end=utc(end), step_seconds=step
    )
    answer = query_range(prometheus.url, P99, start=start, end=end, step=step)
    (series,) = answer.json()["data"]["result"]
    assert [(m.at, m.value) for m in got] == [(utc(t), float(v)) for t, v in series["values"]]
    assert len(got) == 30
    assert all((m.at - utc(start)) % timedelta(seconds=step) == timedelta(0) for m in got)
    chunks = recorder.range_requests()
    assert len(chunks) == 5
    for chunk in chunks:
        points = (float(chunk.params["end"]) - float(chunk.params["start"])) / step + 1
        assert points <= 7


@pytest.mark.parametrize(("points", "requests"), [(11_000, 1), (11_001, 2), (12_001, 2)])
def test_history_beyond_the_point_limit_is_chunked(
    prometheus: RunningPrometheus,
    recorder: Recorder,
    history: SyntheticHistory,
    connect: Connect,
    points: int,
    requests: int,
) -> None:
    """Ranges past Prometheus's 11,000 points per series are split and read back exactly."""
    start, end = history.end - (points - 1), history.end
    if points > 11_001:
        refused = query_range(prometheus.url, COVERAGE, start=start, end=end, step=1)
        assert refused.status_code == 400 and "11,000 points" in refused.text
    got = connect(recorder.url).history(
        PrometheusQuery(query=COVERAGE), start=utc(start), end=utc(end), step_seconds=1
    )
    assert [m.at for m in got] == [utc(t) for t in range(start, end + 1)]
    assert [m.value for m in got] == [
        _written_at(history, COVERAGE, t) for t in range(start, end + 1)
    ]
    assert len(recorder.range_requests()) == requests


def test_history_skips_nan_and_missing_steps(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """Steps whose value is NaN or that have no sample are left out, the rest kept in order."""
    start, step = history.start + 7, history.step_seconds
    grid = range(start, history.end + 1, step)
    expected = [
        (utc(t), value)
        for t in grid
        if (value := _written_at(history, NIGHTLY, t)) is not None and not math.isnan(value)
    ]
    got = connect(prometheus.url).history(
        PrometheusQuery(query=NIGHTLY), start=utc(start), end=utc(history.end), step_seconds=step
    )
    assert [(m.at, m.value) for m in got] == expected
    assert 0 < len(expected) < len(grid) / 2


def test_history_with_several_series_needs_reduce(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """Several series raise AmbiguousResult in history too; with `reduce` they are combined."""
    start, end, step = history.end - 3600, history.end, 300
    connector = connect(prometheus.url)
    with pytest.raises(AmbiguousResult, match='queue="emails"'):
        connector.history(
            PrometheusQuery(query="queue_depth"), start=utc(start), end=utc(end), step_seconds=step
        )
    got = connector.history(
        PrometheusQuery(query="queue_depth", reduce="sum"),
        start=utc(start),
        end=utc(end),
        step_seconds=step,
    )
    answer = query_range(prometheus.url, "sum(queue_depth)", start=start, end=end, step=step)
    (series,) = answer.json()["data"]["result"]
    assert [(m.at, m.value) for m in got] == [(utc(t), float(v)) for t, v in series["values"]]
    assert got[0].details["series_count"] == 2


def test_history_of_an_empty_range_is_empty(
    prometheus: RunningPrometheus, history: SyntheticHistory, connect: Connect
) -> None:
    """An end before the start gives no measurements and sends no query."""
    got = connect(prometheus.url).history(
        PrometheusQuery(query=COVERAGE),
        start=utc(history.end),
        end=utc(history.end - 60),
        step_seconds=15,
    )
    assert got == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Make a self-signed certificate for 127.0.0.1 and its key with openssl."""
    openssl = require_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_recorder(
    prometheus: RunningPrometheus, certificate: tuple[Path, Path]
) -> Iterator[Recorder]:
    """Put a recording HTTPS server, with the self-signed certificate, in front of `prometheus`."""
    server = Recorder(prometheus.url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.scheme = "https"
    yield from serve(server)


def test_tls_with_ca_bundle(
    prometheus: RunningPrometheus,
    tls_recorder: Recorder,
    history: SyntheticHistory,
    connect: Connect,
    certificate: tuple[Path, Path],
) -> None:
    """A server certificate signed by `ca_bundle` is trusted."""
    connector = connect(tls_recorder.url, ca_bundle=str(certificate[0]))
    measured = connector.measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert measured.value == history.gauges[COVERAGE][history.end]


def test_tls_untrusted_certificate_is_unavailable(
    tls_recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """A certificate the system does not trust raises SourceUnavailable naming the cause."""
    with pytest.raises(SourceUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        connect(tls_recorder.url, retries=0).measure(
            PrometheusQuery(query=COVERAGE), utc(history.end)
        )


def test_tls_verification_can_be_turned_off(
    tls_recorder: Recorder, history: SyntheticHistory, connect: Connect
) -> None:
    """`verify_tls = false` accepts any certificate."""
    connector = connect(tls_recorder.url, verify_tls=False)
    measured = connector.measure(PrometheusQuery(query=COVERAGE), utc(history.end))
    assert measured.value == history.gauges[COVERAGE][history.end]


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "prometheus:9090"},
        {"url": "ftp://prometheus"},
        {"url": "http://alice:secret@prometheus:9090"},
        {"url": "http://prometheus:9090", "username": "alice"},
        {"url": "http://prometheus:9090", "password": "secret"},
        {"url": "http://p:9090", "bearer_token": "t", "username": "a", "password": "b"},
        {"url": "http://p:9090", "bearer_token": "t", "headers": {"Authorization": "Basic x"}},
        {"url": "http://p:9090", "ca_bundle": "/nonexistent/ca.pem"},
        {"url": "http://p:9090", "timeout_seconds": 0},
        {"url": "http://p:9090", "retries": -1},
        {"url": "http://p:9090", "token": "unknown key"},
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, Any]) -> None:
    """Settings that cannot work are refused when the config is loaded."""
    with pytest.raises(ValidationError):
        PrometheusSettings.model_validate(settings)


def test_ca_bundle_without_verification_is_refused(certificate: tuple[Path, Path]) -> None:
    """A CA bundle together with `verify_tls = false` is a contradiction and refused."""
    with pytest.raises(ValidationError, match="ca_bundle"):
        PrometheusSettings(url="https://p:9090", verify_tls=False, ca_bundle=certificate[0])


@pytest.mark.parametrize(
    "fields", [{"query": ""}, {"query": "up", "reduce": "median"}, {"query": "up", "step": "1m"}]
)
def test_invalid_query_is_refused(fields: dict[str, Any]) -> None:
    """An empty query, an unknown reducer or an unknown key is refused."""
    with pytest.raises(ValidationError):
        PrometheusQuery.model_validate(fields)


def test_settings_keep_the_url_base_and_hide_secrets() -> None:
    """A trailing slash is dropped from the url; secrets do not appear in the settings' repr."""
    settings = PrometheusSettings.model_validate(
        {"url": "https://mimir.example/prometheus/", "username": "alice", "password": "pa55-word"}
    )
    assert settings.url == "https://mimir.example/prometheus"
    assert "pa55-word" not in repr(settings)
