"""The config file's shape: every section, key and default, as pydantic models.

Unknown keys are errors (`extra="forbid"`). Checks that span several keys live in
`app.config_checks`; loading, `${ENV}` interpolation and `*_file` secrets in `app.config`.
"""

from __future__ import annotations

import re
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from app.domain import Aggregate, Direction
from app.durations import parse_duration

SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_RELATIVE_TARGET = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)\s*%\s*$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
CURRENT_QUARTER = "current-quarter"
DEFAULT_PUBLIC_URL = "http://localhost:8080"


def quarter_of(day: date) -> str:
    """Return the quarter `day` falls in, written as the config writes it ("2026-Q4")."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(period: str) -> tuple[datetime, datetime]:
    """Return a quarter such as "2026-Q4" as [start, end) in UTC; ValueError if it is not one."""
    match = _QUARTER.match(period)
    year, quarter = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if year < 1:  # year 0000 matches the pattern but is no calendar year
        raise ValueError(f'{period!r} is not a quarter; write it as "2026-Q4"')
    first = date(year, 3 * quarter - 2, 1)
    after = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return datetime.combine(first, time(), tzinfo=UTC), datetime.combine(after, time(), tzinfo=UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_number_or_relative(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError('must be a number or a relative change such as "-30%"')
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _RELATIVE_TARGET.match(value):
        return value.strip()
    raise ValueError(
        f'{value!r} is neither a number nor a relative change such as "-30%" or "+20%"'
    )


def _check_baseline(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if value == "first_sample":
        return value
    raise ValueError(f'{value!r} is neither a number nor "first_sample"')


TargetSpec = Annotated[float | str, BeforeValidator(_check_number_or_relative)]
BaselineSpec = Annotated[float | Literal["first_sample"], BeforeValidator(_check_baseline)]


class DatabaseConfig(_Strict):
    """Where samples live: a SQLite file by default, PostgreSQL for several replicas."""

    url: str = "sqlite:///krtracker.db"


class ApiToken(_Strict):
    """A bearer token for the API; write scope is needed for every write endpoint."""

    name: str
    token: SecretStr
    scopes: list[Literal["read", "write"]] = ["read", "write"]


class ApiConfig(_Strict):
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


class WebConfig(_Strict):
    """The dashboard's pages (see `app.web`)."""

    refresh_seconds: int = Field(30, ge=1, le=3600)
    session_secret: SecretStr | None = None
    page_size: int = Field(25, ge=1, le=500)


class StatusConfig(_Strict):
    """Thresholds of the status rules (see `app.progress`)."""

    at_risk_behind: float = Field(0.10, ge=0, le=1)
    off_track_behind: float = Field(0.25, ge=0, le=1)
    grace_fraction: float = Field(0.10, ge=0, le=1)
    stale_after_intervals: int = Field(3, ge=1)
    band_on_track_share: float = Field(0.90, ge=0, le=1)
    forecast_points: int = Field(30, ge=3)
    forecast_min_days: int = Field(3, ge=1)
    forecast_min_share: float = Field(0.10, ge=0, le=1)


class SchedulerConfig(_Strict):
    """How the sampler runs (see `app.scheduler` for why each default is what it is)."""

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


class SourceSpec(BaseModel):
    """A Key Result's `source`: a connector name and that connector's query fields."""

    model_config = ConfigDict(extra="allow")
    connector: str

    def query_fields(self) -> dict[str, Any]:
        """Return the connector-specific fields (everything but `connector`)."""
        return dict(self.model_extra or {})


class AggregationConfig(_Strict):
    """Take the current value as an aggregate of the samples in a trailing window."""

    function: Aggregate = Aggregate.AVG
    window: str

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


def _check_amount(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError('must be a number or a percentage such as "5%"')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str) and re.match(r"^\s*\d+(\.\d+)?\s*%\s*$", value):
        return value.strip()
    raise ValueError(f'{value!r} is neither a number nor a percentage such as "5%"')


AmountSpec = Annotated[float | str, BeforeValidator(_check_amount)]
EventName = Literal[
    "kr.regressed",
    "kr.status_changed",
    "kr.recovered",
    "kr.stale",
    "kr.achieved",
    "kr.forecast_miss",
]
# Webhooks may also ask for events that are about a period, not a Key Result.
WebhookEventName = Literal[EventName, "okr.period_closed"]


class MuteWindow(_Strict):
    """A time range (with time zone) during which firing alerts are held back."""

    start: datetime
    end: datetime
    reason: str = ""


class AlertRulesConfig(_Strict):
    """Alert rules; `[alerts]` sets defaults, an objective's or KR's `alerts` overrides them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    enabled: bool | None = None
    events: list[EventName] | None = None
    regression_threshold: AmountSpec | None = None
    regression_from: Literal["previous", "best"] | None = None
    hysteresis: AmountSpec | None = None
    for_samples: int | None = Field(None, ge=1, le=1000)
    for_: str | None = Field(None, alias="for")
    repeat_interval: str | None = None
    mute: list[MuteWindow] | None = None

    @field_validator("for_", "repeat_interval")
    @classmethod
    def _is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class AlertsConfig(AlertRulesConfig):
    """`[alerts]`: default rules plus delivery settings."""

    allow_private_targets: list[str] = []
    max_retry_age: str = "24h"
    delivery_timeout_seconds: float = Field(10, gt=0, le=60)


class SmtpConfig(_Strict):
    """`[smtp]`: the mail server `email` webhooks send through (see `app.email_delivery`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    # `password_file = "/run/secrets/smtp"` is read into `password` when the file is loaded.
    password: SecretStr | None = None
    from_: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_seconds: float = Field(10, gt=0, le=60)


class WebhookConfig(_Strict):
    """`[[webhooks]]`: where events go, in which format, for which events, objectives, teams.

    An `email` webhook has no `url`: it sends through `[smtp]` to the addresses in `to`.
    """

    name: str = Field(pattern=SLUG)
    url: str | None = Field(None, pattern=r"^https?://")
    format: Literal["generic", "slack", "alertmanager", "email"] = "generic"
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] | None = None
    secret: SecretStr | None = None
    headers: dict[str, SecretStr] = {}
    events: list[WebhookEventName] | None = None
    objectives: list[str] | None = None
    teams: list[str] | None = None

    @model_validator(mode="after")
    def _target_fits_format(self) -> WebhookConfig:
        if self.format == "email":
            if not self.to:
                raise ValueError('an email webhook needs to = ["someone@example.com", ...]')
            if self.url is not None:
                raise ValueError("an email webhook has no url: it sends through [smtp]")
        elif self.url is None:
            raise ValueError("url is required (an http:// or https:// address)")
        elif self.to is not None:
            raise ValueError("to is only for email webhooks")
        return self

    @model_validator(mode="after")
    def _alertmanager_takes_alerts_only(self) -> WebhookConfig:
        # An Alertmanager receives alerts about a Key Result; a period's close is none.
        if self.format == "alertmanager" and "okr.period_closed" in (self.events or []):
            raise ValueError('an "alertmanager" webhook cannot take okr.period_closed')
        return self

    @property
    def target(self) -> str:
        """Return the URL, or `mailto:` and the addresses of an email webhook."""
        return self.url if self.url is not None else "mailto:" + ",".join(self.to or [])


class DigestConfig(_Strict):
    """`[[digests]]`: a review of the last `since` sent to `webhooks` at each `cron` instant."""

    name: str = Field(pattern=SLUG)
    cron: str = "0 9 * * MON"
    # None: every objective; else the objectives of these teams only.
    teams: list[str] | None = None
    webhooks: list[str] = Field(min_length=1)
    since: str = "7d"

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid 5-field cron expression")
        return value

    @field_validator("since")
    @classmethod
    def _since_is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class RemindersConfig(_Strict):
    """`[reminders]`: ask owners for a check-in when a Key Result has none for `checkin_every`."""

    webhooks: list[str] = []
    checkin_every: str = "7d"

    @field_validator("checkin_every")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class LintConfig(_Strict):
    """`[lint]`: OKR practice warnings, each of which can be turned off."""

    no_measure: bool = True
    output_titles: bool = True
    key_results_per_objective: bool = True
    objectives_per_team: bool = True


class KeyResultConfig(_Strict):
    """One Key Result as written in the file."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    unit: str = ""
    direction: Direction
    baseline: BaselineSpec | None = None
    target: TargetSpec | None = None
    band: tuple[float, float] | None = None
    source: SourceSpec | None = None
    every: str | None = None
    cron: str | None = None
    aggregate: AggregationConfig | None = None
    start: date | None = None
    range: tuple[float, float] | None = None
    description: str = ""
    revision_note: str | None = None
    alerts: AlertRulesConfig | None = None
    # How often its objective's owner is asked for a check-in (see `[reminders]`).
    checkin_every: str | None = None

    @field_validator("every", "checkin_every")
    @classmethod
    def _every_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid 5-field cron expression")
        return value

    @property
    def interval_seconds(self) -> int | None:
        """Return the sampling interval, or None for cron or unscheduled KRs."""
        return parse_duration(self.every) if self.every else None

    @property
    def start_ts(self) -> int | None:
        """Return the Key Result's own start (00:00 UTC of `start`), or None."""
        if self.start is None:
            return None
        return int(datetime.combine(self.start, time(), tzinfo=UTC).timestamp())

    @property
    def relative_target(self) -> float | None:
        """Return a relative target as a fraction (`"-30%"` -> -0.3), else None."""
        if isinstance(self.target, str):
            match = _RELATIVE_TARGET.match(self.target)
            assert match is not None
            return float(match.group(1)) / 100.0
        return None


class ObjectiveConfig(_Strict):
    """One Objective and its Key Results."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    owner: str | None = None
    team: str | None = None
    period: str | None = None
    start: date | None = None
    end: date | None = None
    parent: str | None = None
    description: str = ""
    alerts: AlertRulesConfig | None = None
    checkin_every: str | None = None
    key_results: list[KeyResultConfig] = []

    @field_validator("checkin_every")
    @classmethod
    def _checkin_every_is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("period")
    @classmethod
    def _period_is_quarter(cls, value: str | None) -> str | None:
        # "current-quarter" is resolved once, when the file is loaded (at every start), so
        # an example or a team's standing config never ages into a closed period.
        if value == CURRENT_QUARTER:
            return quarter_of(datetime.fromtimestamp(time_module.time(), UTC).date())
        if value is not None:
            try:
                quarter_bounds(value)
            except ValueError:
                raise ValueError(
                    f'{value!r} is not a quarter; write it as "2026-Q4" or "{CURRENT_QUARTER}"'
                ) from None
        return value

    def period_bounds(self) -> tuple[datetime, datetime]:
        """Return the period as [start, end) in UTC; `end` is the day after the last day."""
        if self.period:
            return quarter_bounds(self.period)
        assert self.start is not None and self.end is not None
        first, after = self.start, self.end + timedelta(days=1)
        return (
            datetime.combine(first, time(), tzinfo=UTC),
            datetime.combine(after, time(), tzinfo=UTC),
        )


class KrTrackerConfig(_Strict):
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
