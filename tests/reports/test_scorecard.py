"""The period scorecard's pure core: scores, their reading, trajectories and the renderers."""

from __future__ import annotations

import csv
import io
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.domain import Status
from app.core.inputs import Evaluation
from app.reports.scorecard import (
    AMBITION_NOTE,
    TRAJECTORY_STEP_SECONDS,
    Grade,
    KeyResultInput,
    ObjectiveInput,
    Scorecard,
    build_scorecard,
    grade,
    key_result_score,
    trajectory_instants,
)
from app.reports.scorecard_render import scorecard_csv, scorecard_markdown

DAY = 86400
START = 1_790_812_800  # 2026-10-01
END = 1_798_761_600  # 2027-01-01
PROGRESS = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))
SCORE = st.one_of(st.none(), st.floats(0.0, 1.0))
STATUS = st.sampled_from(list(Status))
TITLE = st.text(min_size=1, max_size=40)


@st.composite
def key_result_inputs(draw: st.DrawFn, index: int) -> KeyResultInput:
    """Draw a Key Result evaluated to any status and progress, maybe with a frozen score."""
    status = draw(STATUS)
    progress = draw(PROGRESS)
    closed_score = None if progress is None else min(1.0, max(0.0, progress))
    evaluation = Evaluation(
        status,
        draw(TITLE),
        progress=progress,
        score=closed_score if status is Status.CLOSED else None,
    )
    return KeyResultInput(
        id=f"kr-{index}",
        title=draw(TITLE),
        unit="%",
        direction="increase",
        evaluation=evaluation,
        frozen_score=draw(SCORE),
    )


@st.composite
def scorecards(draw: st.DrawFn) -> Scorecard:
    """Draw a scorecard of a few objectives with a few Key Results each."""
    objectives = []
    counter = 0
    for o in range(draw(st.integers(0, 4))):
        krs = []
        for _ in range(draw(st.integers(0, 5))):
            krs.append(draw(key_result_inputs(counter)))
            counter += 1
        objectives.append(
            ObjectiveInput(
                id=f"o-{o}",
                title=draw(TITLE),
                owner=draw(st.one_of(st.none(), TITLE)),
                team=None,
                period_start=START,
                period_end=END,
                key_results=tuple(krs),
            )
        )
    now = draw(st.integers(START - 10 * DAY, END + 10 * DAY))
    return build_scorecard("2026-Q4", objectives, start=START, end=END, now=now)


@settings(max_examples=300, deadline=None)
@given(card=scorecards())
def test_scores_are_within_zero_and_one_and_objectives_are_the_mean(card: Scorecard) -> None:
    """Every score is in [0, 1]; an objective's score is the mean of its KRs' scores."""
    for objective in card.objectives:
        scores = [kr.score for kr in objective.key_results if kr.score is not None]
        for score in scores:
            assert 0.0 <= score <= 1.0
        if scores:
            assert objective.score == pytest.approx(math.fsum(scores) / len(scores))
            assert objective.score is not None and 0.0 <= objective.score <= 1.0
        else:
            assert objective.score is None and objective.grade is Grade.NOT_SCORED
        assert objective.grade is grade(objective.score)
        assert objective.final is (card.now_ts >= END) is card.closed


@settings(max_examples=300, deadline=None)
@given(kr=key_result_inputs(0))
def test_closed_scores_are_frozen_and_running_ones_are_clamped_progress(
    kr: KeyResultInput,
) -> None:
    """Closed: the frozen score when there is one, else the engine's; running: progress clamped."""
    score = key_result_score(kr.evaluation, frozen_score=kr.frozen_score)
    if kr.evaluation.status is Status.CLOSED:
        expected = kr.frozen_score if kr.frozen_score is not None else kr.evaluation.score
        assert score == expected
    elif kr.evaluation.progress is None:
        assert score is None
    else:
        assert score == min(1.0, max(0.0, kr.evaluation.progress))


@pytest.mark.parametrize(
    ("score", "reading"),
    [
        (None, Grade.NOT_SCORED),
        (0.0, Grade.MISSED),
        (0.3, Grade.MISSED),
        (0.39, Grade.MISSED),
        (0.4, Grade.PROGRESS),
        (0.6, Grade.PROGRESS),
        (0.69, Grade.PROGRESS),
        (0.7 - 1e-12, Grade.DELIVERED),
        (0.7, Grade.DELIVERED),
        (1.0, Grade.DELIVERED),
    ],
)
def test_grades_follow_the_conventional_okr_reading(score: float | None, reading: Grade) -> None:
    """0.0–0.3 missed, 0.4–0.6 progress, 0.7–1.0 delivered; float noise does not cross a line."""
    assert grade(score) is reading


def test_all_scores_at_one_asks_whether_the_goals_were_ambitious() -> None:
    """A card where every scored KR is 1.0 carries the ambition note; one below does not."""

    def card(*progress: float | None) -> Scorecard:
        krs = tuple(
            KeyResultInput(
                f"k{i}", "t", "", "increase", Evaluation(Status.ON_TRACK, "", progress=p)
            )
            for i, p in enumerate(progress)
        )
        objective = ObjectiveInput("o", "O", None, None, START, END, krs)
        return build_scorecard("2026-Q4", [objective], start=START, end=END, now=START + DAY)

    assert card(1.0, 1.3, None).ambition_note == AMBITION_NOTE
    assert card(1.0, 0.99).ambition_note is None
    assert card(None).ambition_note is None


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 10**9),
    length=st.integers(1, 400 * DAY),
    offset=st.integers(-10 * DAY, 500 * DAY),
)
def test_trajectory_instants_cover_the_period_so_far_weekly(
    start: int, length: int, offset: int
) -> None:
    """From the start, at most a week apart, ending at min(now, end); nothing before the start."""
    end, now = start + length, start + offset
    instants = trajectory_instants(start=start, end=end, now=now)
    if now < start:
        assert instants == []
        return
    assert instants[0] == start and instants[-1] == min(now, end)
    gaps = [b - a for a, b in zip(instants, instants[1:], strict=False)]
    assert all(0 < gap <= TRAJECTORY_STEP_SECONDS for gap in gaps)


MARKDOWN_ROW = re.compile(r"(?<!\\)\|")


@settings(max_examples=200, deadline=None)
@given(card=scorecards())
def test_csv_and_markdown_list_every_key_result_once(card: Scorecard) -> None:
    """Both renderings hold each KR exactly once; titles survive CSV; table rows keep 5 cells."""
    krs = [kr for o in card.objectives for kr in o.key_results]
    rows = list(csv.DictReader(io.StringIO(scorecard_csv(card), newline="")))
    kr_rows = [r for r in rows if r["level"] == "key_result"]
    assert [r["key_result_id"] for r in kr_rows] == [kr.id for kr in krs]
    assert [r["key_result_title"] for r in kr_rows] == [kr.title for kr in krs]
    assert [r["objective_id"] for r in rows if r["level"] == "objective"] == [
        o.id for o in card.objectives
    ]
    markdown = scorecard_markdown(card)
    for kr in krs:
        assert markdown.count(f"(`{kr.id}`)") == 1
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table_rows) == len(krs) + len(card.objectives)  # KR rows plus header rows
    for line in table_rows:
        assert len(MARKDOWN_ROW.findall(line)) == 6, line
