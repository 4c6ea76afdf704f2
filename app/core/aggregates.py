"""Reduce the samples inside an aggregation window to one number (mean, median, quantiles, sum)."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

from app.core.domain import Aggregate

if TYPE_CHECKING:
    from collections.abc import Sequence


def aggregate_value(function: Aggregate, values: Sequence[float]) -> float:
    """Reduce the values inside an aggregation window to one number.

    A mean, median or quantile lies between the smallest and largest value, so it exists
    even when the values' sum overflows: it is then computed on the values scaled down by
    2**64 (exact for a power of two). A sum beyond the float range raises OverflowError.
    """
    try:
        value = _reduce(function, values)
    except OverflowError:
        if function in (Aggregate.SUM, Aggregate.LAST, Aggregate.MIN, Aggregate.MAX):
            raise
        value = math.inf
    if not math.isfinite(value) and function in (Aggregate.AVG, Aggregate.MEDIAN, Aggregate.P90):
        value = math.ldexp(_reduce(function, [math.ldexp(v, -64) for v in values]), 64)
    if not math.isfinite(value):
        raise OverflowError(f"the {function} of the window's values is beyond a float's range")
    return value


def _reduce(function: Aggregate, values: Sequence[float]) -> float:
    match function:
        case Aggregate.LAST:
            return values[-1]
        case Aggregate.AVG:
            return math.fsum(values) / len(values)
        case Aggregate.MIN:
            return min(values)
        case Aggregate.MAX:
            return max(values)
        case Aggregate.SUM:
            return math.fsum(values)
        case Aggregate.MEDIAN:
            return statistics.median(values)
        case Aggregate.P90:
            if len(values) == 1:
                return values[0]
            return statistics.quantiles(values, n=10, method="inclusive")[-1]
    raise ValueError(f"unknown aggregate {function}")
