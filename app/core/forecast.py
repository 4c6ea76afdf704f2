"""Forecast a Key Result's value at its deadline: a least-squares line with a prediction interval.

Pure functions over plain numbers; no I/O and no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# Two-sided 95% Student-t quantiles by degrees of freedom. For a df between two keys the
# smaller key's (larger) quantile is used, which widens the interval rather than narrowing it.
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    25: 2.060,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}
# Beyond the table the df-120 value is used: larger than the true quantile (1.960–1.980).
_T95_LIMIT = 1.980


@dataclass(frozen=True, slots=True)
class Forecast:
    """The value a trend line predicts at `at_ts`, with a 95% prediction interval."""

    at_ts: int
    value: float
    low: float
    high: float
    points: int
    slope_per_day: float


def t_quantile_95(degrees_of_freedom: int) -> float:
    """Return the two-sided 95% Student-t quantile (conservative between table rows)."""
    if degrees_of_freedom < 1:
        raise ValueError("degrees of freedom must be at least 1")
    keys = [k for k in _T95 if k <= degrees_of_freedom]
    return _T95[max(keys)] if degrees_of_freedom <= 120 else _T95_LIMIT


def linear_forecast(
    points: Sequence[tuple[int, float]], *, at_ts: int, max_points: int = 30
) -> Forecast | None:
    """Fit value = a + b·t over the last `max_points` points and predict at `at_ts`.

    Returns None when there are fewer than 3 usable points or all share one instant:
    a line through two points has no spread to build an interval from.
    """
    usable = [(t, v) for t, v in points if math.isfinite(v)][-max_points:]
    n = len(usable)
    if n < 3:
        return None
    # Centre time on its mean (in days) so large UNIX timestamps do not lose precision.
    t0 = usable[0][0]
    xs = [(t - t0) / 86400.0 for t, _ in usable]
    ys = [v for _, v in usable]
    x_mean = math.fsum(xs) / n
    y_mean = math.fsum(ys) / n
    sxx = math.fsum((x - x_mean) ** 2 for x in xs)
    if sxx <= 0:
        return None
    slope = math.fsum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    residual = math.fsum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    sigma = math.sqrt(residual / (n - 2))
    x_target = (at_ts - t0) / 86400.0
    predicted = intercept + slope * x_target
    half_width = (
        t_quantile_95(n - 2) * sigma * math.sqrt(1 + 1 / n + (x_target - x_mean) ** 2 / sxx)
    )
    if not all(math.isfinite(v) for v in (predicted, half_width, slope)):
        return None
    return Forecast(
        at_ts=at_ts,
        value=predicted,
        low=predicted - half_width,
        high=predicted + half_width,
        points=n,
        slope_per_day=slope,
    )


@dataclass(frozen=True, slots=True)
class HistoryRule:
    """How much of the measured period the samples must cover before a forecast is made.

    A line through minutes of data says nothing about a deadline weeks away: with 21
    samples over 5 minutes it once predicted a P99 of 524 s between -138 s and 1,187 s.
    """

    min_days: int = 3
    min_share: float = 0.10


def _span_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds} s"


def history_shortfall(
    points: Sequence[tuple[int, float]],
    *,
    first_ts: int | None,
    start: int,
    end: int,
    rule: HistoryRule,
) -> str | None:
    """Return why the samples cannot support a forecast yet, or None when they can.

    `points` are the recent samples the line is fitted on and `first_ts` the measured
    period's first sample: together they give the span and the distinct UTC days seen.
    """
    instants = sorted({t for t, _ in points} | ({first_ts} if first_ts is not None else set()))
    if not instants:
        return "no samples yet"
    span = instants[-1] - instants[0]
    days = len({t // 86400 for t in instants})  # UTC days: UNIX time has no leap seconds
    needed_span = math.ceil(rule.min_share * max(end - start, 0))
    if days >= rule.min_days and span >= needed_span:
        return None
    # `points` is the tail of the samples: when it holds the first one, the count is exact.
    exact = first_ts is None or any(t == first_ts for t, _ in points)
    count = f"{len(instants)} samples" if exact else f"more than {len(points)} samples"
    return (
        f"not enough history for a forecast: {count} over {_span_text(span)} on {days} day(s); "
        f"needs samples on {rule.min_days} days spanning {rule.min_share:.0%} of the period "
        f"({_span_text(needed_span)})"
    )


def clamped(forecast: Forecast, *, low: float | None, high: float | None) -> Forecast:
    """Return `forecast` with its value and interval kept within [low, high] (None: open)."""

    def keep(value: float) -> float:
        if low is not None:
            value = max(low, value)
        if high is not None:
            value = min(high, value)
        return value

    value, low_end, high_end = keep(forecast.value), keep(forecast.low), keep(forecast.high)
    if (value, low_end, high_end) == (forecast.value, forecast.low, forecast.high):
        return forecast  # inside the bounds already (the common case): no copy
    return replace(forecast, value=value, low=low_end, high=high_end)


def deadline_forecast(
    points: Sequence[tuple[int, float]],
    *,
    first_ts: int | None,
    start: int,
    end: int,
    bounds: tuple[float | None, float | None],
    rule: HistoryRule,
    max_points: int,
) -> tuple[Forecast | None, str | None]:
    """Return the forecast at `end` within `bounds`, or None and why there is none."""
    shortfall = history_shortfall(points, first_ts=first_ts, start=start, end=end, rule=rule)
    if shortfall is not None:
        return None, shortfall
    try:
        found = linear_forecast(points, at_ts=end, max_points=max_points)
    except (OverflowError, ValueError):  # samples near the float limit: no trend line
        found = None
    if found is None:
        return None, "no trend line through the recent samples"
    low, high = bounds
    return clamped(found, low=low, high=high), None
