"""Shrink GitHub payloads to the stored event fields, and read stored events as deployments.

Stored events keep GitHub's own field names and timestamp strings (a run's payload is
about 13 kB, its event under 300 bytes), so a reader can match them to the API.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from connectors.github.metrics import Deploy

# A run that ended like this tried to deploy; cancelled, skipped, startup_failure and
# action_required runs never reached production and are not attempts.
_RUN_SUCCESS = {"success"}
_RUN_FAILURE = {"failure", "timed_out"}
_STATUS_FAILURE = {"failure", "error"}
# GitHub's "Revert" button opens a PR from a branch named revert-<PR number>-<branch>.
_REVERT_BRANCH = re.compile(r"^revert-\d+-")


def parse_time(text: str) -> datetime:
    """Return a GitHub timestamp as an aware UTC datetime (accepts `Z`, offsets, milliseconds)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def compact_run(item: dict[str, Any]) -> dict[str, Any]:
    """Return the stored fields of a workflow run (old 2020 payloads lack several)."""
    return {
        "id": item["id"],
        "workflow_id": item.get("workflow_id"),
        "head_branch": item.get("head_branch"),
        "head_sha": item.get("head_sha"),
        "status": item.get("status"),
        "conclusion": item.get("conclusion"),
        "created_at": item["created_at"],
        "run_started_at": item.get("run_started_at"),
        "run_attempt": item.get("run_attempt") or 1,
    }


def compact_deployment(item: dict[str, Any]) -> dict[str, Any]:
    """Return the stored fields of a deployment; `statuses` are added by a separate request."""
    return {
        "id": item["id"],
        "environment": item.get("environment") or "",
        "sha": item.get("sha"),
        "created_at": item["created_at"],
    }


def compact_release(item: dict[str, Any]) -> dict[str, Any]:
    """Return the stored fields of a release."""
    keys = ("id", "tag_name", "created_at", "published_at", "draft", "prerelease")
    return {key: item.get(key) for key in keys}


def compact_pull(item: dict[str, Any]) -> dict[str, Any]:
    """Return the stored fields of a closed pull request."""
    return {
        "number": item["number"],
        "merged_at": item.get("merged_at"),
        "updated_at": item["updated_at"],
        "head_ref": (item.get("head") or {}).get("ref"),
        "base_ref": (item.get("base") or {}).get("ref"),
    }


def compact_issue(item: dict[str, Any]) -> dict[str, Any]:
    """Return the stored fields of an issue."""
    return {
        "number": item["number"],
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
        "labels": sorted(label["name"] for label in item.get("labels") or []),
    }


def run_instant(run: dict[str, Any]) -> datetime:
    """Return when a run (its latest attempt) started; 2020 payloads only have `created_at`.

    `updated_at` is never used: GitHub moves it long after a run ends.
    """
    return parse_time(run.get("run_started_at") or run["created_at"])


def deploys_from_runs(runs: list[dict[str, Any]]) -> list[Deploy]:
    """Read completed runs as deployment attempts, one per run id whatever its attempt."""
    deploys: dict[str, Deploy] = {}
    for run in runs:
        if run.get("status") != "completed":
            continue
        conclusion = run.get("conclusion")
        if conclusion not in _RUN_SUCCESS | _RUN_FAILURE:
            continue
        key = f"run:{run['id']}"
        deploys[key] = Deploy(
            key=key,
            at=run_instant(run),
            succeeded=conclusion in _RUN_SUCCESS,
            failed=conclusion in _RUN_FAILURE,
            # A run deploys the commit it was created for, even when re-run later.
            created=parse_time(run["created_at"]),
        )
    return list(deploys.values())


def deploy_from_deployment(deployment: dict[str, Any]) -> Deploy | None:
    """Read a deployment and its statuses as an attempt, or None while it has no outcome.

    Its latest outcome (`success`, `failure` or `error`) decides: success means it went
    live (at its first success); failure or error means it failed (at that status), even
    after an earlier success: a deployment rolled back by its own pipeline did not stay
    live. Progress states (`queued`, `in_progress`, `pending`) are not outcomes, and GitHub
    marks a superseded deployment `inactive` on its own, which says nothing either.
    """
    statuses = sorted(deployment.get("statuses") or [], key=lambda s: parse_time(s["created_at"]))
    active = [s for s in statuses if s["state"] in _STATUS_FAILURE | {"success"}]
    latest = active[-1]["state"] if active else None
    key = f"deployment:{deployment['id']}"
    created = parse_time(deployment["created_at"]) if deployment.get("created_at") else None
    if latest in _STATUS_FAILURE:
        at = parse_time(active[-1]["created_at"])
        return Deploy(key=key, at=at, succeeded=False, failed=True, created=created)
    successes = [parse_time(s["created_at"]) for s in active if s["state"] == "success"]
    if latest != "success" or not successes:
        return None
    return Deploy(key=key, at=successes[0], succeeded=True, failed=False, created=created)


def deploys_from_releases(releases: list[dict[str, Any]]) -> list[Deploy]:
    """Read published releases (not drafts, not pre-releases) as successful deployments."""
    return [
        Deploy(
            key=f"release:{r['id']}",
            at=parse_time(r["published_at"]),
            succeeded=True,
            failed=False,
            # A release's created_at is the date of the commit it tags.
            created=parse_time(r["created_at"]) if r.get("created_at") else None,
        )
        for r in releases
        if r.get("published_at") and not r.get("draft") and not r.get("prerelease")
    ]


def merge_instants(pulls: list[dict[str, Any]], *, base: str | None) -> list[datetime]:
    """Return when each merged PR (into `base`, if given) was merged."""
    return [
        parse_time(p["merged_at"])
        for p in pulls
        if p.get("merged_at") and (base is None or p.get("base_ref") == base)
    ]


def revert_instants(pulls: list[dict[str, Any]]) -> list[datetime]:
    """Return when each merged revert PR (GitHub's `revert-N-...` branches) was merged."""
    return [
        parse_time(p["merged_at"])
        for p in pulls
        if p.get("merged_at") and _REVERT_BRANCH.match(p.get("head_ref") or "")
    ]
