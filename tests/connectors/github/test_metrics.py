"""The github connector's pure parts: timestamps, event reading, metric arithmetic, DORA bands."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.github.events import deploy_from_deployment, deploys_from_runs, parse_time
from connectors.github.metrics import (
    Deploy,
    Window,
    dora_band,
    failure_rate,
    lead_time,
    percentile,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_parse_time_reads_the_recorded_offsets(shared_fixtures: Path) -> None:
    """`+10:00` with milliseconds (workflows.json) and `+02:00` steps (hub4j jobs) become UTC."""
    workflows = json.loads((shared_fixtures / "github/workflows.json").read_text())
    assert workflows["workflows"][0]["created_at"] == "2020-04-15T10:48:32.000+10:00"
    assert parse_time(workflows["workflows"][0]["created_at"]) == datetime(
        2020, 4, 15, 0, 48, 32, tzinfo=UTC
    )
    jobs = json.loads((shared_fixtures / "github/run-jobs.hub4j-2021.json").read_text())
    job = jobs["jobs"][0]
    assert job["steps"][0]["started_at"] == "2021-04-05T17:42:56.000+02:00"
    assert parse_time(job["steps"][0]["started_at"]) == parse_time(job["started_at"])


@pytest.mark.parametrize(
    "values", [[3.0, 144.0, 230.0], [1.0, 2.0], [5.0, 1.0, 4.0, 2.0, 3.0, 10.0], [7.0]]
)
def test_p90_matches_the_inclusive_quantile_method(values: list[float]) -> None:
    """p90 interpolates between closest ranks, as statistics.quantiles(method="inclusive")."""
    expected = (
        values[0] if len(values) == 1 else statistics.quantiles(values, n=10, method="inclusive")[8]
    )
    assert percentile(values, 0.9) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "value", "level"),
    [
        # DORA 2023: on demand / daily or more is elite; once a day..once a week is high.
        ("deployment_frequency", 3.0, "elite"),
        ("deployment_frequency", 1.0, "elite"),
        ("deployment_frequency", 0.5, "high"),
        ("deployment_frequency", 1 / 7, "high"),
        ("deployment_frequency", 1 / 14, "medium"),
        ("deployment_frequency", 1 / 60, "low"),
        ("lead_time_for_changes", 3600.0, "elite"),
        ("lead_time_for_changes", 3 * 86400.0, "high"),
        ("lead_time_for_changes", 20 * 86400.0, "medium"),
        ("lead_time_for_changes", 90 * 86400.0, "low"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.08, "high"),
        ("rollback_rate", 0.15, "medium"),
        ("rollback_rate", 0.5, "low"),
        ("deployment_duration", 300.0, None),
    ],
)
def test_dora_bands_follow_the_2023_table(metric: str, value: float, level: str | None) -> None:
    """Values map to the DORA 2023 performance levels documented in connectors.github.metrics."""
    assert dora_band(metric, value) == level


def test_weekly_frequency_is_rated_per_day() -> None:
    """Seven deployments a week rate like one a day."""
    assert dora_band("deployment_frequency", 7.0, per="week") == "elite"
    assert dora_band("deployment_frequency", 3.0, per="week") == "high"


def status(state: str, minutes: int) -> dict[str, str]:
    """Return a deployment status dict `minutes` after T0."""
    return {"state": state, "created_at": (T0 + timedelta(minutes=minutes)).isoformat()}


@pytest.mark.parametrize(
    ("states", "succeeded", "failed", "at_minutes"),
    [
        ([("queued", 0), ("success", 5), ("inactive", 60)], True, False, 5),
        ([("in_progress", 0), ("failure", 3)], False, True, 3),
        # The latest outcome wins: an error after a success is a failed deployment.
        ([("success", 5), ("error", 9)], False, True, 9),
        ([("success", 5), ("failure", 7), ("success", 9), ("inactive", 30)], True, False, 5),
        ([("success", 5), ("in_progress", 7)], True, False, 5),
        ([("queued", 0), ("in_progress", 1)], None, None, None),
    ],
)
def test_deployment_outcome_from_statuses(
    states: list[tuple[str, int]],
    succeeded: bool | None,
    failed: bool | None,
    at_minutes: int | None,
) -> None:
    """The latest outcome decides: success (at the first success) or failure (at it); else none."""
    deploy = deploy_from_deployment({"id": 1, "statuses": [status(s, m) for s, m in states]})
    if succeeded is None:
        assert deploy is None
        return
    assert deploy is not None
    assert (deploy.succeeded, deploy.failed) == (succeeded, failed)
    assert deploy.at == T0 + timedelta(minutes=at_minutes or 0)


def test_runs_outside_success_and_failure_are_not_attempts() -> None:
    """Cancelled, startup_failure and unfinished runs are no deployment attempts."""
    base = {"created_at": "2024-01-01T00:00:00Z", "run_started_at": None}
    runs = [
        {**base, "id": 1, "status": "completed", "conclusion": "success"},
        {**base, "id": 2, "status": "completed", "conclusion": "timed_out"},
        {**base, "id": 3, "status": "completed", "conclusion": "cancelled"},
        {**base, "id": 4, "status": "completed", "conclusion": "startup_failure"},
        {**base, "id": 5, "status": "in_progress", "conclusion": None},
    ]
    deploys = deploys_from_runs(runs)
    assert sorted((d.key, d.succeeded, d.failed) for d in deploys) == [
        ("run:1", True, False),
        ("run:2", False, True),
    ]


def test_signals_blame_only_deployments_inside_the_window() -> None:
    """A signal after the window, or blaming a deployment before it, counts nothing."""
    window = Window(start=T0, end=T0 + timedelta(days=1))
    before = Deploy("a", T0 - timedelta(hours=1), True, False)
    inside = Deploy("b", T0 + timedelta(hours=2), True, False)
    signals = [T0 + timedelta(minutes=30), T0 + timedelta(days=2)]
    result = failure_rate([before, inside], signals, window, use_status=True)
    assert (result.numerator, result.denominator) == (0, 1)


def test_lead_time_leaves_undeployed_merges_out() -> None:
    """A merge with no deployment after it by the window's end is reported, not counted."""
    window = Window(start=T0, end=T0 + timedelta(days=1))
    deploy = Deploy("d", T0 + timedelta(hours=6), True, False)
    merges = [T0 + timedelta(hours=1), T0 + timedelta(hours=4), T0 + timedelta(hours=7)]
    result = lead_time([deploy], merges, window)
    assert result.value == statistics.median([5 * 3600, 2 * 3600])
    assert result.details == {"undeployed": 1}
