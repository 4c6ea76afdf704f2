"""`okr.period_closed`: one event per closed period to the webhooks that ask for it.

Raised by the scheduler's re-evaluation once every Key Result of a period has been
evaluated after the period's end (so every score is the frozen final one). The event id is
derived from the period, and a webhook that already has it in the outbox is skipped: the
event is queued once per (period, webhook) even across restarts, then delivered by the
outbox with its usual retries and signing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from app.config.objectives import quarter_bounds, quarter_of
from app.core.domain import PERIOD_CLOSED
from app.reports.scorecard import grade, objective_score
from app.store.key_results import list_objectives
from app.store.models import Delivery, KeyResult, Objective
from app.store.outbox import delivery_exists
from app.store.reports import key_results_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Engine

    from app.alerts.routing import AlertRouting


def period_label(start: int, end: int) -> str:
    """Return "2026-Q4" for a quarter's bounds, else "2026-10-05_2026-12-20" (end inclusive)."""
    first = datetime.fromtimestamp(start, UTC)
    quarter = quarter_of(first.date())
    bounds = quarter_bounds(quarter)
    if (int(bounds[0].timestamp()), int(bounds[1].timestamp())) == (start, end):
        return quarter
    day = time.strftime("%Y-%m-%d", time.gmtime(end - 1))
    return f"{first:%Y-%m-%d}_{day}"


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def period_payload(
    label: str,
    objectives: Sequence[Objective],
    key_results: Sequence[KeyResult],
    *,
    now_ts: int,
    public_url: str,
) -> dict[str, Any]:
    """Return the generic JSON body: every objective's and Key Result's final score."""
    lines = []
    for objective in objectives:
        krs = [k for k in key_results if k.objective_id == objective.id]
        score = objective_score([k.final_score for k in krs])
        lines.append(
            {
                "id": objective.id,
                "title": objective.title,
                "team": objective.team,
                "score": score,
                "grade": grade(score).value,
                "key_results": [
                    {
                        "id": k.id,
                        "title": k.title,
                        "score": k.final_score,
                        "grade": grade(k.final_score).value,
                    }
                    for k in krs
                ],
            }
        )
    start, end = objectives[0].period_start_ts, objectives[0].period_end_ts
    return {
        "type": PERIOD_CLOSED,
        "timestamp": _iso(now_ts),
        "data": {
            "period": label,
            "start": _iso(start),
            "end": _iso(end),
            "objectives": lines,
            "report": f"{public_url}/api/v1/periods/{label}/report?format=html",
        },
    }


def raise_period_closed(engine: Engine, routing: AlertRouting, *, now_ts: int) -> int:
    """Queue `okr.period_closed` for each period seen closed; return how many rows were added."""
    added = 0
    with Session(engine) as session:
        periods: dict[tuple[int, int], list[Objective]] = {}
        for objective in list_objectives(session):
            if objective.period_end_ts <= now_ts:
                key = (objective.period_start_ts, objective.period_end_ts)
                periods.setdefault(key, []).append(objective)
        for (start, end), objectives in periods.items():
            krs = key_results_of(session, [o.id for o in objectives], include_archived=False)
            if any(k.evaluated_ts is None or k.evaluated_ts < end for k in krs):
                continue  # not every score is frozen yet: wait for the next pass
            label = period_label(start, end)
            event_id = f"evt_period_closed_{label}"
            for webhook in routing.webhooks:
                if webhook.events is None or PERIOD_CLOSED not in webhook.events:
                    continue
                chosen = [
                    o
                    for o in objectives
                    if (webhook.objectives is None or o.id in webhook.objectives)
                    and (webhook.teams is None or o.team in webhook.teams)
                ]
                if not chosen or delivery_exists(session, event_id=event_id, webhook=webhook.name):
                    continue
                payload = period_payload(
                    label, chosen, krs, now_ts=now_ts, public_url=routing.public_url
                )
                session.add(
                    Delivery(
                        event_id=event_id,
                        webhook=webhook.name,
                        event_type=PERIOD_CLOSED,
                        key_result_id=f"period:{label}"[:64],
                        payload=routing.redactor.json(payload),
                        created_ts=now_ts,
                        next_attempt_ts=now_ts,
                    )
                )
                added += 1
        session.commit()
    return added
