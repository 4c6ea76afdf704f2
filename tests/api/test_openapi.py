"""The OpenAPI document declares every error a route answers with, as problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from app.tracker import open_tracker
from tests.conftest import write_config
from tests.support import configs

CONFIG = configs.text(
    configs.manual_connector(),
    configs.objective("quality", "Ship with confidence", period="2026-Q4"),
)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Return the app's /openapi.json (the document does not depend on the database)."""
    folder: Path = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{folder / 'k.db'}"
    tracker = open_tracker(write_config(folder / "c.toml", CONFIG, database_url=url))
    with TestClient(create_app(tracker)) as client:
        yield client.get("/openapi.json").json()
    tracker.close()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (method, path, operation) for every operation of the API under /api/v1."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/v1/"):
                yield method, path, operation


def expected_errors(method: str, path: str) -> set[str]:
    """Return the statuses an operation can answer besides success."""
    codes = {"401", "403", "422", "503"}
    if method == "post":
        codes.add("413")
    if "{" in path:
        codes.add("404")
    if path.endswith("/values") or path.endswith("/redeliver"):
        codes.add("409")
    if method == "post" and path.endswith(("/values", "/check-ins")):
        codes.add("400")  # a body that is not even text
    return codes


def test_every_error_is_documented_as_problem_json(spec: dict[str, Any]) -> None:
    """Each /api/v1 operation lists its 4xx and 503 answers with the Problem schema."""
    found = list(operations(spec))
    assert len(found) >= 14
    for method, path, operation in found:
        responses = operation["responses"]
        missing = expected_errors(method, path) - set(responses)
        assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, code)
                schema = content["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)


def test_problem_schema_has_the_errors_list(spec: dict[str, Any]) -> None:
    """The Problem schema carries `errors` (field and message) for 422s."""
    problem = spec["components"]["schemas"]["Problem"]
    assert {"title", "status", "detail", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_readyz_documents_its_503(spec: dict[str, Any]) -> None:
    """/readyz says it answers 503 when the database does not answer."""
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
