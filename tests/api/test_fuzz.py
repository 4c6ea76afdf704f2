"""Schemathesis over /openapi.json: no 5xx, and every answer matches what the document says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.api import create_app
from app.tracker import open_tracker
from tests.conftest import write_config

TOKEN = "fuzz-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = f"""
[api]
tokens = [{{ name = "fuzz", token = "{TOKEN}", scopes = ["read", "write"] }}]
require_token_for_reads = true

[connectors.people]
type = "manual"

[[webhooks]]
name = "ops"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[[objectives]]
id = "quality"
title = "Ship with confidence"
start = 2026-01-01
end = 2030-12-31

[[objectives.key_results]]
id = "coverage"
title = "Coverage"
direction = "increase"
baseline = 60
target = 85
source = {{ connector = "people" }}

[[objectives.key_results]]
id = "rollback-rate"
title = "Rollback rate"
direction = "at_most"
target = 1
aggregate = {{ function = "avg", window = "7d" }}
source = {{ connector = "people" }}
"""


@pytest.fixture
def api_schema(tmp_path: Path, database_url: str) -> Iterator[OpenApiSchema]:
    """Load the app's OpenAPI document, served in-process around a fresh database."""
    config = write_config(tmp_path / "fuzz.toml", CONFIG, database_url=database_url)
    tracker = open_tracker(config)
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(tracker))
    tracker.close()


# schemathesis.pytest.from_fixture does not work with pytest 9 (it sets a removed private
# attribute), so each operation's strategy is driven with Hypothesis directly.
FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=5000,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def test_api_answers_as_documented(api_schema: OpenApiSchema) -> None:
    """Any generated request, to every operation: no 5xx, and the answer is as documented."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 16
    for operation in operations:

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
