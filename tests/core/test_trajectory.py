"""Trajectories: progress from per-instant summaries equals the engine over every sample."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.domain import Aggregate, Direction
from app.core.inputs import KeyResultSpec, Thresholds
from app.core.reading import band_bounds, cutoff_ts
from app.core.progress import evaluate, view_from_points
from app.core.series import InstantSummary
from app.core.trajectory import trajectory

Band = tuple[float | None, float | None]

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


def summarise(
    spec: KeyResultSpec, points: list[tuple[int, float]], at: int, band: Band | None
) -> InstantSummary:
    """Summarise the points up to `at` the way the store's grouped query does."""
    cutoff = cutoff_ts(spec, at)
    kept = [(t, v) for t, v in points if spec.period_start <= t <= cutoff]
    low, high = band if band is not None else (None, None)
    inside = sum(1 for _, v in kept if (low is None or v >= low) and (high is None or v <= high))
    window: list[float] = []
    if spec.aggregate_window is not None:
        window = [v for t, v in kept if t > cutoff - spec.aggregate_window]
    return InstantSummary(at, len(kept), inside, kept[-1] if kept else None, window)


@settings(max_examples=300, deadline=None)
@given(
    spec=specs(),
    times=st.lists(st.integers(-20, 390), max_size=40, unique=True),
    values=st.lists(st.integers(-10, 100), min_size=40, max_size=40),
    instants=st.lists(st.integers(0, 372), min_size=1, max_size=8),
)
def test_progress_from_summaries_equals_the_engine_on_every_sample(
    spec: KeyResultSpec, times: list[int], values: list[int], instants: list[int]
) -> None:
    """Progress and expected progress from summaries equal the engine's over all samples."""
    points = sorted((START + t * GRID, float(v)) for t, v in zip(times, values, strict=False))
    band = band_bounds(spec) if spec.direction.is_band else None
    instants = sorted(START + i * GRID for i in instants)
    in_period = [(t, v) for t, v in points if t >= START]
    first = in_period[0] if in_period else None
    summaries = [summarise(spec, points, at, band) for at in instants]
    line = trajectory(spec, first, summaries, counted=band is not None, thresholds=THRESHOLDS)
    assert [p.ts for p in line] == instants
    for point in line:
        view = view_from_points(spec, points, now=point.ts, thresholds=THRESHOLDS)
        full = evaluate(spec, view, now=point.ts, thresholds=THRESHOLDS)
        assert (point.progress, point.expected) == (full.progress, full.expected_progress)
