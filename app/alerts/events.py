"""What every webhook format says about an event: its headline, value vs target, the test event.

Shared by the Slack and Alertmanager renderings and the email body, so an event reads the
same wherever it arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TEST_EVENT = "krtracker.test"
HEADLINES = {
    "kr.regressed": "Key Result regressed",
    "kr.stale": "Key Result has no fresh data",
    "kr.forecast_miss": "Key Result forecast misses its target",
    "kr.status_changed": "Key Result status changed",
    "kr.achieved": "Key Result achieved",
    "kr.recovered": "Key Result recovered",
    TEST_EVENT: "krtracker test event",
}


def _number(value: Any, unit: str) -> str:
    if value is None:
        return "no value"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def value_vs_target(data: dict[str, Any]) -> str:
    """Return e.g. `94 % vs target 100 %`."""
    unit = (data.get("key_result") or {}).get("unit") or ""
    return f"{_number(data.get('value'), unit)} vs target {_number(data.get('target'), unit)}"


def headline(payload: dict[str, Any]) -> str:
    """Return a one-line summary of the event, e.g. `Key Result regressed: <title>`."""
    data, kind = payload["data"], payload["type"]
    text = HEADLINES.get(kind, kind)
    if kind == "kr.recovered" and data.get("condition"):
        text += f" ({data['condition'].replace('_', ' ')} resolved)"
    if kind == "kr.status_changed":
        text += f": {data.get('previous_status')} → {data.get('status')}"
    if data.get("repeat"):
        text += " (still firing)"
    return f"{text}: {(data.get('key_result') or {}).get('title', '')}"


def iso_utc(moment: datetime) -> str:
    """Return `moment` as ISO 8601 in UTC with a `Z` (as event timestamps are written)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_test_event(webhook_name: str, *, at_ts: int, public_url: str) -> dict[str, Any]:
    """Return a `krtracker.test` event in the generic shape, so every format can render it."""
    kr = {
        "id": "krtracker-test",
        "title": f"Test event for webhook {webhook_name}",
        "unit": "",
        "direction": "increase",
    }
    return {
        "type": TEST_EVENT,
        "timestamp": iso_utc(datetime.fromtimestamp(at_ts, UTC)),
        "data": {
            "key_result": kr,
            "objective": {"id": "krtracker-test", "title": "krtracker test"},
            "team": None,
            "condition": None,
            "firing_since": None,
            "repeat": False,
            "status": "on_track",
            "previous_status": None,
            "status_reason": f"sent from POST /api/v1/webhooks/{webhook_name}/test",
            "value": None,
            "target": None,
            "baseline": None,
            "progress": None,
            "forecast": None,
            "link": f"{public_url.rstrip('/')}/api/v1/webhooks/{webhook_name}",
        },
    }
