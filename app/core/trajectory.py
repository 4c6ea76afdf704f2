"""A Key Result's progress at many instants of its period, from per-instant summaries.

Pure functions. Progress at an instant needs only the period's first sample (a
`first_sample` baseline), the last sample up to the instant (the current value), the
aggregation window's values and the band counts up to the instant; the store computes
those for all instants in a couple of grouped queries (`store_reports.instant_summaries`)
instead of reading every sample, and the progress engine evaluates the resulting views.
The views leave out the older points a forecast needs: a trajectory shows no forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.progress import evaluate
from app.core.series import InstantSummary, SampleView

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.inputs import KeyResultSpec, Thresholds


@dataclass(frozen=True, slots=True)
class TrajectoryPoint:
    """Progress at one instant of the period, beside the progress expected by then."""

    ts: int
    progress: float | None
    expected: float | None


def view_of(
    first: tuple[int, float] | None, summary: InstantSummary, *, counted: bool
) -> SampleView:
    """Return the view progress is computed from; band counts only when a band is counted."""
    present = summary.last is not None
    return SampleView(
        first=first if present else None,
        recent=[summary.last] if summary.last is not None else [],
        window=list(summary.window),
        in_band=summary.in_band if counted else 0,
        total=summary.total if counted else 0,
    )


def trajectory(
    spec: KeyResultSpec,
    first: tuple[int, float] | None,
    summaries: Sequence[InstantSummary],
    *,
    counted: bool,
    thresholds: Thresholds,
) -> tuple[TrajectoryPoint, ...]:
    """Return the engine's progress and expected progress at each summarised instant."""
    points = []
    for summary in summaries:
        view = view_of(first, summary, counted=counted)
        evaluation = evaluate(spec, view, now=summary.at, thresholds=thresholds)
        points.append(
            TrajectoryPoint(summary.at, evaluation.progress, evaluation.expected_progress)
        )
    return tuple(points)
