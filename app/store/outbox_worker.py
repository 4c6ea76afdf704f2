"""The delivery worker's SQL: lease due outbox rows, record each try, report stray rows.

Apart from `app.store.outbox` (the outbox as the API and the event producers see it)
because these functions serve one caller, `app.alerts.delivery`, and share one rule: a row is
moved on only by the worker holding its lease (`state = sending`, `next_attempt_ts` = the
lease's end). They take a Core `Connection`: the worker's hot path skips the ORM, whose
per-row overhead dominated a send. Nothing here commits unless its docstring says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from app.core.domain import DeliveryState
from app.store.models import WebhookState
from app.store.outbox import OPEN_DELIVERY_STATES

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from app.alerts.safe_http import Outcome

DELIVERIES: Table = SQLModel.metadata.tables["deliveries"]
ATTEMPTS: Table = SQLModel.metadata.tables["delivery_attempts"]
WEBHOOK_STATES: Table = SQLModel.metadata.tables["webhook_states"]
_D = DELIVERIES.c
# The lease holder alone moves a row on: a worker whose lease expired changes nothing.
_RECORD = (
    update(DELIVERIES)
    .where(
        _D.seq == bindparam("b_seq"),
        _D.state == DeliveryState.SENDING,
        _D.next_attempt_ts == bindparam("b_lease"),
    )
    .values(
        state=bindparam("v_state"),
        next_attempt_ts=bindparam("v_next"),
        attempts=bindparam("v_attempts"),
        last_status_code=bindparam("v_code"),
        last_error=bindparam("v_error"),
        delivered_ts=func.coalesce(bindparam("v_delivered_ts"), _D.delivered_ts),
        delivered_at_ms=func.coalesce(bindparam("v_delivered_ms"), _D.delivered_at_ms),
    )
)


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds the lease on (`lease_until` is its `next_attempt_ts`)."""

    seq: int
    event_id: str
    webhook: str
    payload: dict[str, Any]
    created_ts: int
    attempts: int
    lease_until: int


@dataclass(frozen=True)
class AfterTry:
    """Where a delivery goes after one try: its new state and when it is next due."""

    state: DeliveryState
    next_attempt_ts: int
    delivered_ts: int | None = None
    delivered_at_ms: int | None = None


def disabled_webhooks(conn: Connection) -> set[str]:
    """Return the names of the webhooks a 410 Gone disabled (their rows wait unsent)."""
    states = WEBHOOK_STATES.c
    return set(conn.scalars(sa_select(states.name).where(states.disabled_ts.is_not(None))))


def claim_due(
    conn: Connection,
    *,
    webhook: str,
    now_ts: int,
    lease_until: int,
    limit: int,
    exclude: Collection[int] = (),
) -> list[Claim]:
    """Lease up to `limit` due rows of `webhook`, each the oldest open one of its Key Result.

    Only the head of each (webhook, Key Result) queue may go out, so a receiver sees a Key
    Result's events in order. Each row is taken by a compare-and-set UPDATE: of several
    workers that read it, one wins, and the others skip it.
    """
    heads = (
        sa_select(func.min(_D.seq).label("seq"))
        .where(_D.state.in_(OPEN_DELIVERY_STATES), _D.webhook == webhook)
        .group_by(_D.key_result_id)
        .subquery()
    )
    query = (
        sa_select(DELIVERIES)
        .join(heads, _D.seq == heads.c.seq)
        .where(_D.next_attempt_ts <= now_ts, _D.seq.not_in(exclude))
        .order_by(_D.seq)
        .limit(limit)
    )
    claims: list[Claim] = []
    for row in conn.execute(query).mappings().all():
        taken = conn.execute(
            update(DELIVERIES)
            .where(
                _D.seq == row["seq"],
                _D.state == row["state"],
                _D.next_attempt_ts == row["next_attempt_ts"],
            )
            .values(state=DeliveryState.SENDING, next_attempt_ts=lease_until)
        )
        if taken.rowcount == 1:
            claims.append(
                Claim(
                    row["seq"],
                    row["event_id"],
                    webhook,
                    row["payload"],
                    row["created_ts"],
                    row["attempts"],
                    lease_until,
                )
            )
    return claims


def record_tries(
    conn: Connection, *, tried_ts: int, tries: Sequence[tuple[Claim, Outcome, AfterTry]]
) -> None:
    """Insert one `delivery_attempts` row per try and move each delivery on.

    A row whose lease is no longer the claim's (it expired and another worker took the row)
    keeps its state: only the attempt is recorded.
    """
    conn.execute(
        insert(ATTEMPTS),
        [
            {
                "delivery_seq": claim.seq,
                "ts": tried_ts,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            }
            for claim, outcome, _ in tries
        ],
    )
    conn.execute(
        _RECORD,
        [
            {
                "b_seq": claim.seq,
                "b_lease": claim.lease_until,
                "v_state": after.state,
                "v_next": after.next_attempt_ts,
                "v_attempts": claim.attempts + 1,
                "v_code": outcome.status_code,
                "v_error": outcome.error,
                "v_delivered_ts": after.delivered_ts,
                "v_delivered_ms": after.delivered_at_ms,
            }
            for claim, outcome, after in tries
        ],
    )


def pending_for_unknown_webhooks(
    conn: Connection, *, configured: Collection[str]
) -> list[tuple[str, int]]:
    """Return (webhook, pending rows) for webhooks not in `configured` (they wait, kept)."""
    rows: Sequence[Any] = conn.execute(
        sa_select(_D.webhook, func.count())
        .where(_D.state == DeliveryState.PENDING, _D.webhook.not_in(list(configured)))
        .group_by(_D.webhook)
    ).all()
    return [(str(name), int(count)) for name, count in rows]


def disable_webhook(engine: Engine, name: str, *, now_ts: int, reason: str) -> None:
    """Mark `name` disabled (its deliveries wait until it is enabled through the API); commits."""
    for _ in range(2):  # two workers may insert the row at once; the loser updates it
        with Session(engine) as session:
            state = session.get(WebhookState, name) or WebhookState(name=name)
            state.disabled_ts, state.disabled_reason = now_ts, reason
            session.add(state)
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()
