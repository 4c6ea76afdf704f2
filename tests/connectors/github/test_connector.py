"""The github connector against a local server replaying recorded GitHub API responses.

PyGithub talks real HTTP to `tests.github_replay.GithubReplay`. Expected values are
computed plainly here from the same fixture JSON, never copied from the connector.
Where the recordings lack a state or a route, the test builds it from a recorded
payload and says so in a `synthetic:` comment.
"""

from __future__ import annotations

import contextlib
import copy
import json
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import (
    MemoryStateStore,
    NoData,
    QueryRejected,
    RateLimited,
    SourceUnavailable,
)
from connectors.github import GithubConnector
from tests.conftest import free_port
from tests.github_replay import GithubReplay

TOKEN = "ghp_" + "T" * 36
G3 = "sigmavirus24/github3.py"
PHISH = "ReDASers/PhishBench"
PYGH = "PyGithub/PyGithub"


def ts(text: str) -> datetime:
    """Parse a recorded timestamp (the test's own reading, independent of the connector)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def inside(instant: datetime, end: datetime, days: float) -> bool:
    """Return whether `instant` is in the documented window (end - days, end]."""
    return end - timedelta(days=days) < instant <= end


@pytest.fixture
def replay(shared_fixtures: Path) -> Iterator[GithubReplay]:
    """Start a replay server for one test."""
    server = GithubReplay(shared_fixtures).start()
    yield server
    server.stop()


def make(
    replay: GithubReplay, state: MemoryStateStore | None = None, **settings: Any
) -> GithubConnector:
    """Return a connector pointed at the replay server."""
    values = {"token": TOKEN, "base_url": replay.url, **settings}
    return GithubConnector(GithubConnector.Settings(**values), state or MemoryStateStore())


def query(**fields: Any) -> Any:
    """Return a validated github query."""
    return GithubConnector.Query(**fields)


def serve_github3py_deployments(replay: GithubReplay) -> dict[str, Any]:
    """Route github3.py's recorded deployments; 797 gets a synthetic failed status."""
    replay.route(f"/repos/{G3}/deployments", replay.recorded("deployments.github3py-2018"))
    replay.route(f"/repos/{G3}/deployments/801/statuses", replay.recorded("deployment-statuses"))
    # synthetic: no recording has a failed status; this is 801's oldest recorded status
    # with state "failure", re-pointed at deployment 797 a few minutes after its creation.
    failed = copy.deepcopy(replay.load("deployment-statuses")[-1])
    failed.update(id=1, state="failure", created_at="2014-02-23T20:10:00Z")
    replay.route(f"/repos/{G3}/deployments/797/statuses", replay.synthetic([failed]))
    return {"801": replay.load("deployment-statuses"), "797": [failed]}


def test_frequency_counts_deployments_whose_statuses_reached_success(replay: GithubReplay) -> None:
    """Frequency counts production deployments that reached success, per day and per week."""
    statuses = serve_github3py_deployments(replay)
    at = datetime(2014, 3, 1, tzinfo=UTC)
    succeeded = [
        min(ts(s["created_at"]) for s in found if s["state"] == "success")
        for found in statuses.values()
        if any(s["state"] == "success" for s in found)
    ]
    expected = sum(1 for t in succeeded if inside(t, at, 28))
    connector = make(replay)
    per_day = connector.measure(query(repo=G3, metric="deployment_frequency", window="28d"), at)
    per_week = connector.measure(
        query(repo=G3, metric="deployment_frequency", window=28, per="week"), at
    )
    assert per_day.value == pytest.approx(expected / 28)
    assert per_week.value == pytest.approx(expected / 4)
    assert per_day.details["counted"] == expected == 1


def test_environment_regex_skips_other_environments_without_fetching_them(
    replay: GithubReplay,
) -> None:
    """Only deployments whose environment matches the regex are counted or have statuses fetched."""
    replay.route(f"/repos/{PYGH}/deployments", replay.recorded("deployments"))
    # synthetic: nothing was recorded for the production deployment's statuses: none yet.
    replay.route(f"/repos/{PYGH}/deployments/262350588/statuses", replay.synthetic([]))
    replay.route(
        f"/repos/{PYGH}/deployments/263877258/statuses",
        replay.recorded("deployment-statuses.queued"),
    )
    connector = make(replay)
    found = connector.measure(
        query(repo=PYGH, metric="deployment_frequency", window="7d"),
        datetime(2020, 8, 27, tzinfo=UTC),
    )
    assert found.value == 0
    assert found.details["environments_seen"] == ["production", "test"]
    assert replay.count("/263877258/statuses") == 0
    queued = connector.measure(
        query(repo=PYGH, metric="deployment_frequency", window="7d", environment="^TEST$"),
        datetime(2020, 8, 27, tzinfo=UTC),
    )
    # The recorded statuses of the test deployment are all "queued": not a deployment yet.
    assert queued.value == 0 and replay.count("/263877258/statuses") == 1


def test_change_failure_rate_from_deployment_statuses(replay: GithubReplay) -> None:
    """A deployment whose latest status is failure counts as failed among all attempts."""
    statuses = serve_github3py_deployments(replay)
    at = datetime(2014, 3, 1, tzinfo=UTC)
    latest = {key: max(found, key=lambda s: ts(s["created_at"])) for key, found in statuses.items()}
    failed = sum(1 for s in latest.values() if s["state"] in ("failure", "error"))
    result = make(replay).measure(query(repo=G3, metric="change_failure_rate"), at)
    assert (result.numerator, result.denominator) == (failed, len(latest)) == (1, 2)
    assert result.value == pytest.approx(failed / len(latest))


def serve_failure_signals(replay: GithubReplay) -> None:
    """Route a revert PR, an incident issue and a rollback workflow run after deployment 801."""
    pulls = replay.load("pulls-closed")
    # synthetic: recorded PR #229 re-dated after deployment 801 and renamed to GitHub's
    # revert branch pattern; it is the only closed PR served.
    revert = copy.deepcopy(next(p for p in pulls if p["number"] == 229))
    revert["head"]["ref"] = "revert-228-rebased/develop/contrib-section"
    revert.update(merged_at="2014-02-26T00:00:00Z", updated_at="2014-02-26T00:00:00Z")
    replay.route(f"/repos/{G3}/pulls", replay.synthetic([revert]))
    # synthetic: no issue was recorded; recorded PR #231's fields as an issue labelled incident.
    issue = {k: v for k, v in next(p for p in pulls if p["number"] == 231).items() if k != "head"}
    issue.update(
        created_at="2014-02-27T00:00:00Z",
        updated_at="2014-02-27T00:00:00Z",
        labels=[{"name": "incident"}],
    )
    replay.route(f"/repos/{G3}/issues", replay.synthetic([issue]), query={"labels": "incident"})
    # synthetic: PyGithub's recorded workflow list stands in for github3.py's, and one of
    # its recorded 2020 runs of check.yml is re-dated after deployment 801 as the rollback.
    replay.route(f"/repos/{G3}/actions/workflows", replay.recorded("workflows"))
    run = copy.deepcopy(replay.load("workflow-runs.legacy-2020")["workflow_runs"][0])
    run["created_at"] = "2014-02-26T12:00:00Z"
    replay.route(
        f"/repos/{G3}/actions/workflows/1026390/runs",
        replay.synthetic({"total_count": 1, "workflow_runs": [run]}),
    )


@pytest.mark.parametrize(
    ("signals", "expected_failed"),
    [
        (["deployment_status"], {"797"}),
        (["revert_pr"], {"801"}),
        (["incident_issue"], {"801"}),
        (["rollback_workflow"], {"801"}),
        (["deployment_status", "revert_pr", "incident_issue", "rollback_workflow"], {"797", "801"}),
    ],
)
def test_failure_signals_blame_the_latest_deployment_once(
    replay: GithubReplay, signals: list[str], expected_failed: set[str]
) -> None:
    """Each signal marks the latest deployment at or before it; several signals count it once."""
    serve_github3py_deployments(replay)
    serve_failure_signals(replay)
    result = make(replay).measure(
        query(
            repo=G3, metric="rollback_rate", failure_signals=signals, rollback_workflow="check.yml"
        ),
        datetime(2014, 3, 1, tzinfo=UTC),
    )
    assert result.numerator == len(expected_failed)
    assert result.value == pytest.approx(len(expected_failed) / 2)


def test_lead_time_is_median_merge_to_first_deployment_after_it(replay: GithubReplay) -> None:
    """Lead time is the median of merge -> first successful deployment at or after the merge."""
    statuses = serve_github3py_deployments(replay)
    # synthetic pairing: no recording holds both merged PRs and deployments, so the
    # recorded ome-documentation PRs (Jan 2013) are served as github3.py's. The recording's
    # page 2 was not kept: PyGithub's recorded 2012 PRs stand in for it.
    replay.route(f"/repos/{G3}/pulls", replay.recorded("pulls-closed"))
    replay.route(
        "/repos/openmicroscopy/ome-documentation/pulls",
        replay.recorded("pulls-closed.pygithub-2012"),
        page=2,
    )
    pulls = replay.load("pulls-closed")
    # The window starts exactly at PR #226's merge: that PR is on the edge and left out.
    start = ts(next(p for p in pulls if p["number"] == 226)["merged_at"])
    at = start + timedelta(days=400)
    deployed = min(ts(s["created_at"]) for s in statuses["801"] if s["state"] == "success")
    waits = [
        (deployed - ts(p["merged_at"])).total_seconds()
        for p in pulls
        if p["merged_at"] and start < ts(p["merged_at"]) <= at and ts(p["merged_at"]) <= deployed
    ]
    result = make(replay).measure(query(repo=G3, metric="lead_time_for_changes", window="400d"), at)
    assert len(waits) == 7
    assert result.value == pytest.approx(statistics.median(waits))
    assert result.details["counted"] == 7
    assert replay.count("/ome-documentation/pulls") == 1


def test_a_sync_cut_short_by_a_rate_limit_is_redone_in_full(replay: GithubReplay) -> None:
    """A walk interrupted on page 2 stores no ETag, so the next sync walks again, not 304."""
    serve_github3py_deployments(replay)
    replay.route(f"/repos/{G3}/pulls", replay.recorded("pulls-closed"))
    page_two = "/repos/openmicroscopy/ome-documentation/pulls"
    limited = replay.recorded_exchange("rate-limit-exceeded.secondary-403")
    replay.route(page_two, limited, page=2, times=1)
    state = MemoryStateStore()
    at = datetime(2014, 2, 28, 11, 30, 26, tzinfo=UTC)
    fields = {"repo": G3, "metric": "lead_time_for_changes", "window": "400d"}
    with pytest.raises(RateLimited):
        make(replay, state, max_rate_limit_wait_seconds=0).measure(query(**fields), at)
    # synthetic: as in the lead-time test, PyGithub's 2012 PRs stand in for page 2.
    replay.route(page_two, replay.recorded("pulls-closed.pygithub-2012"), page=2)
    result = make(replay, state).measure(query(**fields), at)
    pulls = [s for s in replay.seen if s.path == f"/repos/{G3}/pulls"]
    assert result.details["counted"] == 7
    assert [s.status for s in pulls] == [200, 200]
    assert "if-none-match" not in pulls[1].headers


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


def job_span(jobs: dict[str, Any]) -> float:
    """Return seconds from the earliest job start to the latest job end, read plainly."""
    starts = [ts(j["started_at"]) for j in jobs["jobs"]]
    ends = [ts(j["completed_at"]) for j in jobs["jobs"]]
    return (max(ends) - min(starts)).total_seconds()


def serve_duration_runs(replay: GithubReplay) -> dict[int, float]:
    """Route three CI runs of PyGithub/PyGithub with their recorded jobs; return plain spans."""
    main = replay.load("actions-run")
    # synthetic: the listing is assembled from recorded single-run payloads. Run 4205440316
    # belongs to a fork's copy of the CI workflow and is relabelled to workflow 1903133;
    # run 719643947's payload was not copied, so actions-run.json stands in with its id
    # and recorded creation time.
    fork = dict(replay.load("actions-run.pygithub-2023-02"), workflow_id=main["workflow_id"])
    hub4j = dict(
        main, id=719643947, created_at="2021-04-05T15:42:47Z", run_started_at="2021-04-05T15:42:47Z"
    )
    listing = {"total_count": 3, "workflow_runs": [fork, main, hub4j]}
    workflow = {"id": main["workflow_id"], "name": "CI", "path": main["path"]}
    replay.route(
        f"/repos/{PYGH}/actions/workflows",
        replay.synthetic({"total_count": 1, "workflows": [workflow]}),
    )
    replay.route(f"/repos/{PYGH}/actions/workflows/1903133/runs", replay.synthetic(listing))
    jobs = {
        3881497935: "run-jobs",
        4205440316: "run-jobs.pygithub-2023-02",
        719643947: "run-jobs.hub4j-2021",
    }
    for run_id, name in jobs.items():
        replay.route(f"/repos/{PYGH}/actions/runs/{run_id}/jobs", replay.recorded(name))
    return {run_id: job_span(replay.load(name)) for run_id, name in jobs.items()}


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


def test_an_unchanged_repository_costs_only_conditional_requests(replay: GithubReplay) -> None:
    """A repeated sample sends If-None-Match, gets 304s and re-fetches no list page or jobs."""
    serve_duration_runs(replay)
    state = MemoryStateStore()
    fields = {
        "repo": PYGH,
        "metric": "deployment_duration",
        "window": "700d",
        "deployments_from": "workflow_runs",
        "workflow": "ci.yml",
    }
    at = datetime(2023, 3, 1, tzinfo=UTC)
    first = make(replay, state).measure(query(**fields), at)
    sent = len(replay.seen)
    # A new connector on the same state, as after a restart.
    second = make(replay, state).measure(query(**fields), at + timedelta(hours=1))
    again = replay.seen[sent:]
    assert first.details["requests"]["sent"] == sent == 5
    assert [s.status for s in again] == [304, 304]
    assert replay.count("/jobs") == 3
    assert second.details["requests"] == {"sent": 2, "not_modified": 2}


def test_news_fetches_only_the_new_deployment(replay: GithubReplay) -> None:
    """When the listing changes, only the new deployment's statuses are fetched."""
    serve_github3py_deployments(replay)
    connector = make(replay)
    at = datetime(2014, 3, 1, tzinfo=UTC)
    connector.measure(query(repo=G3, metric="deployment_frequency"), at)
    # synthetic: a newer deployment 802, a copy of recorded 801 created two days later,
    # with a copy of 801's first success status.
    recorded = replay.load("deployments.github3py-2018")
    newer = dict(recorded[0], id=802, created_at="2014-02-26T10:00:00Z")
    status = dict(replay.load("deployment-statuses")[-1], created_at="2014-02-26T10:05:00Z")
    replay.route(f"/repos/{G3}/deployments", replay.synthetic([newer, *recorded]))
    replay.route(f"/repos/{G3}/deployments/802/statuses", replay.synthetic([status]))
    result = connector.measure(query(repo=G3, metric="deployment_frequency"), at)
    assert result.numerator == 2
    assert replay.count("/801/statuses") == replay.count("/797/statuses") == 1
    assert replay.count("/802/statuses") == 1


def test_events_are_kept_in_the_state_store_by_repo_and_kind(replay: GithubReplay) -> None:
    """Raw events and bookmarks go to the StateStore as JSON under per-repo, per-kind keys."""
    serve_github3py_deployments(replay)
    state = MemoryStateStore()
    make(replay, state).measure(
        query(repo=G3, metric="deployment_frequency"), datetime(2014, 3, 1, tzinfo=UTC)
    )
    stream = state.values[f"deployments:{G3}"]
    assert set(stream["events"]) == {"801", "797"}
    assert stream["events"]["801"]["statuses"][0]["state"] == "success"
    assert stream["covered_from"] == "2014-01-31T00:00:00Z"
    json.dumps(state.values)


def test_releases_as_deployments_and_history_from_one_sync(replay: GithubReplay) -> None:
    """Published releases count as deployments; history() answers every step from one sync."""
    replay.route(f"/repos/{PYGH}/releases", replay.recorded("releases"))
    releases = replay.load("releases")
    connector = make(replay)
    fields = {
        "repo": PYGH,
        "metric": "deployment_frequency",
        "window": "90d",
        "deployments_from": "releases",
    }
    steps = [datetime(2021, 1, 1, tzinfo=UTC) + timedelta(days=30 * i) for i in range(5)]
    found = connector.history(
        query(**fields), start=steps[0], end=steps[-1], step_seconds=30 * 86400
    )
    expected = [
        sum(1 for r in releases if inside(ts(r["published_at"]), at, 90)) / 90 for at in steps
    ]
    assert [m.value for m in found] == pytest.approx(expected)
    assert replay.count("/releases") == 1 and replay.count("/repositories/3544490") == 0


def test_primary_rate_limit_403_gives_until_without_sleeping(replay: GithubReplay) -> None:
    """The recorded 403 with remaining 0 and no reset header: RateLimited a minute from now."""
    replay.route(
        f"/repos/{G3}/deployments", replay.recorded_exchange("rate-limit-exceeded.primary-403")
    )
    connector = make(replay, max_rate_limit_wait_seconds=5)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        connector.measure(query(repo=G3, metric="deployment_frequency"), before)
    after = datetime.now(UTC)
    # GitHub's docs: with no reset time, wait at least one minute.
    assert caught.value.until is not None
    assert before + timedelta(seconds=60) <= caught.value.until <= after + timedelta(seconds=60)
    assert after - before < timedelta(seconds=3)
    assert "rate limited until" in caught.value.reason and G3 in caught.value.reason


def test_primary_rate_limit_with_reset_header_and_no_request_until_then(
    replay: GithubReplay,
) -> None:
    """A primary limit's x-ratelimit-reset is `until`; later samples fail without a request."""
    recorded = replay.recorded_exchange("rate-limit-exceeded.primary-403")
    reset = int(time.time()) + 3600
    # synthetic: the 2013 recording predates the reset header GitHub now sends (docs).
    recorded.headers.append(("x-ratelimit-reset", str(reset)))
    replay.route(f"/repos/{G3}/deployments", recorded)
    connector = make(replay)
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            connector.measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
        assert caught.value.until == datetime.fromtimestamp(reset, UTC)
    assert replay.count("/deployments") == 1


def test_secondary_rate_limit_403_retry_after(replay: GithubReplay) -> None:
    """The recorded secondary 403 (Retry-After: 60) above the cap: RateLimited at now + 60 s."""
    replay.route(
        f"/repos/{G3}/deployments", replay.recorded_exchange("rate-limit-exceeded.secondary-403")
    )
    connector = make(replay, max_rate_limit_wait_seconds=5)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        connector.measure(query(repo=G3, metric="deployment_frequency"), before)
    after = datetime.now(UTC)
    assert caught.value.until is not None
    assert before + timedelta(seconds=60) <= caught.value.until <= after + timedelta(seconds=60)
    assert after - before < timedelta(seconds=3)


def test_a_short_retry_after_within_the_cap_is_waited_out(replay: GithubReplay) -> None:
    """A Retry-After within max_rate_limit_wait_seconds is slept once, then the sample succeeds."""
    serve_github3py_deployments(replay)
    limited = replay.recorded_exchange("rate-limit-exceeded.secondary-403")
    # synthetic: the recorded secondary 403 with Retry-After shortened to one second.
    limited.headers = [(k, "1" if k == "Retry-After" else v) for k, v in limited.headers]
    replay.route(f"/repos/{G3}/deployments", limited, times=1)
    started = time.monotonic()
    result = make(replay, max_rate_limit_wait_seconds=5).measure(
        query(repo=G3, metric="deployment_frequency"), datetime(2014, 3, 1, tzinfo=UTC)
    )
    assert result.numerator == 1
    assert replay.count("/deployments", status=403) == 1 and time.monotonic() - started >= 1


def test_unknown_repository_is_rejected_with_its_name(replay: GithubReplay) -> None:
    """A 404 on the repository says it is missing or the token cannot see it."""
    with pytest.raises(QueryRejected) as caught:
        make(replay).measure(
            query(repo="nobody/nothing", metric="deployment_frequency"), datetime.now(UTC)
        )
    assert "repository nobody/nothing not found or token lacks access" in caught.value.reason


def test_revoked_token_is_rejected_without_showing_it(replay: GithubReplay) -> None:
    """A 401 says the token was rejected and never echoes the token."""
    # synthetic: GitHub's documented 401 body; no 401 was recorded.
    bad = replay.synthetic(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
        status=401,
    )
    replay.route(f"/repos/{G3}/deployments", bad)
    with pytest.raises(QueryRejected) as caught:
        make(replay).measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
    assert "token rejected" in caught.value.reason and TOKEN not in caught.value.reason
    assert replay.seen[0].headers["authorization"] == f"token {TOKEN}"


def test_unknown_workflow_is_rejected_naming_it_and_the_known_ones(replay: GithubReplay) -> None:
    """A workflow missing from the repository's list is named, with the workflows that exist."""
    replay.route(f"/repos/{PYGH}/actions/workflows", replay.recorded("workflows"))
    with pytest.raises(QueryRejected) as caught:
        make(replay).measure(
            query(
                repo=PYGH,
                metric="deployment_frequency",
                deployments_from="workflow_runs",
                workflow="deploy.yml",
            ),
            datetime.now(UTC),
        )
    assert "'deploy.yml' not found in PyGithub/PyGithub" in caught.value.reason
    assert "check.yml (check)" in caught.value.reason


def test_server_errors_and_refused_connections_are_source_unavailable(replay: GithubReplay) -> None:
    """A 5xx after PyGithub's short retries, or no server at all, is SourceUnavailable."""
    # synthetic: a 502 body as GitHub's front end sends it.
    replay.route(
        f"/repos/{G3}/deployments", replay.synthetic({"message": "Server Error"}, status=502)
    )
    with pytest.raises(SourceUnavailable, match="502"):
        make(replay).measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))
    nowhere = GithubConnector(GithubConnector.Settings(base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        nowhere.measure(query(repo=G3, metric="deployment_frequency"), datetime.now(UTC))


def test_github_app_installation_auth_and_enterprise_base_url(replay: GithubReplay) -> None:
    """App settings trade a JWT for an installation token and use it under base_url's path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # synthetic: the documented shape of POST /app/installations/{id}/access_tokens.
    replay.route(
        "/api/v3/app/installations/42/access_tokens",
        replay.synthetic(
            {"token": "ghs_installation", "expires_at": "2099-01-01T00:00:00Z"}, status=201
        ),
    )
    replay.route(f"/api/v3/repos/{PYGH}/releases", replay.recorded("releases"))
    settings = GithubConnector.Settings(
        app_id=7, private_key=pem, installation_id=42, base_url=f"{replay.url}/api/v3"
    )
    result = GithubConnector(settings).measure(
        query(repo=PYGH, metric="deployment_frequency", window="90d", deployments_from="releases"),
        datetime(2021, 5, 1, tzinfo=UTC),
    )
    assert result.numerator == 2
    assert replay.seen[0].headers["authorization"].startswith("Bearer ")
    assert replay.seen[1].headers["authorization"] == "token ghs_installation"


@pytest.mark.parametrize(
    "fields",
    [
        {"metric": "deployment_frequency", "deployments_from": "workflow_runs"},
        {"metric": "deployment_duration"},
        {"metric": "rollback_rate", "failure_signals": ["rollback_workflow"]},
        {"metric": "deployment_frequency", "environment": "(prod"},
        {"metric": "deployment_frequency", "window": "4 weeks"},
        {"metric": "deployment_frequency", "window": 0},
        {"metric": "mean_time_to_restore"},
    ],
)
def test_incomplete_queries_fail_at_config_time(fields: dict[str, Any]) -> None:
    """Queries missing what their metric or source needs are refused when the config loads."""
    with pytest.raises(ValidationError):
        query(repo=G3, **fields)


def test_a_blank_token_from_an_unset_variable_means_anonymous(replay: GithubReplay) -> None:
    """`token = "${GITHUB_TOKEN:-}"` with the variable unset sends no Authorization header."""
    replay.route(f"/repos/{PYGH}/releases", replay.recorded("releases"))
    connector = make(replay, token="")
    connector.measure(
        query(repo=PYGH, metric="deployment_frequency", deployments_from="releases"),
        datetime(2021, 5, 1, tzinfo=UTC),
    )
    assert "authorization" not in replay.seen[0].headers


def test_settings_need_a_whole_app_or_a_token() -> None:
    """Half of the GitHub App settings, or a token and an App together, are refused."""
    with pytest.raises(ValidationError, match="all of app_id"):
        GithubConnector.Settings(app_id=1)
    with pytest.raises(ValidationError, match="not both"):
        GithubConnector.Settings(token=TOKEN, app_id=1, private_key="k", installation_id=2)


# ---- issue 11: lead time by the deployment that shipped, latest outcome, one fetch per instant


def serve_lead_time_deployments(replay: GithubReplay) -> list[dict[str, Any]]:
    """Route github3.py's two recorded deployments re-dated among the recorded 2013 PR merges.

    synthetic: no recording holds PRs and deployments of one repository. Recorded
    deployment 797 is re-dated to be created on 2013-01-25 10:00 (after PRs #223-#230
    merged, before #229, #233 and #232) and to succeed only on 2013-01-29 22:30; 801 is
    created on 2013-01-29 22:00 and succeeds on 2013-01-31. Each status is a copy of
    801's recorded first success status with its time changed. Returns the deployments
    with their `statuses`, as served.
    """
    recorded = {d["id"]: d for d in replay.load("deployments.github3py-2018")}
    success = replay.load("deployment-statuses")[-1]
    plan = {
        797: ("2013-01-25T10:00:00Z", "2013-01-29T22:30:00Z"),
        801: ("2013-01-29T22:00:00Z", "2013-01-31T00:00:00Z"),
    }
    served = []
    for deployment_id, (created, succeeded) in plan.items():
        deployment = dict(recorded[deployment_id], created_at=created, updated_at=created)
        status = dict(success, created_at=succeeded, updated_at=succeeded)
        replay.route(
            f"/repos/{G3}/deployments/{deployment_id}/statuses", replay.synthetic([status])
        )
        served.append({**deployment, "statuses": [status]})
    newest_first = sorted(served, key=lambda d: d["created_at"], reverse=True)
    listing = [{k: v for k, v in d.items() if k != "statuses"} for d in newest_first]
    replay.route(f"/repos/{G3}/deployments", replay.synthetic(listing))
    return served


def serve_recorded_pulls(replay: GithubReplay) -> list[dict[str, Any]]:
    """Route the recorded closed PRs as github3.py's (as in the lead-time test above)."""
    replay.route(f"/repos/{G3}/pulls", replay.recorded("pulls-closed"))
    replay.route(
        "/repos/openmicroscopy/ome-documentation/pulls",
        replay.recorded("pulls-closed.pygithub-2012"),
        page=2,
    )
    return [*replay.load("pulls-closed"), *replay.load("pulls-closed.pygithub-2012")]


def test_lead_time_credits_the_first_deployment_created_after_the_merge(
    replay: GithubReplay,
) -> None:
    """A deployment created before a merge cannot ship it: the next one created after does."""
    deployments = serve_lead_time_deployments(replay)
    pulls = serve_recorded_pulls(replay)
    at = datetime(2013, 2, 2, tzinfo=UTC)
    # The definition, read plainly from the served data: the earliest success of a
    # deployment created at or after the merge, no later than the window's end.
    waits = []
    for pull in pulls:
        if not pull["merged_at"] or not inside(ts(pull["merged_at"]), at, 30):
            continue
        merged = ts(pull["merged_at"])
        shipped = [
            ts(s["created_at"])
            for d in deployments
            if ts(d["created_at"]) >= merged
            for s in d["statuses"]
            if s["state"] == "success" and ts(s["created_at"]) <= at
        ]
        if shipped:
            waits.append((min(shipped) - merged).total_seconds())
    result = make(replay).measure(query(repo=G3, metric="lead_time_for_changes", window="30d"), at)
    # #229, #233 and #232 merged after 797 was created: 801 shipped them, not 797.
    assert len(waits) == 8 and result.details["counted"] == 8
    assert result.details["undeployed"] == 1  # #234, merged after both were created
    assert result.value == pytest.approx(statistics.median(waits))
    # The old rule (first success after the merge, whenever the deployment was created)
    # credits 797 for all eight and gives a shorter median: the test tells them apart.
    first_success_after = [
        (ts("2013-01-29T22:30:00Z") - ts(p["merged_at"])).total_seconds()
        for p in pulls
        if p["merged_at"]
        and inside(ts(p["merged_at"]), at, 30)
        and ts(p["merged_at"]) <= ts("2013-01-29T22:30:00Z")
    ]
    assert statistics.median(first_success_after) < result.value


def test_a_deployment_failing_after_a_success_counts_as_failed(replay: GithubReplay) -> None:
    """The latest outcome wins: success then failure is a failed attempt, not a deployment."""
    replay.route(f"/repos/{G3}/deployments", replay.recorded("deployments.github3py-2018"))
    replay.route(f"/repos/{G3}/deployments/801/statuses", replay.recorded("deployment-statuses"))
    # synthetic: no recording has a failure; 801's oldest recorded status is copied twice
    # onto deployment 797: a success 4 minutes after its creation, a failure 50 minutes later.
    oldest = replay.load("deployment-statuses")[-1]
    went_live = dict(oldest, id=1, state="success", created_at="2014-02-23T20:10:00Z")
    failed = dict(oldest, id=2, state="failure", created_at="2014-02-23T21:00:00Z")
    statuses = {"801": replay.load("deployment-statuses"), "797": [failed, went_live]}
    replay.route(f"/repos/{G3}/deployments/797/statuses", replay.synthetic(statuses["797"]))
    at = datetime(2014, 3, 1, tzinfo=UTC)
    latest = {
        key: max((s for s in found if s["state"] != "inactive"), key=lambda s: ts(s["created_at"]))
        for key, found in statuses.items()
    }
    live = [
        min(ts(s["created_at"]) for s in statuses[key] if s["state"] == "success")
        for key, status in latest.items()
        if status["state"] == "success"
    ]
    failures = [key for key, status in latest.items() if status["state"] in ("failure", "error")]
    connector = make(replay)
    frequency = connector.measure(query(repo=G3, metric="deployment_frequency"), at)
    failure_rate = connector.measure(query(repo=G3, metric="change_failure_rate"), at)
    assert frequency.numerator == sum(1 for t in live if inside(t, at, 28)) == 1
    assert (failure_rate.numerator, failure_rate.denominator) == (len(failures), 2) == (1, 2)


TEN_KEY_RESULTS = [
    {"metric": "deployment_frequency", "window": "28d"},
    {"metric": "deployment_frequency", "window": "28d", "per": "week"},
    {"metric": "deployment_frequency", "window": "7d"},
    {"metric": "deployment_frequency", "window": "90d"},
    {"metric": "change_failure_rate", "window": "28d"},
    {"metric": "change_failure_rate", "window": "90d"},
    {"metric": "rollback_rate", "failure_signals": ["revert_pr"]},
    {"metric": "rollback_rate", "failure_signals": ["incident_issue"]},
    {"metric": "lead_time_for_changes", "window": "400d"},
    {"metric": "lead_time_for_changes", "window": "500d"},
]


def test_key_results_on_one_repository_share_one_fetch_per_instant(replay: GithubReplay) -> None:
    """Ten Key Results on one repository cost each page once per instant, unsettled statuses too."""
    serve_github3py_deployments(replay)
    serve_failure_signals(replay)
    # synthetic: 797's statuses stay "queued" (a copy of the recorded queued status), so it
    # is unsettled and its statuses are asked again at every instant.
    queued = replay.load("deployment-statuses.queued")[:1]
    replay.route(f"/repos/{G3}/deployments/797/statuses", replay.synthetic(queued))
    connector = make(replay)
    queries = [query(repo=G3, **fields) for fields in TEN_KEY_RESULTS]
    first = datetime(2014, 3, 1, tzinfo=UTC)
    for kr_query in queries:
        with contextlib.suppress(NoData):  # a Key Result with nothing to count is fine here
            connector.measure(kr_query, first)
    requested = [(s.path, tuple(sorted(s.query.items()))) for s in replay.seen]
    assert len(requested) == len(set(requested)), requested
    before = len(replay.seen)
    for kr_query in queries:
        with contextlib.suppress(NoData):
            connector.measure(kr_query, first + timedelta(hours=1))
    repeat = sorted(s.path for s in replay.seen[before:])
    # One conditional listing each, and the one unsettled deployment's statuses, once.
    assert repeat == sorted(
        [
            f"/repos/{G3}/deployments",
            f"/repos/{G3}/deployments/797/statuses",
            f"/repos/{G3}/issues",
            f"/repos/{G3}/pulls",
        ]
    )
