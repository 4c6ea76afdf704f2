"""The store's queries that only the dashboard's pages need (the rest come from `app.store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, func, literal, true, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.store.models import CheckIn, Delivery, KeyResult, Objective, Sample

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Health:
    """A Key Result's last error and latest check-in, shown beside its summary."""

    last_error: str | None
    last_error_ts: int | None
    confidence: float | None
    confidence_ts: int | None


def key_result_health(session: Session) -> dict[str, Health]:
    """Return the last error and latest check-in of every Key Result that has either.

    Two small queries over the whole (short) lists instead of `IN` lists of a page's ids:
    errored Key Results and check-ins are few next to samples.
    """
    errors: Sequence[Any] = session.execute(
        sa_select(col(KeyResult.id), col(KeyResult.last_error), col(KeyResult.last_error_ts)).where(
            col(KeyResult.last_error).is_not(None)
        )
    ).all()
    newest = (
        sa_select(func.max(col(CheckIn.id)).label("id"))
        .group_by(col(CheckIn.key_result_id))
        .subquery()
    )
    check_ins: Sequence[Any] = session.execute(
        sa_select(col(CheckIn.key_result_id), col(CheckIn.confidence), col(CheckIn.ts)).where(
            col(CheckIn.id).in_(sa_select(newest.c.id))
        )
    ).all()
    error_of = {kr_id: (error, ts) for kr_id, error, ts in errors}
    confidence_of = {kr_id: (value, ts) for kr_id, value, ts in check_ins}
    return {
        kr_id: Health(*error_of.get(kr_id, (None, None)), *confidence_of.get(kr_id, (None, None)))
        for kr_id in error_of.keys() | confidence_of.keys()
    }


OBJECTIVE_COLUMNS = tuple(
    col(column)
    for column in (
        Objective.id,
        Objective.title,
        Objective.owner,
        Objective.team,
        Objective.parent_id,
        Objective.description,
        Objective.period_start_ts,
        Objective.period_end_ts,
    )
)


def objective_rows(session: Session) -> Sequence[Any]:
    """Return the unarchived objectives' columns in file order, as `store.list_objectives`.

    Plain rows (attribute access like the ORM objects `api.schemas.objective_out` reads)
    cost a fifth of building 200 ORM objects per overview.
    """
    return session.execute(
        sa_select(*OBJECTIVE_COLUMNS)
        .where(col(Objective.archived_ts).is_(None))
        .order_by(col(Objective.position), col(Objective.id))
    ).all()


@dataclass(frozen=True)
class AlertEvent:
    """An alert event raised for a Key Result (once, whatever webhooks it went to)."""

    event_id: str
    event_type: str
    ts: int
    summary: str


def alert_events(
    session: Session, key_result_id: str, *, since: int, limit: int = 200
) -> list[AlertEvent]:
    """Return the alert events raised for a Key Result since `since`, oldest first."""
    rows: Sequence[Any] = session.execute(
        sa_select(
            col(Delivery.event_id),
            col(Delivery.event_type),
            func.min(col(Delivery.created_ts)),
            func.min(col(Delivery.seq)),
        )
        .where(col(Delivery.key_result_id) == key_result_id, col(Delivery.created_ts) >= since)
        .group_by(col(Delivery.event_id), col(Delivery.event_type))
        .order_by(func.min(col(Delivery.created_ts)))
        .limit(limit)
    ).all()
    if not rows:
        return []
    payloads = dict(
        session.execute(
            sa_select(col(Delivery.seq), col(Delivery.payload)).where(
                col(Delivery.seq).in_([seq for *_, seq in rows])
            )
        ).all()
    )
    events = []
    for event_id, event_type, ts, seq in rows:
        data = (payloads.get(seq) or {}).get("data") or {}
        events.append(
            AlertEvent(event_id, event_type, int(ts), str(data.get("status_reason") or ""))
        )
    return events


def values_at(
    session: Session, key_result_ids: Sequence[str], instants: Sequence[int]
) -> dict[str, list[tuple[int, float]]]:
    """Return each Key Result's latest value at or before each instant (one statement).

    Each (Key Result, instant) pair is one seek in the (key_result_id, ts, value) index, so
    a sparkline costs the same at 100 samples as at 100,000; averaging buckets instead would
    read every sample of every Key Result on the page.
    """
    if not key_result_ids or not instants:
        return {}
    moments = union_all(*(sa_select(literal(t, BigInteger).label("at_ts")) for t in instants))
    at = moments.subquery("moments")
    kr = col(KeyResult.id)
    value = (
        sa_select(col(Sample.value))
        .where(col(Sample.key_result_id) == kr, col(Sample.ts) <= at.c.at_ts)
        .order_by(col(Sample.ts).desc())
        .limit(1)
        .scalar_subquery()
    )
    rows: Sequence[Any] = session.execute(
        sa_select(kr, at.c.at_ts, value)
        .select_from(KeyResult)
        .join(at, true())
        .where(kr.in_(key_result_ids))
        .order_by(kr, at.c.at_ts)
    ).all()
    series: dict[str, list[tuple[int, float]]] = {}
    for kr_id, ts, found in rows:
        if found is not None:
            series.setdefault(kr_id, []).append((int(ts), float(found)))
    return series
