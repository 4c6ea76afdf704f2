"""The values a Key Result's quantity can take: from its `range`, else inferred from its unit.

Forecasts are clamped to these bounds, so a latency is never forecast below 0 s and a
percentage never outside 0–100. Units not recognised here are unbounded: give `range`.
"""

from __future__ import annotations

import re

Bounds = tuple[float | None, float | None]

UNBOUNDED: Bounds = (None, None)
# Units of durations, sizes, counts and rates: quantities that cannot be negative.
_NON_NEGATIVE = {
    # durations
    "ns", "us", "µs", "ms", "s", "sec", "secs", "second", "seconds", "m", "min", "mins",
    "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "w", "week",
    "weeks",
    # sizes
    "b", "byte", "bytes", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib",
    # counts
    "count", "items", "users", "requests", "errors", "incidents", "deploys", "deployments",
    "prs", "tickets", "bugs", "issues", "events", "sessions", "customers", "people",
    # shares written as a fraction
    "ratio", "fraction",
}  # fmt: skip
_PERCENT = {"%", "percent", "pct"}
_FRACTION = {"ratio", "fraction"}
# A rate: "<count>/<time>", "per day", "req/s", "deploys/day".
_RATE = re.compile(r"^[\w ]*/\s*\w+$|^[\w ]*\bper\b\s+\w+$")


def inferred_bounds(unit: str) -> Bounds:
    """Return the bounds a unit implies: 0–100 for %, 0–1 for ratio, ≥ 0 for counts and times."""
    name = unit.strip().lower()
    if name in _PERCENT:
        return 0.0, 100.0
    if name in _FRACTION:
        return 0.0, 1.0
    if name in _NON_NEGATIVE or _RATE.match(name):
        return 0.0, None
    return UNBOUNDED


def holding(bounds: Bounds, *values: float | None) -> Bounds:
    """Return `bounds` without a side that excludes one of `values` (a baseline, a target).

    A bound inferred from the unit is a guess: a "%" Key Result may aim at 150% growth.
    Clamping its forecast under its own target would raise a forecast miss no data supports;
    a side that cannot hold the target is evidently not this quantity's limit.
    """
    low, high = bounds
    given = [v for v in values if v is not None]
    if low is not None and any(v < low for v in given):
        low = None
    if high is not None and any(v > high for v in given):
        high = None
    return low, high


def allowed_bounds(unit: str, *, low: float | None, high: float | None) -> Bounds:
    """Return the configured `range` when given, else the bounds the unit implies."""
    if low is not None or high is not None:
        return low, high
    return inferred_bounds(unit)
