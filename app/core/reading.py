"""Which of a Key Result's samples an evaluation reads, as a request the store answers.

Evaluating at `now` reads the samples of the period up to a cutoff: the first, the latest
few, an aggregation window, and how many lie inside the band. The store (`app.store.samples`)
and the writer's remembered figures (`app.core.series`) answer the same request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.domain import Direction

if TYPE_CHECKING:
    from app.core.inputs import KeyResultSpec, Thresholds


def band_bounds(spec: KeyResultSpec) -> tuple[float | None, float | None]:
    """Return the band as (low, high), None for an open side: the store counts with these."""
    if spec.direction is Direction.WITHIN:
        assert spec.band is not None
        return spec.band
    if spec.direction is Direction.AT_LEAST:
        return spec.target, None
    return None, spec.target


def cutoff_ts(spec: KeyResultSpec, now: int) -> int:
    """Return the last instant whose samples count: `now`, or the period's last second."""
    return min(now, spec.period_end - 1)


@dataclass(frozen=True)
class ViewRequest:
    """Which slices of the samples an evaluation needs (see `progress.SampleView`)."""

    start: int
    cutoff: int
    recent: int
    window_start: int | None = None
    band: tuple[float | None, float | None] | None = None


def counted_band(spec: KeyResultSpec) -> tuple[float | None, float | None] | None:
    """Return the band whose samples are counted, or None (linear, or no target yet)."""
    if spec.direction.is_band and (spec.band or spec.target is not None):
        return band_bounds(spec)
    return None


def view_request(spec: KeyResultSpec, *, now_ts: int, thresholds: Thresholds) -> ViewRequest:
    """Return which slices of the samples evaluating `spec` at `now_ts` reads."""
    cutoff = cutoff_ts(spec, now_ts)
    return ViewRequest(
        start=spec.period_start,
        cutoff=cutoff,
        recent=thresholds.forecast_points,
        window_start=cutoff - spec.aggregate_window if spec.aggregate_window else None,
        band=counted_band(spec),
    )
