"""The `alertmanager` format: an event as Alertmanager's `POST /api/v2/alerts` body.

Conditions map to alert names (below); a firing event ends at event time + 2 × the repeat
interval (the rules re-send it each interval, so it stays up while the condition holds),
and `kr.recovered` re-sends the same labels with `endsAt` = event time, which resolves the
alert. The path is appended to the webhook URL unless it already ends with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.alerts.events import TEST_EVENT, headline, iso_utc, value_vs_target

ALERTMANAGER_PATH = "/api/v2/alerts"
DEFAULT_REPEAT_SECONDS = 4 * 3600
ONE_SHOT_TTL = timedelta(hours=1)
# The rules do not repeat status changes: a status alert lasts until the next change resolves it.
STATUS_TTL = timedelta(days=7)
CONDITION_ALERTS = {
    "regressed": "KeyResultRegressed",
    "stale": "KeyResultStale",
    "forecast_miss": "KeyResultForecastMiss",
}
STATUS_SEVERITY = {"at_risk": "warning", "off_track": "critical"}


def alertmanager_url(url: str) -> str:
    """Return the alerts endpoint: `url` itself if it ends with /api/v2/alerts, else appended."""
    base, _, query = url.partition("?")
    if not base.rstrip("/").endswith(ALERTMANAGER_PATH):
        base = base.rstrip("/") + ALERTMANAGER_PATH
    return f"{base}?{query}" if query else base


def _alert(
    payload: dict[str, Any],
    *,
    alertname: str,
    condition: str,
    severity: str,
    starts: datetime,
    ends: datetime,
) -> dict[str, Any]:
    data = payload["data"]
    labels = {
        "alertname": alertname,
        "objective": (data.get("objective") or {}).get("id", ""),
        "key_result": (data.get("key_result") or {}).get("id", ""),
        "team": data.get("team") or "",
        "condition": condition,
        "severity": severity,
    }
    return {
        # An empty label is the same as no label to Alertmanager; leave it out.
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": {
            "title": headline(payload),
            "summary": headline(payload),
            "status_reason": data.get("status_reason") or "",
            "value_vs_target": value_vs_target(data),
            "link": data.get("link") or "",
        },
        "startsAt": iso_utc(starts),
        "endsAt": iso_utc(ends),
        "generatorURL": data.get("link") or "",
    }


def alertmanager_alerts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the alerts to post: fire or resolve a condition, move a status, or a one-shot."""
    data, kind = payload["data"], payload["type"]
    at = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    since = datetime.fromtimestamp(data["firing_since"], UTC) if data.get("firing_since") else at
    condition = data.get("condition")
    if condition in CONDITION_ALERTS:
        repeat = timedelta(seconds=data.get("repeat_interval_seconds") or DEFAULT_REPEAT_SECONDS)
        ends = at if kind == "kr.recovered" else at + 2 * repeat
        return [
            _alert(
                payload,
                alertname=CONDITION_ALERTS[condition],
                condition=condition,
                severity="warning",
                starts=since,
                ends=ends,
            )
        ]
    if kind == "kr.status_changed":
        alerts = []
        previous, status = data.get("previous_status"), data.get("status")
        if previous in STATUS_SEVERITY:
            alerts.append(
                _alert(
                    payload,
                    alertname="KeyResultStatusChanged",
                    condition=previous,
                    severity=STATUS_SEVERITY[previous],
                    starts=at,
                    ends=at,
                )
            )
        if status in STATUS_SEVERITY:
            alerts.append(
                _alert(
                    payload,
                    alertname="KeyResultStatusChanged",
                    condition=status,
                    severity=STATUS_SEVERITY[status],
                    starts=at,
                    ends=at + STATUS_TTL,
                )
            )
        return alerts
    name = "KrtrackerTest" if kind == TEST_EVENT else "KeyResultAchieved"
    return [
        _alert(
            payload,
            alertname=name,
            condition="test" if kind == TEST_EVENT else "achieved",
            severity="info",
            starts=at,
            ends=at + ONE_SHOT_TTL,
        )
    ]
