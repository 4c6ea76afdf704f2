"""Workflow runs as deployments: window edges, pagination, re-runs and durations from jobs.

The replay and the rules for expected values: `tests.connectors.github.support`.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.connectors.github.support import (
    PHISH,
    PYGH,
    inside,
    make,
    query,
    serve_duration_runs,
    ts,
)
from tests.support.github_replay import GithubReplay


def phishbench_workflows(replay: GithubReplay) -> None:
    """Route PhishBench's recorded runs listing and a workflow list built from it."""
    runs = replay.load("actions-runs")["workflow_runs"]
    # synthetic: no workflow list was recorded for PhishBench; its runs name each workflow.
    workflows = {
        r["workflow_id"]: {"id": r["workflow_id"], "name": r["name"], "path": r["path"]}
        for r in runs
    }
    replay.route(
        f"/repos/{PHISH}/actions/workflows",
        replay.synthetic({"total_count": len(workflows), "workflows": list(workflows.values())}),
    )
    # The recording is the repository-wide listing: served for one workflow's URL, it also
    # exercises the connector's own workflow and branch filter.
    replay.route(f"/repos/{PHISH}/actions/workflows/4477711/runs", replay.recorded("actions-runs"))
    # synthetic: page 2 was not recorded; an empty page ends the listing.
    replay.route(
        "/repositories/146139403/actions/runs",
        replay.synthetic({"total_count": 593, "workflow_runs": []}),
        page=2,
    )


def unit_test_runs(replay: GithubReplay, branch: str | None) -> list[dict[str, Any]]:
    """Return the recorded successful Unit Test runs (on `branch`)."""
    return [
        r
        for r in replay.load("actions-runs")["workflow_runs"]
        if r["path"].endswith("/Unit_Test.yml")
        and r["conclusion"] == "success"
        and r["status"] == "completed"
        and (branch is None or r["head_branch"] == branch)
    ]


@pytest.mark.parametrize(
    ("at", "days"),
    [
        # The window ends exactly at a run's start: that run is inside.
        (datetime(2022, 8, 5, 10, 13, 53, tzinfo=UTC), 1),
        # The window starts exactly at the 09:14:38 run's start: that run is outside.
        (datetime(2022, 8, 6, 9, 14, 38, tzinfo=UTC), 1),
        (datetime(2022, 8, 6, tzinfo=UTC), 2),
    ],
)
def test_run_frequency_counts_window_edges_as_documented(
    replay: GithubReplay, at: datetime, days: int
) -> None:
    """Workflow-run deployments use run_started_at and the half-open window (start, end]."""
    phishbench_workflows(replay)
    expected = sum(
        1 for r in unit_test_runs(replay, "master") if inside(ts(r["run_started_at"]), at, days)
    )
    result = make(replay).measure(
        query(
            repo=PHISH,
            metric="deployment_frequency",
            window=f"{days}d",
            deployments_from="workflow_runs",
            workflow="Unit_Test.yml",
            branch="master",
        ),
        at,
    )
    assert result.value == pytest.approx(expected / days)
    assert expected in (1, 2)


def test_pagination_stops_at_the_window_edge(replay: GithubReplay) -> None:
    """A first page that already reaches below the window is the last page requested."""
    phishbench_workflows(replay)
    at = datetime(2022, 11, 22, tzinfo=UTC)
    expected = sum(
        1 for r in unit_test_runs(replay, None) if inside(ts(r["run_started_at"]), at, 28)
    )
    result = make(replay).measure(
        query(
            repo=PHISH,
            metric="deployment_frequency",
            deployments_from="workflow_runs",
            workflow="4477711",
        ),
        at,
    )
    assert result.numerator == expected == 1
    assert replay.count("/repositories/146139403/actions/runs") == 0


def test_runs_hidden_by_the_result_cap_are_listed_in_split_created_ranges(
    replay: GithubReplay,
) -> None:
    """When the 1,000-result cap hides part of the window, it is listed in halved created ranges."""
    phishbench_workflows(replay)
    runs = [r for r in replay.load("actions-runs")["workflow_runs"] if r["workflow_id"] == 4477711]
    scale = 500

    def listing(params: dict[str, str]) -> Any:
        # synthetic: GitHub's filtering and cap, emulated over the recorded runs. Each
        # recorded run stands for 500, so the five Unit Test runs are 2,500 results and a
        # page shows at most the newest two (1,000 / 500), as the cap allows.
        low, _, high = params.get("created", "..").partition("..")
        chosen = [
            r
            for r in runs
            if (not low or ts(low) <= ts(r["created_at"]))
            and (not high or ts(r["created_at"]) <= ts(high))
        ]
        shown = chosen[: 1000 // scale]
        return replay.synthetic({"total_count": scale * len(chosen), "workflow_runs": shown})

    replay.route(f"/repos/{PHISH}/actions/workflows/4477711/runs", listing)
    at = datetime(2022, 11, 22, tzinfo=UTC)
    result = make(replay).measure(
        query(
            repo=PHISH,
            metric="deployment_frequency",
            window="120d",
            deployments_from="workflow_runs",
            workflow="Unit_Test.yml",
        ),
        at,
    )
    expected = sum(1 for r in runs if inside(ts(r["run_started_at"]), at, 120))
    ranges = [s.query["created"] for s in replay.seen if "created" in s.query]
    assert result.numerator == expected == 5
    assert len(ranges) >= 3


def test_legacy_2020_runs_without_run_started_at_use_created_at(replay: GithubReplay) -> None:
    """Old runs (no run_started_at or run_attempt) count by created_at, failures included."""
    replay.route(f"/repos/{PYGH}/actions/workflows", replay.recorded("workflows"))
    replay.route(
        f"/repos/{PYGH}/actions/workflows/1026390/runs",
        replay.recorded("workflow-runs.legacy-2020"),
    )
    runs = replay.load("workflow-runs.legacy-2020")["workflow_runs"]
    assert all("run_started_at" not in r and "run_attempt" not in r for r in runs)
    at = datetime(2020, 5, 21, tzinfo=UTC)
    attempts = [r for r in runs if inside(ts(r["created_at"]), at, 7)]
    failed = [r for r in attempts if r["conclusion"] == "failure"]
    on_master = [
        r for r in attempts if r["head_branch"] == "master" and r["conclusion"] == "success"
    ]
    connector = make(replay)
    base = {
        "repo": PYGH,
        "window": "7d",
        "deployments_from": "workflow_runs",
        "workflow": "check.yml",
    }
    rate = connector.measure(query(metric="change_failure_rate", **base), at)
    frequency = connector.measure(query(metric="deployment_frequency", branch="master", **base), at)
    assert (rate.numerator, rate.denominator) == (len(failed), len(attempts)) == (1, 4)
    assert frequency.numerator == len(on_master) == 2


def rerun_routes(replay: GithubReplay, attempt: dict[str, Any]) -> None:
    """Route EnricoMi/PyGithub's CodeQL workflow with a one-run listing holding `attempt`."""
    repo = "EnricoMi/PyGithub"
    # synthetic: no workflow list or listing was recorded here; both are built from the
    # recorded re-run payload (workflow 175366930, codeql.yml).
    workflow = {"id": attempt["workflow_id"], "name": attempt["name"], "path": attempt["path"]}
    replay.route(
        f"/repos/{repo}/actions/workflows",
        replay.synthetic({"total_count": 1, "workflows": [workflow]}),
    )
    replay.route(
        f"/repos/{repo}/actions/workflows/175366930/runs",
        replay.synthetic({"total_count": 1, "workflow_runs": [attempt]}),
    )


def test_a_rerun_replaces_its_first_attempt_and_counts_once(replay: GithubReplay) -> None:
    """A re-run (same id, run_attempt 2) replaces attempt 1: one deployment, at its start."""
    second = replay.load("actions-run.rerun-attempt2")
    # synthetic: attempt 1 is not recorded; the recorded attempt 2 with attempt 1's number,
    # a failed conclusion and its start at created_at (when the first attempt ran).
    first = dict(second, run_attempt=1, conclusion="failure", run_started_at=second["created_at"])
    rerun_routes(replay, first)
    connector = make(replay)
    at = datetime(2026, 5, 30, tzinfo=UTC)
    fields = {
        "repo": "EnricoMi/PyGithub",
        "window": "7d",
        "deployments_from": "workflow_runs",
        "workflow": "codeql.yml",
    }
    before = connector.measure(query(metric="change_failure_rate", **fields), at)
    rerun_routes(replay, second)
    after = connector.measure(query(metric="change_failure_rate", **fields), at)
    frequency = connector.measure(
        query(
            metric="deployment_frequency",
            window="2d",
            **{k: v for k, v in fields.items() if k != "window"},
        ),
        at,
    )
    assert (before.numerator, before.denominator) == (1, 1)
    assert (after.numerator, after.denominator) == (0, 1)
    # 2026-05-29T15:42:05Z (the re-run's start) is inside the last 2 days; created_at is not.
    assert inside(ts(second["run_started_at"]), at, 2) and not inside(
        ts(second["created_at"]), at, 2
    )
    assert frequency.numerator == 1


def test_duration_comes_from_jobs_not_updated_at(replay: GithubReplay) -> None:
    """A run lasts from first job start to last job end (230 s), not until updated_at."""
    spans = serve_duration_runs(replay)
    run = replay.load("actions-run")
    result = make(replay).measure(
        query(
            repo=PYGH,
            metric="deployment_duration",
            window="2d",
            deployments_from="workflow_runs",
            workflow="ci.yml",
        ),
        datetime(2023, 1, 11, tzinfo=UTC),
    )
    moved = (ts(run["updated_at"]) - ts(run["run_started_at"])).total_seconds()
    assert spans[3881497935] == 230 and result.value == 230
    assert moved == 241 and result.value != moved


@pytest.mark.parametrize("statistic", ["median", "p90"])
def test_duration_statistics_over_several_runs(replay: GithubReplay, statistic: str) -> None:
    """Median and p90 (linear interpolation) of job spans, the +02:00 hub4j jobs included."""
    spans = serve_duration_runs(replay)
    values = sorted(spans.values())
    assert values == [3, 144, 230]
    position = (len(values) - 1) * 0.9
    p90 = values[int(position)] + (values[int(position) + 1] - values[int(position)]) * (
        position % 1
    )
    expected = statistics.median(values) if statistic == "median" else p90
    result = make(replay).measure(
        query(
            repo=PYGH,
            metric="deployment_duration",
            window="700d",
            statistic=statistic,
            deployments_from="workflow_runs",
            workflow="CI",
        ),
        datetime(2023, 3, 1, tzinfo=UTC),
    )
    assert result.value == pytest.approx(expected)
    assert result.details["band"] is None
