"""Stored strings that quote a secret, rewritten once per set of secrets."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import (
    Engine,
    Text,
    and_,
    cast,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel

from app.store.models import (
    ConnectorState,
)
from app.store.run_state import save_connector_state

if TYPE_CHECKING:
    from app.core.redaction import Redactor

# Stored strings that may quote what a source or receiver echoed (see `app.core.redaction`).
REDACTED_COLUMNS = (
    ("key_results", "last_error"),
    ("key_results", "status_reason"),
    ("sampling_attempts", "error_message"),
    ("samples", "details"),
    ("deliveries", "payload"),
    ("deliveries", "last_error"),
    ("delivery_attempts", "error"),
)


REDACTION_MARKER = ("krtracker", "krtracker.redaction")


def redact_stored_secrets(engine: Engine, redactor: Redactor, *, now_ts: int) -> int:
    """Rewrite stored strings that quote a configured secret; return how many changed.

    Rows written before secrets were redacted (or before a secret was added to the config)
    would otherwise keep showing it. The pass runs once per set of secrets: a marker in
    `connector_state` holds the set's digest, so an unchanged config costs one read.
    """
    if not redactor.forms:
        return 0
    digest = hashlib.sha256("\0".join(sorted(redactor.forms)).encode()).hexdigest()
    changed = 0
    with engine.begin() as connection:
        state = ConnectorState.__table__.c  # type: ignore[attr-defined]
        marker = connection.execute(
            sa_select(state.value).where(
                state.connector == REDACTION_MARKER[0], state.key == REDACTION_MARKER[1]
            )
        ).scalar()
        if marker == {"digest": digest}:
            return 0
        for table_name, column_name in REDACTED_COLUMNS:
            table = SQLModel.metadata.tables[table_name]
            column, keys = table.c[column_name], list(table.primary_key.columns)
            as_text = cast(column, Text)  # JSON columns are searched as their text
            quoting = or_(*(as_text.contains(form, autoescape=True) for form in redactor.forms))
            for row in connection.execute(sa_select(*keys, column).where(quoting)).all():
                value = redactor.json(row[-1])
                if value != row[-1]:
                    match = and_(*(key == row[i] for i, key in enumerate(keys)))
                    connection.execute(update(table).where(match).values({column_name: value}))
                    changed += 1
        save_connector_state(
            connection,
            connector=REDACTION_MARKER[0],
            key=REDACTION_MARKER[1],
            value={"digest": digest},
            updated_ts=now_ts,
        )
    return changed
