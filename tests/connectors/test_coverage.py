"""Specification of the coverage connector: real reports, real tools, real local HTTP servers."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from connectors.base import (
    AmbiguousResult,
    ConnectorError,
    NoData,
    QueryRejected,
    RateLimited,
    SourceUnavailable,
)
from connectors.coverage import CoverageConnector, CoverageQuery, CoverageSettings
from tests.conftest import free_port

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SAMPLE_PKG = Path(__file__).parent / "coverage_sample_pkg"

# Where each format's fixtures live under shared/fixtures/coverage/.
FOLDER = {
    "cobertura": "cobertura",
    "lcov": "lcov",
    "jacoco": "jacoco",
    "coveragepy_json": "coveragepy-json",
    "clover": "clover",
    "go": "go-coverprofile",
}

# Every figure below is copied from shared/fixtures/SOURCES.md, section B ("Stated overall
# coverage"): (format, file, metric, covered, total).
STATED = [
    ("cobertura", "coveragepy-6.2-branch.xml", "line", 1565, 1759),
    ("cobertura", "coveragepy-6.2-branch.xml", "branch", 361, 436),
    ("cobertura", "coveragepy-6.3.2.xml", "line", 489, 1530),
    ("cobertura", "coveragepy-7.14.1-small-branch.xml", "line", 8, 8),
    ("cobertura", "coveragepy-7.14.1-small-branch.xml", "branch", 2, 4),
    ("cobertura", "coveragepy-5.0a2-gold.xml", "line", 2, 3),
    ("cobertura", "simplecov-cobertura-ruby.xml", "line", 350, 362),
    ("cobertura", "gcovr-5.0-c-redis-ipc.xml", "line", 345, 572),
    ("cobertura", "gcovr-5.0-c-redis-ipc.xml", "branch", 100, 252),
    ("cobertura", "matlab-cobertura.xml", "line", 103, 278),
    ("cobertura", "istanbul-coffeescript.xml", "line", 7, 8),
    ("cobertura", "cobertura-1.9-java-mvn-example.xml", "line", 27, 30),
    ("cobertura", "gcovr-8.6-nested-cpp.xml", "line", 25, 42),
    ("cobertura", "gcovr-8.6-nested-cpp.xml", "branch", 4, 14),
    ("lcov", "coveragepy-python.lcov", "line", 45, 45),
    ("lcov", "istanbul-typescript.lcov", "line", 16, 16),
    ("lcov", "istanbul-typescript.lcov", "branch", 11, 11),
    ("lcov", "lcov2-cpp-fnl.lcov", "line", 27, 28),
    ("lcov", "llvm-cov-swift.info", "line", 0, 400),
    ("lcov", "gcovr-8.6-nested-cpp.lcov", "line", 25, 42),
    ("jacoco", "jacoco-playground.xml", "line", 12, 27),
    ("jacoco", "jacoco-playground.xml", "branch", 2, 6),
    ("jacoco", "jacoco-playground.xml", "statement", 43, 122),
    ("jacoco", "jacoco-maven-example.xml", "line", 3, 8),
    ("jacoco", "jacoco-oneline.xml", "line", 5, 6),
    ("jacoco", "gcovr-8.6-nested-cpp.xml", "line", 25, 42),
    ("coveragepy_json", "brainsmith-coveragepy-7.10.7-branch.json", "line", 229, 823),
    ("coveragepy_json", "brainsmith-coveragepy-7.10.7-branch.json", "branch", 0, 274),
    ("clover", "phpunit-cakedc-enum.xml", "statement", 132, 142),
    ("clover", "istanbul-clover.xml", "statement", 8, 8),
    ("clover", "istanbul-clover.xml", "branch", 5, 6),
    ("clover", "gcovr-8.6-nested-cpp.xml", "statement", 25, 42),
    ("go", "chi.out", "statement", 969, 1272),
    ("go", "gin.out", "statement", 1884, 1900),
]

# The first 16 hex digits of each file's SHA-256, as SOURCES.md lists them.
SHA256_16 = {
    "cobertura/coveragepy-6.2-branch.xml": "0b45f9058ab1e70d",
    "cobertura/coveragepy-6.3.2.xml": "5985403e3d880db5",
    "cobertura/coveragepy-7.14.1-small-branch.xml": "bc3107982b3af687",
    "cobertura/coveragepy-5.0a2-gold.xml": "2e79d2374ec5aa3e",
    "cobertura/simplecov-cobertura-ruby.xml": "9f921f550671f45d",
    "cobertura/gcovr-5.0-c-redis-ipc.xml": "7a4a742d7f22207f",
    "cobertura/matlab-cobertura.xml": "f55addd7f463399f",
    "cobertura/istanbul-coffeescript.xml": "d5feabed7230fdae",
    "cobertura/cobertura-1.9-java-mvn-example.xml": "da6b8d0984b8999d",
    "cobertura/gcovr-8.6-nested-cpp.xml": "c34271dc1c0e853d",
    "lcov/coveragepy-python.lcov": "07cd1b1bc70dbdda",
    "lcov/istanbul-typescript.lcov": "8ff4372198f69155",
    "lcov/lcov2-cpp-fnl.lcov": "ae43490dc8aa502c",
    "lcov/llvm-cov-swift.info": "fdfa293f89d7add0",
    "lcov/gcovr-8.6-nested-cpp.lcov": "683c7a6371e76a73",
    "jacoco/jacoco-playground.xml": "e2b1804780afc29a",
    "jacoco/jacoco-maven-example.xml": "8e43c24a7631fa72",
    "jacoco/jacoco-oneline.xml": "89ea84f3a1c8b3f1",
    "jacoco/gcovr-8.6-nested-cpp.xml": "977868ba8ff978c4",
    "coveragepy-json/brainsmith-coveragepy-7.10.7-branch.json": "46e32dd9d48ee6b8",
    "clover/phpunit-cakedc-enum.xml": "618dc33c173faaf6",
    "clover/istanbul-clover.xml": "895e51f93b5a22ab",
    "clover/gcovr-8.6-nested-cpp.xml": "56474ac5ecb1b098",
    "go-coverprofile/chi.out": "a7690e2f603985fd",
    "go-coverprofile/gin.out": "76202d931945e507",
}


def fixture(shared_fixtures: Path, fmt: str, name: str) -> Path:
    """Return the path of a shared coverage fixture of format `fmt`."""
    return shared_fixtures / "coverage" / FOLDER[fmt] / name


GCOVR_CROSS_FORMAT = [
    ("cobertura/gcovr-8.6-nested-cpp.xml", "cobertura"),
    ("lcov/gcovr-8.6-nested-cpp.lcov", "lcov"),
    ("jacoco/gcovr-8.6-nested-cpp.xml", "jacoco"),
    ("clover/gcovr-8.6-nested-cpp.xml", "clover"),
]


@pytest.fixture
def make_connector() -> Iterator[Callable[..., CoverageConnector]]:
    """Build connectors from settings keywords and close them after the test."""
    built: list[CoverageConnector] = []

    def build(**settings: Any) -> CoverageConnector:
        connector = CoverageConnector(CoverageSettings.model_validate(settings))
        built.append(connector)
        return connector

    yield build
    for connector in built:
        connector.close()


def measure(connector: CoverageConnector, **query: Any) -> Any:
    """Validate `query` as the config loader would and measure it at AT."""
    return connector.measure(CoverageQuery.model_validate(query), AT)


# ---------------------------------------------------------------- real reports (SOURCES.md)


def test_fixtures_are_the_recorded_bytes(shared_fixtures: Path) -> None:
    """Every report file is byte for byte the one SOURCES.md describes."""
    for name, digest in SHA256_16.items():
        data = (shared_fixtures / "coverage" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest()[:16] == digest, f"{name} was edited"


@pytest.mark.parametrize(("fmt", "name", "metric", "covered", "total"), STATED)
def test_real_report_gives_the_stated_figure(
    shared_fixtures: Path,
    make_connector: Any,
    fmt: str,
    name: str,
    metric: str,
    covered: int,
    total: int,
) -> None:
    """Each real report, format auto-detected, gives the covered/total SOURCES.md states."""
    path = fixture(shared_fixtures, fmt, name)
    result = measure(make_connector(), path=str(path), metric=metric)
    assert (result.numerator, result.denominator) == (covered, total)
    assert result.value == pytest.approx(covered / total * 100)
    assert result.details["format"] == fmt
    assert result.details["metric"] == metric
    assert result.details["file"] == str(path)
    assert result.at == AT


@pytest.mark.parametrize(("fmt", "name", "metric", "covered", "total"), STATED)
def test_named_format_gives_the_same_figure(
    shared_fixtures: Path,
    make_connector: Any,
    fmt: str,
    name: str,
    metric: str,
    covered: int,
    total: int,
) -> None:
    """Naming the right format in the query gives the same figure as detection."""
    path = fixture(shared_fixtures, fmt, name)
    result = measure(make_connector(), path=str(path), metric=metric, format=fmt)
    assert (result.numerator, result.denominator) == (covered, total)


@pytest.mark.parametrize("fmt", ["cobertura", "lcov", "jacoco", "clover"])
def test_gcovr_cross_format_set_agrees(
    shared_fixtures: Path, make_connector: Any, fmt: str
) -> None:
    """The four gcovr 8.6 reports of one C++ run all give line coverage 25/42."""
    name = "gcovr-8.6-nested-cpp.lcov" if fmt == "lcov" else "gcovr-8.6-nested-cpp.xml"
    result = measure(make_connector(), path=str(fixture(shared_fixtures, fmt, name)))
    assert result.details["format"] == fmt
    assert (result.numerator, result.denominator) == (25, 42)
    assert result.value == pytest.approx(59.5238, abs=5e-5)


def _lcov_sums(text: str) -> tuple[int, int]:
    lines = [line.strip() for line in text.splitlines()]
    hit = sum(int(line[3:]) for line in lines if line.startswith("LH:"))
    found = sum(int(line[3:]) for line in lines if line.startswith("LF:"))
    return hit, found


def _go_sums(text: str) -> tuple[int, int]:
    blocks: dict[str, tuple[int, bool]] = {}
    for line in text.splitlines()[1:]:
        if line.strip():
            where, statements, count = line.split()
            old = blocks.get(where, (0, False))
            blocks[where] = (int(statements), old[1] or int(count) > 0)
    return sum(s for s, hit in blocks.values() if hit), sum(s for s, _ in blocks.values())


def _cobertura_recount(text: str) -> tuple[int, int]:
    root = ElementTree.fromstring(text)  # trusted, byte-checked fixture
    hits = {
        (cls.get("filename"), line.get("number")): int(line.get("hits", "0"))
        for cls in root.iter("class")
        for line in cls.findall("lines/line")
    }
    return sum(1 for h in hits.values() if h > 0), len(hits)


def _jacoco_line(text: str) -> tuple[int, int]:
    root = ElementTree.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", text))
    (line,) = [c for c in root.findall("counter") if c.get("type") == "LINE"]
    covered = int(line.get("covered", ""))
    return covered, covered + int(line.get("missed", ""))


def _clover_statements(text: str) -> tuple[int, int]:
    metrics = ElementTree.fromstring(text).find("project/metrics")
    assert metrics is not None
    return int(metrics.get("coveredstatements", "")), int(metrics.get("statements", ""))


def _coveragepy_lines(text: str) -> tuple[int, int]:
    totals = json.loads(text)["totals"]
    return totals["covered_lines"], totals["num_statements"]


RECOUNTERS: dict[str, Callable[[str], tuple[int, int]]] = {
    "lcov": _lcov_sums,
    "go": _go_sums,
    "cobertura": _cobertura_recount,
    "jacoco": _jacoco_line,
    "clover": _clover_statements,
    "coveragepy_json": _coveragepy_lines,
}
REPORTS = sorted({(fmt, name) for fmt, name, *_ in STATED})


@pytest.mark.parametrize(("fmt", "name"), REPORTS)
def test_figure_is_the_reports_own_number(
    shared_fixtures: Path, make_connector: Any, fmt: str, name: str
) -> None:
    """Recounting each report with a few lines of plain code gives the connector's line figure."""
    path = fixture(shared_fixtures, fmt, name)
    expected = RECOUNTERS[fmt](path.read_text(encoding="utf-8"))
    result = measure(make_connector(), path=str(path))
    assert (result.numerator, result.denominator) == expected


# The Cobertura files SOURCES.md lists with a branch rate above 0.
BRANCH_RATED = [
    "coveragepy-6.2-branch.xml",
    "coveragepy-7.14.1-small-branch.xml",
    "gcovr-5.0-c-redis-ipc.xml",
    "gcovr-8.6-nested-cpp.xml",
    "istanbul-coffeescript.xml",
    "cobertura-1.9-java-mvn-example.xml",
]
RATED = [(name, "line", "line-rate") for fmt, name in REPORTS if fmt == "cobertura"] + [
    (name, "branch", "branch-rate") for name in BRANCH_RATED
]


@pytest.mark.parametrize(("name", "metric", "attribute"), RATED)
def test_cobertura_value_matches_its_stated_rate(
    shared_fixtures: Path, make_connector: Any, name: str, metric: str, attribute: str
) -> None:
    """The percentage agrees with the root line-rate/branch-rate to that attribute's rounding."""
    path = fixture(shared_fixtures, "cobertura", name)
    match = re.search(rf'<coverage[^>]*\s{attribute}="([0-9.]+)"', path.read_text())
    assert match is not None
    decimals = len(match.group(1).partition(".")[2])
    result = measure(make_connector(), path=str(path), metric=metric)
    assert round(result.value / 100, decimals) == pytest.approx(float(match.group(1)))


def test_go_duplicate_blocks_are_merged(
    shared_fixtures: Path, tmp_path: Path, make_connector: Any
) -> None:
    """Repeated blocks (merged profiles) count once, covered if any copy has count > 0."""
    lines = fixture(shared_fixtures, "go", "chi.out").read_text().splitlines()
    blocks = lines[1:]
    uncovered = [line for line in blocks if line.endswith(" 0")][:20]
    covered = [line for line in blocks if line.endswith(" 1")][:20]
    # Synthetic: what `go test -coverpkg` writes when two test binaries cover one package.
    extra = [line[:-2] + " 1" for line in uncovered] + [line[:-2] + " 0" for line in covered]
    merged = tmp_path / "merged.out"
    merged.write_text("\n".join(lines + extra) + "\n")
    flipped = sum(int(line.split()[1]) for line in uncovered)
    result = measure(make_connector(), path=str(merged))
    assert (result.numerator, result.denominator) == (969 + flipped, 1272)
    assert (result.numerator, result.denominator) == _go_sums(merged.read_text())


@pytest.mark.parametrize(
    ("name", "metric", "drop", "expected"),
    [
        ("gcovr-8.6-nested-cpp.lcov", "line", ("LF:", "LH:"), (25, 42)),
        ("istanbul-typescript.lcov", "branch", ("BRF:", "BRH:"), (11, 11)),
    ],
)
def test_lcov_without_totals_falls_back_to_entries(
    shared_fixtures: Path,
    tmp_path: Path,
    make_connector: Any,
    name: str,
    metric: str,
    drop: tuple[str, str],
    expected: tuple[int, int],
) -> None:
    """Records without LF/LH (BRF/BRH) are counted from their DA (BRDA) lines."""
    text = fixture(shared_fixtures, "lcov", name).read_text()
    stripped = tmp_path / "stripped.lcov"
    stripped.write_text("\n".join(x for x in text.splitlines() if not x.startswith(drop)))
    result = measure(make_connector(), path=str(stripped), metric=metric)
    assert (result.numerator, result.denominator) == expected


def test_coveragepy_json_line_metric_ignores_percent_covered(
    shared_fixtures: Path, make_connector: Any
) -> None:
    """With branch coverage on, line coverage is 229/823, not the mixed percent_covered."""
    path = shared_fixtures / "coverage/coveragepy-json/brainsmith-coveragepy-7.10.7-branch.json"
    stated = json.loads(path.read_text())["totals"]["percent_covered"]
    result = measure(make_connector(), path=str(path))
    assert result.value == pytest.approx(27.8250, abs=5e-5)
    assert not math.isclose(result.value, stated)


@pytest.mark.parametrize(
    ("name", "metric", "error", "words"),
    [
        ("go-coverprofile/chi.out", "branch", QueryRejected, "go format has no branch"),
        ("cobertura/coveragepy-6.2-branch.xml", "statement", QueryRejected, "cobertura format"),
        ("lcov/lcov2-cpp-fnl.lcov", "statement", QueryRejected, "lcov format"),
        ("cobertura/matlab-cobertura.xml", "branch", NoData, "'NaN'"),
        ("cobertura/coveragepy-6.3.2.xml", "branch", NoData, "0 branches"),
        ("clover/phpunit-cakedc-enum.xml", "branch", NoData, "0 conditionals"),
        ("jacoco/gcovr-8.6-nested-cpp.xml", "statement", NoData, "INSTRUCTION"),
    ],
)
def test_missing_metric_is_a_clear_error(
    shared_fixtures: Path,
    make_connector: Any,
    name: str,
    metric: str,
    error: type[ConnectorError],
    words: str,
) -> None:
    """A metric the format lacks is QueryRejected, one the report lacks is NoData; both explain."""
    path = shared_fixtures / "coverage" / name
    with pytest.raises(error) as raised:
        measure(make_connector(), path=str(path), metric=metric)
    assert words in raised.value.reason
    assert path.name in raised.value.reason


def test_named_format_must_match_content(shared_fixtures: Path, make_connector: Any) -> None:
    """A query naming jacoco for a Cobertura file is rejected instead of misread."""
    path = shared_fixtures / "coverage/cobertura/coveragepy-6.2-branch.xml"
    with pytest.raises(QueryRejected, match="format 'jacoco' but the file is cobertura"):
        measure(make_connector(), path=str(path), format="jacoco")


# ---------------------------------------------------------------- reports made by coverage.py


@pytest.fixture(scope="module")
def coveragepy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the sample package under coverage.py with branch coverage and write its reports."""
    work = tmp_path_factory.mktemp("coveragepy")
    shutil.copytree(SAMPLE_PKG, work / "coverage_sample_pkg")
    env = {**os.environ, "COVERAGE_FILE": str(work / ".coverage")}
    for inherited in ("COVERAGE_PROCESS_START", "COVERAGE_RCFILE"):
        env.pop(inherited, None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout

    run("run", "--branch", "--source=coverage_sample_pkg", "-m", "coverage_sample_pkg")
    run("xml", "-o", "coverage.xml")
    run("json", "-o", "coverage.json")
    run("lcov", "-o", "coverage.lcov")
    (work / "total.txt").write_text(run("report", "--format=total", "--precision=6"))
    return work


def _coverage_api_lines(work: Path) -> tuple[int, int]:
    import coverage

    cov = coverage.Coverage(data_file=str(work / ".coverage"), config_file=False)
    cov.load()
    statements = missing = 0
    for measured in cov.get_data().measured_files():
        _, stmts, _, miss, _ = cov.analysis2(measured)
        statements, missing = statements + len(stmts), missing + len(miss)
    return statements - missing, statements


@pytest.mark.parametrize(
    ("report", "fmt"),
    [
        ("coverage.xml", "cobertura"),
        ("coverage.json", "coveragepy_json"),
        ("coverage.lcov", "lcov"),
    ],
)
def test_coveragepy_reports_match_coverage_api(
    coveragepy_run: Path, make_connector: Any, report: str, fmt: str
) -> None:
    """Each report coverage.py writes gives the line counts coverage.py's own API computes."""
    result = measure(make_connector(), path=str(coveragepy_run / report))
    assert result.details["format"] == fmt
    covered, total = _coverage_api_lines(coveragepy_run)
    assert 0 < covered < total, "the sample run must cover the package only in part"
    assert (result.numerator, result.denominator) == (covered, total)


@pytest.mark.parametrize("report", ["coverage.xml", "coverage.json", "coverage.lcov"])
def test_coveragepy_line_plus_branch_matches_its_total(
    coveragepy_run: Path, make_connector: Any, report: str
) -> None:
    """Lines plus branches give the total `coverage report --format=total` prints."""
    connector = make_connector()
    line = measure(connector, path=str(coveragepy_run / report))
    branch = measure(connector, path=str(coveragepy_run / report), metric="branch")
    assert 0 < branch.numerator < branch.denominator
    combined = (line.numerator + branch.numerator) / (line.denominator + branch.denominator)
    printed = float((coveragepy_run / "total.txt").read_text())
    assert round(combined * 100, 6) == pytest.approx(printed)


# ---------------------------------------------------------------- local HTTP servers


@dataclass
class Seen:
    """One request the local server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Reply = tuple[int, dict[str, str], bytes]
OMIT_LENGTH = "x-test-omit-length"  # a reply header the server drops: send no Content-Length


@dataclass
class LocalServer:
    """A real HTTP server on 127.0.0.1 answering from a table of routes (path -> handler)."""

    routes: dict[str, Callable[[Seen], Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    base: str = ""

    def paths(self) -> list[str]:
        """Return the paths requested so far, in order."""
        return [request.path for request in self.seen]


@pytest.fixture
def start_server() -> Iterator[Callable[[], LocalServer]]:
    """Start local HTTP servers on demand and stop them after the test."""
    running: list[ThreadingHTTPServer] = []

    def start() -> LocalServer:
        state = LocalServer()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                parts = urlsplit(self.path)
                request = Seen(parts.path, parse_qs(parts.query), dict(self.headers.items()))
                state.seen.append(request)
                route = state.routes.get(parts.path)
                status, headers, body = route(request) if route else (404, {}, b"{}")
                self.send_response(status)
                for name, value in headers.items():
                    if name != OMIT_LENGTH:
                        self.send_header(name, value)
                if "Content-Length" not in headers and OMIT_LENGTH not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                """Keep test output quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        state.base = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        running.append(server)
        return state

    yield start
    for server in running:
        server.shutdown()
        server.server_close()


def json_reply(body: Any) -> Reply:
    """Answer 200 with `body` as JSON."""
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def needs_header(name: str, value: str, reply: Reply) -> Callable[[Seen], Reply]:
    """Answer `reply` only to requests carrying header `name: value`, else 401."""

    def handle(request: Seen) -> Reply:
        if request.headers.get(name) != value:
            return 401, {"Content-Type": "application/json"}, b'{"message": "Bad credentials"}'
        return reply

    return handle


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


# ---------------------------------------------------------------- GitHub Actions artifacts

REPO, WORKFLOW, BRANCH, ARTIFACT = "PyGithub/PyGithub", "ci.yml", "master", "build-zip"
TOKEN = "ghs_test_token_0123456789"


def _recorded(shared_fixtures: Path, name: str, base: str) -> Any:
    """Load a recorded GitHub body with its api.github.com URLs pointed at the local server."""
    text = (shared_fixtures / "github" / name).read_text(encoding="utf-8")
    return json.loads(text.replace("https://api.github.com", base))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def serve_github(
    shared_fixtures: Path,
    server: LocalServer,
    archive: bytes,
    *,
    runs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Serve the runs, artifacts, redirect and blob endpoints; return the recorded run."""
    run_body = _recorded(shared_fixtures, "workflow-runs.json", server.base)
    (run,) = run_body["workflow_runs"]
    if runs is not None:
        run_body["workflow_runs"] = runs + run_body["workflow_runs"]
    artifacts = _recorded(shared_fixtures, "run-artifacts.json", server.base)
    for artifact in artifacts["artifacts"]:
        artifact["workflow_run"]["id"] = run["id"]
    auth = f"Bearer {TOKEN}"
    server.routes[f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs"] = needs_header(
        "Authorization", auth, json_reply(run_body)
    )
    server.routes[f"/repos/{REPO}/actions/runs/{run['id']}/artifacts"] = needs_header(
        "Authorization", auth, json_reply(artifacts)
    )
    for artifact in artifacts["artifacts"]:
        blob = f"/blob/{artifact['id']}.zip"
        download = urlsplit(artifact["archive_download_url"]).path
        server.routes[download] = needs_header(
            "Authorization", auth, (302, {"Location": f"{server.base}{blob}?sig=abc&se=1"}, b"")
        )
        server.routes[blob] = lambda _: (200, {"Content-Type": "application/zip"}, archive)
    return run


def artifact_query(**extra: Any) -> dict[str, Any]:
    """Return a github_artifact source for the recorded repository."""
    return {
        "github_artifact": {
            "repo": REPO,
            "workflow": WORKFLOW,
            "branch": BRANCH,
            "artifact": ARTIFACT,
            **extra,
        }
    }


def test_github_artifact_flow_reads_the_report(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """Runs -> artifacts -> 302 -> zip member: the report inside gives its stated figure."""
    server = start_server()
    report = (shared_fixtures / "coverage/cobertura/gcovr-8.6-nested-cpp.xml").read_bytes()
    run = serve_github(shared_fixtures, server, _zip({"coverage.xml": report}))
    connector = make_connector(github_url=server.base, token=TOKEN)
    result = measure(connector, **artifact_query())
    assert (result.numerator, result.denominator) == (25, 42)
    assert result.details["run_id"] == run["id"] == 3349872717
    assert result.details["artifact_id"] == 724958105
    assert result.details["file"] == "coverage.xml"
    runs_request = server.seen[0]
    assert runs_request.query["branch"] == [BRANCH]
    assert runs_request.query["status"] == ["success"]
    blob_request = server.seen[-1]
    assert blob_request.path == "/blob/724958105.zip"
    assert "Authorization" not in blob_request.headers, "the signed link must not get the token"


def test_github_artifact_skips_a_newer_run_without_it(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A newer successful run without the artifact is passed over for the recorded one."""
    server = start_server()
    report = (shared_fixtures / "coverage/go-coverprofile/chi.out").read_bytes()
    # Synthetic: a copy of the recorded run, one day newer, whose artifact list is empty.
    newer = dict(_recorded(shared_fixtures, "workflow-runs.json", server.base)["workflow_runs"][0])
    newer.update(id=3349872718, created_at="2022-10-30T03:26:27Z")
    serve_github(shared_fixtures, server, _zip({"c.out": report}), runs=[newer])
    server.routes[f"/repos/{REPO}/actions/runs/3349872718/artifacts"] = lambda _: json_reply(
        {"total_count": 0, "artifacts": []}
    )
    result = measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    assert result.details["run_id"] == 3349872717
    assert (result.numerator, result.denominator) == (969, 1272)


def test_expired_artifact_is_no_data(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """An artifact GitHub marks expired is not downloaded; the error says so."""
    server = start_server()
    run = serve_github(shared_fixtures, server, _zip({"c.xml": b"<coverage/>"}))
    artifacts = _recorded(shared_fixtures, "run-artifacts.json", server.base)
    for artifact in artifacts["artifacts"]:
        artifact["expired"] = True  # synthetic change of the recorded body
    server.routes[f"/repos/{REPO}/actions/runs/{run['id']}/artifacts"] = lambda _: json_reply(
        artifacts
    )
    with pytest.raises(NoData, match="unexpired artifact named 'build-zip'"):
        measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    assert not any(path.startswith("/blob/") for path in server.paths())


def test_artifact_member_choice(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """Several files need path_in_zip (a glob); without it the result is ambiguous."""
    server = start_server()
    lcov = (shared_fixtures / "coverage/lcov/lcov2-cpp-fnl.lcov").read_bytes()
    xml = (shared_fixtures / "coverage/jacoco/jacoco-oneline.xml").read_bytes()
    serve_github(shared_fixtures, server, _zip({"out/lcov.info": lcov, "out/jacoco.xml": xml}))
    connector = make_connector(github_url=server.base, token=TOKEN)
    with pytest.raises(AmbiguousResult, match="set path_in_zip"):
        measure(connector, **artifact_query())
    result = measure(connector, **artifact_query(path_in_zip="*/jacoco.xml"))
    assert (result.numerator, result.denominator) == (5, 6)


def test_artifact_url_off_the_api_origin_is_not_followed(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A download URL outside the configured API never receives the token."""
    server, elsewhere = start_server(), start_server()
    run = serve_github(shared_fixtures, server, b"")
    artifacts = _recorded(shared_fixtures, "run-artifacts.json", elsewhere.base)
    server.routes[f"/repos/{REPO}/actions/runs/{run['id']}/artifacts"] = lambda _: json_reply(
        artifacts
    )
    with pytest.raises(QueryRejected, match="outside"):
        measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    assert elsewhere.seen == []


def test_github_bad_token_is_rejected(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """GitHub's 401 is QueryRejected without the token in the reason."""
    server = start_server()
    serve_github(shared_fixtures, server, b"")
    with pytest.raises(QueryRejected, match="401") as raised:
        measure(make_connector(github_url=server.base, token="not-the-token"), **artifact_query())
    assert "not-the-token" not in raised.value.reason


@pytest.mark.parametrize(
    "recording", ["rate-limit-exceeded.primary-403.json", "rate-limit-exceeded.secondary-403.json"]
)
def test_github_rate_limit_is_rate_limited(
    shared_fixtures: Path, make_connector: Any, start_server: Any, recording: str
) -> None:
    """GitHub's recorded primary (remaining 0) and secondary (Retry-After) 403s are RateLimited."""
    recorded = json.loads((shared_fixtures / "github" / recording).read_text())
    headers = {
        name: value
        for name, value in recorded["headers"]
        if name.lower().startswith("x-ratelimit") or name.lower() == "retry-after"
    }
    body = json.dumps(recorded["body"]).encode()
    server = start_server()
    route = f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs"
    server.routes[route] = lambda _: (recorded["status"], headers, body)
    with pytest.raises(RateLimited) as raised:
        measure(make_connector(github_url=server.base, token=TOKEN), **artifact_query())
    if "Retry-After" in headers:
        assert raised.value.until is not None and raised.value.until > datetime.now(UTC)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Return a zip holding 1 GiB of zeros (about 1 MB compressed), written in streaming mode."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("coverage.xml", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(1024):
                member.write(zeros)
    data = path.read_bytes()
    assert len(data) < 2_000_000
    return data


def _measure_bounded(connector: CoverageConnector, query: dict[str, Any]) -> tuple[Exception, int]:
    tracemalloc.start()
    try:
        measure(connector, **query)
    except ConnectorError as error:
        caught: Exception = error
    else:
        pytest.fail("the bomb was measured")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return caught, peak


def test_zip_bomb_is_refused_without_inflating(
    shared_fixtures: Path, make_connector: Any, start_server: Any, zip_bomb: bytes
) -> None:
    """1 GiB of zeros behind a 1 MB artifact is refused by its declared size, memory bounded."""
    server = start_server()
    serve_github(shared_fixtures, server, zip_bomb)
    connector = make_connector(github_url=server.base, token=TOKEN)
    started = time.monotonic()
    error, peak = _measure_bounded(connector, artifact_query())
    assert isinstance(error, QueryRejected)
    assert "1073741824 bytes uncompressed" in error.reason
    assert peak < 32_000_000
    assert time.monotonic() - started < 5


def test_zip_bomb_lying_about_its_size_is_stopped(
    shared_fixtures: Path, make_connector: Any, start_server: Any, zip_bomb: bytes
) -> None:
    """A bomb whose directory declares a small size is stopped at that size, never inflated."""
    declared = 8_000_000
    entry = zip_bomb.rindex(b"PK\x01\x02")  # the central directory entry
    lying = bytearray(zip_bomb)
    lying[entry + 24 : entry + 28] = declared.to_bytes(4, "little")  # uncompressed size
    server = start_server()
    serve_github(shared_fixtures, server, bytes(lying))
    connector = make_connector(github_url=server.base, token=TOKEN, max_report_bytes=declared)
    error, peak = _measure_bounded(connector, artifact_query())
    # CPython's zipfile stops at the declared size and then fails the CRC; the connector's
    # own cap would stop a reader that trusted the stream instead.
    assert isinstance(error, QueryRejected | NoData)
    assert "not a readable zip archive" in error.reason or "inflates past" in error.reason
    assert peak < 4 * declared


def test_zip_ratio_limit_refuses_dense_members(
    shared_fixtures: Path, make_connector: Any, start_server: Any
) -> None:
    """A member that expands more than max_zip_ratio times is refused as a likely bomb."""
    server = start_server()
    serve_github(shared_fixtures, server, _zip({"c.lcov": b"SF:a\n" + b"DA:1,0\n" * 200_000}))
    connector = make_connector(github_url=server.base, token=TOKEN, max_zip_ratio=20)
    with pytest.raises(QueryRejected, match="likely zip bomb"):
        measure(connector, **artifact_query())


# ---------------------------------------------------------------- Codecov


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


# ---------------------------------------------------------------- hostile and broken input


def test_xxe_is_refused_and_nothing_is_fetched(
    tmp_path: Path, make_connector: Any, start_server: Any
) -> None:
    """An external entity is refused before the parser could fetch it."""
    server = start_server()
    report = tmp_path / "coverage.xml"
    report.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE coverage [<!ENTITY xxe SYSTEM "{server.base}/xxe">]>\n'
        '<coverage lines-covered="&xxe;" lines-valid="10"><packages/></coverage>\n'
    )
    with pytest.raises(QueryRejected, match="entities") as raised:
        measure(make_connector(), path=str(report))
    assert "coverage.xml" in raised.value.reason
    assert server.seen == []


def test_billion_laughs_is_refused(tmp_path: Path, make_connector: Any) -> None:
    """Nested entity definitions are refused, never expanded."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    report = tmp_path / "laughs.xml"
    report.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE coverage [{"".join(levels)}]>\n'
        '<coverage lines-covered="1" lines-valid="2"><source>&lol9;</source></coverage>\n'
    )
    tracemalloc.start()
    try:
        with pytest.raises(QueryRejected, match="entities"):
            measure(make_connector(), path=str(report))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_file_over_the_size_limit_is_refused_before_reading(
    tmp_path: Path, make_connector: Any
) -> None:
    """A 1 GiB (sparse) report is refused from its size alone."""
    huge = tmp_path / "coverage.xml"
    with open(huge, "wb") as handle:
        handle.truncate(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(QueryRejected, match="over max_report_bytes"):
            measure(make_connector(), path=str(huge))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)) * 16, "binary"),
        (b"\x80\x81\x82 not text at all", "not UTF-8"),
        (b"PK\x03\x04" + bytes(40), "zip archive"),
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (b'{"meta": {}, "totals": {"covered_lines": NaN, "num_statements": 10}}', "NaN"),
        (b'{"meta": {}, "totals": {"covered_lines": 5, "num_statements": Infinity}}', "Infinity"),
        (b'{"meta": {}, "totals": {"covered_lines": 11, "num_statements": 10}}', "not a coverage"),
        (b'{"meta": {}, "totals": {"covered_lines": "5", "num_statements": true}}', "not a count"),
        (b'{"name": "not coverage"}', "JSON without"),
        (b'<coverage lines-covered="3" lines-valid="4"><packages>', "not well-formed"),
        (b"<html><body>502 Bad Gateway</body></html>", "root <html>"),
        (b"TN:\nSF:a.c\nDA:1,1\nLF:1\nLH:1\n", "no end_of_record"),
        (b"SF:a.c\nDA:1,1\nLF:1\nLH:2\nend_of_record\n", "LH 2 > LF 1"),
        (b"mode: set\na.go:1.1,2.2 1 1\nthis is not a block\n", "not 'file:range"),
        (b"mode: set\n", "no blocks"),
        (b"just some words\n", "not a coverage format"),
        (b'<report name="x"></report>', "no report-level <counter>"),
        (b"<coverage><project></project></coverage>", "project-level <metrics>"),
    ],
)
def test_broken_reports_are_errors_with_reasons(
    tmp_path: Path, make_connector: Any, content: bytes, words: str
) -> None:
    """Garbage, truncation, NaN and inconsistent counts are NoData naming file and cause."""
    report = tmp_path / "report.dat"
    report.write_bytes(content)
    with pytest.raises(NoData) as raised:
        measure(make_connector(), path=str(report))
    assert words in raised.value.reason
    assert "report.dat" in raised.value.reason


def test_utf16_and_indented_xml_are_read(
    shared_fixtures: Path, tmp_path: Path, make_connector: Any
) -> None:
    """A UTF-16 report with a byte-order mark, or one after blank lines, still parses."""
    text = fixture(shared_fixtures, "cobertura", "gcovr-8.6-nested-cpp.xml").read_text()
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes(text.replace("encoding='utf-8'", "encoding='utf-16'").encode("utf-16"))
    indented = tmp_path / "indented.xml"
    indented.write_text("\n\n  " + text)
    connector = make_connector()
    for path in (utf16, indented):
        result = measure(connector, path=str(path))
        assert (result.numerator, result.denominator) == (25, 42)


def test_truncated_real_report_is_not_a_number(
    shared_fixtures: Path, tmp_path: Path, make_connector: Any
) -> None:
    """The first half of a real Cobertura report is refused as malformed XML."""
    data = (shared_fixtures / "coverage/cobertura/coveragepy-6.2-branch.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(NoData, match="cobertura report .*cut.xml: it is not well-formed XML"):
        measure(make_connector(), path=str(cut), format="cobertura")


# ---------------------------------------------------------------- path source and queries


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


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"path": "a.xml", "url": "https://example.invalid/a.xml"},
        {"url": "ftp://example.invalid/a.xml"},
        {"path": "a.xml", "metric": "function"},
        {"path": "a.xml", "format": "gcov"},
        {"path": "a.xml", "unknown": 1},
        {"codecov": {"owner": "o", "repo": "r"}, "format": "lcov"},
        {
            "github_artifact": {
                "repo": "not a repo",
                "workflow": "w",
                "branch": "b",
                "artifact": "a",
            }
        },
    ],
)
def test_invalid_queries_fail_validation(query: dict[str, Any]) -> None:
    """Queries without exactly one valid source, or with unknown values, fail at config time."""
    with pytest.raises(ValidationError):
        CoverageQuery.model_validate(query)


def test_settings_hold_secrets_as_secret_str() -> None:
    """Token and header values are SecretStr and do not show in the settings' repr."""
    settings = CoverageSettings.model_validate(
        {"token": "tok-123456", "headers": {"X-Api-Key": "hdr-654321"}}
    )
    assert "tok-123456" not in repr(settings) and "hdr-654321" not in repr(settings)
    assert settings.timeout_seconds == 10 and settings.max_report_bytes == 50_000_000
