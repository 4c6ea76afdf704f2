"""Alert rules: when a Key Result's observations raise, repeat or resolve an alert.

A pure state machine over plain data with an explicit `now`: `step(policy, state, obs)`
returns the next state and the events to deliver. No database, HTTP or clock here.

Conditions and their events:
- `regressed` (`kr.regressed`): the value is worse than the previous sample or the period's
  best by more than `regression_threshold`; it resolves only once the gap is back under the
  threshold minus `hysteresis`, so values hovering at the line do not flap.
- `stale` (`kr.stale`): the Key Result's status is `stale` or `error` (no fresh data).
- `forecast_miss` (`kr.forecast_miss`): an established forecast (the engine makes none from
  too short a history) misses the target with its whole 95% interval; it resolves when the
  interval reaches the target by the hysteresis margin, or when there is no forecast.
A condition fires only after holding for `for_samples` observations, or for the `for`
duration when one is set. Firing conditions are sent again every `repeat_interval`.
Resolving sends `kr.recovered`. `kr.status_changed` is sent when a new status has held for
the same debounce; `kr.achieved` when that new status is `achieved`.
Mute windows hold back firing notifications; a condition still firing when the window ends
is notified then. Resolutions are never muted: receivers that saw an alert see it end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

from app.core.domain import Direction, Status


class EventType(StrEnum):
    """The events krtracker delivers."""

    REGRESSED = "kr.regressed"
    STATUS_CHANGED = "kr.status_changed"
    RECOVERED = "kr.recovered"
    STALE = "kr.stale"
    ACHIEVED = "kr.achieved"
    FORECAST_MISS = "kr.forecast_miss"


class Condition(StrEnum):
    """A bad state an alert tracks from firing to resolved."""

    REGRESSED = "regressed"
    STALE = "stale"
    FORECAST_MISS = "forecast_miss"


FIRING_EVENT = {
    Condition.REGRESSED: EventType.REGRESSED,
    Condition.STALE: EventType.STALE,
    Condition.FORECAST_MISS: EventType.FORECAST_MISS,
}
TRACKED_STATUSES = {Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK, Status.ACHIEVED}


@dataclass(frozen=True, slots=True)
class Amount:
    """A threshold: an absolute amount in the KR's unit, or a fraction of a reference value."""

    value: float
    relative: bool = False

    def of(self, reference: float) -> float:
        """Return the absolute amount for `reference`."""
        return self.value * abs(reference) if self.relative else self.value


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The effective rules for one Key Result (global defaults merged with overrides)."""

    enabled: bool = True
    events: frozenset[EventType] = frozenset(EventType)
    regression_threshold: Amount = Amount(0.05, relative=True)
    regression_from: str = "best"
    hysteresis: Amount = Amount(0.01, relative=True)
    for_samples: int = 2
    for_seconds: int | None = None
    repeat_seconds: int = 4 * 3600
    mute: tuple[tuple[int, int], ...] = ()

    def muted(self, now: int) -> bool:
        """Return whether `now` falls inside a mute window."""
        return any(start <= now < end for start, end in self.mute)


@dataclass(frozen=True, slots=True)
class Observation:
    """What the rules look at after an evaluation; `sample_ts` is set when a sample is new."""

    now: int
    status: Status
    direction: Direction
    value: float | None = None
    sample_ts: int | None = None
    previous_value: float | None = None
    best_value: float | None = None
    target: float | None = None
    forecast_value: float | None = None
    forecast_low: float | None = None
    forecast_high: float | None = None


@dataclass(frozen=True, slots=True)
class ConditionState:
    """One condition's debounce and firing state."""

    pending_count: int = 0
    pending_since: int | None = None
    firing_since: int | None = None
    last_notified_ts: int | None = None
    last_sample_ts: int | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything the rules remember about one Key Result between observations."""

    conditions: dict[Condition, ConditionState] = field(default_factory=dict)
    reported_status: Status | None = None
    candidate_status: Status | None = None
    candidate_count: int = 0
    candidate_since: int | None = None


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An event to deliver; `condition` is set for condition events and `kr.recovered`."""

    type: EventType
    at: int
    condition: Condition | None = None
    firing_since: int | None = None
    previous_status: Status | None = None
    status: Status | None = None
    repeat: bool = False


def _worse_by(direction: Direction, *, value: float, reference: float) -> float:
    """Return how much worse `value` is than `reference` (negative when better)."""
    if direction.lower_is_better:
        return value - reference
    return reference - value


def regression_signal(policy: AlertPolicy, obs: Observation) -> bool | None:
    """Return True (regressed), False (clearly recovered) or None (inside the hysteresis band)."""
    reference = obs.previous_value if policy.regression_from == "previous" else obs.best_value
    if obs.value is None or reference is None or obs.direction is Direction.WITHIN:
        return False
    if not (math.isfinite(obs.value) and math.isfinite(reference)):
        return False
    gap = _worse_by(obs.direction, value=obs.value, reference=reference)
    threshold = policy.regression_threshold.of(reference)
    if gap > threshold:
        return True
    if gap <= threshold - policy.hysteresis.of(reference):
        return False
    return None


def forecast_signal(policy: AlertPolicy, obs: Observation) -> bool | None:
    """Return True when the whole forecast interval misses the target, False when it reaches it.

    A point forecast alone is not enough: with an interval that still holds the target,
    the trend cannot tell a miss from noise.
    """
    if obs.forecast_low is None or obs.forecast_high is None or obs.target is None:
        return False
    if obs.direction not in (Direction.INCREASE, Direction.DECREASE):
        return False
    # The interval's best end: its top for an increase, its bottom for a decrease.
    best = obs.forecast_high if obs.direction is Direction.INCREASE else obs.forecast_low
    shortfall = -_worse_by(obs.direction, value=obs.target, reference=best)
    if shortfall > 0:
        return True
    if shortfall <= -policy.hysteresis.of(obs.target):
        return False
    return None


def _held(policy: AlertPolicy, count: int, since: int | None, now: int) -> bool:
    if policy.for_seconds is not None:
        return since is not None and now - since >= policy.for_seconds
    return count >= policy.for_samples


def _step_condition(
    policy: AlertPolicy,
    condition: Condition,
    current: ConditionState,
    signal: bool | None,
    obs: Observation,
) -> tuple[ConditionState, list[AlertEvent]]:
    """Advance one condition by one observation."""
    now, events = obs.now, []
    if current.firing_since is not None:
        if signal is False:
            events.append(AlertEvent(EventType.RECOVERED, now, condition, current.firing_since))
            return ConditionState(), events
        due = (
            current.last_notified_ts is None
            or current.last_notified_ts < current.firing_since
            or (now - current.last_notified_ts >= policy.repeat_seconds)
        )
        if due and not policy.muted(now):
            repeat = (
                current.last_notified_ts is not None
                and current.last_notified_ts >= current.firing_since
            )
            events.append(
                AlertEvent(
                    FIRING_EVENT[condition], now, condition, current.firing_since, repeat=repeat
                )
            )
            return replace(current, last_notified_ts=now), events
        return current, events
    if signal is not True:
        return ConditionState(), events
    count = current.pending_count + 1
    since = current.pending_since if current.pending_since is not None else now
    pending = replace(
        current,
        pending_count=count,
        pending_since=since,
        last_sample_ts=obs.sample_ts or current.last_sample_ts,
    )
    if not _held(policy, count, since, now):
        return pending, events
    firing = ConditionState(firing_since=now, last_sample_ts=pending.last_sample_ts)
    if policy.muted(now):
        return firing, events
    events.append(AlertEvent(FIRING_EVENT[condition], now, condition, now))
    return replace(firing, last_notified_ts=now), events


def _step_status(
    policy: AlertPolicy, state: AlertState, obs: Observation
) -> tuple[AlertState, list[AlertEvent]]:
    if obs.status not in TRACKED_STATUSES:
        return state, []
    if state.reported_status is None:
        return replace(
            state,
            reported_status=obs.status,
            candidate_status=None,
            candidate_count=0,
            candidate_since=None,
        ), []
    if obs.status == state.reported_status:
        return replace(state, candidate_status=None, candidate_count=0, candidate_since=None), []
    if obs.status != state.candidate_status:
        state = replace(
            state, candidate_status=obs.status, candidate_count=0, candidate_since=obs.now
        )
    state = replace(state, candidate_count=state.candidate_count + 1)
    if not _held(policy, state.candidate_count, state.candidate_since, obs.now):
        return state, []
    previous = state.reported_status
    events = [
        AlertEvent(EventType.STATUS_CHANGED, obs.now, previous_status=previous, status=obs.status)
    ]
    if obs.status is Status.ACHIEVED:
        events.append(
            AlertEvent(EventType.ACHIEVED, obs.now, previous_status=previous, status=obs.status)
        )
    return AlertState(state.conditions, obs.status), events


def step(
    policy: AlertPolicy, state: AlertState, obs: Observation
) -> tuple[AlertState, list[AlertEvent]]:
    """Advance the rules by one observation; return the new state and events to deliver."""
    new_sample = obs.sample_ts is not None
    signals = {
        Condition.REGRESSED: regression_signal(policy, obs) if new_sample else None,
        Condition.STALE: obs.status in (Status.STALE, Status.ERROR),
        Condition.FORECAST_MISS: forecast_signal(policy, obs),
    }
    conditions = dict(state.conditions)
    events: list[AlertEvent] = []
    for condition, signal in signals.items():
        current = conditions.get(condition, ConditionState())
        if condition is Condition.REGRESSED and not new_sample and current.firing_since is None:
            continue  # regression is judged on new samples; time alone only repeats it
        conditions[condition], raised = _step_condition(policy, condition, current, signal, obs)
        events.extend(raised)
    next_state, status_events = _step_status(policy, replace(state, conditions=conditions), obs)
    events.extend(status_events)
    if not policy.enabled:
        return next_state, []
    return next_state, [e for e in events if _wanted(policy, e)]


def _wanted(policy: AlertPolicy, event: AlertEvent) -> bool:
    """Return whether the policy asks for `event`; a recovery follows its condition's event."""
    if event.type is EventType.RECOVERED and event.condition is not None:
        return FIRING_EVENT[event.condition] in policy.events
    return event.type in policy.events
