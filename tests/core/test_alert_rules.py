"""The alert rules: a pure state machine, checked with examples and hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.alert_rules import (
    AlertPolicy,
    AlertState,
    Amount,
    Condition,
    EventType,
    Observation,
    step,
)
from app.core.domain import Direction, Status
from app.core.inputs import KeyResultSpec
from app.core.progress import evaluate, view_from_points


def run(policy: AlertPolicy, observations: list[Observation]) -> tuple[AlertState, list[EventType]]:
    """Feed observations in order; return the final state and every event type raised."""
    state, events = AlertState(), []
    for obs in observations:
        state, raised = step(policy, state, obs)
        events.extend(e.type for e in raised)
    return state, events


def sample(t: int, value: float, *, best: float, previous: float | None = None,
           status: Status = Status.ON_TRACK) -> Observation:
    """An observation of a new sample of an increase KR."""
    return Observation(now=t, status=status, direction=Direction.INCREASE, value=value, sample_ts=t,
                       previous_value=previous, best_value=best)


def test_regression_fires_after_n_samples_and_resolves_with_hysteresis() -> None:
    """A drop of more than 5% from the best fires after 2 samples and resolves only past the margin."""
    policy = AlertPolicy(for_samples=2)
    best = 100.0
    observations = [
        sample(1, 100, best=best),
        sample(2, 94, best=best),     # 6% worse: pending 1
        sample(3, 94, best=best),     # pending 2: fires
        sample(4, 95.5, best=best),   # 4.5% worse: inside the 4–5% hysteresis band, still firing
        sample(5, 96.5, best=best),   # 3.5% worse: clears
    ]
    state, events = run(policy, observations)
    assert events == [EventType.REGRESSED, EventType.RECOVERED]
    assert state.conditions[Condition.REGRESSED].firing_since is None


def test_decrease_regression_is_a_rise() -> None:
    """For a decrease KR, a value above the best (lowest) value is the regression."""
    policy = AlertPolicy(for_samples=1, regression_threshold=Amount(10))
    obs = Observation(now=1, status=Status.ON_TRACK, direction=Direction.DECREASE, value=215,
                      sample_ts=1, best_value=200)
    _, events = step(policy, AlertState(), obs)
    assert [e.type for e in events] == [EventType.REGRESSED]
    better = Observation(now=1, status=Status.ON_TRACK, direction=Direction.DECREASE, value=185,
                         sample_ts=1, best_value=200)
    assert step(policy, AlertState(), better)[1] == []


def test_firing_condition_repeats_and_mute_holds_it_back() -> None:
    """A condition that stays bad is re-sent every repeat interval, but not inside a mute window."""
    policy = AlertPolicy(for_samples=1, repeat_seconds=100, mute=((150, 260),))
    stale = [Observation(now=t, status=Status.STALE, direction=Direction.INCREASE) for t in (0, 50, 120, 200, 270)]
    state, raised = AlertState(), []
    for obs in stale:
        state, events = step(policy, state, obs)
        raised.extend((obs.now, e.type, e.repeat) for e in events)
    assert raised == [(0, EventType.STALE, False), (120, EventType.STALE, True), (270, EventType.STALE, True)]


def test_condition_firing_inside_mute_is_sent_when_it_ends() -> None:
    """An alert that fires during a mute window is delivered at the first look after it."""
    policy = AlertPolicy(for_samples=1, mute=((0, 100),))
    state, first = step(policy, AlertState(), Observation(now=10, status=Status.ERROR, direction=Direction.INCREASE))
    assert first == []
    _, later = step(policy, state, Observation(now=120, status=Status.ERROR, direction=Direction.INCREASE))
    assert [e.type for e in later] == [EventType.STALE]


def test_status_change_is_debounced_and_achieved_is_announced() -> None:
    """A new status must hold for N looks; reaching achieved also sends kr.achieved."""
    policy = AlertPolicy(for_samples=2)
    statuses = [Status.ON_TRACK, Status.AT_RISK, Status.ON_TRACK, Status.ACHIEVED, Status.ACHIEVED]
    _, events = run(policy, [Observation(now=i, status=s, direction=Direction.INCREASE) for i, s in enumerate(statuses)])
    assert events == [EventType.STATUS_CHANGED, EventType.ACHIEVED]


def forecast(now: int, *, value: float, low: float, high: float,
             direction: Direction = Direction.INCREASE) -> Observation:
    """Return an observation of a forecast (value and 95% interval) against a target of 85."""
    return Observation(now=now, status=Status.AT_RISK, direction=direction, target=85,
                       forecast_value=value, forecast_low=low, forecast_high=high)


def test_forecast_miss_fires_and_recovers() -> None:
    """An interval wholly short of the target fires; one reaching past it by the margin recovers."""
    policy = AlertPolicy(for_samples=1)
    state, events = step(policy, AlertState(), forecast(1, value=80, low=78, high=82))
    assert [e.type for e in events] == [EventType.FORECAST_MISS]
    _, events = step(policy, state, forecast(2, value=84, low=80, high=90))
    recovered = [(e.type, e.condition) for e in events]
    assert recovered == [(EventType.RECOVERED, Condition.FORECAST_MISS)]


def test_a_forecast_whose_interval_holds_the_target_does_not_fire() -> None:
    """A point forecast short of the target fires nothing while the interval still reaches it."""
    policy = AlertPolicy(for_samples=1)
    _, events = step(policy, AlertState(), forecast(1, value=80, low=-138, high=1187))
    assert events == []
    lower = forecast(1, value=90, low=60, high=120, direction=Direction.DECREASE)
    assert step(policy, AlertState(), lower)[1] == []
    missed = forecast(1, value=90, low=86, high=120, direction=Direction.DECREASE)
    assert [e.type for e in step(policy, AlertState(), missed)[1]] == [EventType.FORECAST_MISS]


def test_a_firing_forecast_miss_resolves_when_the_forecast_is_withdrawn() -> None:
    """When the engine withdraws its forecast (no established trend), the miss resolves."""
    policy = AlertPolicy(for_samples=1)
    state, _ = step(policy, AlertState(), forecast(1, value=80, low=78, high=82))
    gone = Observation(now=2, status=Status.AT_RISK, direction=Direction.INCREASE, target=85)
    assert [e.type for e in step(policy, state, gone)[1]] == [EventType.RECOVERED]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([Direction.INCREASE, Direction.DECREASE]),
                          st.one_of(st.none(), st.floats(-1e6, 1e6)),
                          st.floats(0, 1e6), st.booleans()),
                min_size=1, max_size=40))
def test_forecast_miss_is_raised_only_for_a_forecast_whose_whole_interval_misses(
    sequence: list[tuple[Direction, float | None, float, bool]],
) -> None:
    """kr.forecast_miss needs a forecast whose whole interval is on the wrong side of the target."""
    policy = AlertPolicy(for_samples=1, repeat_seconds=1)
    state = AlertState()
    for t, (direction, centre, half, has_interval) in enumerate(sequence):
        low = high = None
        if centre is not None and has_interval:
            low, high = centre - half, centre + half
        obs = Observation(now=t, status=Status.AT_RISK, direction=direction, target=85.0,
                          forecast_value=centre, forecast_low=low, forecast_high=high)
        state, events = step(policy, state, obs)
        if any(e.type is EventType.FORECAST_MISS for e in events):
            assert low is not None and high is not None
            assert high < 85.0 if direction is Direction.INCREASE else low > 85.0


def test_event_filter_and_disabled_policy() -> None:
    """Only listed events are raised (recoveries follow their condition); disabled raises none."""
    only_stale = AlertPolicy(for_samples=1, events=frozenset({EventType.STALE}))
    obs = Observation(now=1, status=Status.STALE, direction=Direction.INCREASE, target=85, forecast_value=10)
    state, events = step(only_stale, AlertState(), obs)
    assert [e.type for e in events] == [EventType.STALE]
    _, events = step(only_stale, state, Observation(now=2, status=Status.ON_TRACK, direction=Direction.INCREASE,
                                                    target=85, forecast_value=100))
    assert [(e.type, e.condition) for e in events] == [(EventType.RECOVERED, Condition.STALE)]
    assert step(AlertPolicy(enabled=False, for_samples=1), AlertState(), obs)[1] == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-0.3, max_value=0.3), min_size=10, max_size=200))
def test_flapping_around_the_threshold_raises_at_most_one_alert(noise: list[float]) -> None:
    """Values hovering within the hysteresis band around the threshold never raise a second alert."""
    policy = AlertPolicy(for_samples=2, regression_threshold=Amount(5), hysteresis=Amount(1))
    # Threshold at 95 (5 below best 100); resolution needs > 96. Noise keeps values in 94.7–95.3.
    observations = [sample(i, 95 + n, best=100) for i, n in enumerate(noise)]
    _, events = run(policy, observations)
    assert events.count(EventType.REGRESSED) <= 1
    assert EventType.RECOVERED not in events


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Status)), st.one_of(st.none(), st.floats(allow_nan=True))),
                min_size=1, max_size=60))
def test_rules_never_raise_and_events_alternate(sequence: list[tuple[Status, float | None]]) -> None:
    """Any sequence (NaN included) steps without error, and per condition fire/recover alternate."""
    policy = AlertPolicy(for_samples=1, repeat_seconds=10**9)
    state = AlertState()
    firing: dict[Condition, bool] = {}
    for t, (status, value) in enumerate(sequence):
        obs = Observation(now=t, status=status, direction=Direction.INCREASE, value=value, sample_ts=t,
                          best_value=100.0, previous_value=100.0, target=120.0, forecast_value=value,
                          forecast_low=value, forecast_high=value)
        state, events = step(policy, state, obs)
        for event in events:
            if event.condition is None:
                continue
            if event.type is EventType.RECOVERED:
                assert firing.get(event.condition) is True
                firing[event.condition] = False
            else:
                assert not firing.get(event.condition)
                firing[event.condition] = True


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(min_value=0, max_value=1e4), min_size=3, max_size=40),
    gap=st.integers(min_value=1, max_value=3600),
    direction=st.sampled_from([Direction.INCREASE, Direction.DECREASE]),
)
def test_no_forecast_miss_from_a_short_history(
    values: list[float], gap: int, direction: Direction
) -> None:
    """Samples spanning under the forecast rule's minimum never raise kr.forecast_miss."""
    start = 1_790_812_800  # 2026-10-01, a 92-day period
    spec = KeyResultSpec(direction=direction, period_start=start, period_end=start + 92 * 86400,
                         baseline=5e3, target=1e5 if direction is Direction.INCREASE else 1.0)
    policy = AlertPolicy(for_samples=1)
    state = AlertState()
    points: list[tuple[int, float]] = []
    for i, value in enumerate(values):  # at most 40 h: under 10% of the period
        points.append((start + 86400 + i * gap, value))
        now = points[-1][0]
        result = evaluate(spec, view_from_points(spec, points, now=now), now=now)
        assert result.forecast is None
        obs = Observation(
            now=now, status=result.status, direction=direction, value=result.current_value,
            sample_ts=now, target=result.target,
            forecast_value=result.forecast.value if result.forecast else None,
            forecast_low=result.forecast.low if result.forecast else None,
            forecast_high=result.forecast.high if result.forecast else None,
        )
        state, events = step(policy, state, obs)
        assert EventType.FORECAST_MISS not in [e.type for e in events]
