"""A Key Result's progress at many instants of its period, from one read of its samples.

Pure functions. `views_at` cuts the sorted samples of a period into the `SampleView` the
store's `load_sample_view` returns at each instant (first sample, latest points,
aggregation window, band counts), with bisection and running counts instead of one set
of queries per instant; the progress engine then evaluates each view as usual.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from app.progress import KeyResultSpec, SampleView, Thresholds, cutoff_ts, evaluate

Band = tuple[float | None, float | None]


@dataclass(frozen=True, slots=True)
class TrajectoryPoint:
    """Progress at one instant of the period, beside the progress expected by then."""

    ts: int
    progress: float | None
    expected: float | None


def _inside(band: Band, value: float) -> bool:
    low, high = band
    return (low is None or value >= low) and (high is None or value <= high)


def views_at(
    spec: KeyResultSpec,
    points: Sequence[tuple[int, float]],
    instants: Sequence[int],
    *,
    band: Band | None,
    thresholds: Thresholds,
) -> list[SampleView]:
    """Return the view of `points` (sorted by time) at each instant, as the store loads it.

    `band` is the band whose samples are counted (`evaluation.counted_band`), None for none.
    """
    times = [t for t, _ in points]
    start = bisect.bisect_left(times, spec.period_start)
    inside = [0, *itertools.accumulate(band is not None and _inside(band, v) for _, v in points)]
    views = []
    for at in instants:
        cutoff = cutoff_ts(spec, at)
        end = max(start, bisect.bisect_right(times, cutoff))
        window: list[float] = []
        if spec.aggregate_window is not None:
            after = max(start, bisect.bisect_right(times, cutoff - spec.aggregate_window))
            window = [v for _, v in points[after:end]]
        counted = band is not None
        views.append(
            SampleView(
                first=points[start] if end > start else None,
                recent=list(points[max(start, end - thresholds.forecast_points) : end]),
                window=window,
                in_band=inside[end] - inside[start] if counted else 0,
                total=end - start if counted else 0,
            )
        )
    return views


def trajectory(
    spec: KeyResultSpec,
    points: Sequence[tuple[int, float]],
    instants: Sequence[int],
    *,
    band: Band | None,
    thresholds: Thresholds,
) -> tuple[TrajectoryPoint, ...]:
    """Return the engine's progress and expected progress at each instant."""
    views = views_at(spec, points, instants, band=band, thresholds=thresholds)
    result = []
    for at, view in zip(instants, views, strict=True):
        evaluation = evaluate(spec, view, now=at, thresholds=thresholds)
        result.append(TrajectoryPoint(at, evaluation.progress, evaluation.expected_progress))
    return tuple(result)
