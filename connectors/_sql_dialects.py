"""Open read-only connections with a statement timeout, one way per database.

PostgreSQL: every transaction starts with `SET TRANSACTION READ ONLY` and a local
`statement_timeout`. SQLite: the file is opened with `mode=ro`, `PRAGMA query_only` is
set, and a progress handler interrupts a statement past its deadline. MySQL/MariaDB
(best effort, untested here): each new session gets `SET SESSION TRANSACTION READ ONLY`
and `max_execution_time` (MySQL, SELECT only) or `max_statement_time` (MariaDB).
A read-only database role is still the real guarantee; these are a second line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Connection, Engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError

SUPPORTED_BACKENDS = ("postgresql", "sqlite", "mysql", "mariadb")

TimeoutProbe = Callable[[DBAPIError], bool]


def prepare_url(raw: str) -> URL:
    """Parse a SQLAlchemy URL, pick psycopg for PostgreSQL and open SQLite files read-only.

    Raises ValueError whose message never contains the URL (it may hold a password).
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError(
            "url is not a SQLAlchemy URL (dialect+driver://user:password@host:port/database)"
        ) from None
    # psycopg 3 is the driver we ship; "postgres://" is the scheme Heroku and others print.
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"database {backend!r} is not supported (use one of {', '.join(SUPPORTED_BACKENDS)}): "
            "the connector cannot guarantee read-only access to it"
        )
    return _read_only_sqlite(url) if backend == "sqlite" else url


def _read_only_sqlite(url: URL) -> URL:
    database = url.database or ""
    if database in ("", ":memory:"):
        raise ValueError("a SQLite source needs a file: sqlite:///path/to/file.db")
    if url.query.get("uri") in ("true", "1"):
        # Already a `file:` URI: keep it; PRAGMA query_only still refuses writes.
        return url
    # mode=ro also stops SQLite from creating an empty file when the path is wrong.
    return url.set(
        database=f"file:{quote(database, safe='/:')}",
        query={**url.query, "mode": "ro", "uri": "true"},
    )


def engine_options(url: URL, *, timeout_seconds: float, pool_size: int) -> dict[str, Any]:
    """Return `create_engine` keyword arguments for a small pool that fails fast."""
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args = {
            "connect_timeout": max(1, math.ceil(timeout_seconds)),
            # Prepared statements use the extended protocol, which refuses several statements
            # in one string ("COMMIT; DELETE ..."); psycopg would otherwise send parameterless
            # queries with the simple protocol, which runs them all.
            "prepare_threshold": 0,
            "options": "-c default_transaction_read_only=on",
        }
    elif backend == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": timeout_seconds}
    else:
        connect_args = {"connect_timeout": max(1, math.ceil(timeout_seconds))}
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": timeout_seconds,
        "pool_pre_ping": True,
        "hide_parameters": True,
        "connect_args": connect_args,
    }


def install_session_guards(engine: Engine, *, timeout_seconds: float) -> None:
    """Make every new MySQL/MariaDB session read-only with a statement time limit."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT VERSION()")
        is_mariadb = "mariadb" in str(cursor.fetchone()[0]).lower()
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        if is_mariadb:
            cursor.execute(f"SET SESSION max_statement_time = {float(timeout_seconds)}")
        else:
            cursor.execute(f"SET SESSION max_execution_time = {int(timeout_seconds * 1000)}")
        cursor.close()
        # SET SESSION TRANSACTION applies from the next transaction on: end the current one.
        dbapi_connection.commit()


@contextmanager
def read_only_transaction(conn: Connection, *, timeout_seconds: float) -> Iterator[TimeoutProbe]:
    """Start a read-only transaction with a deadline; yield a test for "this was the timeout"."""
    backend = conn.dialect.name
    if backend == "postgresql":
        conn.execute(text("SET TRANSACTION READ ONLY"))
        milliseconds = str(max(1, int(timeout_seconds * 1000)))
        set_timeout = text("SELECT set_config('statement_timeout', :ms, true)")
        conn.execute(set_timeout, {"ms": milliseconds})
        # SQLSTATE 57014 is query_canceled, which statement_timeout raises.
        yield lambda exc: getattr(exc.orig, "sqlstate", None) == "57014"
    elif backend == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")
        raw = conn.connection.driver_connection
        assert raw is not None
        deadline = time.monotonic() + timeout_seconds
        fired: list[bool] = []

        def past_deadline() -> int:
            if time.monotonic() > deadline:
                fired.append(True)
                return 1
            return 0

        # Called every 1000 SQLite VM instructions; a non-zero answer interrupts the statement.
        raw.set_progress_handler(past_deadline, 1000)
        try:
            yield lambda exc: bool(fired)
        finally:
            raw.set_progress_handler(None, 1000)
    else:
        # 3024: MySQL ER_QUERY_TIMEOUT; 1969: MariaDB ER_STATEMENT_TIMEOUT.
        yield lambda exc: bool(exc.orig and exc.orig.args and exc.orig.args[0] in (3024, 1969))


def is_transient(exc: DBAPIError) -> bool:
    """Return whether an error says the database is busy or gone rather than the query bad."""
    if exc.connection_invalidated:
        return True
    return "database is locked" in str(exc.orig)


def bind_instant(backend: str, at: datetime) -> datetime | str:
    """Return the sample instant as the database compares timestamps best."""
    at_utc = at.astimezone(UTC)
    if backend == "sqlite":
        # SQLite has no timestamp type; this is the text form of its datetime() function.
        return at_utc.strftime("%Y-%m-%d %H:%M:%S")
    if backend in ("mysql", "mariadb"):
        # DATETIME columns carry no zone: compare in UTC.
        return at_utc.replace(tzinfo=None)
    return at_utc
