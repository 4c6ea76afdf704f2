"""Fixtures of the outbox tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.delivery.support import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Run a receiver that verifies signatures with SECRET."""
    server = Receiver()
    yield server
    server.stop()
