"""The progress engine: progress, expected progress, status with its reason, and the score."""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.domain import Aggregate, Direction, Status
from app.core.inputs import Evaluation, KeyResultSpec, Thresholds
from app.core.series import LastAttempt
from app.core.progress import evaluate, view_from_points

DAY = 86400
HOUR = 3600
START = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
END = START + 100 * DAY  # a 100-day period: day d means d% of the period is gone
DEFAULT_THRESHOLDS = Thresholds()
RANK = {Status.OFF_TRACK: 0, Status.AT_RISK: 1, Status.ON_TRACK: 2, Status.ACHIEVED: 3}


def at(day: float) -> int:
    """Return the instant `day` days after the period starts."""
    return START + int(day * DAY)


def spec(**fields: object) -> KeyResultSpec:
    """Return an hourly increase KR from 0 to 100 over the 100-day period, with `fields` changed."""
    base: dict[str, object] = {
        "direction": Direction.INCREASE,
        "period_start": START,
        "period_end": END,
        "baseline": 0.0,
        "target": 100.0,
        "interval_seconds": HOUR,
    }
    base.update(fields)
    return KeyResultSpec(**base)  # type: ignore[arg-type]


def run(
    kr: KeyResultSpec,
    points: Sequence[tuple[int, float]],
    now: int,
    *,
    last_attempt: LastAttempt | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Evaluation:
    """Evaluate `kr` at `now` from a plain list of points, as the store would."""
    view = view_from_points(kr, points, now=now, thresholds=thresholds)
    return evaluate(kr, view, now=now, last_attempt=last_attempt, thresholds=thresholds)


def one_sample(value: float, now: int) -> list[tuple[int, float]]:
    """Return a single sample taken a minute before `now`."""
    return [(now - 60, value)]


def plain_progress(baseline: float, target: float, current: float) -> float:
    """Compute the progress formula of the issue, written out independently."""
    return (current - baseline) / (target - baseline)


def float_fields(result: Evaluation) -> list[tuple[str, object]]:
    """Return every numeric field of an Evaluation and of its forecast."""
    out = [(f.name, getattr(result, f.name)) for f in dataclasses.fields(result)]
    if result.forecast is not None:
        out += [(f"forecast.{f.name}", getattr(result.forecast, f.name))
                for f in dataclasses.fields(result.forecast)]
    return [(name, v) for name, v in out if not isinstance(v, str | Status) and name != "forecast"]


# ---- linear Key Results: progress and status --------------------------------------------

LINEAR_CASES = [
    # (direction, baseline, target, day, current, status)
    (Direction.INCREASE, 0, 100, 50, 45, Status.ON_TRACK),
    (Direction.INCREASE, 0, 100, 50, 50, Status.ON_TRACK),
    (Direction.INCREASE, 0, 100, 50, 35, Status.AT_RISK),
    (Direction.INCREASE, 0, 100, 50, 20, Status.OFF_TRACK),
    (Direction.INCREASE, 0, 100, 50, 100, Status.ACHIEVED),
    (Direction.INCREASE, 0, 100, 50, 130, Status.ACHIEVED),
    (Direction.INCREASE, 0, 100, 1, 0, Status.ON_TRACK),
    (Direction.INCREASE, 0, 100, 5, -30, Status.AT_RISK),  # 35 behind, but inside the grace
    (Direction.INCREASE, 0, 100, 9, -50, Status.AT_RISK),
    (Direction.INCREASE, 0, 100, 11, -20, Status.OFF_TRACK),  # grace is over
    (Direction.INCREASE, 0, 100, 95, 80, Status.AT_RISK),
    (Direction.INCREASE, 0, 100, 95, 60, Status.OFF_TRACK),
    (Direction.INCREASE, 60, 85, 40, 68, Status.ON_TRACK),  # coverage 60% -> 85%
    (Direction.INCREASE, 60, 85, 40, 65, Status.AT_RISK),
    (Direction.DECREASE, 400, 280, 50, 340, Status.ON_TRACK),  # P99 latency -30%
    (Direction.DECREASE, 400, 280, 50, 364, Status.AT_RISK),
    (Direction.DECREASE, 400, 280, 50, 400, Status.OFF_TRACK),
    (Direction.DECREASE, 400, 280, 50, 280, Status.ACHIEVED),
    (Direction.DECREASE, 400, 280, 50, 250, Status.ACHIEVED),
    (Direction.DECREASE, 400, 280, 5, 430, Status.AT_RISK),  # worse than baseline, in grace
]


@pytest.mark.parametrize(
    ("direction", "baseline", "target", "day", "current", "status"), LINEAR_CASES
)
def test_linear_progress_and_status(
    direction: Direction, baseline: float, target: float, day: int, current: float,
    status: Status,
) -> None:
    """Progress is (current − baseline)/(target − baseline); status follows the thresholds."""
    kr = spec(direction=direction, baseline=baseline, target=target)
    result = run(kr, one_sample(current, at(day)), at(day))
    assert result.progress == pytest.approx(plain_progress(baseline, target, current))
    assert result.expected_progress == pytest.approx(day / 100)
    assert result.current_value == current
    assert (result.baseline, result.target) == (baseline, target)
    assert result.status is status, result.reason
    assert result.reason.strip()
    assert result.score is None


@pytest.mark.parametrize(
    ("day", "current", "status"),
    [
        (50, 35, Status.ON_TRACK),  # 15 behind < 20
        (50, 25, Status.AT_RISK),  # 25 behind
        (50, 5, Status.OFF_TRACK),  # 45 behind > 40 and half the period gone
        (40, -20, Status.AT_RISK),  # 60 behind but inside a 50% grace
    ],
)
def test_thresholds_are_configurable(day: int, current: float, status: Status) -> None:
    """Custom at-risk, off-track and grace thresholds move the status boundaries."""
    thresholds = Thresholds(at_risk_behind=0.2, off_track_behind=0.4, grace_fraction=0.5)
    result = run(spec(), one_sample(current, at(day)), at(day), thresholds=thresholds)
    assert result.status is status, result.reason


def test_status_reason_states_the_numbers() -> None:
    """An at-risk reason says the value, the target, the baseline and how far behind it is."""
    result = run(spec(direction=Direction.DECREASE, baseline=400, target=280),
                 one_sample(364, at(50)), at(50))
    assert result.status is Status.AT_RISK
    for part in ("364", "280", "400", "30%", "50%", "20% behind"):
        assert part in result.reason


# ---- lifecycle: not started, closed, no data, stale, error ------------------------------


def test_not_started_before_the_period() -> None:
    """Before the period starts the KR is not_started, with the start date as its reason."""
    result = run(spec(), [(START - DAY, 50.0)], START - HOUR)
    assert result.status is Status.NOT_STARTED
    assert "2026-10-01" in result.reason
    assert result.progress is None and result.score is None


@pytest.mark.parametrize(("last_value", "score"), [(70.0, 0.7), (130.0, 1.0), (-20.0, 0.0)])
def test_closed_period_freezes_a_clamped_score(last_value: float, score: float) -> None:
    """After the end the status is closed and the score is the last in-period progress in [0, 1]."""
    points = [(at(10), 10.0), (END - HOUR, last_value), (END + HOUR, 500.0)]
    for now in (END, END + 1, END + 90 * DAY):
        result = run(spec(), points, now)
        assert result.status is Status.CLOSED
        assert result.score == pytest.approx(score)
        assert result.progress == pytest.approx(last_value / 100)
        assert f"final score {score:.2f}" in result.reason
        assert result.forecast is None


def test_closed_without_samples_has_no_score() -> None:
    """A period that ends with no samples closes with no score and says so."""
    result = run(spec(), [], END + DAY)
    assert result.status is Status.CLOSED
    assert result.score is None
    assert "no data to score" in result.reason


def test_no_samples_is_no_data() -> None:
    """With no sample in the period the status is no_data, with a reason."""
    result = run(spec(), [(START - DAY, 50.0)], at(3))
    assert result.status is Status.NO_DATA
    assert "no samples" in result.reason
    assert result.current_value is None and result.progress is None


def test_no_target_is_no_data() -> None:
    """A KR with samples but no target reports no_data and says there is nothing to measure."""
    result = run(spec(target=None), one_sample(5, at(3)), at(3))
    assert result.status is Status.NO_DATA
    assert "no target" in result.reason


@pytest.mark.parametrize(
    ("age", "intervals", "stale"),
    [
        (3 * HOUR, 3, False),
        (3 * HOUR + 1, 3, True),
        (5 * HOUR, 5, False),
        (5 * HOUR + 1, 5, True),
    ],
)
def test_stale_after_the_configured_number_of_intervals(
    age: int, intervals: int, stale: bool
) -> None:
    """No sample for more than N intervals (3 by default) turns the status stale."""
    now = at(50)
    result = run(spec(), [(now - age, 50.0)], now,
                 thresholds=Thresholds(stale_after_intervals=intervals))
    assert (result.status is Status.STALE) is stale, result.reason
    if stale:
        assert "ago" in result.reason and "every 1h" in result.reason


def test_unscheduled_key_result_is_never_stale() -> None:
    """A KR without an interval (fed by people) does not go stale however old its sample."""
    result = run(spec(interval_seconds=None), [(at(1), 50.0)], at(60))
    assert result.status is Status.ON_TRACK


@pytest.mark.parametrize(
    ("points", "attempt", "status"),
    [
        ([(at(50) - 2 * HOUR, 50.0)], LastAttempt(at(50) - HOUR, False, "HTTP 503", 2),
         Status.ERROR),
        ([], LastAttempt(at(50) - HOUR, False, "connection refused", 1), Status.ERROR),
        ([(at(50) - HOUR, 50.0)], LastAttempt(at(50) - 2 * HOUR, False, "HTTP 503", 1),
         Status.ON_TRACK),
        ([(at(50) - 2 * HOUR, 50.0)], LastAttempt(at(50) - HOUR, True), Status.ON_TRACK),
    ],
)
def test_error_when_the_last_attempt_failed_after_the_last_sample(
    points: list[tuple[int, float]], attempt: LastAttempt, status: Status
) -> None:
    """A failed attempt newer than the last sample is an error citing the failure; older is not."""
    result = run(spec(), points, at(50), last_attempt=attempt)
    assert result.status is status, result.reason
    if status is Status.ERROR:
        assert attempt.reason is not None and attempt.reason in result.reason
        assert f"last {attempt.consecutive_failures} attempt(s) failed" in result.reason


@pytest.mark.parametrize(
    ("kind", "age", "status"),
    [
        ("backing_off", 2 * HOUR, Status.ERROR),
        ("backing_off", 4 * HOUR, Status.STALE),
        ("source_unavailable", 4 * HOUR, Status.STALE),
        ("query_rejected", 4 * HOUR, Status.ERROR),
        (None, 4 * HOUR, Status.ERROR),
    ],
)
def test_an_away_source_is_an_error_then_stale(kind: str | None, age: int, status: Status) -> None:
    """A source that is away makes an error, then stale once the samples are old; a broken query stays an error."""
    now = at(50)
    reason = "source unavailable since 09:00:00 UTC, next try 10:04:00 UTC"
    attempt = LastAttempt(now - 60, False, reason, 3, kind=kind)
    result = run(spec(), [(now - age, 50.0)], now, last_attempt=attempt)
    assert result.status is status, result.reason
    assert reason in result.reason
    if status is Status.STALE:
        assert "every 1h" in result.reason


def test_error_without_a_reason_still_explains() -> None:
    """A failed attempt with no stored reason still gives a non-empty reason."""
    result = run(spec(), [], at(50), last_attempt=LastAttempt(at(50), False))
    assert result.status is Status.ERROR
    assert "unknown error" in result.reason


# ---- band Key Results -------------------------------------------------------------------


def _band_points(values: Sequence[float]) -> list[tuple[int, float]]:
    """Return hourly samples ending one hour before day 20."""
    return [(at(20) - (len(values) - i) * HOUR, v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("kr", "values", "status"),
    [
        (spec(direction=Direction.WITHIN, baseline=None, target=None, band=(100.0, 200.0)),
         [100, 150, 200, 120, 180, 199, 101, 150, 160, 170], Status.ON_TRACK),
        (spec(direction=Direction.WITHIN, baseline=None, target=None, band=(100.0, 200.0)),
         [100, 150, 200, 120, 180, 199, 101, 150, 160, 99], Status.ON_TRACK),
        (spec(direction=Direction.WITHIN, baseline=None, target=None, band=(100.0, 200.0)),
         [100, 150, 200, 120, 180, 199, 101, 201, 99, 250], Status.AT_RISK),
        (spec(direction=Direction.WITHIN, baseline=None, target=None, band=(100.0, 200.0)),
         [100, 150, 200, 120, 180, 199, 20, 201, 99, 250], Status.OFF_TRACK),
        (spec(direction=Direction.AT_LEAST, baseline=None, target=99.9),
         [99.95, 99.9, 100, 99.99, 99.91, 99.92, 99.8, 99.97, 99.5, 99.93], Status.AT_RISK),
        (spec(direction=Direction.AT_MOST, baseline=None, target=300.0),
         [250, 300, 299, 310, 100, 280, 290, 270, 260, 240], Status.ON_TRACK),
    ],
)
def test_band_key_results_score_the_share_inside_the_band(
    kr: KeyResultSpec, values: list[float], status: Status
) -> None:
    """Band KRs score the share of the period's samples inside the band (edges included)."""
    low, high = kr.band if kr.band else (
        (kr.target, math.inf) if kr.direction is Direction.AT_LEAST else (-math.inf, kr.target)
    )
    assert low is not None and high is not None
    share = sum(1 for v in values if low <= v <= high) / len(values)
    points = [(START - DAY, 0.0), *_band_points(values), (at(30), 0.0)]  # outside period/now
    result = run(kr, points, at(20))
    assert result.progress == pytest.approx(share)
    assert result.status is status, result.reason
    assert f"{share:.0%} of samples inside the band" in result.reason
    assert result.expected_progress is None and result.forecast is None
    closed = run(kr, points[:-1], END + DAY)
    assert closed.status is Status.CLOSED and closed.score == pytest.approx(share)


def test_band_key_result_is_never_off_track_in_the_grace_period() -> None:
    """A band KR with one sample outside the band on day 1 is at most at risk."""
    kr = spec(direction=Direction.AT_MOST, baseline=None, target=300.0)
    result = run(kr, one_sample(450, at(1)), at(1))
    assert result.status is not Status.OFF_TRACK


# ---- aggregation windows and relative targets -------------------------------------------


def _p90(values: list[float]) -> float:
    """Return the 90th percentile by linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = 0.9 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


PLAIN_AGGREGATES: dict[Aggregate, Callable[[list[float]], float]] = {
    Aggregate.LAST: lambda v: v[-1],
    Aggregate.AVG: lambda v: sum(v) / len(v),
    Aggregate.MIN: min,
    Aggregate.MAX: max,
    Aggregate.SUM: sum,
    Aggregate.MEDIAN: _median,
    Aggregate.P90: _p90,
}


@pytest.mark.parametrize("function", list(Aggregate))
def test_aggregation_window_gives_the_current_value(function: Aggregate) -> None:
    """With an aggregate, the current value reduces the samples of the trailing window."""
    rng = random.Random(20261001)
    points = [(at(0) + h * HOUR, round(rng.uniform(50, 500), 3)) for h in range(3 * 24 + 1)]
    now = at(3) + HOUR // 2  # not on a sample, so no point sits on the window's edge
    window = [v for t, v in points if now - DAY < t <= now]
    assert len(window) == 24
    kr = spec(aggregate=function, aggregate_window=DAY, baseline=0.0, target=1000.0)
    result = run(kr, points, now)
    expected = PLAIN_AGGREGATES[function](window)
    assert result.current_value == pytest.approx(expected, rel=1e-12)
    assert result.progress == pytest.approx(expected / 1000, rel=1e-12)


def test_empty_aggregation_window_is_no_data() -> None:
    """With no sample inside the window there is no current value and the reason says why."""
    kr = spec(aggregate=Aggregate.AVG, aggregate_window=DAY, interval_seconds=None)
    result = run(kr, [(at(1), 50.0)], at(5))
    assert result.status is Status.NO_DATA
    assert result.current_value is None
    assert "1d aggregation window" in result.reason


def test_relative_target_from_the_first_sample_of_the_period() -> None:
    """`-30%` from the first in-period sample 200 gives target 140; 170 is halfway there."""
    kr = spec(direction=Direction.DECREASE, baseline=None, target=None,
              baseline_from_first_sample=True, relative_target=-0.3)
    points = [(START - DAY, 999.0), (START + HOUR, 200.0), (at(10), 185.0), (at(20), 170.0)]
    result = run(kr, points, at(20) + 60)
    assert result.baseline == 200.0
    assert result.target == pytest.approx(140.0)
    assert result.progress == pytest.approx(plain_progress(200, 140, 170))
    assert result.status is Status.ON_TRACK


def test_relative_target_from_a_numeric_baseline() -> None:
    """`+20%` on baseline 50 gives target 60."""
    kr = spec(baseline=50.0, target=None, relative_target=0.2)
    result = run(kr, one_sample(55, at(50)), at(50))
    assert result.target == pytest.approx(60.0)
    assert result.progress == pytest.approx(plain_progress(50, 60, 55))


@pytest.mark.parametrize(
    "kr",
    [
        spec(baseline=42.0, target=42.0),
        spec(baseline=None, target=None, baseline_from_first_sample=True, relative_target=0.5),
    ],
    ids=["target equals baseline", "relative target from a zero first sample"],
)
def test_target_equal_to_baseline_gives_no_progress(kr: KeyResultSpec) -> None:
    """When target equals baseline progress is None (never a division by zero) with a reason."""
    result = run(kr, [(at(1), 0.0), (at(2), 42.0)], at(2) + 60)
    assert result.progress is None
    assert result.status is Status.NO_DATA
    assert "undefined" in result.reason


def test_missing_baseline_is_named_in_the_reason() -> None:
    """An increase KR with a target but no baseline says the baseline is missing."""
    result = run(spec(baseline=None), one_sample(50, at(10)), at(10))
    assert result.status is Status.NO_DATA
    assert "baseline" in result.reason and "equals" not in result.reason


# ---- properties (hypothesis) ------------------------------------------------------------

MODERATE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
SPAN = st.floats(min_value=1e-3, max_value=1e9)
DAY_IN_PERIOD = st.floats(min_value=0.01, max_value=99.9)


def _series(values: list[float], now: int) -> list[tuple[int, float]]:
    return [(now - (len(values) - i) * 60, v) for i, v in enumerate(values)]


@settings(max_examples=300, deadline=None)
@given(baseline=MODERATE, span=SPAN, values=st.lists(MODERATE, min_size=1, max_size=8),
       day=DAY_IN_PERIOD)
def test_increase_and_decrease_are_symmetric(
    baseline: float, span: float, values: list[float], day: float
) -> None:
    """Negating baseline, target and samples turns an increase KR into the same decrease KR."""
    now = at(day)
    up = run(spec(baseline=baseline, target=baseline + span), _series(values, now), now)
    down = run(
        spec(direction=Direction.DECREASE, baseline=-baseline, target=-(baseline + span)),
        _series([-v for v in values], now),
        now,
    )
    assert up.progress == down.progress
    assert up.status is down.status
    assert (up.forecast is None) == (down.forecast is None)
    if up.forecast is not None and down.forecast is not None:
        scale = max(1.0, abs(up.forecast.value), abs(up.forecast.high))
        assert down.forecast.value == pytest.approx(-up.forecast.value, abs=1e-9 * scale)
        assert down.forecast.low == pytest.approx(-up.forecast.high, abs=1e-9 * scale)


@settings(max_examples=300, deadline=None)
@given(baseline=MODERATE, span=SPAN, a=MODERATE, b=MODERATE, day=DAY_IN_PERIOD,
       direction=st.sampled_from([Direction.INCREASE, Direction.DECREASE]))
def test_better_value_never_lowers_progress_or_status(
    baseline: float, span: float, a: float, b: float, day: float, direction: Direction
) -> None:
    """A higher value (increase) or lower value (decrease) never lowers progress or status."""
    target = baseline + span if direction is Direction.INCREASE else baseline - span
    worse, better = sorted((a, b)) if direction is Direction.INCREASE else sorted((a, b))[::-1]
    kr = spec(direction=direction, baseline=baseline, target=target)
    now = at(day)
    low, high = run(kr, one_sample(worse, now), now), run(kr, one_sample(better, now), now)
    assert low.progress is not None and high.progress is not None
    assert low.progress <= high.progress
    assert RANK[low.status] <= RANK[high.status]


@settings(max_examples=300, deadline=None)
@given(baseline=MODERATE, span=SPAN, value=MODERATE,
       now=st.integers(min_value=START - 30 * DAY, max_value=END + 30 * DAY))
def test_score_and_expected_progress_stay_in_unit_interval(
    baseline: float, span: float, value: float, now: int
) -> None:
    """Expected progress and score are always within 0.0–1.0; a score exists only when closed."""
    kr = spec(baseline=baseline, target=baseline + span)
    result = run(kr, [(START, value)], now)
    if result.expected_progress is not None:
        assert 0.0 <= result.expected_progress <= 1.0
    if result.score is not None:
        assert 0.0 <= result.score <= 1.0
        assert result.status is Status.CLOSED


@settings(max_examples=200, deadline=None)
@given(value=MODERATE, day=st.floats(min_value=0.01, max_value=9.99))
def test_never_off_track_in_the_first_tenth(value: float, day: float) -> None:
    """However far behind, a linear KR is not off track in the first 10% of its period."""
    result = run(spec(), one_sample(value, at(day)), at(day))
    assert result.status is not Status.OFF_TRACK


@settings(max_examples=200, deadline=None)
@given(level=MODERATE, value=MODERATE, day=DAY_IN_PERIOD)
def test_target_equal_to_baseline_never_divides_by_zero(
    level: float, value: float, day: float
) -> None:
    """Target equal to baseline gives progress None and a reason, never an exception."""
    result = run(spec(baseline=level, target=level), one_sample(value, at(day)), at(day))
    assert result.progress is None
    assert result.reason.strip()


NASTY = st.one_of(
    st.floats(min_value=-1e100, max_value=1e100),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
)


@settings(max_examples=500, deadline=None)
@given(
    direction=st.sampled_from(list(Direction)),
    baseline=st.one_of(st.none(), NASTY),
    target=st.one_of(st.none(), NASTY),
    relative=st.one_of(st.none(), NASTY),
    from_first=st.booleans(),
    band=st.tuples(NASTY, NASTY),
    aggregate=st.one_of(st.none(), st.sampled_from(list(Aggregate))),
    values=st.lists(NASTY, max_size=12),
    now=st.integers(min_value=START - DAY, max_value=END + DAY),
    failed=st.booleans(),
)
def test_nan_and_infinity_never_escape(
    direction: Direction, baseline: float | None, target: float | None, relative: float | None,
    from_first: bool, band: tuple[float, float], aggregate: Aggregate | None,
    values: list[float], now: int, failed: bool,
) -> None:
    """With NaN/inf in samples, baseline, target or band, every number out is finite or None."""
    kr = spec(
        direction=direction, baseline=baseline, target=target, relative_target=relative,
        baseline_from_first_sample=from_first, band=band, aggregate=aggregate,
        aggregate_window=DAY if aggregate else None,
    )
    points = [(START + i * HOUR, v) for i, v in enumerate(values)]
    attempt = LastAttempt(now, False, "boom") if failed else None
    result = run(kr, points, now, last_attempt=attempt)
    for name, number in float_fields(result):
        assert number is None or math.isfinite(number), f"{name} = {number!r}"  # type: ignore[arg-type]
        # No negative zero either: JSON would carry it as -0.0.
        assert not (number == 0 and math.copysign(1, number) < 0), name  # type: ignore[arg-type]
    assert result.reason.strip()
    assert not re.search(r"(?<![\d.])-0(?![.\de])", result.reason), result.reason


@pytest.mark.parametrize("aggregate", [None, Aggregate.AVG])
def test_huge_finite_samples_do_not_raise(aggregate: Aggregate | None) -> None:
    """Samples near the float limit give None fields, not an exception."""
    kr = spec(aggregate=aggregate, aggregate_window=DAY if aggregate else None)
    points = [(at(1) + i * HOUR, (-1) ** i * 1.5e308) for i in range(5)]
    result = run(kr, points, at(1) + 5 * HOUR)
    for _, number in float_fields(result):
        assert number is None or math.isfinite(number)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    function=st.sampled_from([Aggregate.AVG, Aggregate.MEDIAN, Aggregate.P90]),
    values=st.lists(
        st.floats(min_value=-1.7e308, max_value=1.7e308, allow_nan=False), min_size=1, max_size=12
    ),
)
def test_means_and_quantiles_of_huge_values_exist(function: Aggregate, values: list[float]) -> None:
    """An avg, median or p90 of finite values is finite and between their min and max."""
    from app.core.aggregates import aggregate_value

    value = aggregate_value(function, values)
    assert math.isfinite(value)
    slack = 1e-12 * max(abs(v) for v in values)  # rounding of the scaled computation
    assert min(values) - slack <= value <= max(values) + slack


def test_two_huge_samples_average_to_their_value() -> None:
    """The avg of two samples of 1.7e308 is 1.7e308 (the sum overflows, the mean does not)."""
    kr = spec(aggregate=Aggregate.AVG, aggregate_window=DAY, baseline=0.0, target=1e308)
    result = run(kr, [(at(1), 1.7e308), (at(1) + HOUR, 1.7e308)], at(1) + 2 * HOUR)
    assert result.current_value == 1.7e308


def test_overflowing_sum_says_so() -> None:
    """A sum beyond the float range is not called "no samples in the window"."""
    kr = spec(aggregate=Aggregate.SUM, aggregate_window=DAY, baseline=0.0, target=1e308)
    result = run(kr, [(at(1), 1.7e308), (at(1) + HOUR, 1.7e308)], at(1) + 2 * HOUR)
    assert result.current_value is None
    assert "no samples" not in result.reason
    assert "sum" in result.reason and "beyond the range of a 64-bit float" in result.reason


def test_relative_target_of_a_zero_first_sample_says_why_progress_is_undefined() -> None:
    """A "+20%" target whose first sample is 0 names the zero baseline in its reason."""
    kr = spec(baseline=None, baseline_from_first_sample=True, target=None, relative_target=0.2)
    result = run(kr, [(at(1), 0.0), (at(2), 5.0)], now=at(2) + 60)
    assert result.progress is None
    assert "baseline is 0" in result.reason and "+20%" in result.reason
    assert "absolute target" in result.reason
