"""The plain values a coverage report parses into, and the errors a parser raises."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Metric = Literal["line", "branch", "statement"]
Format = Literal["cobertura", "lcov", "jacoco", "coveragepy_json", "clover", "go"]

# What each format can state; a metric outside this table is a query error, not missing data.
FORMAT_METRICS: dict[str, frozenset[str]] = {
    "cobertura": frozenset({"line", "branch"}),
    "lcov": frozenset({"line", "branch"}),
    "jacoco": frozenset({"line", "branch", "statement"}),
    "coveragepy_json": frozenset({"line", "branch", "statement"}),
    "clover": frozenset({"line", "branch", "statement"}),
    "go": frozenset({"line", "statement"}),
    "codecov": frozenset({"line"}),
}


class MalformedReport(Exception):
    """The bytes are not a usable report of the format (truncated, empty, garbage)."""


class UnsafeReport(Exception):
    """The report tries something hostile (XML entities, a decompression bomb)."""


class FormatMismatch(Exception):
    """The report is of another format than the query names."""


@dataclass(frozen=True, slots=True)
class Count:
    """Covered out of total for one metric, with the unit counted and how it was read."""

    covered: int
    total: int
    unit: str
    how: str

    def __post_init__(self) -> None:
        if self.covered < 0 or self.total < 0 or self.covered > self.total:
            raise MalformedReport(
                f"{self.how} gives {self.covered} covered of {self.total} {self.unit}, "
                "which is not a coverage count"
            )


@dataclass(slots=True)
class ParsedReport:
    """What one report states: a count per metric it has, and why the others are absent."""

    format: str
    counts: dict[str, Count] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def as_count(value: object, *, name: str) -> int:
    """Return `value` as a non-negative whole number or raise MalformedReport naming it."""
    if isinstance(value, bool):
        raise MalformedReport(f"{name} is {value!r}, not a count")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise MalformedReport(f"{name} is {value!r}, not a count") from None
    if isinstance(value, int):
        number: float = value
    elif isinstance(value, float):
        number = value
    else:
        raise MalformedReport(f"{name} is {value!r}, not a count")
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise MalformedReport(f"{name} is {value!r}, not a count")
    return int(number)
