"""The outbox's store: reads and writes of `deliveries`, `delivery_attempts`, `webhook_states`.

The webhook routes, the metrics and the scheduled events (digests, reminders, period
reports) call these instead of writing SQL, so what counts as unfinished, due or already
queued is written once. The delivery worker's own SQL (leases, recording tries) is in
`app.store.outbox_worker`. Each function takes an open `Session` and leaves committing to
the caller.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.domain import DeliveryState
from app.store.models import Delivery, DeliveryAttempt, WebhookState

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# States a row can still move on from (or, for `failed`, be redelivered from).
UNFINISHED_DELIVERY_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED)
# Rows waiting to go out: a `sending` row whose lease ran out is sent again.
OPEN_DELIVERY_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)


def count_by_webhook(session: Session) -> dict[str, dict[str, int]]:
    """Return each webhook's number of deliveries per state (every state, zero included).

    Unknown webhooks read as all zeros, so a configured webhook without rows has counts too.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DeliveryState, 0))
    for name, state, count in session.exec(
        select(Delivery.webhook, Delivery.state, func.count()).group_by(
            col(Delivery.webhook), col(Delivery.state)
        )
    ).all():
        counts[name][state] = count
    return counts


def outbox_summary(session: Session) -> list[tuple[str, str, int, int]]:
    """Return (webhook, state, deliveries, oldest created_ts) for unfinished deliveries.

    Delivered rows are left out: they only grow, and counting them would scan the table
    at every scrape; the state index serves the rest.
    """
    webhook, state = col(Delivery.webhook), col(Delivery.state)
    rows: Sequence[Any] = session.execute(
        sa_select(webhook, state, func.count(), func.min(col(Delivery.created_ts)))
        .where(state.in_(UNFINISHED_DELIVERY_STATES))
        .group_by(webhook, state)
        .order_by(webhook, state)
    ).all()
    return [(str(w), str(st), int(n), int(oldest)) for w, st, n, oldest in rows]


def webhook_states(session: Session) -> dict[str, WebhookState]:
    """Return the stored state (disabled or not) of every webhook that has one, by name."""
    return {s.name: s for s in session.exec(select(WebhookState)).all()}


def enable_webhook(session: Session, *, name: str, now_ts: int) -> None:
    """Clear `name`'s disabled mark and make its pending deliveries due at `now_ts`."""
    state = session.get(WebhookState, name)
    if state is not None:
        state.disabled_ts, state.disabled_reason = None, None
        session.add(state)
    waiting = (col(Delivery.webhook) == name, col(Delivery.state) == DeliveryState.PENDING)
    session.exec(update(Delivery).where(*waiting).values(next_attempt_ts=now_ts))


def list_deliveries(
    session: Session,
    *,
    webhook: str,
    limit: int,
    before_seq: int | None = None,
    state: DeliveryState | None = None,
) -> list[Delivery]:
    """Return up to `limit` of a webhook's deliveries, newest first, below `before_seq`."""
    query = select(Delivery).where(col(Delivery.webhook) == webhook)
    if before_seq is not None:
        query = query.where(col(Delivery.seq) < before_seq)
    if state is not None:
        query = query.where(col(Delivery.state) == state)
    return list(session.exec(query.order_by(col(Delivery.seq).desc()).limit(limit)).all())


def attempts_of(session: Session, seqs: Iterable[int]) -> dict[int, list[DeliveryAttempt]]:
    """Return the tries of these deliveries, newest first, by delivery seq."""
    by_seq: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    wanted = list(seqs)
    if wanted:
        for attempt in session.exec(
            select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_seq).in_(wanted))
            .order_by(col(DeliveryAttempt.id).desc())
        ).all():
            by_seq[attempt.delivery_seq].append(attempt)
    return by_seq


def find_delivery(session: Session, seq: int) -> Delivery | None:
    """Return the delivery `seq`, or None."""
    return session.get(Delivery, seq)


def requeue(session: Session, delivery: Delivery, *, now_ts: int) -> None:
    """Make `delivery` pending and due at `now_ts`, keeping its event id (a redelivery)."""
    delivery.state, delivery.next_attempt_ts = DeliveryState.PENDING, now_ts
    session.add(delivery)


def queue_delivery(
    session: Session,
    *,
    event_id: str,
    webhook: str,
    event_type: str,
    key_result_id: str,
    payload: dict[str, Any],
    now_ts: int,
) -> Delivery:
    """Add a pending delivery, due at `now_ts`, and return it (its seq once flushed)."""
    delivery = Delivery(
        event_id=event_id,
        webhook=webhook,
        event_type=event_type,
        key_result_id=key_result_id,
        created_ts=now_ts,
        next_attempt_ts=now_ts,
        payload=payload,
    )
    session.add(delivery)
    return delivery


# --- scheduled events: digests, reminders, period reports ---


def stored_idempotency_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Return which of `keys` the outbox already holds (each is unique in `deliveries`)."""
    wanted = list(keys)
    if not wanted:
        return set()
    found = session.exec(
        select(Delivery.idempotency_key).where(col(Delivery.idempotency_key).in_(wanted))
    ).all()
    return {key for key in found if key is not None}


def delivery_exists(session: Session, *, event_id: str, webhook: str) -> bool:
    """Return whether the outbox already holds this event for this webhook."""
    found = session.exec(
        select(Delivery.seq)
        .where(col(Delivery.event_id) == event_id, col(Delivery.webhook) == webhook)
        .limit(1)
    ).first()
    return found is not None


def insert_deliveries(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Add deliveries given as column dicts (the writer's alert events), in one statement."""
    if rows:
        connection.execute(Delivery.__table__.insert(), list(rows))  # type: ignore[attr-defined]
