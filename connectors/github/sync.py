"""Keep a repository's deployments, releases, PRs and issues in the StateStore, fetching only news.

Each listing is a *stream* stored under `<kind>:<owner/name>[:<filter>]` as
`{"events": {id: event}, "covered_from": ISO time, "etag": ...}`. The first sync walks
the listing (newest first) down to the window's edge and stops there. Later syncs send
the first page's ETag (`If-None-Match`): a 304 means nothing changed and costs no quota;
otherwise they walk down to a little below the newest stored event. A window that
reaches further back than `covered_from` triggers one deeper walk.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.github.events import (
    compact_deployment,
    compact_issue,
    compact_pull,
    compact_release,
    parse_time,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from connectors.base import StateStore
    from connectors.github.http import GithubHttp

# Re-read this far below the newest stored event, for late changes near the top.
REFRESH_OVERLAP = timedelta(days=2)
# A deployment whose last status is older than this is settled: its statuses are not
# fetched again (GitHub drops statuses after 90 days; ours stay in the StateStore).
STATUS_SETTLE = timedelta(days=1)
_TERMINAL = {"success", "failure", "error"}

Event = dict[str, Any]


def iso(instant: datetime) -> str:
    """Return `instant` as GitHub writes times (`2022-11-21T23:43:05Z`)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_stream(state: StateStore, key: str) -> dict[str, Any]:
    """Return a private copy of a stored stream (or an empty one).

    A copy, so that a sync interrupted half-way (rate limit, outage) leaves the stored
    stream, ETag included, as it was: the next sync then redoes the walk in full.
    """
    stored = state.load(key)
    return copy.deepcopy(stored) if stored else {"events": {}, "covered_from": None, "etag": None}


def refresh_floor(
    stream: dict[str, Any], *, lower: datetime, time_field: str, pending: list[datetime]
) -> datetime:
    """Return how deep a sync must walk: the window edge, or just below what is known."""
    covered = stream["covered_from"]
    if covered is None or parse_time(covered) > lower or not stream["events"]:
        return lower
    newest = max(parse_time(e[time_field]) for e in stream["events"].values())
    return max(lower, min([newest, *pending]) - REFRESH_OVERLAP)


class GithubSync:
    """Bring a repository's listings up to date in the StateStore and return stored events."""

    def __init__(self, http: GithubHttp, state: StateStore) -> None:
        self.http = http
        self.state = state

    def deployments(
        self, repo: str, *, lower: datetime, wanted: Callable[[Event], bool]
    ) -> list[Event]:
        """Return deployments created after `lower`; fetch statuses only for the `wanted` ones."""
        key = f"deployments:{repo}"
        events = self._listing(
            key,
            f"/repos/{repo}/deployments",
            {"per_page": 100},
            repo=repo,
            lower=lower,
            time_field="created_at",
            id_field="id",
            compact=compact_deployment,
        )
        recent = [e for e in events.values() if parse_time(e["created_at"]) > lower]
        changed = [d for d in recent if wanted(d) and not _settled(d) and self._statuses(repo, d)]
        if changed:
            stream = load_stream(self.state, key)
            stream["events"].update({str(d["id"]): d for d in changed})
            self.state.save(key, stream)
        return recent

    def releases(self, repo: str, *, lower: datetime) -> list[Event]:
        """Return releases created after `lower`."""
        events = self._listing(
            f"releases:{repo}",
            f"/repos/{repo}/releases",
            {"per_page": 100},
            repo=repo,
            lower=lower,
            time_field="created_at",
            id_field="id",
            compact=compact_release,
        )
        return list(events.values())

    def merged_pulls(self, repo: str, *, lower: datetime) -> list[Event]:
        """Return merged PRs updated after `lower` (a merge updates a PR, so none is missed)."""
        params = {"state": "closed", "sort": "updated", "direction": "desc", "per_page": 100}
        events = self._listing(
            f"pulls:{repo}",
            f"/repos/{repo}/pulls",
            params,
            repo=repo,
            lower=lower,
            time_field="updated_at",
            id_field="number",
            compact=compact_pull,
            keep=lambda item: item.get("merged_at") is not None,
        )
        return list(events.values())

    def labelled_issues(self, repo: str, *, label: str, lower: datetime) -> list[Event]:
        """Return issues (not PRs) carrying `label`, updated after `lower`."""
        params = {
            "labels": label,
            "state": "all",
            "sort": "updated",
            "direction": "desc",
            "per_page": 100,
        }
        events = self._listing(
            f"issues:{repo}:{label}",
            f"/repos/{repo}/issues",
            params,
            repo=repo,
            lower=lower,
            time_field="updated_at",
            id_field="number",
            compact=compact_issue,
            keep=lambda item: "pull_request" not in item,
        )
        return list(events.values())

    def _listing(
        self,
        key: str,
        url: str,
        params: dict[str, Any],
        *,
        repo: str,
        lower: datetime,
        time_field: str,
        id_field: str,
        compact: Callable[[Event], Event],
        keep: Callable[[Event], bool] = lambda item: True,
    ) -> dict[str, Event]:
        stream = load_stream(self.state, key)
        floor = refresh_floor(stream, lower=lower, time_field=time_field, pending=[])
        covered = stream["covered_from"] is not None and parse_time(stream["covered_from"]) <= lower
        etag = stream["etag"] if covered else None
        first_etag: str | None = None
        for number, page in enumerate(self.http.pages(url, repo=repo, params=params, etag=etag)):
            if page.not_modified:
                return dict(stream["events"])
            if number == 0:
                first_etag = page.etag
            items = page.data or []
            for item in items:
                if keep(item):
                    # Merge, so fields fetched separately (a deployment's statuses) survive.
                    known = stream["events"].get(str(item[id_field]), {})
                    stream["events"][str(item[id_field])] = {**known, **compact(item)}
            if not items or min(parse_time(i[time_field]) for i in items) < floor:
                break
        stream["etag"] = first_etag
        if not covered:
            stream["covered_from"] = iso(lower)
        self.state.save(key, stream)
        return dict(stream["events"])

    def _statuses(self, repo: str, deployment: Event) -> bool:
        """Fetch a deployment's statuses (conditionally); return whether they changed."""
        url = f"/repos/{repo}/deployments/{deployment['id']}/statuses"
        statuses: list[dict[str, str]] = []
        etag = deployment.get("statuses_etag") if deployment.get("statuses") is not None else None
        for number, page in enumerate(
            self.http.pages(url, repo=repo, params={"per_page": 100}, etag=etag)
        ):
            if page.not_modified:
                return False
            if number == 0:
                deployment["statuses_etag"] = page.etag
            statuses += [{"state": s["state"], "created_at": s["created_at"]} for s in page.data]
        deployment["statuses"] = statuses
        return True


def _settled(deployment: Event) -> bool:
    statuses = deployment.get("statuses")
    if not statuses or not any(s["state"] in _TERMINAL for s in statuses):
        return False
    last = max(parse_time(s["created_at"]) for s in statuses)
    return last < datetime.now(UTC) - STATUS_SETTLE
