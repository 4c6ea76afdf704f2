"""Open the database (SQLite or PostgreSQL from one URL) and apply Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_plain_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import create_engine

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
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


def current_revision(url: str) -> str | None:
    """Return the database's Alembic revision (None for an empty database)."""
    engine = create_plain_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade_database(url: str) -> list[str]:
    """Apply every pending migration (idempotent; run at every start); return what ran.

    Each entry is "REVISION: first line of its message", oldest first.
    """
    config = alembic_config(url)
    before = current_revision(url)
    command.upgrade(config, "head")
    script = ScriptDirectory.from_config(config)
    applied = list(script.iterate_revisions("heads", before or "base"))
    return [f"{rev.revision}: {(rev.doc or '').splitlines()[0]}" for rev in reversed(applied)]


def describe_database(url: str) -> str:
    """Name a database for messages: host and port, or the SQLite file; never the password."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return "the configured database"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or ':memory:'}"
    port = parsed.port or (5432 if parsed.get_backend_name() == "postgresql" else None)
    where = f"{parsed.host or 'localhost'}:{port}" if port else parsed.host or "localhost"
    return f"{parsed.get_backend_name()} at {where}"


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
