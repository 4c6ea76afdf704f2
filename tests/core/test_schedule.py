"""Sampling schedules: aligned instants, the APScheduler trigger, defaults and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.config.objectives import KeyResultConfig
from app.core.schedule import DEFAULT_INTERVAL_SECONDS, Schedule, schedule_of
from app.sampling.triggers import trigger_of
from connectors.durations import parse_duration
from connectors.manual import ManualConnector


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Return the UNIX time of a UTC wall-clock instant."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def utc(epoch: float) -> datetime:
    """Return a UNIX time as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)


# ---- instant_at_or_before ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "at", "expected"),
    [
        (900, 1000, 900),
        (900, 900, 900),
        (900, 899.5, 0),
        (3600, ts(2026, 10, 1, 10, 59, 59), ts(2026, 10, 1, 10)),
        (86400, ts(2026, 10, 1, 23, 59), ts(2026, 10, 1)),
        (604800, ts(2026, 10, 3), ts(2026, 10, 1)),  # the epoch and 2026-10-01 are Thursdays
    ],
)
def test_interval_instants_are_aligned_to_the_epoch(
    interval: int, at: float, expected: int
) -> None:
    """An interval schedule's instant is the latest multiple of the interval since 1970."""
    assert Schedule(interval_seconds=interval).instant_at_or_before(at) == expected


@settings(max_examples=300, deadline=None)
@given(interval=st.integers(min_value=1, max_value=30 * 86400),
       at=st.floats(min_value=0, max_value=4e9))
def test_interval_instant_is_the_latest_multiple(interval: int, at: float) -> None:
    """The instant is a multiple of the interval, at or before `at`, less than one interval ago."""
    instant = Schedule(interval_seconds=interval).instant_at_or_before(at)
    assert instant % interval == 0
    assert instant <= at < instant + interval


@pytest.mark.parametrize(
    ("cron", "at", "expected"),
    [
        ("*/15 * * * *", ts(2026, 10, 1, 10, 7, 30), ts(2026, 10, 1, 10)),
        ("*/15 * * * *", ts(2026, 10, 1, 10, 15), ts(2026, 10, 1, 10, 15)),
        ("*/15 * * * *", ts(2026, 10, 1, 10, 15) + 0.5, ts(2026, 10, 1, 10, 15)),
        ("0 9 * * *", ts(2026, 10, 1, 8, 59), ts(2026, 9, 30, 9)),
        ("0 9 * * MON", ts(2026, 3, 11, 12), ts(2026, 3, 9, 9)),
        ("0 9 * * 1", ts(2026, 3, 11, 12), ts(2026, 3, 9, 9)),
        ("30 2 1 * *", ts(2026, 3, 1, 2, 29), ts(2026, 2, 1, 2, 30)),
        ("0 0 1 1 *", ts(2026, 6, 1), ts(2026, 1, 1)),
    ],
)
def test_cron_instant_at_or_before(cron: str, at: float, expected: int) -> None:
    """A cron schedule's instant is its latest firing at or before `at` (UTC)."""
    assert Schedule(cron=cron).instant_at_or_before(at) == expected


def test_monday_cron_lands_on_mondays() -> None:
    """`0 9 * * 1` means Monday 09:00 as in crontab(5), checked with the calendar."""
    instant = utc(Schedule(cron="0 9 * * 1").instant_at_or_before(ts(2026, 3, 11, 12)))
    assert (instant.weekday(), instant.hour, instant.minute) == (0, 9, 0)


# ---- instants_between -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "end", "limit", "expected"),
    [
        (Schedule(interval_seconds=900), 1000, 4600, 10, [1800, 2700, 3600, 4500]),
        (Schedule(interval_seconds=900), 1000, 4600, 2, [3600, 4500]),
        (Schedule(interval_seconds=900), 900, 1800, 10, [900, 1800]),
        (Schedule(interval_seconds=900), 1000, 1700, 10, []),
        (Schedule(cron="0 * * * *"), ts(2026, 10, 1, 0, 30), ts(2026, 10, 1, 4), 10,
         [ts(2026, 10, 1, h) for h in (1, 2, 3, 4)]),
        (Schedule(cron="0 * * * *"), ts(2026, 10, 1, 0, 30), ts(2026, 10, 1, 4), 2,
         [ts(2026, 10, 1, 3), ts(2026, 10, 1, 4)]),
        (Schedule(cron="0 * * * *"), ts(2026, 10, 1, 1), ts(2026, 10, 1, 2), 10,
         [ts(2026, 10, 1, 1), ts(2026, 10, 1, 2)]),
        (Schedule(cron="0 9 * * MON"), ts(2026, 3, 1), ts(2026, 3, 31, 23), 10,
         [ts(2026, 3, d, 9) for d in (2, 9, 16, 23, 30)]),
    ],
)
def test_instants_between_is_inclusive_and_keeps_the_latest(
    schedule: Schedule, start: int, end: int, limit: int, expected: list[int]
) -> None:
    """Instants in [start, end] are listed oldest first, keeping the last `limit` of them."""
    assert schedule.instants_between(start, end, limit=limit) == expected


# ---- approx_interval_seconds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        (Schedule(interval_seconds=900), 900),
        (Schedule(cron="*/15 * * * *"), 900),
        (Schedule(cron="0 */6 * * *"), 6 * 3600),
        (Schedule(cron="0 9 * * *"), 86400),
        (Schedule(cron="0 9 * * MON"), 7 * 86400),
    ],
)
def test_approx_interval(schedule: Schedule, seconds: int) -> None:
    """The interval is the configured one, or the gap between two cron firings."""
    assert schedule.approx_interval_seconds() == seconds


# ---- the APScheduler trigger ------------------------------------------------------------


def fire_times(schedule: Schedule, now: datetime, count: int) -> list[datetime]:
    """Return the trigger's next `count` fire times after `now`, as APScheduler computes them."""
    trigger = trigger_of(schedule)
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and len(fires) < count:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return fires


def assert_fires_on_the_schedule(schedule: Schedule, now: datetime, fires: list[datetime]) -> None:
    """Check the fires are exactly the schedule's instants from `now` on, with none skipped."""
    assert fires
    instants = [int(f.timestamp()) for f in fires]
    assert all(f.timestamp() == i for f, i in zip(fires, instants, strict=True))
    # No scheduled instant in [now, first fire): the first fire is the next instant.
    assert schedule.instant_at_or_before(instants[0] - 1) < now.timestamp() <= instants[0]
    for earlier, later in zip(instants, instants[1:], strict=False):
        assert schedule.instant_at_or_before(later) == later
        assert schedule.instant_at_or_before(later - 1) == earlier


@pytest.mark.parametrize("interval", [60, 900, 3600, 7 * 60, 86400])
@pytest.mark.parametrize(
    "now", [datetime(2026, 10, 1, 10, 7, 30, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)]
)
def test_interval_trigger_fires_on_the_aligned_instants(interval: int, now: datetime) -> None:
    """The interval trigger fires at the epoch-aligned instants, starting at or after now."""
    schedule = Schedule(interval_seconds=interval)
    fires = fire_times(schedule, now, 5)
    first = -(-int(now.timestamp()) // interval) * interval  # ceil to a multiple
    assert [int(f.timestamp()) for f in fires] == [first + k * interval for k in range(5)]
    assert_fires_on_the_schedule(schedule, now, fires)


def test_weekly_trigger_fires_on_monday() -> None:
    """`0 9 * * MON` asked on Wednesday 2026-03-11 fires next on Monday 2026-03-16 09:00."""
    fires = fire_times(Schedule(cron="0 9 * * MON"), datetime(2026, 3, 11, 12, tzinfo=UTC), 2)
    assert fires == [datetime(2026, 3, 16, 9, tzinfo=UTC), datetime(2026, 3, 23, 9, tzinfo=UTC)]


def _check_accepted_cron_fires_on_its_instants(cron: str) -> None:
    try:
        KeyResultConfig.model_validate(
            {"id": "k", "title": "K", "direction": "increase", "cron": cron}
        )
    except ValidationError:
        return  # refusing an expression the scheduler cannot run is a fine outcome
    schedule = Schedule(cron=cron)
    now = datetime(2026, 3, 11, 12, 0, 30, tzinfo=UTC)
    assert_fires_on_the_schedule(schedule, now, fire_times(schedule, now, 12))


@pytest.mark.parametrize(
    "cron",
    ["*/15 * * * *", "0 */6 * * *", "0 9 * * *", "0 9 * * MON", "0 9 * * mon-fri",
     "30 2 1 * *", "0 0 1 */3 *"],
)
def test_cron_trigger_fires_on_the_schedule_instants(cron: str) -> None:
    """For a cron the config accepts, APScheduler fires exactly at the instants samples use."""
    _check_accepted_cron_fires_on_its_instants(cron)


@pytest.mark.parametrize(
    "cron", ["0 9 * * 1", "0 9 * * 1-5", "0 9 * * 0", "0 9 * * 7", "@daily", "0 9 * * 1 30",
             "0 0 L * *"],
)
def test_numeric_and_extended_crons_fire_on_the_schedule_instants(cron: str) -> None:
    """A numeric-weekday or extended cron the config accepts fires at croniter's instants."""
    _check_accepted_cron_fires_on_its_instants(cron)


# ---- schedule_of and Schedule itself ----------------------------------------------------


@pytest.mark.parametrize(
    ("every", "cron", "polled", "expected"),
    [
        (None, None, True, Schedule(interval_seconds=DEFAULT_INTERVAL_SECONDS)),
        (None, None, ManualConnector.scheduled, None),
        (900, None, True, Schedule(interval_seconds=900)),
        (86400, None, False, Schedule(interval_seconds=86400)),
        (None, "0 9 * * MON", True, Schedule(cron="0 9 * * MON")),
    ],
)
def test_schedule_of_defaults(
    every: int | None, cron: str | None, polled: bool, expected: Schedule | None
) -> None:
    """A polled KR without a schedule is hourly; a manual one has none unless it names one."""
    assert schedule_of(every_seconds=every, cron=cron, polled=polled) == expected
    assert DEFAULT_INTERVAL_SECONDS == 3600


@pytest.mark.parametrize(
    "fields", [{}, {"interval_seconds": 900, "cron": "0 * * * *"}], ids=["neither", "both"]
)
def test_schedule_needs_exactly_one_kind(fields: dict[str, object]) -> None:
    """A Schedule has an interval or a cron expression, never both or neither."""
    with pytest.raises(ValueError, match="either an interval or a cron"):
        Schedule(**fields)  # type: ignore[arg-type]


def test_interval_trigger_starts_at_the_epoch() -> None:
    """The interval trigger is anchored at 1970-01-01 UTC so fires do not depend on start time."""
    trigger = trigger_of(Schedule(interval_seconds=900))
    later = datetime(2026, 10, 1, 10, 0, 1, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, later) == later.replace(second=0) + timedelta(
        minutes=15
    )


# ---- parse_duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("28d", 28 * 86400), ("2w", 14 * 86400),
     (" 5 m ", 300)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    """A whole number and a unit s, m, h, d or w is that many seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a duration"),
        ("15", "not a duration"),
        ("m", "not a duration"),
        ("15x", "not a duration"),
        ("1.5h", "not a duration"),
        ("-5m", "not a duration"),
        ("15M", "not a duration"),
        ("1h30m", "not a duration"),
        ("15 minutes", "not a duration"),
        ("0s", "longer than zero"),
        ("0w", "longer than zero"),
    ],
)
def test_parse_duration_refuses(text: str, message: str) -> None:
    """Anything but a positive whole number and one unit letter is a ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@given(
    step=st.sampled_from([1, 60, 300, 3600]),
    covered=st.one_of(st.none(), st.integers(0, 20_000)),
    until=st.integers(0, 40_000),
    limit=st.integers(1, 500),
    pending=st.sets(st.integers(0, 40_000), max_size=5),
)
def test_missed_instants_are_the_uncovered_scheduled_instants(
    step: int, covered: int | None, until: int, limit: int, pending: set[int]
) -> None:
    """Missed instants: every scheduled instant after the covered one and before `until`, within `limit` steps, none pending."""
    from app.core.schedule import missed_instants

    schedule = Schedule(interval_seconds=step)
    missed = missed_instants(schedule, covered_through=covered, period_start=100, until=until,
                             limit=limit, pending=pending)
    low = max(100, (covered + 1) if covered is not None else 100, until - step * limit)
    expected = [t for t in range(0, until, step) if t >= low and t not in pending]
    assert missed == expected
    assert len(missed) <= limit
