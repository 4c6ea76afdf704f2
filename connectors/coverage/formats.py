"""Recognise a coverage report's format from its bytes and parse it into counts.

Detection looks at structure, never at file names: XML by its root element (`<report>`
is JaCoCo, `<coverage>` with a `<project>` is Clover, other `<coverage>` is Cobertura),
JSON with coverage.py's `totals`, a first line `mode: ...` for Go, `TN:`/`SF:` for lcov.
A format named in the query must agree with what the bytes are.
"""

from __future__ import annotations

from connectors.coverage.counts import FormatMismatch, MalformedReport, ParsedReport
from connectors.coverage.text import (
    looks_like_coveragepy_json,
    parse_coveragepy_json,
    parse_go,
    parse_lcov,
)
from connectors.coverage.xml import (
    parse_clover,
    parse_cobertura,
    parse_jacoco,
    parse_xml,
    xml_format,
)

_XML_PARSERS = {"cobertura": parse_cobertura, "jacoco": parse_jacoco, "clover": parse_clover}
_TEXT_PARSERS = {"lcov": parse_lcov, "go": parse_go, "coveragepy_json": parse_coveragepy_json}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_MAGIC = {
    b"PK\x03\x04": "a zip archive",
    b"\x1f\x8b": "gzip-compressed",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
}


def parse_report(data: bytes, *, expected: str | None) -> ParsedReport:
    """Detect the format of `data`, check it against `expected` and return its counts."""
    _refuse_non_text(data)
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<") or data.startswith(_UTF16_BOMS):
        root = parse_xml(head if head.startswith(b"<") else data)
        what = f"an XML document with root <{root.tag}>"
        return _XML_PARSERS[_checked(xml_format(root), expected, what=what)](root)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedReport(f"it is not UTF-8 text (byte {error.start})") from None
    found, what = _text_format(text)
    return _TEXT_PARSERS[_checked(found, expected, what=what)](text)


def _refuse_non_text(data: bytes) -> None:
    if not data.strip():
        raise MalformedReport("it is empty")
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise MalformedReport(f"it is {kind}, not a coverage report")
    # UTF-16 XML starts with a byte-order mark and legitimately holds NUL bytes.
    if b"\x00" in data[:8192] and not data.startswith(_UTF16_BOMS):
        raise MalformedReport("it is binary data (NUL bytes), not a coverage report")


def _text_format(text: str) -> tuple[str | None, str]:
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0].strip()
    if stripped.startswith("{"):
        if looks_like_coveragepy_json(text):
            return "coveragepy_json", "coverage.py JSON"
        return None, "JSON without coverage.py's 'totals'"
    if first_line.startswith("mode:"):
        return "go", "a Go coverprofile"
    if first_line.startswith(("TN:", "SF:")):
        return "lcov", "an lcov tracefile"
    return None, f"text starting with {first_line[:40]!r}"


def _checked(found: str | None, expected: str | None, *, what: str) -> str:
    """Return the detected format, refusing none found or one other than the query's."""
    if found is None:
        expecting = f"; the query expects {expected}" if expected else ""
        raise MalformedReport(
            f"it is {what}, not a coverage format this connector reads{expecting}"
        )
    if expected is not None and found != expected:
        raise FormatMismatch(f"the query says format {expected!r} but the file is {found}")
    return found
