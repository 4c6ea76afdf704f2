"""The end-of-period retrospective: the scorecard plus what happened on the way there.

Pure functions over plain data with an explicit `now`. Scores are the scorecard's (frozen
once the period closed); this module adds the course corrections (target and baseline
revisions with their notes), check-in confidence over time, what moved most and what never
moved, and each Key Result's data quality. Renderers live in `app.reports.retrospective_render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.reports.scorecard import DELIVERED_FROM, KeyResultScore, ObjectiveScore, Scorecard

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Progress changing by less than this over the period counts as "never moved".
MOVED_AT_LEAST = 0.01
MOVERS_SHOWN = 3
READING = (
    "Scores run 0.0–1.0. For stretch goals 0.7 is a success; 0.4–0.6 is progress that fell "
    "short; below 0.4 is missed. Scoring 1.0 every time means the goals were not ambitious."
)


@dataclass(frozen=True, slots=True)
class Revision:
    """A target or baseline change during the period, with the reason written for it."""

    ts: int
    field: str
    old: str | None
    new: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CheckInPoint:
    """An owner's check-in: how confident they were, when, and what they said."""

    ts: int
    confidence: float
    note: str
    author: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sampling attempt: its scheduled instant and whether it gave a value."""

    scheduled_ts: int
    ok: bool


@dataclass(frozen=True, slots=True)
class DataQuality:
    """How much of the measured time a Key Result's figure could not be trusted."""

    measured_seconds: int
    failed_seconds: int
    stale_seconds: int

    @property
    def bad_share(self) -> float:
        """Return the share (0.0–1.0) of measured time that was failed or stale."""
        if self.measured_seconds <= 0:
            return 0.0
        return (self.failed_seconds + self.stale_seconds) / self.measured_seconds


@dataclass(frozen=True, slots=True)
class KeyResultHistory:
    """What the store knows of one Key Result's period beyond its score."""

    revisions: tuple[Revision, ...] = ()
    check_ins: tuple[CheckInPoint, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    interval_seconds: int | None = None
    measured_from: int = 0


@dataclass(frozen=True, slots=True)
class KeyResultRetro:
    """One Key Result's retrospective line."""

    line: KeyResultScore
    movement: float | None
    revisions: tuple[Revision, ...]
    check_ins: tuple[CheckInPoint, ...]
    quality: DataQuality | None


@dataclass(frozen=True, slots=True)
class ObjectiveRetro:
    """One objective's score and its Key Results' retrospective lines."""

    line: ObjectiveScore
    key_results: tuple[KeyResultRetro, ...]


@dataclass(frozen=True, slots=True)
class Retrospective:
    """The retrospective of a period at `now_ts` (a draft until the period has closed)."""

    period: str
    start_ts: int
    end_ts: int
    now_ts: int
    closed: bool
    mean_score: float | None
    delivered_share: float | None
    reading: str
    ambition_note: str | None
    objectives: tuple[ObjectiveRetro, ...]
    moved_most: tuple[KeyResultRetro, ...]
    never_moved: tuple[KeyResultRetro, ...]


def data_quality(
    attempts: Sequence[Attempt],
    *,
    start: int,
    end: int,
    interval_seconds: int | None,
    stale_after_intervals: int,
) -> DataQuality | None:
    """Return the failed and stale time of [start, end) from the sampling attempts in it.

    Each attempt's outcome holds until the next attempt (or `end`). Failed time: while the
    latest attempt had failed. Stale time (scheduled Key Results only): the part of a gap
    after a successful attempt (or from `start` to the first attempt) that is longer than
    `stale_after_intervals` intervals, the same grace the live status gives before "stale".
    None when there is no schedule and no attempt (values typed in by people).
    """
    inside = sorted((a for a in attempts if start <= a.scheduled_ts < end), key=_instant)
    if end <= start or (interval_seconds is None and not inside):
        return None
    grace = stale_after_intervals * interval_seconds if interval_seconds else None
    failed = stale = 0
    edges = [a.scheduled_ts for a in inside] + [end]
    if grace is not None:
        stale += max(0, edges[0] - start - grace)
    for attempt, until in zip(inside, edges[1:], strict=True):
        gap = until - attempt.scheduled_ts
        if not attempt.ok:
            failed += gap
        elif grace is not None:
            stale += max(0, gap - grace)
    return DataQuality(measured_seconds=end - start, failed_seconds=failed, stale_seconds=stale)


def _instant(attempt: Attempt) -> int:
    return attempt.scheduled_ts


def movement(line: KeyResultScore) -> float | None:
    """Return how far progress moved over the period's trajectory (None: never measured)."""
    measured = [p.progress for p in line.trajectory if p.progress is not None]
    return measured[-1] - measured[0] if measured else None


def build_retrospective(
    card: Scorecard,
    histories: Mapping[str, KeyResultHistory],
    *,
    stale_after_intervals: int,
) -> Retrospective:
    """Return the retrospective of `card`'s period; its scores are exactly the card's."""
    until = min(card.now_ts, card.end_ts)
    objectives = []
    for objective in card.objectives:
        lines = []
        for kr in objective.key_results:
            history = histories.get(kr.id, KeyResultHistory())
            start = max(history.measured_from, objective.period_start)
            lines.append(
                KeyResultRetro(
                    line=kr,
                    movement=movement(kr),
                    revisions=history.revisions,
                    check_ins=history.check_ins,
                    quality=data_quality(
                        history.attempts,
                        start=start,
                        end=min(until, objective.period_end),
                        interval_seconds=history.interval_seconds,
                        stale_after_intervals=stale_after_intervals,
                    ),
                )
            )
        objectives.append(ObjectiveRetro(line=objective, key_results=tuple(lines)))
    every = [kr for o in objectives for kr in o.key_results]
    scores = [kr.line.score for kr in every if kr.line.score is not None]
    moved = [kr for kr in every if kr.movement is not None and abs(kr.movement) >= MOVED_AT_LEAST]
    moved.sort(key=lambda kr: -abs(kr.movement or 0.0))
    return Retrospective(
        period=card.period,
        start_ts=card.start_ts,
        end_ts=card.end_ts,
        now_ts=card.now_ts,
        closed=card.closed,
        mean_score=math.fsum(scores) / len(scores) if scores else None,
        delivered_share=(
            sum(1 for s in scores if round(s, 2) >= DELIVERED_FROM) / len(scores)
            if scores
            else None
        ),
        reading=READING,
        ambition_note=card.ambition_note,
        objectives=tuple(objectives),
        moved_most=tuple(moved[:MOVERS_SHOWN]),
        never_moved=tuple(
            kr for kr in every if kr.movement is None or abs(kr.movement) < MOVED_AT_LEAST
        ),
    )
