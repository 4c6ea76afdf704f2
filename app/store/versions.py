"""The data version every write raises, so caches on every replica see changes; and readiness."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    text,
    update,
)
from sqlalchemy import select as sa_select

from app.store.models import (
    KeyResult,
    Objective,
)

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlmodel import Session

_BUMP_DATA_VERSION = "UPDATE data_version SET version = version + 1 WHERE id = 1 RETURNING version"


_READ_DATA_VERSION = "SELECT version FROM data_version WHERE id = 1"


_STAMP_CHUNK = 5000


def bump_data_version(
    connection: Connection,
    *,
    key_results: Collection[str] = (),
    objectives: Collection[str] = (),
) -> int | None:
    """Raise the data version in the caller's transaction: call it last, once per transaction.

    Every write of what the API shows calls it, so cached representations on every replica
    (`app.api.cache`) see the change at the next request; the rows it names get the new
    version as their `row_version`. On PostgreSQL the update locks the one row until
    commit: last in the transaction, concurrent writers queue only for their commits and
    take it after their other locks (no lock-order deadlock). The lock also orders the
    versions: when version V is visible, every transaction with a version up to V is too.
    """
    version = connection.exec_driver_sql(_BUMP_DATA_VERSION).scalar()
    if version is None:  # the row is missing: nothing caches without it
        return None
    for model, ids in ((KeyResult, key_results), (Objective, objectives)):
        table = model.__table__  # type: ignore[attr-defined,union-attr]
        ordered = sorted(set(ids))  # one lock order for rows this transaction already holds
        for start in range(0, len(ordered), _STAMP_CHUNK):
            connection.execute(
                update(table)
                .where(table.c.id.in_(ordered[start : start + _STAMP_CHUNK]))
                .values(row_version=version)
            )
    return int(version)


def read_key_result_version(connection: Connection, key_result_id: str) -> int | None:
    """Return a Key Result's `row_version` (a primary-key read), or None if there is none."""
    table = KeyResult.__table__  # type: ignore[attr-defined]
    query = sa_select(table.c.row_version).where(table.c.id == key_result_id)
    value = connection.execute(query).scalar()
    return None if value is None else int(value)


def read_data_version(connection: Connection) -> int | None:
    """Return the data version (one primary-key read), or None if its row is missing."""
    value = connection.exec_driver_sql(_READ_DATA_VERSION).scalar()
    return None if value is None else int(value)


def database_ready(session: Session) -> bool:
    """Return whether the database answers and has krtracker's tables."""
    session.exec(text("SELECT 1 FROM objectives LIMIT 1"))  # type: ignore[call-overload]
    return True
