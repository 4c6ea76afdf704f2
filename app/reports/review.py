"""The weekly review: what changed between `since` and `now`, from plain data.

Pure functions with an explicit `now`: no database, no HTTP, no clock. `app.reports.history`
gathers the inputs (each Key Result evaluated by the progress engine at both instants)
and the page, the JSON API and the retrospective all read the `WeeklyReview` built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.domain import Status

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.inputs import Evaluation

WEEK_SECONDS = 7 * 86400
SOURCE_PROBLEMS = (Status.ERROR, Status.STALE)


@dataclass(frozen=True, slots=True)
class KeyResultRef:
    """Who and what a review line is about: a Key Result and its objective."""

    id: str
    title: str
    unit: str
    objective_id: str
    objective_title: str
    owner: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class KeyResultFacts:
    """One Key Result as the review sees it: evaluated at `since` and at `now`."""

    ref: KeyResultRef
    period_start: int
    period_end: int
    then: Evaluation
    now: Evaluation
    last_check_in_ts: int | None = None
    failing_since_ts: int | None = None
    interval_seconds: int | None = None
    last_sample_ts: int | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A Key Result whose status at `since` differs from its status now, with both reasons."""

    key_result: KeyResultRef
    status_then: Status
    reason_then: str
    status_now: Status
    reason_now: str


@dataclass(frozen=True, slots=True)
class Mover:
    """A Key Result whose progress moved over the window (`delta` = now − then)."""

    key_result: KeyResultRef
    progress_then: float
    progress_now: float
    delta: float


@dataclass(frozen=True, slots=True)
class MissingCheckIn:
    """A Key Result of a running period with no check-in in the last `check_in_within` seconds."""

    key_result: KeyResultRef
    last_check_in_ts: int | None


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A Key Result whose data is failing (`error`) or old (`stale`) now, and since when."""

    key_result: KeyResultRef
    status: Status
    reason: str
    since_ts: int | None
    last_sample_ts: int | None


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """One alert event written to the outbox, with the webhooks it was routed to."""

    event_id: str
    event_type: str
    key_result_id: str
    key_result_title: str | None
    raised_ts: int
    condition: str | None
    status: str | None
    previous_status: str | None
    reason: str | None
    webhooks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WeeklyReview:
    """Everything the weekly review shows for the window [since_ts, now_ts)."""

    since_ts: int
    now_ts: int
    status_changes: tuple[StatusChange, ...]
    movers: tuple[Mover, ...]
    missing_check_ins: tuple[MissingCheckIn, ...]
    source_problems: tuple[SourceProblem, ...]
    alerts: tuple[RaisedAlert, ...]


def status_changes(facts: Sequence[KeyResultFacts]) -> list[StatusChange]:
    """Return the Key Results whose status differs between `since` and now, in input order."""
    return [
        StatusChange(f.ref, f.then.status, f.then.reason, f.now.status, f.now.reason)
        for f in facts
        if f.then.status != f.now.status
    ]


def movers(facts: Sequence[KeyResultFacts]) -> list[Mover]:
    """Return Key Results whose progress changed, largest absolute change first.

    A Key Result without progress at either instant (no data yet, no target) has no change
    to measure and is left out; ties keep the input (file) order.
    """
    moved = [
        Mover(f.ref, f.then.progress, f.now.progress, f.now.progress - f.then.progress)
        for f in facts
        if f.then.progress is not None
        and f.now.progress is not None
        and f.now.progress != f.then.progress
    ]
    return sorted(moved, key=lambda m: -abs(m.delta))


def missing_check_ins(
    facts: Sequence[KeyResultFacts], *, now: int, within: int = WEEK_SECONDS
) -> list[MissingCheckIn]:
    """Return Key Results of running periods without a check-in in (now − within, now].

    Periods that have not started or are over ask for no check-ins.
    """
    return [
        MissingCheckIn(f.ref, f.last_check_in_ts)
        for f in facts
        if f.period_start <= now < f.period_end
        and (f.last_check_in_ts is None or f.last_check_in_ts <= now - within)
    ]


def source_problems(
    facts: Sequence[KeyResultFacts], *, stale_after_intervals: int
) -> list[SourceProblem]:
    """Return Key Results whose status now is `error` or `stale`, with when it started.

    An error started at the first failed attempt of the current run of failures; a Key Result
    turned stale when `stale_after_intervals` intervals had passed since its last sample.
    """
    problems = []
    for f in facts:
        if f.now.status not in SOURCE_PROBLEMS:
            continue
        since = f.failing_since_ts if f.now.status is Status.ERROR else None
        if f.now.status is Status.STALE and f.last_sample_ts is not None and f.interval_seconds:
            since = f.last_sample_ts + stale_after_intervals * f.interval_seconds
        problems.append(SourceProblem(f.ref, f.now.status, f.now.reason, since, f.last_sample_ts))
    return problems


def alerts_in_window(alerts: Sequence[RaisedAlert], *, since: int, now: int) -> list[RaisedAlert]:
    """Return the alerts raised in [since, now), oldest first."""
    kept = [a for a in alerts if since <= a.raised_ts < now]
    return sorted(kept, key=lambda a: (a.raised_ts, a.event_id))


def build_review(
    facts: Sequence[KeyResultFacts],
    alerts: Sequence[RaisedAlert],
    *,
    since: int,
    now: int,
    stale_after_intervals: int = 3,
    check_in_within: int = WEEK_SECONDS,
) -> WeeklyReview:
    """Assemble the weekly review of [since, now) from Key Results evaluated at both ends."""
    if since >= now:
        raise ValueError("since must be before now")
    return WeeklyReview(
        since_ts=since,
        now_ts=now,
        status_changes=tuple(status_changes(facts)),
        movers=tuple(movers(facts)),
        missing_check_ins=tuple(missing_check_ins(facts, now=now, within=check_in_within)),
        source_problems=tuple(source_problems(facts, stale_after_intervals=stale_after_intervals)),
        alerts=tuple(alerts_in_window(alerts, since=since, now=now)),
    )
