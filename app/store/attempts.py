"""Sampling attempts: every try of a source, successful or not, with its reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    func,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.series import FAILURE_STREAK_CAP, LastAttempt
from app.store import pg_bulk
from app.store.models import (
    SamplingAttempt,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


def insert_attempts(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record sampling attempts (successful or failed), given as column dicts."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        pg_bulk.insert_attempts(connection, rows)
        return
    table = SamplingAttempt.__table__  # type: ignore[attr-defined]
    connection.execute(table.insert(), list(rows))


def latest_scheduled_instants(session: Session) -> dict[str, int]:
    """Return, per Key Result, the newest scheduled instant it has an attempt for."""
    rows = session.exec(
        select(SamplingAttempt.key_result_id, func.max(col(SamplingAttempt.scheduled_ts))).group_by(
            col(SamplingAttempt.key_result_id)
        )
    ).all()
    return {kr_id: int(ts) for kr_id, ts in rows}


def last_attempt(session: Session, key_result_id: str) -> LastAttempt | None:
    """Return the latest attempt and how many attempts in a row have failed.

    A Core read of four columns: the writer runs it for every manual value and re-evaluation.
    """
    table = SamplingAttempt.__table__  # type: ignore[attr-defined]
    recent: Sequence[Any] = (
        session.connection()
        .execute(
            sa_select(table.c.attempted_ts, table.c.ok, table.c.error_message, table.c.error_kind)
            .where(table.c.key_result_id == key_result_id)
            .order_by(table.c.attempted_ts.desc(), table.c.id.desc())
            .limit(FAILURE_STREAK_CAP)
        )
        .all()
    )
    if not recent:
        return None
    failures = 0
    for attempt in recent:
        if attempt.ok:
            break
        failures += 1
    head = recent[0]
    return LastAttempt(
        ts=head.attempted_ts,
        ok=head.ok,
        reason=head.error_message,
        consecutive_failures=failures,
        kind=head.error_kind,
    )


def list_attempts(
    session: Session, key_result_id: str, *, limit: int = 50, offset: int = 0
) -> Sequence[SamplingAttempt]:
    """Return the latest attempts of a Key Result, newest first (ties: latest stored first)."""
    return session.exec(
        select(SamplingAttempt)
        .where(SamplingAttempt.key_result_id == key_result_id)
        .order_by(col(SamplingAttempt.attempted_ts).desc(), col(SamplingAttempt.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()


def count_attempts(session: Session, key_result_id: str) -> int:
    """Return how many attempts a Key Result has."""
    statement = select(func.count()).where(SamplingAttempt.key_result_id == key_result_id)
    return int(session.exec(statement).one())
