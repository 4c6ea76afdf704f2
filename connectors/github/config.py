"""The github connector's settings (`[connectors.NAME]`) and query (a Key Result's `source`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import ConnectorQuery, ConnectorSettings
from connectors.durations import parse_duration

DEFAULT_ENVIRONMENT = r"^(prod|production|live)$"
_DAY_SECONDS = 86_400

Metric = Literal[
    "deployment_frequency",
    "deployment_duration",
    "rollback_rate",
    "change_failure_rate",
    "lead_time_for_changes",
]
Signal = Literal["deployment_status", "rollback_workflow", "revert_pr", "incident_issue"]


class GithubSettings(ConnectorSettings):
    """`[connectors.NAME]` with `type = "github"`: where GitHub is and how to sign in.

    Give `token` (a PAT or `${GITHUB_TOKEN}`), or all of `app_id`, `private_key`
    (`private_key_file`) and `installation_id` for a GitHub App, or neither for anonymous
    access to public repositories (60 requests an hour).
    """

    token: SecretStr | None = None
    app_id: int | None = None
    private_key: SecretStr | None = None
    installation_id: int | None = None
    base_url: str = "https://api.github.com"
    timeout_seconds: int = Field(15, ge=1, le=300)
    # A rate limit that asks for a longer wait than this fails the sample with
    # RateLimited(until=...) instead of holding a scheduler thread.
    max_rate_limit_wait_seconds: float = Field(10, ge=0, le=900)

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        # `token = "${GITHUB_TOKEN:-}"` with the variable unset means anonymous access.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> GithubSettings:
        app = (self.app_id, self.private_key, self.installation_id)
        if any(v is not None for v in app) and any(v is None for v in app):
            raise ValueError("a GitHub App needs all of app_id, private_key and installation_id")
        if self.token is not None and self.app_id is not None:
            raise ValueError("give either token or the GitHub App settings, not both")
        return self


class GithubQuery(ConnectorQuery):
    """A Key Result's `source` for the github connector.

    `deployments_from` says what a production deployment is:
    `"deployments"`: GitHub Deployments whose environment matches `environment` (a
    case-insensitive regex), judged by their statuses; `"workflow_runs"`: completed runs
    of `workflow` (file name, id or name) on `branch`, conclusion `success` (a `failure`
    or `timed_out` run is a failed attempt); `"releases"`: published, non-draft,
    non-prerelease releases. A run counts once however many times it was re-run.

    `failure_signals` (for the two rate metrics) say what makes a deployment failed:
    `"deployment_status"` its own outcome (status failure/error, run failure/timed_out);
    `"rollback_workflow"` a successful run of `rollback_workflow`; `"revert_pr"` a merged
    PR from a GitHub `revert-N-...` branch; `"incident_issue"` an issue labelled
    `incident_label`. Each signal blames the latest successful deployment at or before
    it (`metrics.failure_rate`). `window` is `"28d"`-style or a number of days;
    `per` applies to frequency, `statistic` to duration, `branch` also filters the PRs
    of lead time by their base branch.
    """

    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    metric: Metric
    window: str | int = "28d"
    per: Literal["day", "week"] = "day"
    statistic: Literal["median", "p90"] = "median"
    deployments_from: Literal["deployments", "workflow_runs", "releases"] = "deployments"
    environment: str = DEFAULT_ENVIRONMENT
    workflow: str | int | None = None
    branch: str | None = None
    failure_signals: list[Signal] = ["deployment_status"]
    rollback_workflow: str | int | None = None
    incident_label: str = "incident"

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str | int) -> str | int:
        window_seconds(value)
        return value

    @field_validator("environment")
    @classmethod
    def _environment_is_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _needs_match(self) -> GithubQuery:
        if self.deployments_from == "workflow_runs" and self.workflow is None:
            raise ValueError('deployments_from = "workflow_runs" needs workflow (file name or id)')
        if self.metric == "deployment_duration" and self.deployments_from != "workflow_runs":
            raise ValueError('deployment_duration is measured from jobs: use "workflow_runs"')
        if "rollback_workflow" in self.failure_signals and self.rollback_workflow is None:
            raise ValueError('the "rollback_workflow" signal needs rollback_workflow')
        return self


def window_seconds(value: str | int) -> int:
    """Return a window in seconds: an int is days, a string is a duration such as `"28d"`."""
    if isinstance(value, str):
        return parse_duration(value)
    if value <= 0:
        raise ValueError(f"window {value!r} must be longer than zero")
    return value * _DAY_SECONDS
