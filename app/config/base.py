"""What the config model modules share: strict sections, ids, and the alert rules.

Unknown keys are errors, ids follow one pattern, and the alert rules (`[alerts]`, and an
objective's or Key Result's `alerts`) are one model. Its own module because
`app.config.models` (the whole file) imports the section modules (`app.config.objectives`,
`app.config.delivery`), which need these too.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from connectors.durations import parse_duration

# An objective, Key Result, webhook or digest id: lower case, digits, - _ . (at most 64).
SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class StrictModel(BaseModel):
    """A config section in which an unknown key (a typo) is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


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


class MuteWindow(StrictModel):
    """A time range (with time zone) during which firing alerts are held back."""

    start: datetime
    end: datetime
    reason: str = ""


class AlertRulesConfig(StrictModel):
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
