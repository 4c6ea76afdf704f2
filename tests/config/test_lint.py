"""OKR practice lint: outputs instead of outcomes, KR and objective counts, each silenceable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config.lint import task_verb
from app.config.loading import ConfigError, parse_config
from tests.support.config_documents import DROP, document, key_result, krtracker, objective


def _lint(raw: dict[str, Any]) -> list[tuple[str, str]]:
    return [(w.path, w.message) for w in parse_config(raw, lint=True).warnings]


def _objective_of(first: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return objective(first, key_result(id="kr-b"), key_result(id="kr-c"), **fields)


LAUNCH = key_result(
    id="launch",
    title="Launch the new checkout",
    unit="",
    direction="increase",
    baseline=0,
    target=1,
)


@pytest.mark.parametrize(
    ("title", "verb"),
    [
        ("Launch the new checkout", "launch"),
        ("Ship dark mode", "ship"),
        ("Migrated billing to Postgres", "migrated"),
        ("Roll out SSO", "roll out"),
        ("Write the runbook", "write"),
        ("Reduce P99 latency by 30%", None),
        ("Builds the CLI", "builds"),
        ("Relaunched accounts retained", None),
    ],
)
def test_task_verbs_are_found_as_whole_words(title: str, verb: str | None) -> None:
    """A task verb is matched as a word with its inflections, never inside another word."""
    assert task_verb(title) == verb


def test_a_task_title_with_a_binary_target_is_an_output() -> None:
    """A "Launch X" 0 -> 1 Key Result warns at its title with the verb and the guidance."""
    [(path, message)] = _lint(document(_objective_of(LAUNCH)))
    assert path == "objectives[0].key_results[0].title"
    assert "'launch'" in message and "0/1" in message
    assert "measure the result the work is meant to change" in message


@pytest.mark.parametrize(
    "fields",
    [
        {"target": 5, "baseline": 0},  # a count of launches is at least a number that moves
        {"title": "Checkout conversion", "target": 1, "baseline": 0},  # no task verb
    ],
)
def test_a_task_title_with_a_real_scale_or_an_outcome_title_is_fine(fields: dict[str, Any]) -> None:
    """Only the combination of a task title and a done/not-done target warns."""
    assert _lint(document(_objective_of({**LAUNCH, **fields}))) == []


def test_no_source_and_a_relative_target_is_not_a_measure() -> None:
    """No source and no numeric target warns with the guidance; the rule can be silenced."""
    kr = key_result(source=DROP, target="-30%")
    [(path, message)] = _lint(document(_objective_of(kr)))
    assert path == "objectives[0].key_results[0]" and "not whether the work was done" in message
    assert _lint(document(_objective_of(kr), lint={"no_measure": False})) == []


def test_more_than_five_objectives_counts_per_team_and_period() -> None:
    """Six objectives split over two teams do not warn; six for one team in one period do."""

    def objectives(team_of: Any) -> list[dict[str, Any]]:
        return [
            objective(*[key_result(id=f"k{i}-{j}") for j in range(3)], id=f"o{i}", team=team_of(i))
            for i in range(6)
        ]

    assert _lint(document(*objectives(lambda i: "a" if i < 3 else "b"))) == []
    [(path, message)] = _lint(document(*objectives(lambda i: "payments")))
    assert path == "objectives" and "6 objectives for team 'payments' in 2026-Q4" in message


def _objectives(count: int) -> list[dict[str, Any]]:
    return [
        objective(
            *[key_result(id=f"kr{i}-{j}") for j in range(3)], id=f"obj{i}", title=f"Objective {i}"
        )
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(document(*_objectives(5)), [], id="five objectives"),
        pytest.param(document(*_objectives(6)), [("objectives", "6 objectives")], id="six"),
        pytest.param(
            document(objective(*[key_result(id=f"kr{i}") for i in range(5)])), [], id="five krs"
        ),
        pytest.param(
            document(objective(*[key_result(id=f"kr{i}") for i in range(6)])),
            [("objectives[0].key_results", "6 Key Results")],
            id="six krs",
        ),
        pytest.param(
            document(objective(key_result())),
            [("objectives[0].key_results", "1 Key Result(s); give 3 to 5")],
            id="one kr",
        ),
        pytest.param(
            document(_objective_of(key_result(source=DROP, target=DROP, baseline=DROP))),
            [("objectives[0].key_results[0]", "neither a data source nor a target")],
            id="no source no target",
        ),
        pytest.param(
            document(_objective_of(key_result(source=DROP))), [], id="target without source"
        ),
    ],
)
def test_team_practice_gives_warnings_not_errors(
    raw: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    """Too many objectives, too few or many KRs, or a KR that cannot move: a warning at its path."""
    loaded = parse_config(raw, lint=True)
    assert all(w.severity == "warning" for w in loaded.warnings)
    got = [(w.path, w.message) for w in loaded.warnings]
    assert len(got) == len(expected), got
    for (path, message), (want_path, fragment) in zip(got, expected, strict=True):
        assert path == want_path and fragment in message


@pytest.mark.parametrize(
    ("rule", "raw"),
    [
        ("output_titles", document(_objective_of(LAUNCH))),
        ("key_results_per_objective", document(objective(key_result()))),
    ],
)
def test_each_rule_can_be_silenced(rule: str, raw: dict[str, Any]) -> None:
    """`[lint] RULE = false` removes exactly that rule's warning."""
    assert _lint(raw)
    assert _lint({**raw, "lint": {rule: False}}) == []


def test_lint_table_is_validated() -> None:
    """An unknown or non-boolean lint key is an error with its key path."""
    with pytest.raises(ConfigError) as caught:
        parse_config(document(lint={"output_title": False}))
    assert "lint.output_title" in str(caught.value)


def test_lint_runs_only_when_asked() -> None:
    """Loading for serve/status gives no practice warnings; validate (lint=True) does."""
    raw = document(objective(key_result()))
    assert parse_config(raw).warnings == []
    assert parse_config(raw, lint=True).warnings


def test_validate_prints_the_practice_warnings_and_exits_0(tmp_path: Path) -> None:
    """`krtracker validate` shows a task-title warning at its key path and still succeeds."""
    path = tmp_path / "okrs.toml"
    path.write_text(
        """
[connectors.people]
type = "manual"

[[objectives]]
id = "checkout"
title = "Checkout converts"
period = "2026-Q4"

[[objectives.key_results]]
id = "launch"
title = "Launch the new checkout"
direction = "increase"
baseline = 0
target = 1
source = { connector = "people" }
""",
        encoding="utf-8",
    )
    result = krtracker("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "warning: objectives[0].key_results[0].title: title names a task ('launch')" in output
    assert "warning: objectives[0].key_results: 1 Key Result(s)" in output
    assert "2 warning(s)" in output
