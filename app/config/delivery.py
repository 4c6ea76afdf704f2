"""The config's alert and delivery sections: alerts, webhooks, smtp, digests, reminders.

They describe what is sent, when and where, apart from the objectives they are about
(`app.config.objectives`), which reuse `AlertRulesConfig` to override `[alerts]`.
Checks across sections (duplicate webhook names, unknown objectives) are in
`app.config.checks` and `app.config.digests`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from croniter import croniter
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from app.config.base import SLUG, AlertRulesConfig, EventName, StrictModel
from connectors.durations import parse_duration

# Webhooks may also ask for events that are about a period, not a Key Result.
WebhookEventName = Literal[EventName, "okr.period_closed"]


class AlertsConfig(AlertRulesConfig):
    """`[alerts]`: default rules plus delivery settings."""

    allow_private_targets: list[str] = []
    max_retry_age: str = "24h"
    delivery_timeout_seconds: float = Field(10, gt=0, le=60)


class SmtpConfig(StrictModel):
    """`[smtp]`: the mail server `email` webhooks send through (see `app.alerts.email`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    # `password_file = "/run/secrets/smtp"` is read into `password` when the file is loaded.
    password: SecretStr | None = None
    from_: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_seconds: float = Field(10, gt=0, le=60)


class WebhookConfig(StrictModel):
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


class DigestConfig(StrictModel):
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


class RemindersConfig(StrictModel):
    """`[reminders]`: ask owners for a check-in when a Key Result has none for `checkin_every`."""

    webhooks: list[str] = []
    checkin_every: str = "7d"

    @field_validator("checkin_every")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value
