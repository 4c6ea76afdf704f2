"""The store's queries that only the dashboard's pages need (the rest come from `app.store`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, func, literal, true, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.models import CheckIn, Delivery, KeyResult, Sample


@dataclass(frozen=True)
class Health:
    """A Key Result's last error and latest check-in, shown beside its summary."""

    last_error: str | None
    last_error_ts: int | None
    confidence: float | None
    confidence_ts: int | None


def key_result_health(session: Session, key_result_ids: Sequence[str]) -> dict[str, Health]:
    """Return each Key Result's last error and latest check-in's confidence, in two queries."""
    if not key_result_ids:
        return {}
    errors: Sequence[Any] = session.execute(
        sa_select(col(KeyResult.id), col(KeyResult.last_error), col(KeyResult.last_error_ts)).where(
            col(KeyResult.id).in_(key_result_ids)
        )
    ).all()
    newest = (
        sa_select(func.max(col(CheckIn.id)).label("id"))
        .where(col(CheckIn.key_result_id).in_(key_result_ids))
        .group_by(col(CheckIn.key_result_id))
        .subquery()
    )
    check_ins: Sequence[Any] = session.execute(
        sa_select(col(CheckIn.key_result_id), col(CheckIn.confidence), col(CheckIn.ts)).where(
            col(CheckIn.id).in_(sa_select(newest.c.id))
        )
    ).all()
    confidence = {kr_id: (value, ts) for kr_id, value, ts in check_ins}
    return {
        kr_id: Health(error, error_ts, *confidence.get(kr_id, (None, None)))
        for kr_id, error, error_ts in errors
    }


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
