"""Shared test helpers: where the shared fixtures live, real binaries, database URLs."""

from __future__ import annotations

import os
import shutil
import socket
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
