"""The config file's shape: the whole file (`KrTrackerConfig`) and the service's own sections.

Unknown keys are errors (`extra="forbid"`). The Objective and Key Result models are in
`app.config.objectives`, the alert and delivery ones in `app.config.delivery`;
checks that span several keys live in `app.config.checks`; loading, `${ENV}` interpolation
and `*_file` secrets in `app.config.loading`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from app.config.base import StrictModel
from app.config.delivery import (
    AlertsConfig,
    DigestConfig,
    RemindersConfig,
    SmtpConfig,
    WebhookConfig,
)
from app.config.objectives import ObjectiveConfig
from connectors.durations import parse_duration

DEFAULT_PUBLIC_URL = "http://localhost:8080"


class DatabaseConfig(StrictModel):
    """Where samples live: a SQLite file by default, PostgreSQL for several replicas."""

    url: str = "sqlite:///krtracker.db"


class ApiToken(StrictModel):
    """A bearer token for the API; write scope is needed for every write endpoint."""

    name: str
    token: SecretStr
    scopes: list[Literal["read", "write"]] = ["read", "write"]


class ApiConfig(StrictModel):
    """Who may call the API."""

    tokens: list[ApiToken] = []
    require_token_for_reads: bool = False
    # Unset: `serve` uses the address it listens on (http://localhost:PORT).
    public_url: str | None = None
    # Larger request bodies are refused with 413 before they are read.
    max_body_bytes: int = Field(1_048_576, ge=1024, le=1_073_741_824)

    def link_base(self) -> str:
        """Return the base of links to this service, without a trailing slash."""
        return (self.public_url or DEFAULT_PUBLIC_URL).rstrip("/")


class WebConfig(StrictModel):
    """The dashboard's pages (see `app.web`)."""

    refresh_seconds: int = Field(30, ge=1, le=3600)
    session_secret: SecretStr | None = None
    page_size: int = Field(25, ge=1, le=500)


class StatusConfig(StrictModel):
    """Thresholds of the status rules (see `app.core.progress`)."""

    at_risk_behind: float = Field(0.10, ge=0, le=1)
    off_track_behind: float = Field(0.25, ge=0, le=1)
    grace_fraction: float = Field(0.10, ge=0, le=1)
    stale_after_intervals: int = Field(3, ge=1)
    band_on_track_share: float = Field(0.90, ge=0, le=1)
    forecast_points: int = Field(30, ge=3)
    forecast_min_days: int = Field(3, ge=1)
    forecast_min_share: float = Field(0.10, ge=0, le=1)


class SchedulerConfig(StrictModel):
    """How the sampler runs (see `app.sampling.scheduler` for why each default is what it is)."""

    max_workers: int = Field(16, ge=1, le=256)
    per_connector_concurrency: int = Field(4, ge=1, le=64)
    attempt_timeout_seconds: float = Field(60, gt=0)
    reevaluate_every: str = "5m"
    backoff_max: str = "1h"
    leader_poll_seconds: float = Field(5, gt=0)

    @field_validator("reevaluate_every", "backoff_max")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class ConnectorSection(BaseModel):
    """`[connectors.NAME]`: a `type` and that connector's own settings (checked later)."""

    model_config = ConfigDict(extra="allow")
    type: str


class LintConfig(StrictModel):
    """`[lint]`: OKR practice warnings, each of which can be turned off."""

    no_measure: bool = True
    output_titles: bool = True
    key_results_per_objective: bool = True
    objectives_per_team: bool = True


class KrTrackerConfig(StrictModel):
    """The whole file."""

    database: DatabaseConfig = DatabaseConfig()
    api: ApiConfig = ApiConfig()
    web: WebConfig = WebConfig()
    status: StatusConfig = StatusConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    alerts: AlertsConfig = AlertsConfig()
    webhooks: list[WebhookConfig] = []
    smtp: SmtpConfig | None = None
    digests: list[DigestConfig] = []
    reminders: RemindersConfig = RemindersConfig()
    lint: LintConfig = LintConfig()
    connectors: dict[str, ConnectorSection] = {}
    objectives: list[ObjectiveConfig] = []
