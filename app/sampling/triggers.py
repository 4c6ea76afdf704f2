"""APScheduler triggers that fire at exactly a schedule's instants (`app.core.schedule`).

A sample's timestamp is its scheduled instant, so the job must fire at those instants and
no others: intervals aligned to the epoch, cron expressions as croniter reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from croniter import croniter

if TYPE_CHECKING:
    from app.core.schedule import Schedule


class CroniterTrigger(BaseTrigger):
    """Fire at a cron expression's instants exactly as croniter computes them.

    APScheduler 3's own `CronTrigger.from_crontab` counts weekdays from 0 = Monday, where
    crontab and croniter count from 0 = Sunday, and refuses expressions croniter accepts;
    one library for both firing and sample timestamps keeps the two in agreement.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the first instant strictly after the previous fire (or after now)."""
        base = previous_fire_time or now
        next_time: datetime = croniter(self.expression, base.astimezone(UTC)).get_next(datetime)
        return next_time

    def __str__(self) -> str:
        return f"cron[{self.expression}]"


def trigger_of(schedule: Schedule) -> BaseTrigger:
    """Return the APScheduler trigger that fires at exactly `schedule`'s instants."""
    if schedule.interval_seconds is not None:
        return IntervalTrigger(
            seconds=schedule.interval_seconds,
            start_date=datetime(1970, 1, 1, tzinfo=UTC),
            timezone=UTC,
        )
    assert schedule.cron is not None
    return CroniterTrigger(schedule.cron)
