"""Objectives and Key Results: definitions synced from the config and evaluated state."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.store import pg_bulk
from app.store.models import AlertStateRow, KeyResult, Objective

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

KEY_RESULT_STATE_COLUMNS = tuple(name for name, _ in pg_bulk.KEY_RESULT_STATE_COLUMNS)


@functools.cache
def _update_key_result_state() -> Any:
    """Build the `key_results` state update once; it runs with one row per Key Result."""
    table = KeyResult.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(table.c.id == bindparam("kr_id"))
        .values({c: bindparam(c) for c in KEY_RESULT_STATE_COLUMNS})
    )


def save_key_result_states(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write Key Results' evaluated state (`kr_id` plus the `KEY_RESULT_STATE_COLUMNS`)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        pg_bulk.update_key_result_states(connection, rows)
        return
    connection.execute(_update_key_result_state(), list(rows))


def list_objectives(
    session: Session,
    *,
    include_archived: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Objective]:
    """Return objectives in file order (a page of them with `limit` and `offset`)."""
    query = select(Objective).order_by(col(Objective.position), col(Objective.id))
    if not include_archived:
        query = query.where(col(Objective.archived_ts).is_(None))
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return session.exec(query).all()


def count_objectives(session: Session, *, include_archived: bool = False) -> int:
    """Return how many objectives a listing without a limit would return."""
    query = select(func.count()).select_from(Objective)
    if not include_archived:
        query = query.where(col(Objective.archived_ts).is_(None))
    return int(session.exec(query).one())


def definitions_by_id(session: Session) -> tuple[dict[str, Objective], dict[str, KeyResult]]:
    """Return every objective and Key Result row by id, archived ones too (what sync compares)."""
    objectives = {o.id: o for o in session.exec(select(Objective)).all()}
    key_results = {k.id: k for k in session.exec(select(KeyResult)).all()}
    return objectives, key_results


def list_key_results(
    session: Session, *, objective_id: str | None = None, include_archived: bool = False
) -> Sequence[KeyResult]:
    """Return Key Results in file order, optionally of one objective."""
    query = select(KeyResult).order_by(col(KeyResult.objective_id), col(KeyResult.position))
    if objective_id is not None:
        query = query.where(KeyResult.objective_id == objective_id)
    if not include_archived:
        query = query.where(col(KeyResult.archived_ts).is_(None))
    return session.exec(query).all()


SUMMARY_COLUMNS = tuple(
    col(column)
    for column in (
        KeyResult.id,
        KeyResult.objective_id,
        KeyResult.title,
        KeyResult.unit,
        KeyResult.direction,
        KeyResult.baseline_value,
        KeyResult.target_value,
        KeyResult.band_low,
        KeyResult.band_high,
        KeyResult.current_value,
        KeyResult.current_ts,
        KeyResult.progress,
        KeyResult.expected_progress,
        KeyResult.status,
        KeyResult.status_reason,
    )
)


def key_result_summaries(
    session: Session,
    *,
    objective_id: str | None = None,
    objective_ids: Sequence[str] | None = None,
    include_archived: bool = False,
) -> Sequence[Any]:
    """Return only the listing columns of Key Results, in file order.

    Listings of a thousand Key Results spend their time building ORM objects and reading
    JSON columns they never show; plain rows of the needed columns avoid both.
    """
    query = sa_select(*SUMMARY_COLUMNS).order_by(
        col(KeyResult.objective_id), col(KeyResult.position)
    )
    if objective_id is not None:
        query = query.where(col(KeyResult.objective_id) == objective_id)
    if objective_ids is not None:
        query = query.where(col(KeyResult.objective_id).in_(objective_ids))
    if not include_archived:
        query = query.where(col(KeyResult.archived_ts).is_(None))
    # A Core execution: the ORM's result processing cost a third of the listing's build.
    return session.connection().execute(query).all()


LISTING_KEY_RESULT_COLUMNS = (*SUMMARY_COLUMNS, col(KeyResult.position), col(KeyResult.archived_ts))


def key_result_rows_since(session: Session, version: int | None) -> Sequence[Any]:
    """Return Key Results' listing columns (`SUMMARY_COLUMNS`, position, archived_ts).

    Only the rows changed after data version `version` (all rows when None): an indexed
    read of the few rows a sampling batch changed.
    """
    query = sa_select(*LISTING_KEY_RESULT_COLUMNS)
    if version is not None:
        query = query.where(col(KeyResult.row_version) > version)
    return session.connection().execute(query).all()


def objective_rows_since(session: Session, version: int | None) -> Sequence[Any]:
    """Return objectives' rows changed after data version `version` (all rows when None)."""
    table = Objective.__table__  # type: ignore[attr-defined]
    query = sa_select(table)
    if version is not None:
        query = query.where(table.c.row_version > version)
    return session.connection().execute(query).all()


def lock_key_results(connection: Connection, ids: Collection[str]) -> None:
    """Lock Key Result rows first in a transaction that will stamp them.

    A write that changes nothing on the row (an evaluation with the same result) would
    otherwise take the row's lock only when `bump_data_version` stamps it, after its alert
    state: against a writer that took them the other way round, a deadlock. Locked first,
    concurrent writes of one Key Result also evaluate after each other, each seeing the
    other's sample. SQLite has no FOR UPDATE: a write that changes nothing takes the
    database's write lock instead, before the writer reads its figures (the driver starts
    the transaction only at the first write, so reads before it could miss a value another
    writer commits meanwhile).
    """
    if not ids:
        return
    table = KeyResult.__table__  # type: ignore[attr-defined]
    if connection.dialect.name == "sqlite":
        connection.execute(
            update(table)
            .where(table.c.id.in_(sorted(set(ids))))
            .values(row_version=table.c.row_version)
        )
        return
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        sa_select(table.c.id)
        .where(table.c.id.in_(sorted(set(ids))))
        .order_by(table.c.id)
        .with_for_update()
    )


def writer_row(session: Session, key_result_id: str) -> Any | None:
    """Return what the writer reads of a Key Result, in one read (None: not synced).

    Its definition and frozen score, its objective's id, title and team, and its alert
    rules' state (`alert_state` None and `has_alert_state` False before the first write).
    A Core read: the writer runs it for every manual value and every re-evaluation.
    """
    kr = KeyResult.__table__  # type: ignore[attr-defined]
    objective = Objective.__table__  # type: ignore[attr-defined]
    alerts = AlertStateRow.__table__  # type: ignore[attr-defined]
    query = (
        sa_select(
            kr.c.id,
            kr.c.title,
            kr.c.unit,
            kr.c.direction,
            kr.c.spec,
            kr.c.final_score,
            objective.c.id.label("objective_id"),
            objective.c.title.label("objective_title"),
            objective.c.team,
            alerts.c.state.label("alert_state"),
            alerts.c.key_result_id.isnot(None).label("has_alert_state"),
        )
        .join(objective, objective.c.id == kr.c.objective_id)
        .outerjoin(alerts, alerts.c.key_result_id == kr.c.id)
        .where(kr.c.id == key_result_id)
    )
    return session.connection().execute(query).first()
