"""Run the alert rules after an evaluation and write the resulting deliveries to the outbox.

Run by the writer (`app.sampling.writer`) inside the transaction that stores the evaluation, so an
event and the state change that raised it commit together or not at all (at-least-once
starts here). Delivery itself happens later, in `app.alerts.delivery`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from app.config.base import AlertRulesConfig
from app.config.secrets import redactor_for
from app.core.alert_rules import (
    FIRING_EVENT,
    AlertEvent,
    AlertPolicy,
    AlertState,
    Amount,
    Condition,
    ConditionState,
    EventType,
    Observation,
    step,
)
from app.core.domain import DeliveryState, Direction, Status, parse_amount
from app.core.redaction import Redactor
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from app.config.delivery import AlertsConfig, WebhookConfig
    from app.config.loading import LoadedConfig
    from app.core.inputs import Evaluation


class AlertedKeyResult(Protocol):
    """The fields of a Key Result that alerts quote (a row, or the recorder's slim copy)."""

    @property
    def id(self) -> str: ...  # noqa: D102
    @property
    def title(self) -> str: ...  # noqa: D102
    @property
    def unit(self) -> str: ...  # noqa: D102
    @property
    def direction(self) -> str: ...  # noqa: D102


class AlertedObjective(Protocol):
    """The fields of an objective that alerts quote and read."""

    @property
    def id(self) -> str: ...  # noqa: D102
    @property
    def title(self) -> str: ...  # noqa: D102
    @property
    def team(self) -> str | None: ...  # noqa: D102


def _amount(spec: float | str) -> Amount:
    value, relative = parse_amount(spec)
    return Amount(value, relative=relative)


def alert_policy(defaults: AlertsConfig, *overrides: AlertRulesConfig | None) -> AlertPolicy:
    """Merge `[alerts]` with objective and Key Result overrides (later ones win)."""
    merged: dict[str, Any] = {}
    for layer in (defaults, *overrides):
        if layer is not None:
            merged.update(
                {
                    k: v
                    for k, v in layer.model_dump(include=set(AlertRulesConfig.model_fields)).items()
                    if v is not None
                }
            )
    policy = AlertPolicy()
    return AlertPolicy(
        enabled=merged.get("enabled", policy.enabled),
        events=frozenset(EventType(e) for e in merged["events"])
        if "events" in merged
        else policy.events,
        regression_threshold=_amount(merged["regression_threshold"])
        if "regression_threshold" in merged
        else policy.regression_threshold,
        regression_from=merged.get("regression_from", policy.regression_from),
        hysteresis=_amount(merged["hysteresis"]) if "hysteresis" in merged else policy.hysteresis,
        for_samples=merged.get("for_samples", policy.for_samples),
        for_seconds=parse_duration(merged["for_"]) if "for_" in merged else None,
        repeat_seconds=parse_duration(merged["repeat_interval"])
        if "repeat_interval" in merged
        else policy.repeat_seconds,
        mute=tuple(
            (int(m["start"].timestamp()), int(m["end"].timestamp())) for m in merged.get("mute", [])
        ),
    )


@dataclass(frozen=True)
class AlertRouting:
    """Policies per Key Result and the webhooks events go to, from the config."""

    policies: dict[str, AlertPolicy]
    webhooks: list[WebhookConfig]
    teams: dict[str, str | None]
    public_url: str
    # Payloads quote status reasons, which quote sources: they pass through the redactor.
    redactor: Redactor = field(default_factory=Redactor)

    @classmethod
    def from_config(cls, loaded: LoadedConfig, *, redactor: Redactor | None = None) -> AlertRouting:
        """Build the routing once per loaded config (redacting with the config's secrets)."""
        cfg = loaded.config
        return cls(
            policies={
                kr.id: alert_policy(cfg.alerts, o.alerts, kr.alerts)
                for o, kr in loaded.key_results()
            },
            webhooks=list(cfg.webhooks),
            teams={o.id: o.team for o in cfg.objectives},
            public_url=cfg.api.link_base(),
            redactor=redactor or redactor_for(loaded),
        )

    def webhooks_for(self, event: AlertEvent, objective_id: str) -> list[WebhookConfig]:
        """Return the webhooks whose filters accept this event.

        A recovery goes wherever its condition's firing event went, so a receiver (an
        Alertmanager above all) that saw an alert always sees it end.
        """
        routed = event.type
        if event.type is EventType.RECOVERED and event.condition is not None:
            routed = FIRING_EVENT[event.condition]
        team = self.teams.get(objective_id)
        return [
            w
            for w in self.webhooks
            if (w.events is None or routed.value in w.events)
            and (w.objectives is None or objective_id in w.objectives)
            and (w.teams is None or team in w.teams)
        ]


# `dataclasses.asdict` deep-copies; these fields are plain numbers, so a shallow read is
# enough and it runs for every sample.
_CONDITION_FIELDS = tuple(f.name for f in fields(ConditionState))


def state_to_json(state: AlertState) -> dict[str, Any]:
    """Serialise the rules' state for the `alert_states` table."""
    return {
        "conditions": {
            c.value: {name: getattr(s, name) for name in _CONDITION_FIELDS}
            for c, s in state.conditions.items()
        },
        "reported_status": state.reported_status,
        "candidate_status": state.candidate_status,
        "candidate_count": state.candidate_count,
        "candidate_since": state.candidate_since,
    }


def state_from_json(data: dict[str, Any] | None) -> AlertState:
    """Read the rules' state back (an empty state for a new Key Result)."""
    if not data:
        return AlertState()
    return AlertState(
        conditions={Condition(c): ConditionState(**s) for c, s in data["conditions"].items()},
        reported_status=Status(data["reported_status"]) if data["reported_status"] else None,
        candidate_status=Status(data["candidate_status"]) if data["candidate_status"] else None,
        candidate_count=data["candidate_count"],
        candidate_since=data["candidate_since"],
    )


def event_payload(
    event: AlertEvent,
    *,
    kr: AlertedKeyResult,
    objective: AlertedObjective,
    evaluation: Evaluation,
    routing: AlertRouting,
    policy: AlertPolicy,
) -> dict[str, Any]:
    """Return the generic JSON body of an event (other formats are rendered from it)."""
    payload = {
        "type": event.type.value,
        "timestamp": datetime.fromtimestamp(event.at, UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "key_result": {
                "id": kr.id,
                "title": kr.title,
                "unit": kr.unit,
                "direction": kr.direction,
            },
            "objective": {"id": objective.id, "title": objective.title},
            "team": objective.team,
            "condition": event.condition.value if event.condition else None,
            "firing_since": event.firing_since,
            "repeat": event.repeat,
            # Receivers that expire alerts (Alertmanager's endsAt) need to know when the
            # next repeat is due.
            "repeat_interval_seconds": policy.repeat_seconds,
            "status": evaluation.status.value,
            "previous_status": event.previous_status.value if event.previous_status else None,
            "status_reason": evaluation.reason,
            "value": evaluation.current_value,
            "target": evaluation.target,
            "baseline": evaluation.baseline,
            "progress": evaluation.progress,
            "forecast": evaluation.forecast.value if evaluation.forecast else None,
            "link": f"{routing.public_url}/key-results/{kr.id}",
        },
    }
    redacted: dict[str, Any] = routing.redactor.json(payload)
    return redacted


def step_alerts(
    routing: AlertRouting,
    state: AlertState,
    *,
    kr: AlertedKeyResult,
    objective: AlertedObjective,
    evaluation: Evaluation,
    now_ts: int,
    sample_ts: int | None,
    previous: float | None,
    best: float | None,
) -> tuple[AlertState, list[dict[str, Any]]]:
    """Step `kr`'s rules from `state`; return the next state and the outbox rows to insert.

    No I/O: the writer (`app.sampling.writer`) reads the state and writes the rows.
    """
    policy = routing.policies.get(kr.id)
    if policy is None:
        return state, []
    observation = Observation(
        now=now_ts,
        status=evaluation.status,
        direction=Direction(kr.direction),
        value=evaluation.current_value,
        sample_ts=sample_ts,
        previous_value=previous,
        best_value=best,
        target=evaluation.target,
        forecast_value=evaluation.forecast.value if evaluation.forecast else None,
        forecast_low=evaluation.forecast.low if evaluation.forecast else None,
        forecast_high=evaluation.forecast.high if evaluation.forecast else None,
    )
    new_state, events = step(policy, state, observation)
    rows = []
    for event in events:
        payload = event_payload(
            event, kr=kr, objective=objective, evaluation=evaluation, routing=routing, policy=policy
        )
        event_id = f"evt_{uuid.uuid4().hex}"
        rows += [
            {
                "event_id": event_id,
                "webhook": webhook.name,
                "event_type": event.type.value,
                "key_result_id": kr.id,
                "payload": payload,
                "created_ts": now_ts,
                "sample_ts": sample_ts,
                "next_attempt_ts": now_ts,
                "attempts": 0,
                "state": DeliveryState.PENDING,
            }
            for webhook in routing.webhooks_for(event, objective.id)
        ]
    return new_state, rows
