"""The backoff rule: one failure per connector per instant, one probe, resume on the answer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.backoff import (
    Change,
    Decision,
    SourceHealth,
    after_attempt,
    backoff_delay,
    decide,
    skip_reason,
)

BACKOFF_MAX = 3600


def fail(
    health: SourceHealth, *, instant: int, now: int, probe: int | None = None
) -> tuple[SourceHealth, Change | None]:
    """Record one failed attempt of a 1 s Key Result."""
    return after_attempt(
        health,
        instant=instant,
        now=now,
        failure="connection refused",
        probe=probe,
        interval=1,
        backoff_max=BACKOFF_MAX,
    )


@given(jobs_per_instant=st.integers(1, 60), instants=st.integers(1, 12))
def test_failures_count_instants_not_key_results(jobs_per_instant: int, instants: int) -> None:
    """However many Key Results fail at one instant, the connector counts one failure."""
    health = SourceHealth()
    for instant in range(1000, 1000 + instants):
        for _ in range(jobs_per_instant):
            health, _ = fail(health, instant=instant, now=instant)
    assert health.failures == instants
    assert health.next_try_ts == 1000 + instants - 1 + backoff_delay(
        instants, interval=1, backoff_max=BACKOFF_MAX
    )


@given(failures=st.integers(1, 200), interval=st.integers(1, 86400), cap=st.integers(1, 86400))
def test_delay_doubles_from_the_interval_and_never_passes_the_cap(
    failures: int, interval: int, cap: int
) -> None:
    """The delay starts at the interval (at most 60 s), doubles, and stays under backoff_max."""
    delay = backoff_delay(failures, interval=interval, backoff_max=cap)
    assert 1 <= delay <= cap or cap < 1
    assert delay <= backoff_delay(failures + 1, interval=interval, backoff_max=cap)
    if failures == 1:
        assert delay == min(cap, max(1, min(interval, 60)))


@given(now_offsets=st.lists(st.integers(0, 100), min_size=1, max_size=50))
def test_after_the_delay_exactly_one_job_probes(now_offsets: list[int]) -> None:
    """While down, jobs skip until the next try; then one job probes and the rest skip."""
    health, change = fail(SourceHealth(), instant=1000, now=1000)
    assert change is Change.DOWN
    probes = 0
    for offset in sorted(now_offsets):
        decision, health = decide(health, now=1000 + offset)
        if 1000 + offset < 1001:
            assert decision is Decision.SKIP
        probes += decision is Decision.PROBE
    assert probes == (1 if max(now_offsets) >= 1 else 0)


@given(down_for=st.integers(1, 40))
def test_the_first_answer_resumes_every_key_result(down_for: int) -> None:
    """A probe that succeeds clears the streak at once: every job asks again."""
    health = SourceHealth()
    now = 1000
    for instant in range(1000, 1000 + down_for):
        health, _ = fail(health, instant=instant, now=instant)
    now = max(health.next_try_ts, 1000 + down_for)
    decision, health = decide(health, now=now)
    assert decision is Decision.PROBE
    health, change = after_attempt(
        health,
        instant=now,
        now=now,
        failure=None,
        probe=health.probe_id,
        interval=1,
        backoff_max=BACKOFF_MAX,
    )
    assert change is Change.UP and not health.down
    assert decide(health, now=now)[0] is Decision.ASK


def test_a_late_failure_from_before_the_recovery_is_old_news() -> None:
    """A slow job's failure for an instant before the last success is old news."""
    health, _ = fail(SourceHealth(), instant=1000, now=1000)
    health, _ = after_attempt(
        health,
        instant=1005,
        now=1005,
        failure=None,
        probe=None,
        interval=1,
        backoff_max=BACKOFF_MAX,
    )
    health, change = fail(health, instant=1003, now=1006)
    assert change is None and not health.down


def test_a_failed_probe_is_one_more_failure_even_at_the_same_instant() -> None:
    """A failed probe extends the backoff, even within its instant (hourly Key Results)."""
    health, _ = fail(SourceHealth(), instant=3600, now=3600)
    _, health = decide(health, now=3700)
    health, change = fail(health, instant=3600, now=3700, probe=health.probe_id)
    assert change is Change.STILL_DOWN and health.failures == 2 and not health.probing


def test_skip_reason_names_since_when_and_the_next_try_in_utc() -> None:
    """A skipped Key Result says since when the source is away, when it is tried next, and why."""
    health, _ = fail(SourceHealth(), instant=1_800_000_000, now=1_800_000_000)
    reason = skip_reason(health, now=1_800_000_000)
    assert reason == (
        "source unavailable since 08:00:00 UTC, next try 08:00:01 UTC"
        " (last error: connection refused)"
    )
    assert "2027-01-15 08:00:00 UTC" in skip_reason(health, now=1_800_000_000 + 86400)


@given(
    script=st.lists(
        st.tuples(st.sampled_from(["start", "ok", "fail"]), st.integers(0, 5)), max_size=80
    )
)
def test_one_probe_at_a_time_and_never_stuck(script: list[tuple[str, int]]) -> None:
    """Whatever the interleaving of jobs and answers, one probe counts at a time; none stuck.

    An answer from another job may end an outage while its probe is out; that probe's
    answer then releases nothing of a later outage.
    """
    health, _ = fail(SourceHealth(), instant=0, now=0)
    now = 0
    out: list[tuple[int, int | None]] = []  # (instant, probe id) of jobs not answered yet
    for action, wait in script:
        now += wait
        if action == "start":
            decision, health = decide(health, now=now)
            if decision is not Decision.SKIP:
                out.append((now, health.probe_id if decision is Decision.PROBE else None))
        elif out:
            instant, probe = out.pop(0)
            failure = "refused" if action == "fail" else None
            health, _ = after_attempt(
                health,
                instant=instant,
                now=now,
                failure=failure,
                probe=probe,
                interval=1,
                backoff_max=BACKOFF_MAX,
            )
        # The probe the state waits for is out, and it is the latest one granted.
        if health.probing:
            assert health.probe_id in {p for _, p in out}
    if health.down and not health.probing:
        assert decide(health, now=health.next_try_ts)[0] is Decision.PROBE
