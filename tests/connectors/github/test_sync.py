"""What the connector keeps and asks again: conditional requests, new events, stored history.

The replay and the rules for expected values: `tests.connectors.github.support`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import MemoryStateStore
from tests.connectors.github.support import (
    G3,
    PYGH,
    inside,
    make,
    query,
    serve_duration_runs,
    serve_github3py_deployments,
    ts,
)
from tests.support.github_replay import GithubReplay


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
