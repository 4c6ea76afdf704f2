"""State connectors and the alert rules keep between runs (`connector_state`, `alert_states`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from app.store.models import (
    AlertStateRow,
    ConnectorState,
    KeyResult,
)
from app.store.statements import upsert_statement

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import (
        Connection,
    )


def save_connector_state(
    connection: Connection, *, connector: str, key: str, value: Any, updated_ts: int
) -> None:
    """Store a connector's state value under `key` (insert or replace); caller commits."""
    statement = upsert_statement(
        connection.dialect.name,
        ConnectorState.__table__,  # type: ignore[attr-defined]
        ("connector", "key"),
        ("value", "updated_ts"),
    )
    connection.execute(
        statement, {"connector": connector, "key": key, "value": value, "updated_ts": updated_ts}
    )


def alert_states_with_key_results(
    session: Session,
) -> Sequence[tuple[AlertStateRow, KeyResult | None]]:
    """Return every stored alert-rules state with its Key Result (None once it is gone)."""
    return session.exec(  # type: ignore[return-value]
        select(AlertStateRow, KeyResult)
        .join(KeyResult, col(KeyResult.id) == col(AlertStateRow.key_result_id), isouter=True)
        .order_by(col(AlertStateRow.key_result_id))
    ).all()


def save_alert_states(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store the alert rules' state of Key Results (`key_result_id`, `state`, `updated_ts`)."""
    if rows:
        statement = upsert_statement(
            connection.dialect.name,
            AlertStateRow.__table__,  # type: ignore[attr-defined]
            ("key_result_id",),
            ("state", "updated_ts"),
        )
        connection.execute(statement, list(rows))


class DatabaseStateStore:
    """A connector's `StateStore` kept in the `connector_state` table; commits each save."""

    def __init__(self, engine: Any, connector: str, clock: Any) -> None:
        self.engine = engine
        self.connector = connector
        self.clock = clock

    def load(self, key: str) -> Any | None:
        """Return the value saved under `key`, or None."""
        with Session(self.engine) as session:
            row = session.get(ConnectorState, (self.connector, key))
            return None if row is None else row.value

    def save(self, key: str, value: Any) -> None:
        """Store `value` under `key` and commit."""
        with Session(self.engine) as session:
            save_connector_state(
                session.connection(),
                connector=self.connector,
                key=key,
                value=value,
                updated_ts=int(self.clock()),
            )
            session.commit()
