"""Connectors and sources: each section and query checked by its connector's own models.

Also on a config whose shape check failed, so one typo does not hide these errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.config.loading import LoadedConfig, parse_config
from tests.support.config_documents import (
    assert_refused_at,
    document,
    errors_of,
    key_result,
    objective,
)

SOURCE_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, document, expected key path, fragment of the message)
    (
        "connector section typo",
        document(connectors={"people": {"type": "manual", "url": "http://x"}}),
        "connectors.people.url",
        "unknown key",
    ),
    (
        "source typo",
        document(objective(key_result(source={"connector": "people", "query": "up"}))),
        "objectives[0].key_results[0].source.query",
        "unknown key",
    ),
    (
        "unknown connector",
        document(objective(key_result(source={"connector": "nope"}))),
        "objectives[0].key_results[0].source.connector",
        "unknown connector 'nope'",
    ),
    (
        "unknown connector type",
        document(connectors={"people": {"type": "carrier_pigeon"}}),
        "connectors.people.type",
        "unknown connector type 'carrier_pigeon'",
    ),
    (
        "source query missing its required field",
        document(
            objective(key_result(source={"connector": "api", "jsonpath": "$.p99"})),
            connectors={"api": {"type": "http_json"}},
        ),
        "objectives[0].key_results[0].source.url",
        "required",
    ),
]


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in SOURCE_ERRORS]
)
def test_source_error_is_refused_naming_the_key_path(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """A connector section or source its connector refuses is an error at its key path."""
    assert_refused_at(raw, path, fragment)


PROMETHEUS = {"prom": {"type": "prometheus", "url": "http://127.0.0.1:9090"}}


@pytest.mark.parametrize(
    ("raw", "path", "fragment"),
    [
        pytest.param(
            document(connectors={"prom": {"type": "prometheus", "urll": "http://x"}}),
            "connectors.prom.urll",
            "unknown key",
            id="settings typo",
        ),
        pytest.param(
            document(
                objective(key_result(source={"connector": "prom", "qeury": "up"})),
                connectors=PROMETHEUS,
            ),
            "objectives[0].key_results[0].source.qeury",
            "unknown key",
            id="query typo",
        ),
        pytest.param(
            document(objective(key_result(source={"connector": "prom"})), connectors=PROMETHEUS),
            "objectives[0].key_results[0].source.query",
            "required",
            id="query missing",
        ),
    ],
)
def test_prometheus_sections_are_checked_by_its_models(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """Typos and missing fields in a Prometheus section or source are refused at their path."""
    problems = [p for p in errors_of(raw) if p.path == path]
    assert any(fragment in p.message.lower() for p in problems), problems


def test_shape_errors_do_not_hide_connector_and_query_errors() -> None:
    """A typo in an objective and a typo in a connector section are reported in one run."""
    raw = document(
        objective(key_result(source={"connector": "people", "query": "up"}), tittle="x"),
        connectors={"people": {"type": "manual", "url": "http://x"}},
    )
    paths = {p.path for p in errors_of(raw)}
    assert {
        "objectives[0].tittle",
        "connectors.people.url",
        "objectives[0].key_results[0].source.query",
    } <= paths


def test_loaded_config_resolves_connectors_and_queries() -> None:
    """An accepted config carries the built connector and each sourced KR's validated query."""
    loaded: LoadedConfig = parse_config(document())
    assert set(loaded.connectors) == {"people"}
    assert loaded.connectors["people"].type == "manual"
    assert set(loaded.queries) == {"p99"}
