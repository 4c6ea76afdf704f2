"""Exactly one scheduler per database: a PostgreSQL advisory lock, or a file lock for SQLite.

Every process that may schedule polls `try_acquire`; the holder keeps the lock for as long as
its connection (or open file) lives, so when it dies the lock is freed by the server or the
kernel and the next poll of another process takes over.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# Any fixed 64-bit number shared by all krtracker processes on one database.
ADVISORY_LOCK_KEY = 0x6B72747261636B  # "krtrack"


class LeaderLock(Protocol):
    """A lock that at most one process holds."""

    def try_acquire(self) -> bool:
        """Take the lock if free; return whether this process holds it now."""
        ...

    def still_held(self) -> bool:
        """Return whether this process still holds it (its connection is alive)."""
        ...

    def release(self) -> None:
        """Give the lock up."""
        ...


class PostgresAdvisoryLock:
    """A session-level `pg_try_advisory_lock` held on a dedicated connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def try_acquire(self) -> bool:
        """Take the advisory lock on a fresh connection if nobody holds it."""
        if self.connection is not None:
            return self.still_held()
        connection = self.engine.connect()
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        ).scalar()
        connection.commit()
        if got:
            self.connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        """Check the lock's connection is alive; a lost connection means a lost lock."""
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            self.connection.commit()
            return True
        except Exception:  # the server or network dropped us: another process may lead now
            log.warning("lost the scheduler lock's database connection")
            self.connection.invalidate()
            self.connection = None
            return False

    def release(self) -> None:
        """Close the connection, which releases the lock."""
        if self.connection is not None:
            try:
                self.connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
                self.connection.commit()
            finally:
                self.connection.close()
                self.connection = None


class FileLock:
    """An exclusive `flock` on a file beside the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[str] | None = None

    def try_acquire(self) -> bool:
        """Take the file lock without waiting."""
        if self.handle is not None:
            return True
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.handle = handle
        return True

    def still_held(self) -> bool:
        """Return True while the file is open: a held flock cannot be lost."""
        return self.handle is not None

    def release(self) -> None:
        """Unlock and close."""
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def leader_lock_for(engine: Engine) -> LeaderLock:
    """Return the right lock for the engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("the scheduler needs a SQLite file, not an in-memory database")
    return FileLock(Path(database).with_suffix(Path(database).suffix + ".scheduler.lock"))
