"""Turn the samples Prometheus returns for one instant into one value, or refuse to."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from connectors.base import AmbiguousResult, NoData

if TYPE_CHECKING:
    from collections.abc import Callable

Reduce = Literal["sum", "max", "min", "avg"]


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    # fsum is exactly rounded, so a sum does not depend on the order of the series.
    "sum": math.fsum,
    "max": max,
    "min": min,
    "avg": _mean,
}


class Sample(NamedTuple):
    """One series' labels and its value as Prometheus wrote it."""

    labels: dict[str, str]
    text: str


def value_of(samples: list[Sample], *, reduce: Reduce | None, what: str) -> float:
    """Return the one value, or several combined with `reduce`; refuse anything else."""
    if not samples:
        raise NoData(f"{what} returned no series")
    if len(samples) > 1 and reduce is None:
        shown = ", ".join(selector(s.labels) for s in samples[:3])
        more = f" and {len(samples) - 3} more" if len(samples) > 3 else ""
        raise AmbiguousResult(
            f"{what} returned {len(samples)} series ({shown}{more}); set reduce = "
            '"sum", "max", "min" or "avg", or aggregate them in the query'
        )
    values = [_number(s, what=what) for s in samples]
    for sample, value in zip(samples, values, strict=True):
        # One non-finite series makes the whole instant unusable: dropping it would change
        # a sum or an average without anyone noticing.
        if not math.isfinite(value):
            raise NoData(f"{what} returned {sample.text} for {selector(sample.labels)}")
    if reduce is None:
        return values[0]
    return _REDUCERS[reduce](values)


def _number(sample: Sample, *, what: str) -> float:
    # Prometheus returns values as strings: float() reads them back exactly, NaN and Inf too.
    try:
        return float(sample.text)
    except ValueError:
        raise NoData(f"{what} returned {sample.text!r}, which is not a number") from None


def details_of(samples: list[Sample], *, query: str, reduce: Reduce | None) -> dict[str, Any]:
    """Return what to store with a value so a reader can find its series again."""
    details: dict[str, Any] = {
        "query": query,
        "series": [s.labels for s in samples[:10]],
        "series_count": len(samples),
    }
    if reduce is not None:
        details["reduce"] = reduce
    if len(samples) == 1:
        details["value_text"] = samples[0].text
    return details


def selector(labels: dict[str, str]) -> str:
    """Write labels as PromQL does: `name{key="value", ...}`."""
    pairs = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{pairs}}}"
