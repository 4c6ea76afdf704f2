"""The deadline forecast: a least-squares line and its 95% prediction interval."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.core.domain import Direction
from app.core.forecast import Forecast, linear_forecast, t_quantile_95
from app.core.inputs import KeyResultSpec, Thresholds
from app.core.progress import evaluate, view_from_points
from app.core.quantities import allowed_bounds, holding, inferred_bounds

DAY = 86400
HOUR = 3600
T0 = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())

# Two-sided 95% Student-t quantiles as printed in statistics textbooks (t_{0.975, df}).
TEXTBOOK_T95 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 8: 2.306, 10: 2.228, 11: 2.201,
    13: 2.160, 14: 2.145, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 21: 2.080, 22: 2.074,
    24: 2.064, 26: 2.056, 28: 2.048, 30: 2.042, 35: 2.030, 40: 2.021, 50: 2.009, 60: 2.000,
    80: 1.990, 100: 1.984, 120: 1.980,
}


def reference(points: list[tuple[int, float]], at_ts: int) -> tuple[float, float, float]:
    """Return (prediction, half-width, slope per day) from the stdlib regression and textbook t."""
    xs = [t / DAY for t, _ in points]
    ys = [v for _, v in points]
    n = len(xs)
    slope, intercept = statistics.linear_regression(xs, ys)
    x_bar = statistics.fmean(xs)
    sxx = sum((x - x_bar) ** 2 for x in xs)
    s = math.sqrt(sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
                  / (n - 2))
    x0 = at_ts / DAY
    half = TEXTBOOK_T95[n - 2] * s * math.sqrt(1 + 1 / n + (x0 - x_bar) ** 2 / sxx)
    return intercept + slope * x0, half, slope


def noisy_points(n: int, seed: int) -> list[tuple[int, float]]:
    """Return `n` samples six hours apart, rising about 1.5 a day with noise."""
    rng = random.Random(seed)
    return [(T0 + i * 6 * HOUR, 60 + 0.375 * i + rng.gauss(0, 2)) for i in range(n)]


@pytest.mark.parametrize(("n", "seed"), [(3, 1), (7, 2), (10, 3), (12, 4), (32, 5)])
def test_fit_matches_an_independent_regression(n: int, seed: int) -> None:
    """Value, slope and interval equal statistics.linear_regression with the textbook t value."""
    points = noisy_points(n, seed)
    at_ts = T0 + 92 * DAY
    forecast = linear_forecast(points, at_ts=at_ts, max_points=n)
    assert forecast is not None
    value, half, slope = reference(points, at_ts)
    assert forecast.value == pytest.approx(value, rel=1e-9)
    assert forecast.slope_per_day == pytest.approx(slope, rel=1e-9)
    assert forecast.high - forecast.value == pytest.approx(half, rel=2e-3)
    assert forecast.value - forecast.low == pytest.approx(half, rel=2e-3)
    assert (forecast.points, forecast.at_ts) == (n, at_ts)


def test_only_the_last_max_points_are_fitted() -> None:
    """With more points than `max_points`, the fit uses the most recent ones only."""
    points = noisy_points(40, 6)
    at_ts = T0 + 30 * DAY
    forecast = linear_forecast(points, at_ts=at_ts, max_points=10)
    assert forecast is not None and forecast.points == 10
    value, _, slope = reference(points[-10:], at_ts)
    assert forecast.value == pytest.approx(value, rel=1e-9)
    assert forecast.slope_per_day == pytest.approx(slope, rel=1e-9)


def test_exact_line_has_a_zero_width_interval() -> None:
    """Points exactly on a line predict that line with low == value == high."""
    points = [(T0 + d * DAY, 10.0 + 3.0 * d) for d in range(6)]
    forecast = linear_forecast(points, at_ts=T0 + 20 * DAY)
    assert forecast == Forecast(
        at_ts=T0 + 20 * DAY, value=70.0, low=70.0, high=70.0, points=6, slope_per_day=3.0
    )


def test_exact_hourly_line_at_real_timestamps_keeps_precision() -> None:
    """A line sampled hourly at 2026 timestamps is extrapolated 60 days out without drift."""
    points = [(T0 + h * HOUR, 400.0 - 0.5 * h) for h in range(48)]
    forecast = linear_forecast(points, at_ts=T0 + 60 * DAY, max_points=48)
    assert forecast is not None
    assert forecast.value == pytest.approx(400.0 - 0.5 * 24 * 60, abs=1e-6)
    assert forecast.slope_per_day == pytest.approx(-12.0, abs=1e-9)
    assert forecast.high - forecast.low < 1e-6


@pytest.mark.parametrize(
    "points",
    [
        [],
        [(T0, 1.0)],
        [(T0, 1.0), (T0 + DAY, 2.0)],
        [(T0, 1.0), (T0, 2.0), (T0, 3.0)],
        [(T0, 1.0), (T0 + DAY, math.nan), (T0 + 2 * DAY, 3.0)],
        [(T0, 1.0), (T0 + DAY, math.inf), (T0 + 2 * DAY, -math.inf)],
    ],
    ids=["none", "one", "two", "one instant", "nan leaves two", "inf leaves one"],
)
def test_fewer_than_three_usable_points_give_no_forecast(points: list[tuple[int, float]]) -> None:
    """Fewer than three finite points, or all at one instant, give no forecast."""
    assert linear_forecast(points, at_ts=T0 + 10 * DAY) is None


def test_non_finite_points_are_skipped() -> None:
    """NaN and infinity among the points are ignored, not fitted."""
    clean = [(T0 + d * DAY, 5.0 * d) for d in range(4)]
    dirty = [*clean[:2], (T0 + DAY + 60, math.nan), *clean[2:], (T0 + 9 * DAY, math.inf)]
    assert linear_forecast(dirty, at_ts=T0 + 10 * DAY) == linear_forecast(
        clean, at_ts=T0 + 10 * DAY
    )


def test_interval_widens_further_from_the_data() -> None:
    """The prediction interval grows the further the deadline lies beyond the samples."""
    points = noisy_points(15, 7)
    widths = []
    for days in (4, 10, 30, 90, 365):
        forecast = linear_forecast(points, at_ts=T0 + days * DAY)
        assert forecast is not None
        widths.append(forecast.high - forecast.low)
    assert widths == sorted(widths) and widths[0] < widths[-1]


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=3, max_size=20),
    near=st.integers(min_value=0, max_value=100),
    further=st.integers(min_value=1, max_value=1000),
)
def test_interval_width_grows_with_distance_from_the_mean(
    values: list[float], near: int, further: int
) -> None:
    """For any data, a deadline further from the mean sample time never gets a narrower interval."""
    assume(statistics.pstdev(values) > 1e-3)
    points = [(T0 + i * HOUR, v) for i, v in enumerate(values)]
    mean_ts = T0 + (len(values) - 1) * HOUR // 2
    a = linear_forecast(points, at_ts=mean_ts + near * HOUR, max_points=len(values))
    b = linear_forecast(points, at_ts=mean_ts + (near + further) * HOUR, max_points=len(values))
    assert a is not None and b is not None
    assert a.high - a.low <= (b.high - b.low) * (1 + 1e-12)
    assert a.low <= a.value <= a.high


@pytest.mark.parametrize("df", [1, 5, 30])
def test_t_quantiles_equal_textbook_values(df: int) -> None:
    """The t quantile for df 1, 5 and 30 is the textbook 12.706, 2.571 and 2.042."""
    assert t_quantile_95(df) == pytest.approx(TEXTBOOK_T95[df], abs=5e-4)


@pytest.mark.parametrize("df", sorted(TEXTBOOK_T95))
def test_t_quantiles_never_narrow_the_interval(df: int) -> None:
    """Between table rows the quantile used is at least the true one (so intervals are wider)."""
    assert t_quantile_95(df) >= TEXTBOOK_T95[df] - 5e-4
    assert t_quantile_95(df) <= TEXTBOOK_T95[df] + 0.06


def test_t_quantile_beyond_the_table_is_conservative() -> None:
    """For df 200 the quantile is at least the textbook 1.972."""
    assert t_quantile_95(200) >= 1.972


def test_t_quantile_needs_a_degree_of_freedom() -> None:
    """Zero degrees of freedom is refused."""
    with pytest.raises(ValueError):
        t_quantile_95(0)


def test_evaluation_forecasts_the_value_at_the_period_end() -> None:
    """evaluate() forecasts at the period's end from the last `forecast_points` samples."""
    end = T0 + 92 * DAY
    spec = KeyResultSpec(direction=Direction.INCREASE, period_start=T0, period_end=end,
                         baseline=60.0, target=85.0, interval_seconds=6 * HOUR)
    points = noisy_points(50, 8)
    now = points[-1][0] + 60
    thresholds = Thresholds(forecast_points=12)
    view = view_from_points(spec, points, now=now, thresholds=thresholds)
    result = evaluate(spec, view, now=now, thresholds=thresholds)
    assert result.forecast is not None
    assert result.forecast.at_ts == end and result.forecast.points == 12
    value, half, _ = reference(points[-12:], end)
    assert result.forecast.value == pytest.approx(value, rel=1e-9)
    assert result.forecast.high - result.forecast.low == pytest.approx(2 * half, rel=2e-3)


MINUTE = 60


def p99_spec(**fields: object) -> KeyResultSpec:
    """Return a P99 latency Key Result (seconds, lower is better) over a 92-day quarter."""
    base: dict[str, object] = {
        "direction": Direction.DECREASE, "period_start": T0, "period_end": T0 + 92 * DAY,
        "baseline": 600.0, "target": 300.0, "value_range": (0.0, None),
    }
    return KeyResultSpec(**{**base, **fields})  # type: ignore[arg-type]


def test_the_reported_p99_case_gets_no_forecast_and_says_why() -> None:
    """21 samples over 5 minutes (the issue's P99 case) give no forecast, with the reason."""
    spec = p99_spec()
    start = T0 + 40 * DAY
    points = [(start + 15 * i, 524.0 + (-1) ** i * 300.0 * (i % 5) / 5) for i in range(21)]
    now = points[-1][0]
    result = evaluate(spec, view_from_points(spec, points, now=now), now=now)
    assert result.forecast is None
    assert result.forecast_reason is not None
    reason = "not enough history for a forecast: 21 samples over 5 min"
    assert result.forecast_reason.startswith(reason)


@settings(max_examples=200, deadline=None)
@given(
    period_days=st.integers(min_value=1, max_value=400),
    offset=st.floats(min_value=0, max_value=0.8),
    span_share=st.floats(min_value=0, max_value=1),
    count=st.integers(min_value=3, max_value=60),
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=60, max_size=60),
)
def test_no_forecast_from_a_short_span(
    period_days: int, offset: float, span_share: float, count: int, values: list[float]
) -> None:
    """A forecast needs samples on 3 distinct UTC days spanning 10% of the measured period."""
    end = T0 + period_days * DAY
    spec = KeyResultSpec(direction=Direction.INCREASE, period_start=T0, period_end=end,
                         baseline=0.0, target=1e7)
    first = T0 + int(offset * (end - T0) * 0.5)
    span = int(span_share * (end - first - 1))
    points = [(first + span * i // (count - 1), values[i]) for i in range(count)]
    now = points[-1][0]
    result = evaluate(spec, view_from_points(spec, points, now=now), now=now)
    days = {datetime.fromtimestamp(t, UTC).date() for t, _ in points}
    short = len(days) < 3 or span < 0.10 * (end - T0)
    if short:
        assert result.forecast is None and result.forecast_reason is not None


units = st.sampled_from(["%", "s", "ms", "req/s", "deploys/day", "count", "ratio", "users"])


@settings(max_examples=300, deadline=None)
@given(
    unit=units,
    explicit=st.one_of(st.none(), st.tuples(st.floats(-1e3, 0), st.floats(1, 1e3))),
    values=st.lists(st.floats(min_value=-1e4, max_value=1e4), min_size=3, max_size=40),
    step_hours=st.integers(min_value=1, max_value=72),
    direction=st.sampled_from([Direction.INCREASE, Direction.DECREASE]),
)
def test_no_forecast_or_bound_outside_the_allowed_range(
    unit: str,
    explicit: tuple[float, float] | None,
    values: list[float],
    step_hours: int,
    direction: Direction,
) -> None:
    """The forecast and both ends of its interval lie within the unit's or `range`'s bounds."""
    bounds = allowed_bounds(unit, low=explicit[0] if explicit else None,
                            high=explicit[1] if explicit else None)
    # A side that excludes the Key Result's own baseline (1) or target (2) is dropped.
    low, high = holding(bounds, 1.0, 2.0)
    spec = KeyResultSpec(direction=direction, period_start=T0, period_end=T0 + 60 * DAY,
                         baseline=1.0, target=2.0, value_range=(low, high))
    points = [(T0 + i * step_hours * HOUR, v) for i, v in enumerate(values)]
    now = points[-1][0]
    result = evaluate(spec, view_from_points(spec, points, now=now), now=now)
    if result.forecast is None:
        return
    for bound in (result.forecast.value, result.forecast.low, result.forecast.high):
        assert low is None or bound >= low
        assert high is None or bound <= high
    assert result.forecast.low <= result.forecast.value <= result.forecast.high


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("%", (0.0, 100.0)), ("percent", (0.0, 100.0)), ("s", (0.0, None)), ("ms", (0.0, None)),
     ("req/s", (0.0, None)), ("deploys/day", (0.0, None)), ("users", (0.0, None)),
     ("ratio", (0.0, 1.0)), ("", (None, None)), ("°C", (None, None)), ("score", (None, None))],
)
def test_bounds_inferred_from_the_unit(
    unit: str, expected: tuple[float | None, float | None]
) -> None:
    """Percentages are 0–100, ratios 0–1, durations, rates and counts ≥ 0; others are open."""
    assert inferred_bounds(unit) == expected


def test_a_falling_latency_is_never_forecast_below_zero() -> None:
    """A latency trending down steeply is forecast at 0 s at most, never negative."""
    spec = p99_spec()
    points = [(T0 + d * DAY, 500.0 - 40.0 * d + (d % 3)) for d in range(12)]
    now = points[-1][0]
    result = evaluate(spec, view_from_points(spec, points, now=now), now=now)
    assert result.forecast is not None
    assert result.forecast.value == 0.0 and result.forecast.low == 0.0
    assert result.forecast.high >= 0.0


def test_inferred_bounds_never_cut_below_the_targets_own_side() -> None:
    """A "%" Key Result aiming at 150% is not capped at 100: its target must stay reachable."""
    spec = KeyResultSpec(direction=Direction.INCREASE, period_start=T0, period_end=T0 + 92 * DAY,
                         baseline=100.0, target=150.0, value_range=inferred_bounds("%"))
    points = [(T0 + d * DAY, 100.0 + 2.0 * d + (d % 2)) for d in range(12)]
    now = points[-1][0]
    result = evaluate(spec, view_from_points(spec, points, now=now), now=now)
    assert result.forecast is not None
    assert result.forecast.value > 150.0 and result.forecast.high > result.forecast.value
    assert result.forecast.low >= 0.0  # the side that holds the baseline and target stays
