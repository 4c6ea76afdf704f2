"""Insert-or-update statements built once per dialect and table (the writer runs them often)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

if TYPE_CHECKING:
    from sqlalchemy import (
        Table,
    )


@functools.cache
def upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], updated: tuple[str, ...]
) -> Any:
    """Build an insert-or-update statement once per dialect and table (bind parameters only).

    Building it per row through the ORM cost more than running it (docs/benchmarks.md).
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={c: statement.excluded[c] for c in updated}
    )
