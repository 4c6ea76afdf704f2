"""The config's shape: unknown keys and bad values are refused at their key path.

Value types, durations, cron expressions, quarters and ids are the models' to check;
accepted values become the documented fields (a range, a start, a period's bounds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.config.loading import parse_config
from tests.support.config_documents import DROP, assert_refused_at, document, key_result, objective

SHAPE_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, document, expected key path, fragment of the message)
    ("top-level typo", document(databse={"url": "sqlite://"}), "databse", "unknown key"),
    ("database typo", document(database={"uri": "x"}), "database.uri", "unknown key"),
    ("api typo", document(api={"tokenz": []}), "api.tokenz", "unknown key"),
    (
        "api token typo",
        document(api={"tokens": [{"name": "ci", "token": "x" * 20, "scope": ["read"]}]}),
        "api.tokens[0].scope",
        "unknown key",
    ),
    ("status typo", document(status={"at_risk": 0.2}), "status.at_risk", "unknown key"),
    ("scheduler typo", document(scheduler={"workers": 2}), "scheduler.workers", "unknown key"),
    ("objective typo", document(objective(tittle="x")), "objectives[0].tittle", "unknown key"),
    (
        "key result typo",
        document(objective(key_result(tagret=5))),
        "objectives[0].key_results[0].tagret",
        "unknown key",
    ),
    (
        "aggregate typo",
        document(objective(key_result(aggregate={"window": "1d", "fn": "avg"}))),
        "objectives[0].key_results[0].aggregate.fn",
        "unknown key",
    ),
    (
        "relative target without a sign",
        document(objective(key_result(target="30%"))),
        "objectives[0].key_results[0].target",
        "relative change",
    ),
    (
        "target given as a boolean",
        document(objective(key_result(target=True))),
        "objectives[0].key_results[0].target",
        "number",
    ),
    (
        "baseline neither number nor first_sample",
        document(objective(key_result(baseline="first"))),
        "objectives[0].key_results[0].baseline",
        "first_sample",
    ),
    (
        "unknown direction",
        document(objective(key_result(direction="up"))),
        "objectives[0].key_results[0].direction",
        "increase",
    ),
    (
        "missing title",
        document(objective(key_result(title=DROP))),
        "objectives[0].key_results[0].title",
        "required",
    ),
    (
        "bad duration in every",
        document(objective(key_result(every="15x"))),
        "objectives[0].key_results[0].every",
        "not a duration",
    ),
    (
        "fractional duration in every",
        document(objective(key_result(every="1.5h"))),
        "objectives[0].key_results[0].every",
        "not a duration",
    ),
    (
        "zero duration in every",
        document(objective(key_result(every="0m"))),
        "objectives[0].key_results[0].every",
        "longer than zero",
    ),
    (
        "invalid cron",
        document(objective(key_result(cron="61 * * * *"))),
        "objectives[0].key_results[0].cron",
        "not a valid",
    ),
    (
        "bad aggregation window",
        document(objective(key_result(aggregate={"function": "avg", "window": "a week"}))),
        "objectives[0].key_results[0].aggregate.window",
        "not a duration",
    ),
    (
        "unknown aggregate function",
        document(objective(key_result(aggregate={"function": "p99", "window": "1d"}))),
        "objectives[0].key_results[0].aggregate.function",
        "avg",
    ),
    ("quarter 5", document(objective(period="2026-Q5")), "objectives[0].period", "quarter"),
    ("year 0000", document(objective(period="0000-Q1")), "objectives[0].period", "quarter"),
    (
        "quarter without dash",
        document(objective(period="2026Q4")),
        "objectives[0].period",
        "quarter",
    ),
    ("bad objective id", document(objective(id="Fast Payments")), "objectives[0].id", "pattern"),
    (
        "threshold out of range",
        document(status={"at_risk_behind": 1.5}),
        "status.at_risk_behind",
        "less than or equal to 1",
    ),
    (
        "range not a pair",
        document(objective(key_result(range=[0]))),
        "objectives[0].key_results[0].range[1]",
        "required",
    ),
    (
        "key result start not a date",
        document(objective(key_result(start="soon"))),
        "objectives[0].key_results[0].start",
        "date",
    ),
    (
        "bad scheduler duration",
        document(scheduler={"reevaluate_every": "5 minutes"}),
        "scheduler.reevaluate_every",
        "not a duration",
    ),
]


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in SHAPE_ERRORS]
)
def test_shape_error_is_refused_naming_the_key_path(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """A key or value the models refuse is an error at exactly its key path."""
    assert_refused_at(raw, path, fragment)


def test_valid_documents_of_the_table_are_accepted() -> None:
    """The unmodified building blocks pass, so every refusal above is due to its one change."""
    loaded = parse_config(document())
    assert [kr.id for _, kr in loaded.key_results()] == ["p99"]
    assert loaded.warnings == []


def test_range_and_start_inside_the_period_are_accepted() -> None:
    """A Key Result with its own start inside the period and a range holding its numbers loads."""
    loaded = parse_config(document(objective(key_result(start="2026-11-15", range=[0, 1000]))))
    ((_, kr),) = loaded.key_results()
    assert kr.range == (0.0, 1000.0)
    assert kr.start_ts == int(datetime(2026, 11, 15, tzinfo=UTC).timestamp())


# ---- period bounds ----------------------------------------------------------------------


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "start", "end"),
    [
        ({"period": "2026-Q1"}, _utc(2026, 1, 1), _utc(2026, 4, 1)),
        ({"period": "2026-Q2"}, _utc(2026, 4, 1), _utc(2026, 7, 1)),
        ({"period": "2026-Q3"}, _utc(2026, 7, 1), _utc(2026, 10, 1)),
        ({"period": "2026-Q4"}, _utc(2026, 10, 1), _utc(2027, 1, 1)),
        (
            {"period": DROP, "start": "2026-03-01", "end": "2026-03-31"},
            _utc(2026, 3, 1),
            _utc(2026, 4, 1),
        ),
        (
            {"period": DROP, "start": "2026-12-15", "end": "2026-12-31"},
            _utc(2026, 12, 15),
            _utc(2027, 1, 1),
        ),
        (
            {"period": DROP, "start": "2026-02-28", "end": "2026-02-28"},
            _utc(2026, 2, 28),
            _utc(2026, 3, 1),
        ),
    ],
)
def test_period_bounds_are_half_open_utc(
    fields: dict[str, Any], start: datetime, end: datetime
) -> None:
    """A quarter or start/end becomes [first day, day after the last day) in UTC."""
    loaded = parse_config(document(objective(**fields)))
    assert loaded.config.objectives[0].period_bounds() == (start, end)
