"""The config's Objectives and Key Results, as pydantic models, and the quarters they run in.

What an OKR is written as (targets, baselines, bands, sources, schedules, periods), apart
from the service's sections (`app.config.models`) and the alert and delivery ones
(`app.config.delivery`). `quarter_of` and `quarter_bounds` live here because a
period is written as a quarter; reports and period events use them too.
"""

from __future__ import annotations

import re
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from app.config.base import SLUG, AlertRulesConfig, StrictModel
from app.core.domain import Aggregate, Direction, parse_amount
from connectors.durations import parse_duration

_RELATIVE_TARGET = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)\s*%\s*$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
CURRENT_QUARTER = "current-quarter"


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


class SourceSpec(BaseModel):
    """A Key Result's `source`: a connector name and that connector's query fields."""

    model_config = ConfigDict(extra="allow")
    connector: str

    def query_fields(self) -> dict[str, Any]:
        """Return the connector-specific fields (everything but `connector`)."""
        return dict(self.model_extra or {})


class AggregationConfig(StrictModel):
    """Take the current value as an aggregate of the samples in a trailing window."""

    function: Aggregate = Aggregate.AVG
    window: str

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class KeyResultConfig(StrictModel):
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
        if isinstance(self.target, str):  # validated against `_RELATIVE_TARGET`
            return parse_amount(self.target)[0]
        return None


class ObjectiveConfig(StrictModel):
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
