"""Read the text coverage formats (lcov, Go coverprofile, coverage.py JSON) as each defines them.

* lcov: ΣLH/ΣLF over all records, BRH/BRF for branches. LF may exceed the number of
  `DA:` lines (llvm-cov counts lines it wrote no DA for), so LF/LH are trusted; a record
  without them falls back to its `DA:` lines (count > 0 is covered) or `BRDA:` entries
  (`-` means never evaluated). Every record must end with `end_of_record`: a missing one
  means the file was cut short.
* Go coverprofile: `go tool cover -func`'s total, i.e. statements in blocks whose count is
  > 0 over all statements. Merged profiles repeat a block (`file:range`); a block is
  covered when any copy has count > 0 and its statements are counted once. Go counts only
  statements, so `line` and `statement` both answer with statements.
* coverage.py JSON: `totals.covered_lines / totals.num_statements` for lines (coverage.py
  lines are statements), `covered_branches / num_branches` for branches. Not
  `percent_covered`: with branch coverage on it is (lines + branches) / (statements +
  branches).
"""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.coverage.counts import Count, MalformedReport, ParsedReport, as_count

_GO_BLOCK = re.compile(r"^(.+):(\d+)\.(\d+),(\d+)\.(\d+)$")


_TOTAL_KEYS = ("LF", "LH", "BRF", "BRH")


def _lcov_value(key: str, value: str, *, line_number: int) -> int:
    return as_count(value, name=f"{key} on line {line_number}")


def _lcov_record_counts(record: dict[str, Any], *, prefix: str) -> tuple[int, int]:
    """Return (hit, found) for lines (prefix L) or branches (prefix BR) of one record."""
    found, hit = record.get(f"{prefix}F"), record.get(f"{prefix}H")
    if found is None or hit is None:
        entries: dict[Any, int] = record["DA" if prefix == "L" else "BRDA"]
        hit, found = sum(1 for count in entries.values() if count > 0), len(entries)
    if hit > found:
        raise MalformedReport(f"record {record['SF']!r} says {prefix}H {hit} > {prefix}F {found}")
    return hit, found


def _add_lcov_entry(record: dict[str, Any], key: str, value: str, *, line_number: int) -> None:
    """Store one LF/LH/BRF/BRH/DA/BRDA line of a record."""
    if key in _TOTAL_KEYS:
        record[key] = _lcov_value(key, value, line_number=line_number)
    elif key == "DA":
        fields = value.split(",")  # line,count[,checksum]
        count = _lcov_value(key, fields[1] if len(fields) > 1 else "", line_number=line_number)
        record["DA"][fields[0]] = max(count, record["DA"].get(fields[0], 0))
    else:
        fields = value.split(",")  # line,block,branch,taken ("-": never evaluated)
        if len(fields) != 4:
            raise MalformedReport(f"line {line_number}: BRDA needs 4 fields, has {len(fields)}")
        taken = 0 if fields[3] == "-" else _lcov_value(key, fields[3], line_number=line_number)
        record["BRDA"][tuple(fields[:3])] = taken


def parse_lcov(text: str) -> ParsedReport:
    """Return ΣLH/ΣLF and ΣBRH/ΣBRF over the records of an lcov tracefile."""
    records: list[dict[str, Any]] = []
    record: dict[str, Any] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "end_of_record":
            if record is None:
                raise MalformedReport(f"line {number} ends a record that was never started")
            records.append(record)
            record = None
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise MalformedReport(f"line {number} ({line[:40]!r}) is not an lcov KEY:VALUE line")
        if key == "SF":
            if record is not None:
                raise MalformedReport(f"line {number} starts a record before end_of_record")
            record = {"SF": value, "DA": {}, "BRDA": {}}
        elif key in (*_TOTAL_KEYS, "DA", "BRDA"):
            if record is None:
                raise MalformedReport(f"line {number} has {key} outside a record (no SF: first)")
            _add_lcov_entry(record, key, value, line_number=number)
        # Other keys (TN, VER, FN, FNDA, FNF, FNH, FNL, FNA) carry no line or branch totals.
    if record is not None:
        raise MalformedReport(f"the record for {record['SF']!r} has no end_of_record (truncated?)")
    if not records:
        raise MalformedReport("it has no SF:/end_of_record records")
    report = ParsedReport(format="lcov")
    for metric, prefix, unit in (("line", "L", "lines"), ("branch", "BR", "branches")):
        pairs = [_lcov_record_counts(record, prefix=prefix) for record in records]
        how = f"sum of {prefix}H / sum of {prefix}F over {len(records)} records"
        report.counts[metric] = Count(sum(p[0] for p in pairs), sum(p[1] for p in pairs), unit, how)
    return report


def parse_go(text: str) -> ParsedReport:
    """Return covered statements over all statements of a Go coverprofile."""
    lines = text.splitlines()
    mode = lines[0].strip() if lines else ""
    if mode not in ("mode: set", "mode: count", "mode: atomic"):
        raise MalformedReport(f"its first line is {mode[:40]!r}, not 'mode: set|count|atomic'")
    blocks: dict[str, tuple[int, bool]] = {}
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(" ", 2)
        if len(parts) != 3 or not _GO_BLOCK.match(parts[0]):
            raise MalformedReport(f"line {number} ({line[:60]!r}) is not 'file:range stmts count'")
        statements = as_count(parts[1], name=f"statement count on line {number}")
        count = as_count(parts[2], name=f"hit count on line {number}")
        seen = blocks.get(parts[0])
        if seen is not None and seen[0] != statements:
            raise MalformedReport(f"block {parts[0]} repeats with {statements} != {seen[0]} stmts")
        blocks[parts[0]] = (statements, count > 0 or (seen is not None and seen[1]))
    if not blocks:
        raise MalformedReport("it has a mode line but no blocks")
    total = sum(stmts for stmts, _ in blocks.values())
    covered = sum(stmts for stmts, hit in blocks.values() if hit)
    how = f"statements in blocks with count > 0, {len(blocks)} distinct blocks"
    report = ParsedReport(format="go")
    report.counts["statement"] = Count(covered, total, "statements", how)
    report.counts["line"] = report.counts["statement"]
    return report


def _refuse_constant(name: str) -> float:
    raise MalformedReport(f"it contains {name}, which is not a number")


def parse_coveragepy_json(text: str) -> ParsedReport:
    """Return the line and branch counts in a coverage.py JSON report's totals."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as error:
        raise MalformedReport(f"it is not valid JSON ({error})") from None
    totals = document.get("totals") if isinstance(document, dict) else None
    if not isinstance(totals, dict):
        raise MalformedReport("it has no 'totals' object")
    report = ParsedReport(format="coveragepy_json")
    covered = as_count(totals.get("covered_lines"), name="totals.covered_lines")
    statements = as_count(totals.get("num_statements"), name="totals.num_statements")
    how = "totals.covered_lines / totals.num_statements"
    report.counts["line"] = Count(covered, statements, "statements", how)
    report.counts["statement"] = report.counts["line"]
    if "num_branches" in totals:
        branches = as_count(totals.get("num_branches"), name="totals.num_branches")
        taken = as_count(totals.get("covered_branches"), name="totals.covered_branches")
        how = "totals.covered_branches / totals.num_branches"
        report.counts["branch"] = Count(taken, branches, "branches", how)
    else:
        report.absent["branch"] = "it was written with branch coverage off (no num_branches)"
    return report


def looks_like_coveragepy_json(text: str) -> bool:
    """Return whether JSON text carries coverage.py's top-level keys."""
    return '"totals"' in text and ('"meta"' in text or '"files"' in text)
