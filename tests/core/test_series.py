"""The sampler's in-memory summary of a series gives what reading the rows would give."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.domain import Direction
from app.core.inputs import KeyResultSpec
from app.core.series import LastAttempt
from app.core.reading import band_bounds
from app.core.progress import view_from_points
from app.core.series import FAILURE_STREAK_CAP, SeriesSummary, next_attempt

START = 1_790_000_000
END = START + 90 * 86400
RECENT = 30

values = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
# Instants before, inside and after the period, in one increasing sequence.
instants = st.lists(
    st.integers(min_value=START - 5 * 86400, max_value=END + 5 * 86400), unique=True, max_size=80
).map(sorted)


def summary_for(spec: KeyResultSpec) -> SeriesSummary:
    """Return the empty summary the recorder builds for `spec`."""
    return SeriesSummary(
        period_start=spec.period_start,
        period_end=spec.period_end,
        recent_size=RECENT,
        lower_is_better=spec.direction in (Direction.DECREASE, Direction.AT_MOST),
        band=band_bounds(spec) if spec.direction.is_band else None,
    )


def specs() -> st.SearchStrategy[KeyResultSpec]:
    """Key Results of every direction with a target (and a band for `within`)."""

    def build(direction: Direction, a: float, b: float) -> KeyResultSpec:
        band = (min(a, b), max(a, b)) if direction is Direction.WITHIN else None
        return KeyResultSpec(direction, START, END, target=a, band=band)

    return st.builds(build, st.sampled_from(list(Direction)), values, values)


@settings(max_examples=300, deadline=None)
@given(spec=specs(), times=instants, data=st.data())
def test_summary_matches_the_view_built_from_all_points(
    spec: KeyResultSpec, times: Sequence[int], data: st.DataObject
) -> None:
    points = [(t, data.draw(values)) for t in times]
    summary = summary_for(spec)
    for t, v in points:
        assert summary.append(t, v)
    now = END + 86400  # after every point: the whole period counts
    cutoff = min(now, END - 1)
    view = summary.view(cutoff)
    expected = view_from_points(spec, points, now=now)
    assert view is not None
    assert view.first == expected.first
    assert list(view.recent) == list(expected.recent)[-RECENT:]
    assert summary.recent == list(view.recent)
    if spec.direction.is_band:
        assert (view.in_band, view.total) == (expected.in_band, expected.total)
    kept = [(t, v) for t, v in points if START <= t < END]
    if kept:
        last_ts = kept[-1][0]
        previous = kept[-2][1] if len(kept) > 1 else None
        lower = spec.direction in (Direction.DECREASE, Direction.AT_MOST)
        best = (min if lower else max)(v for _, v in kept)
        assert summary.references(last_ts) == (previous, best)
        # Any other instant is not known from memory: the recorder asks the rows.
        assert summary.references(last_ts - 1) is None


def test_an_older_or_repeated_instant_is_refused() -> None:
    summary = summary_for(KeyResultSpec(Direction.INCREASE, START, END, target=1.0))
    assert summary.append(START + 600, 1.0)
    assert not summary.append(START + 600, 2.0)
    assert not summary.append(START + 300, 2.0)
    assert summary.recent[-1] == (START + 600, 1.0)


def test_samples_after_the_evaluation_instant_defer_to_the_database() -> None:
    summary = summary_for(KeyResultSpec(Direction.INCREASE, START, END, target=1.0))
    summary.append(START + 600, 1.0)
    assert summary.view(START + 599) is None
    view = summary.view(START + 600)
    assert view is not None and view.first == (START + 600, 1.0)


def test_failure_streak_counts_like_the_attempts_table() -> None:
    attempt: LastAttempt | None = None
    for i in range(FAILURE_STREAK_CAP + 5):
        attempt = next_attempt(attempt, ts=i, ok=False, reason=f"down {i}")
    assert attempt is not None
    assert attempt.consecutive_failures == FAILURE_STREAK_CAP
    assert attempt.reason == f"down {FAILURE_STREAK_CAP + 4}"
    recovered = next_attempt(attempt, ts=100, ok=True, reason=None)
    assert recovered == LastAttempt(ts=100, ok=True, reason=None, consecutive_failures=0)
    assert next_attempt(recovered, ts=101, ok=False, reason="x").consecutive_failures == 1
