"""The progress engine's inputs and its result, as plain frozen data.

Every layer passes these: sync builds a `KeyResultSpec`, the store fills a `SampleView`
and a `LastAttempt`, the engine (`app.core.progress`) returns an `Evaluation`. They live
apart from the engine so that what carries them needs nothing but this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.domain import Aggregate, Direction, Status
    from app.core.forecast import Forecast


@dataclass(frozen=True, slots=True)
class KeyResultSpec:
    """What the progress engine needs to know about one Key Result.

    `period_start` is when this Key Result is measured from: its period's start, or its
    own later start (added mid-period, or `start` in the config).
    """

    direction: Direction
    period_start: int
    period_end: int
    baseline: float | None = None
    baseline_from_first_sample: bool = False
    target: float | None = None
    relative_target: float | None = None
    band: tuple[float, float] | None = None
    interval_seconds: int | None = None
    aggregate: Aggregate | None = None
    aggregate_window: int | None = None
    value_range: tuple[float | None, float | None] = (None, None)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Status thresholds; the defaults are those the config documents."""

    at_risk_behind: float = 0.10
    off_track_behind: float = 0.25
    grace_fraction: float = 0.10
    stale_after_intervals: int = 3
    band_on_track_share: float = 0.90
    forecast_points: int = 30
    forecast_min_days: int = 3
    forecast_min_share: float = 0.10


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of evaluating a Key Result at one instant."""

    status: Status
    reason: str
    current_value: float | None = None
    current_ts: int | None = None
    baseline: float | None = None
    target: float | None = None
    progress: float | None = None
    expected_progress: float | None = None
    forecast: Forecast | None = None
    forecast_reason: str | None = None
    score: float | None = None
