"""Response shapes of `/review` and `/periods/{period}/scorecard` (public JSON contract)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.api.schemas import iso
from app.core.trajectory import TrajectoryPoint
from app.reports.review import KeyResultRef, WeeklyReview
from app.reports.scorecard import KeyResultScore, ObjectiveScore, Scorecard


def _at(ts: int) -> datetime:
    value = iso(ts)
    assert value is not None
    return value


class KeyResultRefOut(BaseModel):
    """The Key Result a review line is about, with its objective and owner."""

    id: str
    title: str
    unit: str
    objective_id: str
    objective_title: str
    owner: str | None
    team: str | None


class StatusChangeOut(BaseModel):
    """A Key Result's status at `since` and now, with both reasons."""

    key_result: KeyResultRefOut
    status_then: str
    reason_then: str
    status_now: str
    reason_now: str


class MoverOut(BaseModel):
    """Progress at `since` and now; `delta` = now − then."""

    key_result: KeyResultRefOut
    progress_then: float
    progress_now: float
    delta: float


class MissingCheckInOut(BaseModel):
    """A Key Result with no check-in in the last 7 days."""

    key_result: KeyResultRefOut
    last_check_in_at: datetime | None


class SourceProblemOut(BaseModel):
    """A Key Result in `error` or `stale` now, since when, and its last sample's time."""

    key_result: KeyResultRefOut
    status: str
    reason: str
    since: datetime | None
    last_sample_at: datetime | None


class RaisedAlertOut(BaseModel):
    """An alert event raised in the window and the webhooks it went to."""

    event_id: str
    type: str
    key_result_id: str
    key_result_title: str | None
    raised_at: datetime
    condition: str | None
    status: str | None
    previous_status: str | None
    reason: str | None
    webhooks: list[str]


class ReviewOut(BaseModel):
    """The weekly review of [since, now)."""

    since: datetime
    now: datetime
    status_changes: list[StatusChangeOut]
    movers: list[MoverOut]
    missing_check_ins: list[MissingCheckInOut]
    source_problems: list[SourceProblemOut]
    alerts: list[RaisedAlertOut]


def _ref_out(ref: KeyResultRef) -> KeyResultRefOut:
    return KeyResultRefOut(
        id=ref.id,
        title=ref.title,
        unit=ref.unit,
        objective_id=ref.objective_id,
        objective_title=ref.objective_title,
        owner=ref.owner,
        team=ref.team,
    )


def review_out(review: WeeklyReview) -> ReviewOut:
    """Return the API shape of a weekly review."""
    return ReviewOut(
        since=_at(review.since_ts),
        now=_at(review.now_ts),
        status_changes=[
            StatusChangeOut(
                key_result=_ref_out(c.key_result),
                status_then=c.status_then.value,
                reason_then=c.reason_then,
                status_now=c.status_now.value,
                reason_now=c.reason_now,
            )
            for c in review.status_changes
        ],
        movers=[
            MoverOut(
                key_result=_ref_out(m.key_result),
                progress_then=m.progress_then,
                progress_now=m.progress_now,
                delta=m.delta,
            )
            for m in review.movers
        ],
        missing_check_ins=[
            MissingCheckInOut(
                key_result=_ref_out(m.key_result), last_check_in_at=iso(m.last_check_in_ts)
            )
            for m in review.missing_check_ins
        ],
        source_problems=[
            SourceProblemOut(
                key_result=_ref_out(p.key_result),
                status=p.status.value,
                reason=p.reason,
                since=iso(p.since_ts),
                last_sample_at=iso(p.last_sample_ts),
            )
            for p in review.source_problems
        ],
        alerts=[
            RaisedAlertOut(
                event_id=a.event_id,
                type=a.event_type,
                key_result_id=a.key_result_id,
                key_result_title=a.key_result_title,
                raised_at=_at(a.raised_ts),
                condition=a.condition,
                status=a.status,
                previous_status=a.previous_status,
                reason=a.reason,
                webhooks=list(a.webhooks),
            )
            for a in review.alerts
        ],
    )


class TrajectoryPointOut(BaseModel):
    """Progress at one instant and the progress expected by then (None for band KRs)."""

    at: datetime
    progress: float | None
    expected: float | None


class KeyResultScoreOut(BaseModel):
    """A Key Result's score (0.0–1.0), its reading, and its trajectory over the period."""

    id: str
    title: str
    unit: str
    direction: str
    status: str
    status_reason: str
    progress: float | None
    score: float | None
    grade: str
    final: bool
    archived: bool
    trajectory: list[TrajectoryPointOut]


class ObjectiveScoreOut(BaseModel):
    """An objective's score (the mean of its Key Results' scores) and its Key Results."""

    id: str
    title: str
    owner: str | None
    team: str | None
    period_start: datetime
    period_end: datetime
    score: float | None
    grade: str
    final: bool
    archived: bool
    key_results: list[KeyResultScoreOut]


class ScorecardOut(BaseModel):
    """A period's scorecard: running before `end`, final (frozen scores) from then on."""

    period: str
    start: datetime
    end: datetime
    now: datetime
    closed: bool
    ambition_note: str | None
    objectives: list[ObjectiveScoreOut]


def _point_out(point: TrajectoryPoint) -> TrajectoryPointOut:
    return TrajectoryPointOut(at=_at(point.ts), progress=point.progress, expected=point.expected)


def _key_result_out(kr: KeyResultScore) -> KeyResultScoreOut:
    return KeyResultScoreOut(
        id=kr.id,
        title=kr.title,
        unit=kr.unit,
        direction=kr.direction,
        status=kr.status.value,
        status_reason=kr.status_reason,
        progress=kr.progress,
        score=kr.score,
        grade=kr.grade.value,
        final=kr.final,
        archived=kr.archived,
        trajectory=[_point_out(p) for p in kr.trajectory],
    )


def _objective_out(objective: ObjectiveScore) -> ObjectiveScoreOut:
    return ObjectiveScoreOut(
        id=objective.id,
        title=objective.title,
        owner=objective.owner,
        team=objective.team,
        period_start=_at(objective.period_start),
        period_end=_at(objective.period_end),
        score=objective.score,
        grade=objective.grade.value,
        final=objective.final,
        archived=objective.archived,
        key_results=[_key_result_out(kr) for kr in objective.key_results],
    )


def scorecard_out(card: Scorecard) -> ScorecardOut:
    """Return the API shape of a scorecard."""
    return ScorecardOut(
        period=card.period,
        start=_at(card.start_ts),
        end=_at(card.end_ts),
        now=_at(card.now_ts),
        closed=card.closed,
        ambition_note=card.ambition_note,
        objectives=[_objective_out(o) for o in card.objectives],
    )
