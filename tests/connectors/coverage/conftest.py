"""Fixtures of the coverage connector tests: connectors closed after use, local HTTP servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from connectors.coverage import CoverageConnector, CoverageSettings
from tests.support.loopback import LocalServer, start_route_server


@pytest.fixture
def make_connector() -> Iterator[Callable[..., CoverageConnector]]:
    """Build connectors from settings keywords and close them after the test."""
    built: list[CoverageConnector] = []

    def build(**settings: Any) -> CoverageConnector:
        connector = CoverageConnector(CoverageSettings.model_validate(settings))
        built.append(connector)
        return connector

    yield build
    for connector in built:
        connector.close()


@pytest.fixture
def start_server() -> Iterator[Callable[[], LocalServer]]:
    """Start local HTTP servers on demand and stop them after the test."""
    running: list[ThreadingHTTPServer] = []

    def start() -> LocalServer:
        state, server = start_route_server()
        running.append(server)
        return state

    yield start
    for server in running:
        server.shutdown()
        server.server_close()
