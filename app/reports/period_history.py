"""A period's scorecard and retrospective, evaluated from the database at the period's instants."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.config.objectives import quarter_bounds
from app.core.reading import counted_band, cutoff_ts
from app.core.specs import stored_spec
from app.core.trajectory import TrajectoryPoint, trajectory
from app.reports.retrospective import (
    Attempt,
    CheckInPoint,
    KeyResultHistory,
    Retrospective,
    Revision,
    build_retrospective,
)
from app.reports.scorecard import (
    KeyResultInput,
    ObjectiveInput,
    Scorecard,
    build_scorecard,
    trajectory_instants,
)
from app.store.reports import (
    attempts_within,
    check_ins_within,
    instant_summaries,
    key_results_of,
    objectives_within,
    revisions_before,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlmodel import Session

    from app.core.inputs import Thresholds
    from app.store.models import KeyResult, Objective
from app.reports.history import evaluate_at


def period_bounds(period: str) -> tuple[int, int]:
    """Return a period such as "2026-Q4" as UNIX seconds [start, end); ValueError if malformed."""
    start, end = quarter_bounds(period)
    return int(start.timestamp()), int(end.timestamp())


def _trajectory(
    session: Session, kr: KeyResult, objective: Objective, *, now_ts: int, thresholds: Thresholds
) -> tuple[TrajectoryPoint, ...]:
    """Return `kr`'s progress every week of the period so far, from grouped reads."""
    spec = stored_spec(kr)
    instants = trajectory_instants(
        start=objective.period_start_ts, end=objective.period_end_ts, now=now_ts
    )
    band = counted_band(spec)
    first, summaries = instant_summaries(
        session,
        kr.id,
        start=spec.period_start,
        cutoffs=[(at, cutoff_ts(spec, at)) for at in instants],
        band=band,
        window=spec.aggregate_window,
    )
    return trajectory(spec, first, summaries, counted=band is not None, thresholds=thresholds)


def period_scorecard(
    session: Session, *, period: str, now_ts: int, thresholds: Thresholds
) -> Scorecard:
    """Return the scorecard of `period` at `now_ts` (ValueError for a malformed period).

    Archived objectives and Key Results are included: a quarter's scorecard must survive
    the file moving on to the next quarter.
    """
    start, end = period_bounds(period)
    objectives = objectives_within(session, start=start, end=end)
    by_objective: Mapping[str, list[KeyResult]] = {o.id: [] for o in objectives}
    for kr in key_results_of(session, [o.id for o in objectives]):
        by_objective[kr.objective_id].append(kr)
    inputs = []
    for objective in objectives:
        key_results = []
        for kr in by_objective[objective.id]:
            evaluation = evaluate_at(session, kr, objective, at=now_ts, thresholds=thresholds)
            key_results.append(
                KeyResultInput(
                    id=kr.id,
                    title=kr.title,
                    unit=kr.unit,
                    direction=kr.direction,
                    evaluation=evaluation,
                    frozen_score=kr.final_score,
                    trajectory=_trajectory(
                        session, kr, objective, now_ts=now_ts, thresholds=thresholds
                    ),
                    archived=kr.archived_ts is not None,
                )
            )
        inputs.append(
            ObjectiveInput(
                id=objective.id,
                title=objective.title,
                owner=objective.owner,
                team=objective.team,
                period_start=objective.period_start_ts,
                period_end=objective.period_end_ts,
                key_results=tuple(key_results),
                archived=objective.archived_ts is not None,
            )
        )
    return build_scorecard(period, inputs, start=start, end=end, now=now_ts)


def period_retrospective(
    session: Session, *, period: str, now_ts: int, thresholds: Thresholds
) -> Retrospective:
    """Return the retrospective of `period` at `now_ts`: the scorecard and its history.

    ValueError for a malformed period. The scores are `period_scorecard`'s, so frozen ones
    once the period has closed.
    """
    card = period_scorecard(session, period=period, now_ts=now_ts, thresholds=thresholds)
    objectives = {o.id: o for o in objectives_within(session, start=card.start_ts, end=card.end_ts)}
    rows = key_results_of(session, list(objectives))
    ids = [kr.id for kr in rows]
    until = min(now_ts, card.end_ts)
    attempts = attempts_within(session, ids, start=card.start_ts, end=until)
    check_ins: dict[str, list[CheckInPoint]] = {}
    for c in check_ins_within(session, ids, start=card.start_ts, end=until + 1):
        point = CheckInPoint(ts=c.ts, confidence=c.confidence, note=c.note, author=c.author)
        check_ins.setdefault(c.key_result_id, []).append(point)
    revisions: dict[str, list[Revision]] = {}
    for r in revisions_before(session, ids, end=until + 1):
        revision = Revision(
            ts=r.ts, field=r.field_name, old=r.old_value, new=r.new_value, note=r.note
        )
        revisions.setdefault(r.key_result_id, []).append(revision)
    histories = {
        kr.id: KeyResultHistory(
            revisions=tuple(revisions.get(kr.id, ())),
            check_ins=tuple(check_ins.get(kr.id, ())),
            attempts=tuple(Attempt(ts, ok) for ts, ok in attempts.get(kr.id, ())),
            interval_seconds=kr.interval_seconds,
            measured_from=stored_spec(kr).period_start,
        )
        for kr in rows
    }
    return build_retrospective(
        card, histories, stale_after_intervals=thresholds.stale_after_intervals
    )
