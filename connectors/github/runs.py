"""Keep a workflow's runs and their job-based durations in the StateStore, fetching only news.

Runs are listed per workflow, newest first, down to the window's edge. GitHub returns at
most 1,000 results when a run listing is filtered (by `branch`, `created`, ...; docs:
"List workflow runs for a workflow"): when the cap hides part of the window, that part is
listed by `created` range, halving each range whose `total_count` exceeds the cap. A
run's duration comes from its jobs, fetched once per run attempt.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.base import AmbiguousResult, QueryRejected, StateStore
from connectors.github.events import compact_run, parse_time
from connectors.github.sync import Event, iso, load_stream, refresh_floor

if TYPE_CHECKING:
    from connectors.github.http import GithubHttp, Page

RESULT_CAP = 1000


class RunSync:
    """Resolve workflows, sync their runs, and measure run durations from jobs."""

    def __init__(self, http: GithubHttp, state: StateStore) -> None:
        self.http = http
        self.state = state

    def workflow_id(self, repo: str, workflow: str | int) -> int:
        """Return the id of the workflow named by id, file name, path or display name."""
        key = f"workflows:{repo}"
        cached = copy.deepcopy(self.state.load(key)) or {"etag": None, "workflows": []}
        url = f"/repos/{repo}/actions/workflows"
        found: list[dict[str, Any]] = []
        for number, page in enumerate(
            self.http.pages(url, repo=repo, params={"per_page": 100}, etag=cached["etag"])
        ):
            if page.not_modified:
                found = cached["workflows"]
                break
            if number == 0:
                cached["etag"] = page.etag
            found += [{k: w[k] for k in ("id", "name", "path")} for w in page.data["workflows"]]
        else:
            cached["workflows"] = found
            self.state.save(key, cached)
        return _match_workflow(found, str(workflow), repo=repo)

    def runs(
        self, repo: str, *, workflow_id: int, branch: str | None, lower: datetime
    ) -> list[Event]:
        """Return the stored runs of a workflow (on `branch`), synced down to `lower`."""
        key = f"runs:{repo}:{workflow_id}:{branch or '*'}"
        stream = load_stream(self.state, key)
        pending = [
            parse_time(run["created_at"])
            for run in stream["events"].values()
            if run["status"] != "completed"
        ]
        floor = refresh_floor(stream, lower=lower, time_field="created_at", pending=pending)
        covered = stream["covered_from"] is not None and parse_time(stream["covered_from"]) <= lower
        url = f"/repos/{repo}/actions/workflows/{workflow_id}/runs"
        base: dict[str, Any] = {"per_page": 100, "exclude_pull_requests": "true"}
        if branch:
            base["branch"] = branch
        # The first page's URL never changes, so its ETag stays valid between samples; an
        # unchanged page proves nothing is new only if no stored run was still running.
        etag = stream["etag"] if covered and not pending else None
        first = self.http.get(url, repo=repo, params=base, etag=etag)
        if first.not_modified:
            return list(stream["events"].values())
        items = self._walk(first, repo=repo, floor=floor)
        oldest = min((parse_time(r["created_at"]) for r in items), default=None)
        if oldest is not None and oldest >= floor and first.data["total_count"] > RESULT_CAP:
            # The cap hid runs between the window's edge and the oldest one listed.
            items += self._split(url, repo=repo, base=base, start=floor, end=oldest)
        for item in items:
            known = stream["events"].get(str(item["id"]))
            # A listing shows a run's latest attempt; never let an older one overwrite it.
            if known is None or (item.get("run_attempt") or 1) >= known["run_attempt"]:
                stream["events"][str(item["id"])] = compact_run(item)
        stream["etag"] = first.etag
        if not covered:
            stream["covered_from"] = iso(lower)
        self.state.save(key, stream)
        return list(stream["events"].values())

    def durations(self, repo: str, runs: list[Event]) -> dict[str, float | None]:
        """Return each run's duration in seconds from its jobs (None if no job has times)."""
        key = f"durations:{repo}"
        cache: dict[str, float | None] = dict(self.state.load(key) or {})
        missing = [r for r in runs if f"{r['id']}:{r['run_attempt']}" not in cache]
        for run in missing:
            cache[f"{run['id']}:{run['run_attempt']}"] = self._job_span(repo, run["id"])
        if missing:
            self.state.save(key, cache)
        return {str(r["id"]): cache[f"{r['id']}:{r['run_attempt']}"] for r in runs}

    def _job_span(self, repo: str, run_id: int) -> float | None:
        """Return seconds from the first job start to the last job end of the latest attempt."""
        url = f"/repos/{repo}/actions/runs/{run_id}/jobs"
        starts: list[datetime] = []
        ends: list[datetime] = []
        for page in self.http.pages(url, repo=repo, params={"filter": "latest", "per_page": 100}):
            for job in page.data["jobs"]:
                # A skipped job gets timestamps without running; it says nothing of the deploy.
                if job.get("conclusion") == "skipped":
                    continue
                if job.get("started_at") and job.get("completed_at"):
                    starts.append(parse_time(job["started_at"]))
                    ends.append(parse_time(job["completed_at"]))
        return (max(ends) - min(starts)).total_seconds() if starts else None

    def _walk(self, first: Page, *, repo: str, floor: datetime) -> list[dict[str, Any]]:
        """Return the first page's runs and the next pages' until one reaches below `floor`."""
        items: list[dict[str, Any]] = []
        page = first
        while True:
            runs = page.data["workflow_runs"]
            items += runs
            if not runs or not page.next_url:
                return items
            if min(parse_time(r["created_at"]) for r in runs) < floor:
                return items
            page = self.http.get(page.next_url, repo=repo)

    def _split(
        self, url: str, *, repo: str, base: dict[str, Any], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """List runs created in [start, end], halving the range while it exceeds the cap."""
        first = self.http.get(
            url, repo=repo, params={**base, "created": f"{iso(start)}..{iso(end)}"}
        )
        if first.data["total_count"] > RESULT_CAP and end - start > timedelta(seconds=1):
            middle = start + (end - start) / 2
            middle = middle.replace(microsecond=0)
            left = self._split(url, repo=repo, base=base, start=start, end=middle)
            right = self._split(
                url, repo=repo, base=base, start=middle + timedelta(seconds=1), end=end
            )
            return left + right
        return self._walk(first, repo=repo, floor=start)


def _match_workflow(workflows: list[dict[str, Any]], wanted: str, *, repo: str) -> int:
    """Return the id of the one workflow matching by id, then file, then display name."""
    by_id = [w for w in workflows if str(w["id"]) == wanted]
    by_file = [w for w in workflows if wanted in (w["path"], w["path"].rsplit("/", 1)[-1])]
    by_name = [w for w in workflows if w["name"] == wanted]
    for candidates in (by_id, by_file, by_name):
        if len(candidates) == 1:
            return int(candidates[0]["id"])
        if len(candidates) > 1:
            files = ", ".join(sorted(w["path"] for w in candidates))
            raise AmbiguousResult(
                f"github: several workflows in {repo} are named {wanted!r} ({files}); "
                "give the file name instead"
            )
    known = ", ".join(f"{w['path'].rsplit('/', 1)[-1]} ({w['name']})" for w in workflows) or "none"
    raise QueryRejected(
        f"github: workflow {wanted!r} not found in {repo}; its workflows are: {known}"
    )
