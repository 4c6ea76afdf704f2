"""The outbox's store functions on their own, on SQLite and the real PostgreSQL.

The worker tests (tests/delivery/) cover them through real sends; these pin the rules the
store alone holds: only the head of each (webhook, Key Result) queue is claimed, a row is
taken once, a try recorded under an expired lease moves nothing, and what counts as
unfinished or already queued.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.alerts.safe_http import Outcome
from app.core.domain import DeliveryState
from app.store.db import make_engine, upgrade_database
from app.store.models import Delivery, DeliveryAttempt
from app.store.outbox import (
    count_by_webhook,
    delivery_exists,
    enable_webhook,
    outbox_summary,
    stored_idempotency_keys,
    webhook_states,
)
from app.store.outbox_worker import (
    AfterTry,
    claim_due,
    disable_webhook,
    disabled_webhooks,
    pending_for_unknown_webhooks,
    record_tries,
)

NOW = 1_900_000_000


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Yield an engine on an empty, migrated database."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def add(engine: Engine, *rows: tuple[str, str, str, int]) -> list[int]:
    """Queue (event id, webhook, Key Result, created_ts) rows, due at once; return their seqs."""
    with Session(engine) as session:
        made = [
            Delivery(
                event_id=event_id,
                webhook=webhook,
                event_type="kr.regressed",
                key_result_id=kr,
                payload={"n": event_id},
                created_ts=created,
                next_attempt_ts=created,
                idempotency_key=f"key:{event_id}",
            )
            for event_id, webhook, kr, created in rows
        ]
        session.add_all(made)
        session.commit()
        return [d.seq for d in made if d.seq is not None]


def states(engine: Engine) -> list[tuple[str, str, int]]:
    """Return (event id, state, attempts) of every row in seq order."""
    with Session(engine) as session:
        rows = session.exec(select(Delivery).order_by(col(Delivery.seq))).all()
        return [(d.event_id, d.state, d.attempts) for d in rows]


def test_claims_take_each_key_results_oldest_row_once(engine: Engine) -> None:
    """Only the head of each Key Result's queue is leased; a second claim finds it taken."""
    add(engine, ("e1", "ops", "k1", NOW), ("e2", "ops", "k1", NOW), ("e3", "ops", "k2", NOW))
    add(engine, ("e4", "chat", "k1", NOW))
    with engine.begin() as conn:
        claims = claim_due(conn, webhook="ops", now_ts=NOW, lease_until=NOW + 60, limit=10)
        again = claim_due(conn, webhook="ops", now_ts=NOW, lease_until=NOW + 60, limit=10)
    assert [c.event_id for c in claims] == ["e1", "e3"]
    assert {c.lease_until for c in claims} == {NOW + 60} and again == []
    assert states(engine) == [
        ("e1", "sending", 0),
        ("e2", "pending", 0),
        ("e3", "sending", 0),
        ("e4", "pending", 0),
    ]
    # Once the leases run out the same heads are due again (at least once, never skipped).
    with engine.begin() as conn:
        later = claim_due(conn, webhook="ops", now_ts=NOW + 60, lease_until=NOW + 120, limit=1)
    assert [c.event_id for c in later] == ["e1"]


def test_a_try_under_an_expired_lease_is_recorded_but_moves_nothing(engine: Engine) -> None:
    """The current lease holder moves the row; a worker whose lease was taken over does not."""
    add(engine, ("e1", "ops", "k1", NOW))
    with engine.begin() as conn:
        [stale] = claim_due(conn, webhook="ops", now_ts=NOW, lease_until=NOW + 10, limit=1)
        [fresh] = claim_due(conn, webhook="ops", now_ts=NOW + 10, lease_until=NOW + 70, limit=1)
    failed = (stale, Outcome(503, "HTTP 503", 5), AfterTry(DeliveryState.PENDING, NOW + 500))
    ok = AfterTry(DeliveryState.DELIVERED, NOW + 20, delivered_ts=NOW + 20, delivered_at_ms=1)
    with engine.begin() as conn:
        record_tries(conn, tried_ts=NOW + 15, tries=[failed])
    assert states(engine) == [("e1", "sending", 0)]
    with engine.begin() as conn:
        record_tries(conn, tried_ts=NOW + 20, tries=[(fresh, Outcome(204, None, 3), ok)])
    assert states(engine) == [("e1", "delivered", 1)]
    with Session(engine) as session:
        tries = session.exec(select(DeliveryAttempt).order_by(col(DeliveryAttempt.id))).all()
        [row] = session.exec(select(Delivery)).all()
    assert [(t.status_code, t.error) for t in tries] == [(503, "HTTP 503"), (204, None)]
    assert (row.delivered_ts, row.last_status_code, row.last_error) == (NOW + 20, 204, None)


def test_disabled_webhooks_and_rows_of_unknown_webhooks(engine: Engine) -> None:
    """A disabled webhook is listed until enabled, which makes its pending rows due now."""
    add(engine, ("e1", "ops", "k1", NOW), ("e2", "old", "k1", NOW), ("e3", "old", "k2", NOW))
    disable_webhook(engine, "ops", now_ts=NOW, reason="the receiver answered 410 Gone")
    disable_webhook(engine, "ops", now_ts=NOW + 1, reason="again")
    with engine.connect() as conn:
        assert disabled_webhooks(conn) == {"ops"}
        assert pending_for_unknown_webhooks(conn, configured=["ops"]) == [("old", 2)]
    with Session(engine) as session:
        assert webhook_states(session)["ops"].disabled_reason == "again"
        enable_webhook(session, name="ops", now_ts=NOW + 99)
        session.commit()
        assert webhook_states(session)["ops"].disabled_ts is None
        due = session.exec(select(Delivery.next_attempt_ts).where(col(Delivery.webhook) == "ops"))
        assert list(due) == [NOW + 99]
    with engine.connect() as conn:
        assert disabled_webhooks(conn) == set()


def test_counts_summary_and_what_is_already_queued(engine: Engine) -> None:
    """Every state is counted (zeros too); the summary leaves delivered rows out."""
    seqs = add(
        engine,
        ("e1", "ops", "k1", NOW - 50),
        ("e2", "ops", "k2", NOW - 20),
        ("e3", "ops", "k3", NOW - 90),
    )
    with Session(engine) as session:
        for seq, state in zip(
            seqs[1:], (DeliveryState.DELIVERED, DeliveryState.FAILED), strict=True
        ):
            row = session.get(Delivery, seq)
            assert row is not None
            row.state = state
            session.add(row)
        session.commit()
        counts = count_by_webhook(session)
        assert counts["ops"] == {"pending": 1, "sending": 0, "delivered": 1, "failed": 1}
        assert counts["nobody"] == dict.fromkeys(("pending", "sending", "delivered", "failed"), 0)
        assert outbox_summary(session) == [
            ("ops", "failed", 1, NOW - 90),
            ("ops", "pending", 1, NOW - 50),
        ]
        assert stored_idempotency_keys(session, ["key:e1", "key:e9"]) == {"key:e1"}
        assert stored_idempotency_keys(session, []) == set()
        assert delivery_exists(session, event_id="e2", webhook="ops")
        assert not delivery_exists(session, event_id="e2", webhook="chat")
