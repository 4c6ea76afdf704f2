"""When a failing source is asked again: one connector's health, as pure data and functions.

A source that is down fails every Key Result it feeds at once; counting each of them as a
failure made fifty Key Results at `every = "1s"` reach an hour of backoff within seconds
of a three-second outage. So a connector counts one failure per sampling instant, however
many of its Key Results failed at it; while it backs off its Key Results are skipped (and
say why), then one job probes it, and the first answer resumes them all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

# The backoff step is the sampling interval, but never more than this at the first failure.
MAX_FIRST_STEP_SECONDS = 60


class Decision(StrEnum):
    """What a job does with its connector: ask it, ask it as the one probe, or skip it."""

    ASK = "ask"
    PROBE = "probe"
    SKIP = "skip"


class Change(StrEnum):
    """A change of a connector's state worth one log line."""

    DOWN = "down"
    STILL_DOWN = "still_down"
    UP = "up"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A connector's failure streak: since when, how many failed instants, when to try again.

    `failures` counts distinct failed sampling instants in a row; `probing` is set while
    the one job allowed after the backoff delay waits for its answer, and `probe_id`
    numbers the probes, so that the answer of a probe from an outage already over does
    not release the current one.
    """

    failures: int = 0
    down_since: int | None = None
    last_failed_instant: int | None = None
    last_ok_instant: int | None = None
    next_try_ts: int = 0
    probing: bool = False
    probe_id: int = 0
    last_reason: str | None = None

    @property
    def down(self) -> bool:
        """Return whether the connector backs off now (at least one failed instant)."""
        return self.failures > 0


def decide(health: SourceHealth, *, now: int) -> tuple[Decision, SourceHealth]:
    """Return what a job starting at `now` does, and the state after it claimed a probe."""
    if not health.down:
        return Decision.ASK, health
    if health.probing or now < health.next_try_ts:
        return Decision.SKIP, health
    return Decision.PROBE, replace(health, probing=True, probe_id=health.probe_id + 1)


def backoff_delay(failures: int, *, interval: int, backoff_max: int) -> int:
    """Return the wait after `failures` failed instants: the interval, doubling, capped."""
    step = max(1, min(interval, MAX_FIRST_STEP_SECONDS))
    return int(min(backoff_max, step * 2 ** min(failures - 1, 32)))


def after_attempt(
    health: SourceHealth,
    *,
    instant: int,
    now: int,
    failure: str | None,
    probe: int | None,
    interval: int,
    backoff_max: int,
) -> tuple[SourceHealth, Change | None]:
    """Return the state after an attempt at `instant` ended (`failure`: its reason, or None).

    `probe` is the `probe_id` of a probing job (None for the others). Several Key Results
    failing at one instant count once. An answer about an instant older than the latest
    success is old news and changes nothing (a slow job of the past must not take a
    recovered source down again).
    """
    if probe is not None and probe == health.probe_id:
        health = replace(health, probing=False)
    if failure is None:
        ok_instant = max(instant, health.last_ok_instant or instant)
        if not health.down:
            return replace(health, last_ok_instant=ok_instant), None
        return SourceHealth(last_ok_instant=ok_instant, probe_id=health.probe_id), Change.UP
    if health.last_ok_instant is not None and instant <= health.last_ok_instant:
        return health, None
    if health.down and health.last_failed_instant is not None:
        if instant <= health.last_failed_instant and probe is None:
            return replace(health, last_reason=failure), None
    failures = health.failures + 1
    delay = backoff_delay(failures, interval=interval, backoff_max=backoff_max)
    failed = replace(
        health,
        failures=failures,
        down_since=health.down_since if health.down_since is not None else now,
        last_failed_instant=max(instant, health.last_failed_instant or instant),
        next_try_ts=now + delay,
        last_reason=failure,
    )
    return failed, Change.DOWN if not health.down else Change.STILL_DOWN


def clock_time(ts: int, *, now: int) -> str:
    """Return `ts` as HH:MM:SS UTC, with the date when it is not the day of `now`."""
    moment = datetime.fromtimestamp(ts, UTC)
    if moment.date() == datetime.fromtimestamp(now, UTC).date():
        return moment.strftime("%H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def skip_reason(health: SourceHealth, *, now: int) -> str:
    """Return why a Key Result was not sampled: since when the source is away, next try."""
    since = health.down_since if health.down_since is not None else now
    reason = (
        f"source unavailable since {clock_time(since, now=now)}, "
        f"next try {clock_time(max(health.next_try_ts, now), now=now)}"
    )
    if health.last_reason:
        reason += f" (last error: {health.last_reason})"
    return reason


def change_message(
    change: Change, connector: str, *, before: SourceHealth, after: SourceHealth, now: int
) -> str:
    """Return the one log line for a change of a connector's state."""
    if change is Change.UP:
        since = before.down_since if before.down_since is not None else now
        return f"connector {connector} answers again after {now - since} s; sampling resumes"
    next_try = clock_time(after.next_try_ts, now=now)
    if change is Change.DOWN:
        return (
            f"connector {connector} is unavailable ({after.last_reason}); "
            f"its Key Results are skipped until {next_try}"
        )
    return (
        f"connector {connector} still unavailable after {after.failures} failed instant(s) "
        f"({after.last_reason}); next try {next_try}"
    )
