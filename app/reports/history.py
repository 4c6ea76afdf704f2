"""Build the weekly review and the period scorecard from the database.

The glue between the store and the pure `app.reports.review` and `app.reports.scorecard`:
it evaluates each Key Result with the progress engine at the instants asked for (`since`, `now`, the
scorecard's weekly points) over the samples and attempts stored up to that instant, with
the same store queries as the live evaluation, and writes nothing. The HTML pages, the
JSON routes and the end-of-period retrospective call `weekly_review` and `period_scorecard`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.domain import Status
from app.core.progress import evaluate
from app.core.specs import stored_spec
from app.reports.review import KeyResultFacts, KeyResultRef, WeeklyReview, build_review
from app.sampling.figures import view_at
from app.store.key_results import list_key_results, list_objectives
from app.store.reports import (
    alerts_raised,
    failing_since,
    last_attempt_until,
    latest_check_in_times,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.core.inputs import Evaluation, Thresholds
    from app.core.series import SampleView
    from app.store.models import KeyResult, Objective


def _evaluate(
    session: Session, kr: KeyResult, objective: Objective, *, at: int, thresholds: Thresholds
) -> tuple[Evaluation, SampleView]:
    spec = stored_spec(kr)
    view = view_at(session, kr.id, spec, now_ts=at, thresholds=thresholds)
    attempt = last_attempt_until(session, kr.id, until=at)
    return evaluate(spec, view, now=at, last_attempt=attempt, thresholds=thresholds), view


def evaluate_at(
    session: Session,
    kr: KeyResult,
    objective: Objective,
    *,
    at: int,
    thresholds: Thresholds,
) -> Evaluation:
    """Evaluate `kr` as the engine would have at `at`: samples and attempts up to `at` only.

    Uses the Key Result's current definition (target, baseline, period): a target revised
    since `at` is applied to the past as well (docs/decisions.md).
    """
    return _evaluate(session, kr, objective, at=at, thresholds=thresholds)[0]


def _ref(kr: KeyResult, objective: Objective) -> KeyResultRef:
    return KeyResultRef(
        id=kr.id,
        title=kr.title,
        unit=kr.unit,
        objective_id=objective.id,
        objective_title=objective.title,
        owner=objective.owner,
        team=objective.team,
    )


def weekly_review(
    session: Session, *, since_ts: int, now_ts: int, thresholds: Thresholds
) -> WeeklyReview:
    """Return the review of [since_ts, now_ts) over every active Key Result, in file order."""
    objectives = {o.id: o for o in list_objectives(session)}
    check_ins = latest_check_in_times(session, until=now_ts)
    facts = []
    for kr in list_key_results(session):
        objective = objectives.get(kr.objective_id)
        if objective is None:
            continue
        now, view = _evaluate(session, kr, objective, at=now_ts, thresholds=thresholds)
        facts.append(
            KeyResultFacts(
                ref=_ref(kr, objective),
                period_start=objective.period_start_ts,
                period_end=objective.period_end_ts,
                then=evaluate_at(session, kr, objective, at=since_ts, thresholds=thresholds),
                now=now,
                last_check_in_ts=check_ins.get(kr.id),
                failing_since_ts=failing_since(session, kr.id, until=now_ts)
                if now.status is Status.ERROR
                else None,
                interval_seconds=kr.interval_seconds,
                # The current value's time is unknown when an aggregation window is empty.
                last_sample_ts=view.recent[-1][0] if view.recent else None,
            )
        )
    return build_review(
        facts,
        alerts_raised(session, since=since_ts, until=now_ts),
        since=since_ts,
        now=now_ts,
        stale_after_intervals=thresholds.stale_after_intervals,
    )
