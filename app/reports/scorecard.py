"""The period scorecard: each Objective's and Key Result's 0.0–1.0 score, read out in words.

Pure functions over plain data with an explicit `now`. A Key Result's score is the progress
engine's: progress clamped to 0.0–1.0 while the period runs, and once it is over the
end-of-period score frozen the first time it was seen closed. An objective's score is the
mean of its scored Key Results (docs/decisions.md). Renderers live in
`app.reports.scorecard_render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from app.core.domain import Status
from app.core.progress import period_score

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.inputs import Evaluation
    from app.core.trajectory import TrajectoryPoint

TRAJECTORY_STEP_SECONDS = 7 * 86400
# The conventional OKR reading (0.7 is a success for a stretch goal): 0.0–0.3 missed,
# 0.4–0.6 progress, 0.7–1.0 delivered. Scores are graded at two decimals, so float noise
# (0.6999999) does not cross a boundary.
PROGRESS_FROM = 0.4
DELIVERED_FROM = 0.7
AMBITION_NOTE = (
    "every scored Key Result is at 1.0: the goals may not have been ambitious enough "
    "(0.7 is a success for a stretch goal)"
)


class Grade(StrEnum):
    """A score read out in words."""

    MISSED = "missed"
    PROGRESS = "progress, not there"
    DELIVERED = "delivered"
    NOT_SCORED = "not scored"


@dataclass(frozen=True, slots=True)
class KeyResultInput:
    """A Key Result as evaluated at `now`, its frozen score if any, and its trajectory."""

    id: str
    title: str
    unit: str
    direction: str
    evaluation: Evaluation
    frozen_score: float | None = None
    trajectory: tuple[TrajectoryPoint, ...] = ()
    archived: bool = False


@dataclass(frozen=True, slots=True)
class ObjectiveInput:
    """An objective of the period with its Key Results, in file order."""

    id: str
    title: str
    owner: str | None
    team: str | None
    period_start: int
    period_end: int
    key_results: tuple[KeyResultInput, ...]
    archived: bool = False


@dataclass(frozen=True, slots=True)
class KeyResultScore:
    """One Key Result's line on the scorecard."""

    id: str
    title: str
    unit: str
    direction: str
    status: Status
    status_reason: str
    progress: float | None
    score: float | None
    grade: Grade
    final: bool
    trajectory: tuple[TrajectoryPoint, ...]
    archived: bool


@dataclass(frozen=True, slots=True)
class ObjectiveScore:
    """One objective's line: the mean of its Key Results' scores, and those scores."""

    id: str
    title: str
    owner: str | None
    team: str | None
    period_start: int
    period_end: int
    score: float | None
    grade: Grade
    final: bool
    key_results: tuple[KeyResultScore, ...]
    archived: bool


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The scorecard of a period at `now_ts`: running before it closes, final after."""

    period: str
    start_ts: int
    end_ts: int
    now_ts: int
    closed: bool
    objectives: tuple[ObjectiveScore, ...]
    ambition_note: str | None


def grade(score: float | None) -> Grade:
    """Return the conventional reading of a 0.0–1.0 score."""
    if score is None:
        return Grade.NOT_SCORED
    rounded = round(score, 2)
    if rounded >= DELIVERED_FROM:
        return Grade.DELIVERED
    if rounded >= PROGRESS_FROM:
        return Grade.PROGRESS
    return Grade.MISSED


def key_result_score(evaluation: Evaluation, *, frozen_score: float | None) -> float | None:
    """Return the score: frozen once closed (as `app.core.evaluation` stores it), else running."""
    if evaluation.status is Status.CLOSED:
        return frozen_score if frozen_score is not None else evaluation.score
    return period_score(evaluation.progress)


def objective_score(scores: Sequence[float | None]) -> float | None:
    """Return the mean of the Key Results' scores that exist (None when none is scored)."""
    scored = [s for s in scores if s is not None]
    return math.fsum(scored) / len(scored) if scored else None


def trajectory_instants(
    *, start: int, end: int, now: int, step: int = TRAJECTORY_STEP_SECONDS
) -> list[int]:
    """Return the instants to evaluate: every `step` from `start`, then `min(now, end)`.

    Nothing after `now` (the future has no progress yet); empty before the period starts.
    """
    last = min(now, end)
    if last < start:
        return []
    instants = list(range(start, last, step))
    return [*instants, last]


def _key_result_line(kr: KeyResultInput, *, final: bool) -> KeyResultScore:
    score = key_result_score(kr.evaluation, frozen_score=kr.frozen_score)
    return KeyResultScore(
        id=kr.id,
        title=kr.title,
        unit=kr.unit,
        direction=kr.direction,
        status=kr.evaluation.status,
        status_reason=kr.evaluation.reason,
        progress=kr.evaluation.progress,
        score=score,
        grade=grade(score),
        final=final,
        trajectory=kr.trajectory,
        archived=kr.archived,
    )


def objective_line(objective: ObjectiveInput, *, now: int) -> ObjectiveScore:
    """Score one objective and its Key Results at `now`."""
    final = now >= objective.period_end
    lines = tuple(_key_result_line(kr, final=final) for kr in objective.key_results)
    score = objective_score([line.score for line in lines])
    return ObjectiveScore(
        id=objective.id,
        title=objective.title,
        owner=objective.owner,
        team=objective.team,
        period_start=objective.period_start,
        period_end=objective.period_end,
        score=score,
        grade=grade(score),
        final=final,
        key_results=lines,
        archived=objective.archived,
    )


def ambition_note(objectives: Sequence[ObjectiveScore]) -> str | None:
    """Return a note when every scored Key Result is at 1.0 (goals not ambitious enough)."""
    scores = [kr.score for o in objectives for kr in o.key_results if kr.score is not None]
    return AMBITION_NOTE if scores and all(s >= 1.0 for s in scores) else None


def build_scorecard(
    period: str,
    objectives: Sequence[ObjectiveInput],
    *,
    start: int,
    end: int,
    now: int,
) -> Scorecard:
    """Score the period's objectives at `now` (running before `end`, final from `end` on)."""
    lines = tuple(objective_line(o, now=now) for o in objectives)
    return Scorecard(
        period=period,
        start_ts=start,
        end_ts=end,
        now_ts=now,
        closed=now >= end,
        objectives=lines,
        ambition_note=ambition_note(lines),
    )
