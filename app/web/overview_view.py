"""The overview's data: the API's objective and Key Result summaries, arranged for the page.

The figures come from `store.key_result_summaries` and `api.schemas.summary_of_row` /
`objective_out`, exactly as `GET /api/v1/objectives` builds them (one view, two renderings);
this module only filters, orders, pages and decorates them (health, sparkline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app.api.representations import objective_out, summary_of_row
from app.store.key_results import key_result_summaries
from app.store.pages import key_result_health, objective_rows
from app.web.sparkline import SparklineCache

# Worst first: what needs attention now, then what may, then what is fine.
SEVERITY = {
    "error": 0,
    "off_track": 1,
    "stale": 2,
    "at_risk": 3,
    "no_data": 4,
    "not_started": 5,
    "on_track": 6,
    "achieved": 7,
    "closed": 8,
}


@dataclass
class ObjectiveNode:
    """An objective as the API shows it, its depth in the alignment tree, its Key Results."""

    objective: dict[str, Any]
    depth: int
    parent_title: str | None
    key_results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Overview:
    """Everything the overview template shows."""

    nodes: list[ObjectiveNode]
    worst: list[dict[str, Any]]
    teams: list[str]
    owners: list[str]
    team: str
    owner: str
    sort: str
    page: int
    pages: int
    total_objectives: int
    periods: list[tuple[int, int]]


def _tree_order(objectives: list[Any]) -> list[tuple[Any, int]]:
    """Return objectives parent-first (depth-first in file order) with their depth."""
    ids = {o.id for o in objectives}
    children: dict[str | None, list[Any]] = {}
    for o in objectives:
        parent = o.parent_id if o.parent_id in ids else None
        children.setdefault(parent, []).append(o)
    ordered: list[tuple[Any, int]] = []
    stack = [(o, 0) for o in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        objective, depth = stack.pop()
        if objective.id in seen:
            continue
        seen.add(objective.id)
        ordered.append((objective, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(objective.id, [])))
    return ordered


def _decorate(
    session: Session,
    cards: list[dict[str, Any]],
    *,
    sparklines: SparklineCache,
    periods: dict[str, tuple[int, int]],
    now: int,
) -> None:
    """Add each card's last error, latest confidence and sparkline."""
    health = key_result_health(session)
    for card in cards:
        card["health"] = health.get(card["id"])
    sparklines.fill(session, cards, periods=periods, now=now)


def _card(row: Any) -> dict[str, Any]:
    card = summary_of_row(row)
    card["current_ts"] = row.current_ts
    return card


def worst_key(card: dict[str, Any]) -> tuple[int, float, str]:
    """Order Key Results worst first: by status, then by how far behind expectation."""
    behind = 0.0
    if card["progress"] is not None and card["expected_progress"] is not None:
        behind = card["progress"] - card["expected_progress"]
    return SEVERITY.get(card["status"], 9), behind, card["id"]


def build_overview(
    session: Session,
    *,
    team: str,
    owner: str,
    sort: str,
    page: int,
    page_size: int,
    sparklines: SparklineCache,
    now: int,
) -> Overview:
    """Filter by team and owner, order (tree or worst first), and cut one page."""
    everything = list(objective_rows(session))
    teams = sorted({o.team for o in everything if o.team})
    owners = sorted({o.owner for o in everything if o.owner})
    chosen = [
        o for o in everything if (not team or o.team == team) and (not owner or o.owner == owner)
    ]
    titles = {o.id: o.title for o in everything}
    periods = {o.id: (o.period_start_ts, o.period_end_ts) for o in everything}
    nodes: list[ObjectiveNode] = []
    worst: list[dict[str, Any]] = []
    if sort == "worst":
        rows = key_result_summaries(session, objective_ids=[o.id for o in chosen])
        cards = sorted((_card(r) for r in rows), key=worst_key)
        size = page_size * 4
        pages = max(1, math.ceil(len(cards) / size))
        worst = cards[(page - 1) * size : page * size]
        for card in worst:
            card["objective_title"] = titles.get(card["objective_id"], card["objective_id"])
        _decorate(session, worst, sparklines=sparklines, periods=periods, now=now)
    else:
        ordered = _tree_order(chosen)
        pages = max(1, math.ceil(len(ordered) / page_size))
        window = ordered[(page - 1) * page_size : page * page_size]
        rows = key_result_summaries(session, objective_ids=[o.id for o, _ in window])
        by_objective: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_objective.setdefault(row.objective_id, []).append(_card(row))
        for objective, depth in window:
            cards = by_objective.get(objective.id, [])
            parent = titles.get(objective.parent_id) if objective.parent_id else None
            nodes.append(ObjectiveNode(objective_out(objective, cards), depth, parent, cards))
        _decorate(
            session,
            [c for n in nodes for c in n.key_results],
            sparklines=sparklines,
            periods=periods,
            now=now,
        )
    return Overview(
        nodes=nodes,
        worst=worst,
        teams=teams,
        owners=owners,
        team=team,
        owner=owner,
        sort=sort,
        page=min(page, pages),
        pages=pages,
        total_objectives=len(chosen),
        periods=sorted({(o.period_start_ts, o.period_end_ts) for o in chosen}),
    )
