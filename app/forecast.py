"""Forecast a Key Result's value at its deadline: a least-squares line with a prediction interval.

Pure functions over plain numbers; no I/O and no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
