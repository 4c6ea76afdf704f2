"""The GitHub connector: DORA-style delivery metrics computed from a repository's history.

Definitions (each over the trailing window (at - window, at], in UTC):

* `deployment_frequency`: successful production deployments per day (or week).
* `deployment_duration`: median or p90 seconds of successful deploy runs, each measured
  from its latest attempt's earliest job start to latest job end (never from
  `updated_at`, which GitHub moves long after a run ends).
* `change_failure_rate` / `rollback_rate` (one computation, two names): deployments that
  failed or were rolled back / deployment attempts; see `failure_rate` for the signals.
* `lead_time_for_changes`: median seconds from a PR's merge to the earliest success of a
  production deployment *created* at or after the merge (one created before cannot hold
  the change), over PRs merged in the window.

A deployment's latest status wins: one that failed after an earlier success is failed.
Within one sampling instant, every Key Result on a repository shares the same answers
(`GithubHttp.share_answers_for`): each listing and status page is fetched once.

"A deployment" is chosen per Key Result by `deployments_from`; see `GithubQuery`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from github import Auth

from connectors.base import Measurement, MemoryStateStore, NoData, StateStore
from connectors.github import events
from connectors.github.config import GithubQuery, GithubSettings, window_seconds
from connectors.github.http import GithubHttp
from connectors.github.metrics import (
    DORA_TABLE_VERSION,
    Deploy,
    Result,
    Window,
    deployment_duration,
    deployment_frequency,
    dora_band,
    failure_rate,
    lead_time,
)
from connectors.github.runs import RunSync
from connectors.github.sync import GithubSync, iso

__all__ = ["GithubConnector", "GithubQuery", "GithubSettings"]

# Runs and deployments that start up to this long before the window and end inside it
# must still be listed.
EDGE_MARGIN = timedelta(days=1)


@dataclass
class _Inputs:
    """What one sync gathered: deployments and what the metric needs besides."""

    deploys: list[Deploy]
    runs: list[dict[str, Any]] = field(default_factory=list)
    durations: dict[str, float | None] = field(default_factory=dict)
    signals: list[datetime] = field(default_factory=list)
    merges: list[datetime] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


class GithubConnector:
    """Measure delivery metrics of GitHub repositories, syncing their history incrementally."""

    Settings: ClassVar[type[GithubSettings]] = GithubSettings
    Query: ClassVar[type[GithubQuery]] = GithubQuery
    scheduled: ClassVar[bool] = True
    # Each sample costs API requests against a rate limit of 5,000 an hour.
    min_interval_seconds: ClassVar[int] = 60

    def __init__(self, settings: GithubSettings, state: StateStore | None = None) -> None:
        self.settings = settings
        self.http = GithubHttp(
            auth=_auth(settings),
            base_url=settings.base_url,
            timeout_seconds=settings.timeout_seconds,
            max_wait_seconds=settings.max_rate_limit_wait_seconds,
        )
        store = state if state is not None else MemoryStateStore()
        self.sync = GithubSync(self.http, store)
        self.runs = RunSync(self.http, store)
        # One repository's stored streams must not be rewritten by two samples at once.
        self._lock = threading.Lock()
        self._round: datetime | None = None
        self._round_queries: set[str] = set()

    def measure(self, query: GithubQuery, at: datetime) -> Measurement:
        """Return the metric over the window ending at `at`, syncing what is new first."""
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        window = Window.ending(at, window_seconds(query.window))
        with self._lock:
            self._begin_measurement(query, at)
            sent, unchanged = self.http.requests_sent, self.http.not_modified
            inputs = self._gather(query, lower=window.start - EDGE_MARGIN)
            inputs.notes["requests"] = {
                "sent": self.http.requests_sent - sent,
                "not_modified": self.http.not_modified - unchanged,
            }
        return _measurement(query, inputs, window)

    def _begin_measurement(self, query: GithubQuery, at: datetime) -> None:
        """Share answers between the different Key Results sampled at instant `at`.

        The same query measured again at the same instant is a retry: it asks GitHub anew.
        """
        fingerprint = query.model_dump_json()
        if at != self._round or fingerprint in self._round_queries:
            self.http.share_answers_for(None)
            self._round, self._round_queries = at, set()
        self._round_queries.add(fingerprint)
        self.http.share_answers_for(at)

    def history(
        self, query: GithubQuery, *, start: datetime, end: datetime, step_seconds: int
    ) -> list[Measurement]:
        """Return one measurement per step from `start` to `end`, from a single sync."""
        length = window_seconds(query.window)
        with self._lock:
            self.http.share_answers_for(None)
            inputs = self._gather(query, lower=start - timedelta(seconds=length) - EDGE_MARGIN)
        found: list[Measurement] = []
        instant = start
        while instant <= end:
            try:
                found.append(_measurement(query, inputs, Window.ending(instant, length)))
            except NoData:
                pass
            instant += timedelta(seconds=step_seconds)
        return found

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    def _gather(self, query: GithubQuery, *, lower: datetime) -> _Inputs:
        inputs = self._deploys(query, lower=lower)
        if query.metric == "deployment_duration":
            done = [
                r
                for r in inputs.runs
                if r["status"] == "completed" and r["conclusion"] == "success"
            ]
            inputs.durations = self.runs.durations(query.repo, done)
        if query.metric in ("rollback_rate", "change_failure_rate"):
            inputs.signals = self._signals(query, lower=lower)
        if query.metric == "lead_time_for_changes":
            pulls = self.sync.merged_pulls(query.repo, lower=lower)
            inputs.merges = events.merge_instants(pulls, base=query.branch)
        return inputs

    def _deploys(self, query: GithubQuery, *, lower: datetime) -> _Inputs:
        repo = query.repo
        if query.deployments_from == "releases":
            return _Inputs(events.deploys_from_releases(self.sync.releases(repo, lower=lower)))
        if query.deployments_from == "workflow_runs":
            assert query.workflow is not None  # the query validator guarantees it
            workflow_id = self.runs.workflow_id(repo, query.workflow)
            runs = [
                run
                for run in self.runs.runs(
                    repo, workflow_id=workflow_id, branch=query.branch, lower=lower
                )
                if run["workflow_id"] in (None, workflow_id)
                and (query.branch is None or run["head_branch"] == query.branch)
            ]
            return _Inputs(events.deploys_from_runs(runs), runs=runs)
        production = re.compile(query.environment, re.IGNORECASE)
        found = self.sync.deployments(
            repo, lower=lower, wanted=lambda d: bool(production.search(d["environment"]))
        )
        chosen = [d for d in found if production.search(d["environment"])]
        deploys = [deploy for d in chosen if (deploy := events.deploy_from_deployment(d))]
        seen = sorted({d["environment"] for d in found})
        return _Inputs(deploys, notes={"environments_seen": seen})

    def _signals(self, query: GithubQuery, *, lower: datetime) -> list[datetime]:
        repo, signals = query.repo, query.failure_signals
        instants: list[datetime] = []
        if "rollback_workflow" in signals:
            assert query.rollback_workflow is not None  # the query validator guarantees it
            workflow_id = self.runs.workflow_id(repo, query.rollback_workflow)
            runs = self.runs.runs(repo, workflow_id=workflow_id, branch=None, lower=lower)
            instants += [
                events.run_instant(r)
                for r in runs
                if r["status"] == "completed"
                and r["conclusion"] == "success"
                and r["workflow_id"] in (None, workflow_id)
            ]
        if "revert_pr" in signals:
            instants += events.revert_instants(self.sync.merged_pulls(repo, lower=lower))
        if "incident_issue" in signals:
            label = query.incident_label
            issues = self.sync.labelled_issues(repo, label=label, lower=lower)
            instants += [events.parse_time(i["created_at"]) for i in issues if label in i["labels"]]
        return instants


def _measurement(query: GithubQuery, inputs: _Inputs, window: Window) -> Measurement:
    """Compute the query's metric over `window` from gathered inputs; raise NoData if empty."""
    result = _compute(query, inputs, window)
    if result.value is None:
        raise NoData(
            f"github: nothing to compute {query.metric} from in {query.repo} between "
            f"{iso(window.start)} and {iso(window.end)} (deployments_from={query.deployments_from})"
        )
    details: dict[str, Any] = {
        "metric": query.metric,
        "repo": query.repo,
        "deployments_from": query.deployments_from,
        "window": {"start": iso(window.start), "end": iso(window.end), "length": query.window},
        "counted": result.counted,
        "band": dora_band(query.metric, result.value, per=query.per),
        "band_table": DORA_TABLE_VERSION,
        **result.details,
        **inputs.notes,
    }
    return Measurement(
        value=result.value,
        at=window.end,
        numerator=result.numerator,
        denominator=result.denominator,
        details=details,
    )


def _compute(query: GithubQuery, inputs: _Inputs, window: Window) -> Result:
    if query.metric == "deployment_frequency":
        return deployment_frequency(inputs.deploys, window, query.per)
    if query.metric == "deployment_duration":
        seconds = [
            duration
            for d in inputs.deploys
            if d.succeeded
            and window.holds(d.at)
            and (duration := inputs.durations.get(d.key.removeprefix("run:"))) is not None
        ]
        return deployment_duration(seconds, query.statistic)
    if query.metric == "lead_time_for_changes":
        return lead_time(inputs.deploys, inputs.merges, window)
    use_status = "deployment_status" in query.failure_signals
    return failure_rate(inputs.deploys, inputs.signals, window, use_status=use_status)


def _auth(settings: GithubSettings) -> Auth.Auth | None:
    """Return PyGithub's auth for the settings: App installation, token, or anonymous."""
    if settings.app_id is not None and settings.private_key is not None:
        app = Auth.AppAuth(settings.app_id, settings.private_key.get_secret_value())
        assert settings.installation_id is not None  # the settings validator guarantees it
        return app.get_installation_auth(settings.installation_id)
    if settings.token is not None:
        return Auth.Token(settings.token.get_secret_value())
    return None
