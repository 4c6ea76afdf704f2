"""Trajectories: the views cut from one read of the samples equal per-instant evaluations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import Aggregate, Direction
from app.progress import KeyResultSpec, Thresholds, band_bounds, evaluate, view_from_points
from app.trajectory import trajectory, views_at

DAY = 86400
START = 1_790_812_800  # 2026-10-01
END = START + 92 * DAY
THRESHOLDS = Thresholds(forecast_points=5)
GRID = 6 * 3600  # times on a coarse grid, so samples fall exactly on window and period edges


@st.composite
def specs(draw: st.DrawFn) -> KeyResultSpec:
    """Draw a Key Result of any direction, maybe aggregated over a window."""
    direction = draw(st.sampled_from(list(Direction)))
    aggregated = draw(st.booleans())
    return KeyResultSpec(
        direction=direction,
        period_start=START,
        period_end=END,
        baseline=None if direction.is_band else 10.0,
        baseline_from_first_sample=not direction.is_band and draw(st.booleans()),
        target=None if direction is Direction.WITHIN else 50.0,
        band=(20.0, 60.0) if direction is Direction.WITHIN else None,
        interval_seconds=DAY,
        aggregate=draw(st.sampled_from(list(Aggregate))) if aggregated else None,
        aggregate_window=draw(st.integers(1, 80)) * GRID if aggregated else None,
    )


@settings(max_examples=300, deadline=None)
@given(
    spec=specs(),
    times=st.lists(st.integers(-20, 390), max_size=40, unique=True),
    values=st.lists(st.integers(-10, 100), min_size=40, max_size=40),
    instants=st.lists(st.integers(-4, 372), min_size=1, max_size=8),
)
def test_views_cut_from_one_read_evaluate_like_per_instant_views(
    spec: KeyResultSpec, times: list[int], values: list[int], instants: list[int]
) -> None:
    """At every instant the views hold the same samples and the engine gives the same result."""
    points = sorted((START + t * GRID, float(v)) for t, v in zip(times, values, strict=False))
    band = band_bounds(spec) if spec.direction.is_band else None
    instants = sorted(START + i * GRID for i in instants)
    cut = views_at(spec, points, instants, band=band, thresholds=THRESHOLDS)
    for at, view in zip(instants, cut, strict=True):
        reference = view_from_points(spec, points, now=at, thresholds=THRESHOLDS)
        assert (view.first, list(view.recent), list(view.window)) == (
            reference.first,
            list(reference.recent),
            list(reference.window),
        )
        if band is not None:
            assert (view.in_band, view.total) == (reference.in_band, reference.total)
        assert evaluate(spec, view, now=at, thresholds=THRESHOLDS) == evaluate(
            spec, reference, now=at, thresholds=THRESHOLDS
        )
    line = trajectory(spec, points, instants, band=band, thresholds=THRESHOLDS)
    assert [p.ts for p in line] == instants
