"""Migrations: `krtracker db upgrade` builds exactly the tables the models declare."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import app.store.models  # noqa: F401  (registers the tables)
from app.store.db import alembic_config, make_engine, upgrade_database


def test_upgrade_matches_the_models(database_url: str) -> None:
    """After upgrading, Alembic finds no difference between the database and the models."""
    upgrade_database(database_url)
    upgrade_database(database_url)  # idempotent
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
        assert context.get_current_revision() == head
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == [], differences


@pytest.mark.parametrize("pragma", ["journal_mode", "busy_timeout"])
def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path: object, pragma: str) -> None:
    """SQLite connections use WAL and wait for a busy database instead of failing."""
    from pathlib import Path

    engine = make_engine(f"sqlite:///{Path(str(tmp_path)) / 'k.db'}")
    with engine.connect() as connection:
        value = connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
    engine.dispose()
    assert value == {"journal_mode": "wal", "busy_timeout": 15000}[pragma]
