"""The pure digest: team filtering, objective progress, a Slack message within its limits."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from app.core.domain import Status
from app.core.inputs import Evaluation
from app.reports.review import KeyResultFacts, KeyResultRef, RaisedAlert, build_review
from app.rhythm.digest import KeyResultLine, build_digest, digest_payload, objective_line
from app.rhythm.digest_slack import MAX_BLOCKS, MAX_SECTION_CHARS, slack_digest

NOW = 1_795_132_800
WEEK = 7 * 86400
TEAMS = ["platform", "delivery", None]


def _facts(i: int, team: str | None, then: float, now: float) -> KeyResultFacts:
    ref = KeyResultRef(f"kr{i}", f"KR <{i}> & co", "%", f"o{i}", f"Objective {i}", "ana", team)
    return KeyResultFacts(
        ref=ref,
        period_start=NOW - 30 * 86400,
        period_end=NOW + 60 * 86400,
        then=Evaluation(Status.ON_TRACK, "fine", progress=then),
        now=Evaluation(Status.OFF_TRACK if now < then else Status.ON_TRACK, "moved", progress=now),
    )


progress = st.floats(-0.5, 1.5, allow_nan=False)


@given(st.lists(st.tuples(st.sampled_from(TEAMS), progress, progress), max_size=80))
def test_a_team_digest_holds_only_that_team_and_slack_stays_within_limits(
    rows: list[tuple[str | None, float, float]],
) -> None:
    """Every listed entry belongs to the team; the message fits Slack's block and text limits."""
    facts = [_facts(i, team, then, now) for i, (team, then, now) in enumerate(rows)]
    alerts = [
        RaisedAlert(f"e{i}", "kr.regressed", f"kr{i}", "t", NOW - 60, None, None, None, None, ())
        for i in range(len(rows))
    ]
    review = build_review(facts, alerts, since=NOW - WEEK, now=NOW)
    objectives = [
        objective_line(
            id=f"o{i}",
            title=f"Objective {i}",
            owner="ana",
            team=team,
            key_results=[KeyResultLine(f"kr{i}", "t", "%", now, "on_track", "r")],
        )
        for i, (team, _, now) in enumerate(rows)
    ]
    digest = build_digest(review, objectives, name="weekly", teams=["platform"])
    platform = {f"kr{i}" for i, (team, _, _) in enumerate(rows) if team == "platform"}
    assert {o.id for o in digest.objectives} == {f"o{i[2:]}" for i in platform}
    assert {m.key_result.id for m in digest.review.movers} <= platform
    assert {c.key_result.id for c in digest.review.status_changes} <= platform
    assert {a.key_result_id for a in digest.review.alerts} == platform
    everyone = build_digest(review, objectives, name="weekly", teams=None)
    assert len(everyone.review.movers) == len(review.movers)
    message = slack_digest(digest_payload(everyone, public_url="https://okr.example.com"))
    assert len(message["blocks"]) <= MAX_BLOCKS
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
    assert "<0>" not in json.dumps(message)  # titles are escaped for mrkdwn


def test_objective_progress_is_the_mean_of_clamped_key_result_progress() -> None:
    """1.4 counts as 1.0, None is left out: (1.0 + 0.2) / 2."""
    line = objective_line(
        id="o",
        title="O",
        owner=None,
        team=None,
        key_results=[
            KeyResultLine("a", "a", "", 1.4, "achieved", ""),
            KeyResultLine("b", "b", "", 0.2, "at_risk", ""),
            KeyResultLine("c", "c", "", None, "no_data", ""),
        ],
    )
    assert line.progress == 0.6
