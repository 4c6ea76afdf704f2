"""Real coverage reports (SOURCES.md): each format gives the figure the report states."""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    ConnectorError,
    NoData,
    QueryRejected,
)
from tests.connectors.coverage.support import AT, fixture, measure

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


GCOVR_CROSS_FORMAT = [
    ("cobertura/gcovr-8.6-nested-cpp.xml", "cobertura"),
    ("lcov/gcovr-8.6-nested-cpp.lcov", "lcov"),
    ("jacoco/gcovr-8.6-nested-cpp.xml", "jacoco"),
    ("clover/gcovr-8.6-nested-cpp.xml", "clover"),
]


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
