"""The store's reads for the weekly review and the period scorecard (all their SQL is here).

Like `app.store`, each function takes an open `Session`; none of them writes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.alert_rules import EventType
from app.models import CheckIn, Delivery, KeyResult, Objective, Sample, SamplingAttempt
from app.progress import LastAttempt
from app.review import RaisedAlert


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


@functools.cache
def _period_points() -> Any:
    """Build the samples-of-a-period query once (bind parameters only)."""
    ts = col(Sample.ts)
    return (
        sa_select(ts, col(Sample.value))
        .where(
            col(Sample.key_result_id) == bindparam("kr_id"),
            ts >= bindparam("start"),
            ts <= bindparam("until"),
        )
        .order_by(ts)
    )


def period_points(
    session: Session, key_result_id: str, *, start: int, until: int
) -> list[tuple[int, float]]:
    """Return the samples with `start <= ts <= until`, oldest first (one indexed range read)."""
    rows: Sequence[Any] = (
        session.connection()
        .execute(_period_points(), {"kr_id": key_result_id, "start": start, "until": until})
        .all()
    )
    return [(int(t), float(v)) for t, v in rows]


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
