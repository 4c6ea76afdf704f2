"""Fixtures of the github connector tests: a replay server of recorded GitHub answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.github_replay import GithubReplay


@pytest.fixture
def replay(shared_fixtures: Path) -> Iterator[GithubReplay]:
    """Start a replay server for one test."""
    server = GithubReplay(shared_fixtures).start()
    yield server
    server.stop()
