"""Open the database (SQLite or PostgreSQL from one URL) and apply Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, event
from sqlmodel import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (the driver krtracker installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the sampler writes; busy_timeout makes writers wait
    # for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for `url` with the settings each backend needs."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(url: str) -> AlembicConfig:
    """Return an Alembic config pointing at krtracker's migrations and `url`."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade_database(url: str) -> None:
    """Apply every pending migration (idempotent; run at every start)."""
    command.upgrade(alembic_config(url), "head")


def make_probe_engine(url: str) -> Engine:
    """Create an engine for health checks: a fresh connection each time, outside the pool.

    `/readyz` must answer while every pooled connection is busy, and must not wait for a
    connection to a database that is down longer than its connect timeout.
    """
    from sqlalchemy.pool import NullPool

    url = normalise_url(url)
    if url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": 2})
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2})
