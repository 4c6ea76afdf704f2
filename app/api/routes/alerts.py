"""`/alerts`: the alert conditions pending or firing per Key Result (from `alert_states`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.alerts.routing import state_from_json
from app.api.deps import ReadAccess, SessionDep
from app.api.schemas import iso
from app.store.run_state import alert_states_with_key_results

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[ReadAccess])
ConditionStateName = Literal["pending", "firing"]


class ConditionOut(BaseModel):
    """One condition of a Key Result that is firing, or pending its `for` debounce."""

    condition: str
    state: ConditionStateName
    since: datetime | None
    pending_samples: int
    last_notified_at: datetime | None


class KeyResultAlertsOut(BaseModel):
    """A Key Result's active alert conditions and the status last reported for it."""

    key_result_id: str
    objective_id: str | None
    title: str | None
    status: str | None
    reported_status: str | None
    conditions: list[ConditionOut]
    updated_at: datetime


@router.get("")
def get_alerts(
    session: SessionDep, state: ConditionStateName | None = None
) -> list[KeyResultAlertsOut]:
    """List Key Results with a pending or firing condition (optionally only one of the two)."""
    out = []
    for row, kr in alert_states_with_key_results(session):
        rules_state = state_from_json(row.state)
        conditions = []
        for condition, cs in sorted(rules_state.conditions.items()):
            if cs.firing_since is not None:
                current: ConditionStateName = "firing"
                since: int | None = cs.firing_since
            elif cs.pending_count or cs.pending_since is not None:
                current, since = "pending", cs.pending_since
            else:
                continue
            if state is None or state == current:
                conditions.append(
                    ConditionOut(
                        condition=condition.value,
                        state=current,
                        since=iso(since),
                        pending_samples=cs.pending_count,
                        last_notified_at=iso(cs.last_notified_ts),
                    )
                )
        if conditions:
            out.append(
                KeyResultAlertsOut(
                    key_result_id=row.key_result_id,
                    objective_id=kr.objective_id if kr else None,
                    title=kr.title if kr else None,
                    status=kr.status if kr else None,
                    reported_status=rules_state.reported_status.value
                    if rules_state.reported_status
                    else None,
                    conditions=conditions,
                    updated_at=datetime.fromtimestamp(row.updated_ts, UTC),
                )
            )
    return out
