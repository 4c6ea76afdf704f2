"""The weekly review's pure core: status changes, movers, check-ins, sources and alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.domain import Direction, Status
from app.core.inputs import Evaluation, KeyResultSpec
from app.core.series import LastAttempt
from app.core.progress import evaluate, view_from_points
from app.reports.review import (
    WEEK_SECONDS,
    KeyResultFacts,
    KeyResultRef,
    RaisedAlert,
    alerts_in_window,
    build_review,
)

DAY = 86400
HOUR = 3600
START = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
END = START + 92 * DAY
INSTANT = st.integers(min_value=START - 5 * DAY, max_value=END + 5 * DAY)


@st.composite
def key_result_facts(draw: st.DrawFn, index: int, since: int, now: int) -> KeyResultFacts:
    """Draw a Key Result with random samples and attempts, evaluated by the engine at both ends."""
    spec = KeyResultSpec(
        direction=draw(st.sampled_from([Direction.INCREASE, Direction.AT_MOST])),
        period_start=START,
        period_end=END,
        baseline=0.0,
        target=100.0,
        interval_seconds=draw(st.sampled_from([None, HOUR, DAY])),
    )
    times = draw(st.lists(st.integers(START, END), max_size=12, unique=True))
    points = sorted((t, float(draw(st.integers(-20, 140)))) for t in times)
    attempt_ts = draw(st.one_of(st.none(), st.integers(START, END)))

    def at(instant: int) -> Evaluation:
        attempt = None
        if attempt_ts is not None and attempt_ts <= instant:
            attempt = LastAttempt(ts=attempt_ts, ok=False, reason="timeout", consecutive_failures=1)
        view = view_from_points(spec, points, now=instant)
        return evaluate(spec, view, now=instant, last_attempt=attempt)

    latest = view_from_points(spec, points, now=now).recent

    ref = KeyResultRef(f"kr{index}", f"KR {index}", "%", "o", "Objective", "ana", "platform")
    return KeyResultFacts(
        ref=ref,
        period_start=START,
        period_end=END,
        then=at(since),
        now=at(now),
        last_check_in_ts=draw(st.one_of(st.none(), st.integers(now - 30 * DAY, now))),
        failing_since_ts=attempt_ts,
        interval_seconds=spec.interval_seconds,
        last_sample_ts=latest[-1][0] if latest else None,
    )


@st.composite
def window_and_facts(draw: st.DrawFn) -> tuple[int, int, list[KeyResultFacts]]:
    """Draw a window [since, now) and a handful of Key Results evaluated at both ends."""
    since = draw(INSTANT)
    now = draw(st.integers(since + 1, since + 60 * DAY))
    facts = [draw(key_result_facts(i, since, now)) for i in range(draw(st.integers(0, 6)))]
    return since, now, facts


@settings(max_examples=200, deadline=None)
@given(case=window_and_facts())
def test_movers_are_sorted_and_their_deltas_are_now_minus_then(
    case: tuple[int, int, list[KeyResultFacts]],
) -> None:
    """Movers are exactly the KRs whose progress changed, by |now − then| descending."""
    since, now, facts = case
    review = build_review(facts, [], since=since, now=now)
    deltas = [abs(m.delta) for m in review.movers]
    assert deltas == sorted(deltas, reverse=True)
    by_id = {f.ref.id: f for f in facts}
    for mover in review.movers:
        f = by_id[mover.key_result.id]
        assert f.now.progress is not None and f.then.progress is not None
        assert mover.delta == f.now.progress - f.then.progress != 0
    changed = {
        f.ref.id
        for f in facts
        if None not in (f.now.progress, f.then.progress) and f.now.progress != f.then.progress
    }
    assert {m.key_result.id for m in review.movers} == changed


@settings(max_examples=200, deadline=None)
@given(case=window_and_facts())
def test_status_changes_are_the_differing_statuses_with_both_reasons(
    case: tuple[int, int, list[KeyResultFacts]],
) -> None:
    """A KR is listed as changed exactly when its statuses differ, with both reasons."""
    since, now, facts = case
    review = build_review(facts, [], since=since, now=now)
    expected = [
        (f.ref.id, f.then.status, f.then.reason, f.now.status, f.now.reason)
        for f in facts
        if f.then.status != f.now.status
    ]
    listed = [
        (c.key_result.id, c.status_then, c.reason_then, c.status_now, c.reason_now)
        for c in review.status_changes
    ]
    assert listed == expected


@settings(max_examples=200, deadline=None)
@given(case=window_and_facts())
def test_a_recent_check_in_is_never_listed_as_missing(
    case: tuple[int, int, list[KeyResultFacts]],
) -> None:
    """Missing check-ins: running period and no check-in in the last 7 days, nothing else."""
    since, now, facts = case
    review = build_review(facts, [], since=since, now=now)
    missing = {m.key_result.id for m in review.missing_check_ins}
    for f in facts:
        recent = f.last_check_in_ts is not None and f.last_check_in_ts > now - WEEK_SECONDS
        running = START <= now < END
        assert (f.ref.id in missing) == (running and not recent)


@settings(max_examples=200, deadline=None)
@given(case=window_and_facts())
def test_source_problems_are_the_error_and_stale_key_results(
    case: tuple[int, int, list[KeyResultFacts]],
) -> None:
    """Every KR in error or stale now is listed once; stale ones since after their last sample."""
    since, now, facts = case
    review = build_review(facts, [], since=since, now=now)
    problems = {p.key_result.id: p for p in review.source_problems}
    assert set(problems) == {
        f.ref.id for f in facts if f.now.status in (Status.ERROR, Status.STALE)
    }
    for f in facts:
        problem = problems.get(f.ref.id)
        if problem is None:
            continue
        assert problem.reason == f.now.reason and problem.status is f.now.status
        if problem.status is Status.STALE:
            assert problem.since_ts is not None and problem.last_sample_ts is not None
            assert problem.last_sample_ts < problem.since_ts <= now
        else:
            assert problem.since_ts == f.failing_since_ts


@settings(max_examples=200, deadline=None)
@given(
    since=INSTANT,
    length=st.integers(1, 30 * DAY),
    raised=st.lists(st.integers(START - 40 * DAY, END + 40 * DAY), max_size=20),
)
def test_alerts_are_those_raised_in_the_window_oldest_first(
    since: int, length: int, raised: list[int]
) -> None:
    """Alerts in [since, now) are all kept, oldest first; none outside the window."""
    now = since + length
    alerts = [
        RaisedAlert(
            f"evt_{i}", "kr.regressed", "kr", "KR", ts, "regressed", "at_risk", None, "", ("h",)
        )
        for i, ts in enumerate(raised)
    ]
    kept = alerts_in_window(alerts, since=since, now=now)
    assert sorted(a.event_id for a in kept) == sorted(
        a.event_id for a in alerts if since <= a.raised_ts < now
    )
    assert [a.raised_ts for a in kept] == sorted(a.raised_ts for a in kept)


def test_an_empty_window_is_refused() -> None:
    """A review needs since < now."""
    with pytest.raises(ValueError, match="since must be before now"):
        build_review([], [], since=START, now=START)
