"""When a Key Result is sampled: `every = "15m"` or a cron expression, aligned to its instants.

A sample's timestamp is the scheduled instant, not the moment the job happened to run,
so a retried or duplicated run writes the same (Key Result, ts) row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from croniter import croniter

if TYPE_CHECKING:
    from collections.abc import Collection

# How many upcoming cron instants to look at when judging the longest gap between two.
_CRON_GAP_SAMPLE = 64


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval aligned to the UNIX epoch or a 5-field cron expression (UTC)."""

    interval_seconds: int | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError("a schedule has either an interval or a cron expression")

    def instant_at_or_before(self, ts: float) -> int:
        """Return the latest scheduled instant at or before `ts`."""
        if self.interval_seconds is not None:
            return int(ts // self.interval_seconds) * self.interval_seconds
        assert self.cron is not None
        base = datetime.fromtimestamp(int(ts) + 1, UTC)
        return int(croniter(self.cron, base).get_prev(datetime).timestamp())

    def instants_between(self, start: int, end: int, *, limit: int) -> list[int]:
        """Return up to the last `limit` scheduled instants in [start, end]."""
        if self.interval_seconds is not None:
            first = -(-start // self.interval_seconds) * self.interval_seconds
            instants = list(range(first, end + 1, self.interval_seconds))
            return instants[-limit:]
        assert self.cron is not None
        out: list[int] = []
        it = croniter(self.cron, datetime.fromtimestamp(end + 1, UTC))
        while len(out) < limit:
            prev = int(it.get_prev(datetime).timestamp())
            if prev < start:
                break
            out.append(prev)
        return out[::-1]

    def approx_interval_seconds(self) -> int:
        """Return the interval, or the longest gap between upcoming cron instants.

        The longest gap (not the first) keeps an irregular cron such as `0 9 1,2 * *` from
        being called stale for most of the month.
        """
        if self.interval_seconds is not None:
            return self.interval_seconds
        assert self.cron is not None
        it = croniter(self.cron, datetime(2026, 1, 1, tzinfo=UTC))
        instants = [it.get_next(datetime) for _ in range(_CRON_GAP_SAMPLE)]
        return int(
            max((b - a).total_seconds() for a, b in zip(instants, instants[1:], strict=False))
        )


def missed_instants(
    schedule: Schedule,
    *,
    covered_through: int | None,
    period_start: int,
    until: int,
    limit: int,
    pending: Collection[int] = (),
) -> list[int]:
    """Return the instants before `until` that no sample covers yet: the latest `limit`.

    Those after `covered_through` (the newest stored sample, or how far history was
    asked), from the period start at the earliest, and not `pending` (sampled, their write
    still queued).
    """
    step = schedule.approx_interval_seconds()
    start = period_start if covered_through is None else max(period_start, covered_through + 1)
    start = max(start, until - step * limit)
    if start >= until:
        return []
    return [i for i in schedule.instants_between(start, until - 1, limit=limit) if i not in pending]


DEFAULT_INTERVAL_SECONDS = 3600


def schedule_of(*, every_seconds: int | None, cron: str | None, polled: bool) -> Schedule | None:
    """Return a Key Result's schedule: its own, hourly by default, None when not polled.

    A Key Result fed by people (the manual connector, or no source) has no schedule unless
    it names one; then `every` only says how often a value is expected (for `stale`).
    """
    if every_seconds is None and cron is None:
        return Schedule(interval_seconds=DEFAULT_INTERVAL_SECONDS) if polled else None
    return Schedule(interval_seconds=every_seconds, cron=cron)
