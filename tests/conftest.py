"""Shared test helpers: where the shared fixtures live, real binaries, database URLs."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def shared_fixtures_dir() -> Path:
    """Return `../shared/fixtures` (or `$KRTRACKER_SHARED_DIR/fixtures`): data every test may read."""
    base = Path(os.environ.get("KRTRACKER_SHARED_DIR", REPO_ROOT.parent / "shared"))
    return base / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The shared fixtures folder; fails (never skips) when it is missing."""
    path = shared_fixtures_dir()
    if not path.is_dir():
        pytest.fail(f"shared fixtures not found at {path}; set KRTRACKER_SHARED_DIR")
    return path


def require_binary(name: str) -> str:
    """Return the path of a binary; under CI=true a missing one fails the run, else it skips."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install it; .ci/run does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


POSTGRES_URL = os.environ.get("KRTRACKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    """Return whether the local PostgreSQL answers."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    """Return the test PostgreSQL URL; under CI=true an unreachable server fails the run."""
    if not postgres_available():
        message = "PostgreSQL is not running on 127.0.0.1:5432"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """Create a throwaway PostgreSQL database for this test session and drop it after."""
    import uuid

    import psycopg

    base = require_postgres()
    name = f"krt_{uuid.uuid4().hex[:12]}"
    admin = base.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: a SQLite file, and the real local PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'krtracker.db'}"
    url = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return str(url)


def write_config(path: Path, text: str, *, database_url: str) -> Path:
    """Write a config file whose `[database] url` is `database_url`, prepended to `text`."""
    path.write_text(f'[database]\nurl = "{database_url}"\n\n{text}', encoding="utf-8")
    return path
