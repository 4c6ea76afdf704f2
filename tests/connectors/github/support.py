"""Shared by the github connector tests: the recorded repositories, a connector on the replay.

PyGithub talks real HTTP to `tests.support.github_replay.GithubReplay`. Expected values are
computed plainly in the tests from the same fixture JSON, never copied from the connector.
Where the recordings lack a state or a route, the test builds it from a recorded
payload and says so in a `synthetic:` comment.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import MemoryStateStore
from connectors.github import GithubConnector
from tests.support.github_replay import GithubReplay

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
