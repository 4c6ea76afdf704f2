"""The github connector's metrics from deployments: frequency, failures, lead time.

The replay and the rules for expected values: `tests.connectors.github.support`.
"""

from __future__ import annotations

import contextlib
import copy
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import (
    MemoryStateStore,
    NoData,
    RateLimited,
)
from tests.connectors.github.support import (
    G3,
    PYGH,
    inside,
    make,
    query,
    serve_github3py_deployments,
    ts,
)
from tests.support.github_replay import GithubReplay


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
