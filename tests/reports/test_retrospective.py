"""The retrospective's pure core: data quality, movers, the reading, and its three renderings."""

from __future__ import annotations

import json
import re

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.domain import Status
from app.core.inputs import Evaluation
from app.core.trajectory import TrajectoryPoint
from app.reports.retrospective import (
    Attempt,
    CheckInPoint,
    KeyResultHistory,
    Revision,
    build_retrospective,
    data_quality,
)
from app.reports.retrospective_render import (
    retrospective_html,
    retrospective_json,
    retrospective_markdown,
    trajectory_svg,
)
from app.reports.scorecard import KeyResultInput, ObjectiveInput, Scorecard, build_scorecard
from tests.reports.test_scorecard import END, START, scorecards

HOUR = 3600


@pytest.mark.parametrize(
    ("attempts", "interval", "failed", "stale"),
    [
        pytest.param([(h, True) for h in range(24)], HOUR, 0, 0, id="hourly, all ok"),
        pytest.param([(0, True), (10, True)], HOUR, 0, 7 + 11, id="gaps past 3 h are stale"),
        pytest.param([(0, True), (3, False), (5, True)], HOUR, 2, 16, id="failed until next ok"),
        pytest.param([(0, False)], HOUR, 24, 0, id="failing to the end"),
        pytest.param([(0, True)], HOUR, 0, 21, id="silent after 3 h of grace is stale"),
        pytest.param([(5, True)], HOUR, 0, 2 + 16, id="a late first attempt is stale too"),
        pytest.param([], HOUR, 0, 21, id="never attempted"),
        pytest.param([(0, True)], None, 0, 0, id="unscheduled: never stale"),
        pytest.param([(6, False), (12, True)], None, 6, 0, id="unscheduled: failures count"),
    ],
)
def test_data_quality_is_failed_and_stale_time_of_the_window(
    attempts: list[tuple[int, bool]], interval: int | None, failed: int, stale: int
) -> None:
    """Failed time runs from a failed attempt to the next; stale time is a gap past 3 intervals."""
    quality = data_quality(
        [Attempt(h * HOUR, ok) for h, ok in attempts],
        start=0,
        end=24 * HOUR,
        interval_seconds=interval,
        stale_after_intervals=3,
    )
    assert quality is not None
    assert (quality.failed_seconds, quality.stale_seconds) == (failed * HOUR, stale * HOUR)
    assert quality.bad_share == pytest.approx((failed + stale) / 24)


def test_no_schedule_and_no_attempts_has_no_data_quality() -> None:
    """Values typed in by people are not sampled: no data quality figure, not a perfect one."""
    assert data_quality([], start=0, end=10, interval_seconds=None, stale_after_intervals=3) is None


@settings(max_examples=200, deadline=None)
@given(
    attempts=st.lists(st.tuples(st.integers(-50, 150), st.booleans()), max_size=30),
    interval=st.one_of(st.none(), st.integers(1, 40)),
)
def test_data_quality_never_exceeds_the_window(
    attempts: list[tuple[int, bool]], interval: int | None
) -> None:
    """Failed plus stale time stays within [0, the measured time], attempts outside ignored."""
    quality = data_quality(
        [Attempt(ts, ok) for ts, ok in attempts],
        start=0,
        end=100,
        interval_seconds=interval,
        stale_after_intervals=3,
    )
    if quality is not None:
        assert 0 <= quality.failed_seconds + quality.stale_seconds <= quality.measured_seconds
        assert 0.0 <= quality.bad_share <= 1.0


@settings(max_examples=200, deadline=None)
@given(card=scorecards())
def test_retrospective_scores_are_the_scorecards(card: Scorecard) -> None:
    """Every objective's and Key Result's score is exactly the scorecard's, in the same order."""
    retro = build_retrospective(card, {}, stale_after_intervals=3)
    assert [o.line for o in retro.objectives] == list(card.objectives)
    assert [k.line for o in retro.objectives for k in o.key_results] == [
        kr for o in card.objectives for kr in o.key_results
    ]
    assert retro.ambition_note == card.ambition_note
    assert "0.7 is a success" in retro.reading
    json.dumps(retrospective_json(retro))  # always serialisable


def test_movers_and_never_moved_come_from_the_trajectory() -> None:
    """The biggest progress change leads `moved_most`; a flat or unmeasured KR never moved."""

    def kr(kr_id: str, progress: list[float | None]) -> KeyResultInput:
        points = tuple(
            TrajectoryPoint(START + i * 7 * 86400, p, None) for i, p in enumerate(progress)
        )
        return KeyResultInput(
            id=kr_id,
            title=f"<b>{kr_id}</b> | x",
            unit="",
            direction="increase",
            evaluation=Evaluation(Status.ON_TRACK, "ok", progress=progress[-1]),
            trajectory=points,
        )

    objective = ObjectiveInput(
        id="o",
        title="O & co",
        owner=None,
        team=None,
        period_start=START,
        period_end=END,
        key_results=(
            kr("small", [0.1, 0.2]),
            kr("big", [0.0, 0.5, 0.9]),
            kr("flat", [0.3, 0.3, 0.305]),
            kr("empty", [None, None]),
            kr("down", [0.6, 0.3]),
        ),
    )
    card = build_scorecard("2026-Q4", [objective], start=START, end=END, now=START + 20 * 86400)
    history = KeyResultHistory(
        revisions=(Revision(START + 86400, "target", "80", "90", "<script>alert(1)</script>"),),
        check_ins=(CheckInPoint(START + 2 * 86400, 0.4, "worried & <late>", "ana"),),
    )
    retro = build_retrospective(card, {"big": history}, stale_after_intervals=3)
    assert [k.line.id for k in retro.moved_most] == ["big", "down", "small"]
    assert [k.line.id for k in retro.never_moved] == ["flat", "empty"]
    assert retro.moved_most[0].movement == pytest.approx(0.9)
    assert not retro.closed

    md = retrospective_markdown(retro)
    assert "<script>" not in md and "\\|" in md
    assert "target 80 → 90" in md and "confidence 0.4" in md

    page = retrospective_html(retro)
    assert (
        "<script" not in page and "&lt;script&gt;" in page and "worried &amp; &lt;late&gt;" in page
    )
    # Self-contained: no link, no source, no url() anywhere; charts are inline SVG.
    assert not re.search(r"\b(src|href)=|url\(|@import", page)
    assert page.count("<svg") == 5

    data = retrospective_json(retro)
    assert data["moved_most"] == ["big", "down", "small"]
    big = data["objectives"][0]["key_results"][1]
    assert big["revisions"][0]["note"] == "<script>alert(1)</script>"
    assert big["check_ins"][0]["confidence"] == 0.4


def test_trajectory_svg_is_well_formed_and_scaled_to_the_period() -> None:
    """The chart parses as XML; a point at the period's end sits at the right edge."""
    points = (TrajectoryPoint(START, 0.0, 0.0), TrajectoryPoint(END, 1.0, 1.0))
    svg = trajectory_svg(points, [(START, 0.5)], start=START, end=END)
    root = ElementTree.fromstring(svg)
    polylines = [e for e in root.iter() if e.tag.endswith("polyline")]
    assert len(polylines) == 3
    assert polylines[1].get("points") == "0.0,110.0 320.0,0.0"
