"""The store's reads for the weekly review, the scorecard and the retrospective (their SQL).

Like `app.store`, each function takes an open `Session`; none of them writes.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, func, literal, true
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.alert_rules import EventType
from app.core.series import InstantSummary, LastAttempt
from app.reports.review import RaisedAlert
from app.store.models import (
    CheckIn,
    Delivery,
    KeyResult,
    Objective,
    Sample,
    SamplingAttempt,
    TargetRevision,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


def objectives_within(
    session: Session, *, start: int, end: int, include_archived: bool = True
) -> Sequence[Objective]:
    """Return the objectives whose period lies inside [start, end), in file order."""
    query = (
        select(Objective)
        .where(col(Objective.period_start_ts) >= start, col(Objective.period_end_ts) <= end)
        .order_by(col(Objective.position), col(Objective.id))
    )
    if not include_archived:
        query = query.where(col(Objective.archived_ts).is_(None))
    return session.exec(query).all()


def key_results_of(
    session: Session, objective_ids: Sequence[str], *, include_archived: bool = True
) -> Sequence[KeyResult]:
    """Return the Key Results of these objectives, in file order."""
    query = (
        select(KeyResult)
        .where(col(KeyResult.objective_id).in_(objective_ids))
        .order_by(col(KeyResult.objective_id), col(KeyResult.position))
    )
    if not include_archived:
        query = query.where(col(KeyResult.archived_ts).is_(None))
    return session.exec(query).all()


@functools.cache
def _recent_attempts() -> Any:
    """Build the latest-attempts query once (bind parameters only): it runs per Key Result."""
    attempt = col(SamplingAttempt.attempted_ts)
    return (
        sa_select(col(SamplingAttempt.ok), attempt, col(SamplingAttempt.error_message))
        .where(
            col(SamplingAttempt.key_result_id) == bindparam("kr_id"), attempt <= bindparam("until")
        )
        .order_by(attempt.desc(), col(SamplingAttempt.id).desc())
        .limit(20)
    )


def last_attempt_until(session: Session, key_result_id: str, *, until: int) -> LastAttempt | None:
    """Return the latest attempt made at or before `until`, as `store.last_attempt` does now."""
    recent: Sequence[Any] = (
        session.connection()
        .execute(_recent_attempts(), {"kr_id": key_result_id, "until": until})
        .all()
    )
    if not recent:
        return None
    failures = 0
    for ok, _, _ in recent:
        if ok:
            break
        failures += 1
    ok, ts, reason = recent[0]
    return LastAttempt(ts=int(ts), ok=bool(ok), reason=reason, consecutive_failures=failures)


def instant_summaries(
    session: Session,
    key_result_id: str,
    *,
    start: int,
    cutoffs: Sequence[tuple[int, int]],
    band: tuple[float | None, float | None] | None,
    window: int | None,
) -> tuple[tuple[int, float] | None, list[InstantSummary]]:
    """Summarise the samples from `start` up to each (instant, cutoff), cutoffs ascending.

    Returns the first sample and, per instant, the count, the count inside `band`, the last
    sample and the values in the aggregation `window` before the cutoff. The samples are
    grouped by the first cutoff at or after them in one query, then added up here.
    """
    if not cutoffs:
        return None, []
    ts, value = col(Sample.ts), col(Sample.value)
    mine = and_(col(Sample.key_result_id) == key_result_id, ts >= start)
    bucket = case(*((ts <= c, i) for i, (_, c) in enumerate(cutoffs))).label("bucket")
    inside: Any = literal(0)
    if band is not None:
        low, high = band
        conditions = [value >= low] if low is not None else []
        conditions += [value <= high] if high is not None else []
        inside = case((and_(true(), *conditions), 1), else_=0)
    rows: Sequence[Any] = session.execute(
        sa_select(bucket, func.count(), func.sum(inside), func.min(ts), func.max(ts))
        .where(mine, ts <= cutoffs[-1][1])
        .group_by(bucket)
    ).all()
    edges = {int(t) for row in rows for t in (row[3], row[4])}
    values: dict[int, float] = {}
    if edges:
        found: Sequence[Any] = session.execute(
            sa_select(ts, value).where(mine, ts.in_(sorted(edges)))
        ).all()
        values = {int(t): float(v) for t, v in found}
    by_bucket = {int(row[0]): row for row in rows}
    first_ts = min((int(row[3]) for row in rows), default=None)
    summaries, total, in_band, last = [], 0, 0, None
    for i, (at, cutoff) in enumerate(cutoffs):
        row = by_bucket.get(i)
        if row is not None:
            total, in_band = total + int(row[1]), in_band + int(row[2] or 0)
            last = (int(row[4]), values[int(row[4])])
        kept: list[float] = []
        if window is not None:
            after = max(cutoff - window, start - 1)
            kept = list(
                session.execute(
                    sa_select(value).where(mine, ts > after, ts <= cutoff).order_by(ts)
                ).scalars()
            )
        summaries.append(InstantSummary(at, total, in_band, last, kept))
    first = None if first_ts is None else (first_ts, values[first_ts])
    return first, summaries


def failing_since(session: Session, key_result_id: str, *, until: int) -> int | None:
    """Return when the current run of failed attempts began (None if the latest one succeeded)."""
    attempt = col(SamplingAttempt.attempted_ts)
    mine = col(SamplingAttempt.key_result_id) == key_result_id
    last_ok = session.exec(
        select(func.max(attempt)).where(mine, col(SamplingAttempt.ok).is_(True), attempt <= until)
    ).one()
    failed = select(func.min(attempt)).where(
        mine, col(SamplingAttempt.ok).is_(False), attempt <= until
    )
    if last_ok is not None:
        failed = failed.where(attempt > last_ok)
    first_failure = session.exec(failed).one()
    return None if first_failure is None else int(first_failure)


def latest_check_in_times(session: Session, *, until: int) -> dict[str, int]:
    """Return each Key Result's latest check-in time at or before `until`."""
    rows: Sequence[Any] = session.execute(
        sa_select(col(CheckIn.key_result_id), func.max(col(CheckIn.ts)))
        .where(col(CheckIn.ts) <= until)
        .group_by(col(CheckIn.key_result_id))
    ).all()
    return {str(kr_id): int(ts) for kr_id, ts in rows}


def alerts_raised(session: Session, *, since: int, until: int) -> list[RaisedAlert]:
    """Return the alert events written to the outbox in [since, until), oldest first.

    The outbox has a row per (event, webhook); rows sharing an `event_id` are one event.
    Only Key Result alert events count (not webhook test events).
    """
    rows = session.exec(
        select(Delivery)
        .where(
            col(Delivery.created_ts) >= since,
            col(Delivery.created_ts) < until,
            col(Delivery.event_type).in_([e.value for e in EventType]),
        )
        .order_by(col(Delivery.created_ts), col(Delivery.seq))
    ).all()
    events: dict[str, tuple[Delivery, list[str]]] = {}
    for row in rows:
        events.setdefault(row.event_id, (row, []))[1].append(row.webhook)
    alerts = []
    for first, webhooks in events.values():
        data = first.payload.get("data", {}) if isinstance(first.payload, dict) else {}
        alerts.append(
            RaisedAlert(
                event_id=first.event_id,
                event_type=first.event_type,
                key_result_id=first.key_result_id,
                key_result_title=data.get("key_result", {}).get("title"),
                raised_ts=first.created_ts,
                condition=data.get("condition"),
                status=data.get("status"),
                previous_status=data.get("previous_status"),
                reason=data.get("status_reason"),
                webhooks=tuple(sorted(set(webhooks))),
            )
        )
    return alerts


def attempts_within(
    session: Session, key_result_ids: Sequence[str], *, start: int, end: int
) -> dict[str, list[tuple[int, bool]]]:
    """Return each Key Result's attempts scheduled in [start, end) as (scheduled_ts, ok)."""
    scheduled = col(SamplingAttempt.scheduled_ts)
    rows: Sequence[Any] = session.execute(
        sa_select(col(SamplingAttempt.key_result_id), scheduled, col(SamplingAttempt.ok))
        .where(col(SamplingAttempt.key_result_id).in_(key_result_ids))
        .where(scheduled >= start, scheduled < end)
        .order_by(scheduled, col(SamplingAttempt.id))
    ).all()
    found: dict[str, list[tuple[int, bool]]] = {}
    for kr_id, ts, ok in rows:
        found.setdefault(str(kr_id), []).append((int(ts), bool(ok)))
    return found


def check_ins_within(
    session: Session, key_result_ids: Sequence[str], *, start: int, end: int
) -> Sequence[CheckIn]:
    """Return the check-ins made in [start, end), oldest first."""
    return session.exec(
        select(CheckIn)
        .where(col(CheckIn.key_result_id).in_(key_result_ids))
        .where(col(CheckIn.ts) >= start, col(CheckIn.ts) < end)
        .order_by(col(CheckIn.ts), col(CheckIn.id))
    ).all()


def revisions_before(
    session: Session, key_result_ids: Sequence[str], *, end: int
) -> Sequence[TargetRevision]:
    """Return the target and baseline revisions recorded before `end`, oldest first."""
    return session.exec(
        select(TargetRevision)
        .where(col(TargetRevision.key_result_id).in_(key_result_ids))
        .where(col(TargetRevision.ts) < end)
        .order_by(col(TargetRevision.ts), col(TargetRevision.id))
    ).all()
