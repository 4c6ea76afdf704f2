"""Check-in reminders: ask an objective's owner for a check-in when a Key Result has none.

A Key Result of a running period whose last check-in (or, without one, the instant it is
measured from) is `checkin_every` or more ago gets a reminder through `[reminders]
webhooks`, at most once per interval: the n-th overdue interval since that reference has
the idempotency key `reminder:<kr>:<reference>:<n>:<webhook>` (unique in the outbox), so
a restart or another pass never repeats it, and a check-in starts a new count. During a
mute window of the Key Result's alert rules (`mute` in `[alerts]`, the objective's or the
KR's `alerts`) nothing is sent; once it ends, a reminder still due goes out.
`checkin_every` is the KR's, else its objective's, else `[reminders] checkin_every`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from app.core.domain import REMINDER_EVENT
from app.core.specs import stored_spec
from app.store.key_results import list_key_results, list_objectives
from app.store.models import Delivery
from app.store.outbox import stored_idempotency_keys
from app.store.reports import latest_check_in_times
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.alerts.routing import AlertRouting
    from app.config.models import KrTrackerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReminderDue:
    """A reminder to send: the n-th interval without a check-in since `reference_ts`."""

    reference_ts: int
    interval_index: int
    overdue_since_ts: int


def reminder_due(
    *, now: int, last_check_in_ts: int | None, measured_from: int, period_end: int, every: int
) -> ReminderDue | None:
    """Return the reminder due at `now`, or None (checked in recently, or period not running)."""
    if every <= 0 or not measured_from <= now < period_end:
        return None
    reference = max(last_check_in_ts or measured_from, measured_from)
    index = (now - reference) // every
    if index < 1:
        return None
    return ReminderDue(reference, index, reference + every)


def checkin_intervals(config: KrTrackerConfig) -> dict[str, int]:
    """Return each Key Result's check-in interval in seconds (KR, objective, then default)."""
    default = config.reminders.checkin_every
    return {
        kr.id: parse_duration(kr.checkin_every or o.checkin_every or default)
        for o in config.objectives
        for kr in o.key_results
    }


def _iso(ts: int | None) -> str | None:
    return (
        None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
    )


def enqueue_due_reminders(
    session: Session, config: KrTrackerConfig, routing: AlertRouting, *, now_ts: int
) -> int:
    """Write the reminders due now that are not in the outbox yet; commit; return rows written."""
    names = config.reminders.webhooks
    if not names:
        return 0
    webhooks = [w for w in config.webhooks if w.name in names]
    intervals = checkin_intervals(config)
    objectives = {o.id: o for o in list_objectives(session)}
    check_ins = latest_check_in_times(session, until=now_ts)
    rows: list[Delivery] = []
    for kr in list_key_results(session):
        objective = objectives.get(kr.objective_id)
        policy = routing.policies.get(kr.id)
        if objective is None or kr.id not in intervals or (policy and policy.muted(now_ts)):
            continue
        due = reminder_due(
            now=now_ts,
            last_check_in_ts=check_ins.get(kr.id),
            measured_from=stored_spec(kr).period_start,
            period_end=objective.period_end_ts,
            every=intervals[kr.id],
        )
        if due is None:
            continue
        payload: dict[str, Any] = routing.redactor.json(
            {
                "type": REMINDER_EVENT,
                "timestamp": _iso(now_ts),
                "data": {
                    "key_result": {"id": kr.id, "title": kr.title, "unit": kr.unit},
                    "objective": {"id": objective.id, "title": objective.title},
                    "owner": objective.owner,
                    "team": objective.team,
                    "last_check_in": _iso(check_ins.get(kr.id)),
                    "overdue_since": _iso(due.overdue_since_ts),
                    "checkin_every_seconds": intervals[kr.id],
                    "status": kr.status,
                    "progress": kr.progress,
                    "link": f"{config.api.link_base()}/key-results/{kr.id}",
                },
            }
        )
        key = f"reminder:{kr.id}:{due.reference_ts}:{due.interval_index}"
        rows += [
            Delivery(
                event_id=_event_id(key),
                webhook=w.name,
                event_type=REMINDER_EVENT,
                key_result_id=kr.id,
                payload=payload,
                created_ts=now_ts,
                next_attempt_ts=now_ts,
                idempotency_key=f"{key}:{w.name}",
            )
            for w in webhooks
            if (w.teams is None or objective.team in w.teams)
            and (w.objectives is None or objective.id in w.objectives)
        ]
    return _insert_new(session, rows)


def _event_id(key: str) -> str:
    """Return a stable event id per reminder (the same for every webhook and retry)."""
    return f"rmd_{uuid.uuid5(uuid.NAMESPACE_URL, 'krtracker:' + key).hex}"


def _insert_new(session: Session, rows: list[Delivery]) -> int:
    """Insert the rows whose idempotency key is not stored yet; commit; return how many."""
    if not rows:
        return 0
    stored = stored_idempotency_keys(
        session, [r.idempotency_key for r in rows if r.idempotency_key is not None]
    )
    new = [r for r in rows if r.idempotency_key not in stored]
    if not new:
        return 0
    session.add_all(new)
    try:
        session.commit()
    except IntegrityError:  # another process wrote some of them first: next pass adds the rest
        session.rollback()
        return 0
    log.info("%d check-in reminders enqueued", len(new))
    return len(new)
