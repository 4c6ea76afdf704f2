"""Shared by the coverage connector tests: the sample instant, fixture paths, `measure`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.coverage import CoverageConnector, CoverageQuery

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# Where each format's fixtures live under shared/fixtures/coverage/.
FOLDER = {
    "cobertura": "cobertura",
    "lcov": "lcov",
    "jacoco": "jacoco",
    "coveragepy_json": "coveragepy-json",
    "clover": "clover",
    "go": "go-coverprofile",
}


def fixture(shared_fixtures: Path, fmt: str, name: str) -> Path:
    """Return the path of a shared coverage fixture of format `fmt`."""
    return shared_fixtures / "coverage" / FOLDER[fmt] / name


def measure(connector: CoverageConnector, **query: Any) -> Any:
    """Validate `query` as the config loader would and measure it at AT."""
    return connector.measure(CoverageQuery.model_validate(query), AT)
