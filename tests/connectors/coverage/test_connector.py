"""The coverage connector's query and settings: one source per query, secrets kept secret."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.coverage import CoverageQuery, CoverageSettings


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"path": "a.xml", "url": "https://example.invalid/a.xml"},
        {"url": "ftp://example.invalid/a.xml"},
        {"path": "a.xml", "metric": "function"},
        {"path": "a.xml", "format": "gcov"},
        {"path": "a.xml", "unknown": 1},
        {"codecov": {"owner": "o", "repo": "r"}, "format": "lcov"},
        {
            "github_artifact": {
                "repo": "not a repo",
                "workflow": "w",
                "branch": "b",
                "artifact": "a",
            }
        },
    ],
)
def test_invalid_queries_fail_validation(query: dict[str, Any]) -> None:
    """Queries without exactly one valid source, or with unknown values, fail at config time."""
    with pytest.raises(ValidationError):
        CoverageQuery.model_validate(query)


def test_settings_hold_secrets_as_secret_str() -> None:
    """Token and header values are SecretStr and do not show in the settings' repr."""
    settings = CoverageSettings.model_validate(
        {"token": "tok-123456", "headers": {"X-Api-Key": "hdr-654321"}}
    )
    assert "tok-123456" not in repr(settings) and "hdr-654321" not in repr(settings)
    assert settings.timeout_seconds == 10 and settings.max_report_bytes == 50_000_000
