"""Hostile and broken reports (XXE, entity bombs, oversized, truncated): errors, never numbers."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    NoData,
    QueryRejected,
)
from tests.connectors.coverage.support import fixture, measure


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
