"""Read the XML coverage formats (Cobertura, JaCoCo, Clover) safely, as each defines its totals.

Parsing goes through defusedxml: a document that declares entities (billion laughs) or
refers to external ones (XXE) is refused, never expanded or fetched. A DOCTYPE alone is
allowed because gcovr, istanbul and JaCoCo all write one; expat never fetches it.

How each format states its overall figure:

* Cobertura: the root's `lines-covered`/`lines-valid`. Old writers (Cobertura 1.9) only
  give the rounded `line-rate`, so then the lines are recounted from the class-level
  `<lines><line>` elements, `hits > 0` meaning covered; method-level lines repeat those
  and are skipped. `<class>` may sit under `<classes>`, directly under `<package>` or even
  under `<packages>` (istanbul), so every `<class>` is visited. Branches: the root's
  `branches-covered`/`branches-valid`, else the sum of the class-level
  `condition-coverage="50% (1/2)"` fractions. Cobertura has no statement count.
* JaCoCo: the report-level `<counter>` elements (direct children of `<report>`):
  LINE for lines, BRANCH for branches; JaCoCo counts no statements, its smallest unit is
  the bytecode INSTRUCTION, so that counter answers `statement`.
* Clover: the project-level `<metrics>` (direct child of `<project>`):
  coveredstatements/statements answers both `statement` and `line` (Clover has no line
  unit), coveredconditionals/conditionals answers `branch`.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from connectors.coverage.counts import Count, MalformedReport, ParsedReport, UnsafeReport, as_count

_CONDITION = re.compile(r"\((\d+)/(\d+)\)")


def parse_xml(data: bytes) -> Element:
    """Parse `data` as XML, refusing entity declarations and external references."""
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise UnsafeReport(f"the XML declares entities or external references ({error})") from None
    except ParseError as error:
        raise MalformedReport(f"it is not well-formed XML ({error})") from None


def xml_format(root: Element) -> str | None:
    """Return the coverage format an XML root element belongs to, or None."""
    if root.tag == "report":
        return "jacoco"
    if root.tag == "coverage":
        return "clover" if root.find("project") is not None else "cobertura"
    return None


def _optional_count(element: Element, name: str) -> int | None:
    # MATLAB's writer puts the literal "NaN" in attributes it has no data for: treat a
    # value that is not a count as absent, so the documented fallback applies.
    raw = element.get(name)
    if raw is None:
        return None
    try:
        return as_count(raw, name=name)
    except MalformedReport:
        return None


def parse_cobertura(root: Element) -> ParsedReport:
    """Return the line and branch counts a Cobertura report states."""
    report = ParsedReport(format="cobertura")
    covered, valid = _optional_count(root, "lines-covered"), _optional_count(root, "lines-valid")
    if covered is not None and valid is not None:
        report.counts["line"] = Count(covered, valid, "lines", "root lines-covered/lines-valid")
    else:
        lines = _class_level_lines(root)
        if not lines:
            raise MalformedReport("it has no lines-covered/lines-valid and no <line> elements")
        hit = sum(1 for hits, _ in lines.values() if hits > 0)
        how = "class-level <line> elements with hits > 0"
        report.counts["line"] = Count(hit, len(lines), "lines", how)
    _warn_if_rate_disagrees(report, root.get("line-rate"), report.counts["line"])

    b_covered = _optional_count(root, "branches-covered")
    b_valid = _optional_count(root, "branches-valid")
    if b_covered is not None and b_valid is not None:
        how = "root branches-covered/branches-valid"
        report.counts["branch"] = Count(b_covered, b_valid, "branches", how)
        return report
    conditions = [_CONDITION.search(c) for _, c in _class_level_lines(root).values()]
    fractions = [(int(m.group(1)), int(m.group(2))) for m in conditions if m]
    if fractions:
        taken, total = sum(f[0] for f in fractions), sum(f[1] for f in fractions)
        how = "class-level condition-coverage fractions"
        report.counts["branch"] = Count(taken, total, "branches", how)
    else:
        raw = root.get("branches-valid")
        report.absent["branch"] = (
            f"branches-valid is {raw!r} and no line has condition-coverage"
            if raw is not None
            else "it has no branches-valid attribute and no line has condition-coverage"
        )
    return report


def _class_level_lines(root: Element) -> dict[tuple[str, str], tuple[int, str]]:
    """Return {(file, line number): (hits, condition-coverage)} over every <class>."""
    lines: dict[tuple[str, str], tuple[int, str]] = {}
    for cls in root.iter("class"):
        filename = cls.get("filename") or cls.get("name") or ""
        for line in cls.findall("lines/line"):
            number = line.get("number", "")
            hits = as_count(line.get("hits", "0"), name=f"hits of line {number} in {filename}")
            previous = lines.get((filename, number))
            best = max(hits, previous[0]) if previous else hits
            lines[(filename, number)] = (best, line.get("condition-coverage", ""))
    return lines


def _warn_if_rate_disagrees(report: ParsedReport, raw_rate: str | None, count: Count) -> None:
    # line-rate is rounded (to 2 d.p. by simplecov, 4 by coverage.py), so only a gross
    # disagreement means the counts and the stated rate describe different runs.
    try:
        rate = float(raw_rate) if raw_rate is not None else None
    except ValueError:
        return
    if rate is not None and count.total and abs(rate - count.covered / count.total) > 0.01:
        report.warnings.append(
            f"line-rate {raw_rate} disagrees with {count.covered}/{count.total} ({count.how})"
        )


def parse_jacoco(root: Element) -> ParsedReport:
    """Return the LINE, BRANCH and INSTRUCTION counters at the top of a JaCoCo report."""
    report = ParsedReport(format="jacoco")
    counters = {counter.get("type"): counter for counter in root.findall("counter")}
    if not counters:
        raise MalformedReport("it has no report-level <counter> elements (truncated?)")
    for metric, kind, unit in (
        ("line", "LINE", "lines"),
        ("branch", "BRANCH", "branches"),
        ("statement", "INSTRUCTION", "instructions"),
    ):
        counter = counters.get(kind)
        if counter is None:
            report.absent[metric] = f'it has no report-level <counter type="{kind}">'
            continue
        covered = as_count(counter.get("covered"), name=f"{kind} covered")
        missed = as_count(counter.get("missed"), name=f"{kind} missed")
        how = f"report-level {kind} counter covered/(covered+missed)"
        report.counts[metric] = Count(covered, covered + missed, unit, how)
    return report


def parse_clover(root: Element) -> ParsedReport:
    """Return the statement and conditional counts of a Clover report's project metrics."""
    report = ParsedReport(format="clover")
    metrics = root.find("project/metrics")
    if metrics is None:
        raise MalformedReport("it has no project-level <metrics> element (truncated?)")
    statements = as_count(metrics.get("statements"), name="project statements")
    covered = as_count(metrics.get("coveredstatements"), name="project coveredstatements")
    how = "project <metrics> coveredstatements/statements"
    report.counts["statement"] = Count(covered, statements, "statements", how)
    report.counts["line"] = report.counts["statement"]
    if metrics.get("conditionals") is None:
        report.absent["branch"] = "its project <metrics> has no conditionals attribute"
    else:
        conditionals = as_count(metrics.get("conditionals"), name="project conditionals")
        hit = as_count(metrics.get("coveredconditionals", "0"), name="coveredconditionals")
        how = "project <metrics> coveredconditionals/conditionals"
        report.counts["branch"] = Count(hit, conditionals, "conditionals", how)
    return report
