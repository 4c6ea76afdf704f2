"""Render a delivery's generic event payload into the HTTP request its webhook's format expects.

- `generic`: the payload as JSON, signed per the Standard Webhooks spec (`webhook-id` is the
  delivery's stable event id, `webhook-timestamp` the send time, `webhook-signature` an
  HMAC-SHA256 `v1,` signature). The secret is the `whsec_<base64>` form those libraries
  generate (bare base64 is accepted too; the key is the decoded bytes).
- `slack`: an incoming-webhook message, `text` (the notification fallback) plus `blocks`.
- `alertmanager`: Alertmanager's `POST /api/v2/alerts` (appended to the URL unless its path
  already ends with it). Conditions map to alert names (below); a firing event ends at
  event time + 2 × the repeat interval (the rules re-send it each interval, so it stays up
  while the condition holds), and `kr.recovered` re-sends the same labels with
  `endsAt` = event time, which resolves the alert.
Custom `headers` of the webhook are added to every request (the format's own headers win).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from app.config import WebhookConfig
from app.digest import DIGEST_EVENT, REMINDER_EVENT
from app.digest_slack import slack_digest, slack_reminder

ALERTMANAGER_PATH = "/api/v2/alerts"
DEFAULT_REPEAT_SECONDS = 4 * 3600
ONE_SHOT_TTL = timedelta(hours=1)
# The rules do not repeat status changes: a status alert lasts until the next change resolves it.
STATUS_TTL = timedelta(days=7)
TEST_EVENT = "krtracker.test"

CONDITION_ALERTS = {
    "regressed": "KeyResultRegressed",
    "stale": "KeyResultStale",
    "forecast_miss": "KeyResultForecastMiss",
}
STATUS_SEVERITY = {"at_risk": "warning", "off_track": "critical"}
HEADLINES = {
    "kr.regressed": "Key Result regressed",
    "kr.stale": "Key Result has no fresh data",
    "kr.forecast_miss": "Key Result forecast misses its target",
    "kr.status_changed": "Key Result status changed",
    "kr.achieved": "Key Result achieved",
    "kr.recovered": "Key Result recovered",
    TEST_EVENT: "krtracker test event",
}
EMOJI = {"kr.recovered": ":white_check_mark:", "kr.achieved": ":trophy:", TEST_EVENT: ":wave:"}


@dataclass(frozen=True)
class RenderedRequest:
    """What to POST: the target URL, body bytes and headers."""

    url: str
    body: bytes
    headers: dict[str, str]


def render(
    webhook: WebhookConfig, *, event_id: str, payload: dict[str, Any], sent_at: datetime
) -> RenderedRequest:
    """Return the request for `payload` in `webhook`'s format."""
    if webhook.url is None:
        raise ValueError(f"webhook {webhook.name!r} ({webhook.format}) is not sent over HTTP")
    custom = {k: v.get_secret_value() for k, v in webhook.headers.items()}
    base = {"Content-Type": "application/json", "User-Agent": "krtracker-webhooks/1"}
    if webhook.format == "slack" and payload.get("type") == DIGEST_EVENT:
        return RenderedRequest(webhook.url, _json(slack_digest(payload)), {**custom, **base})
    if webhook.format == "slack" and payload.get("type") == REMINDER_EVENT:
        return RenderedRequest(webhook.url, _json(slack_reminder(payload)), {**custom, **base})
    if webhook.format == "slack":
        return RenderedRequest(webhook.url, _json(slack_message(payload)), {**custom, **base})
    if webhook.format == "alertmanager":
        return RenderedRequest(
            alertmanager_url(webhook.url), _json(alertmanager_alerts(payload)), {**custom, **base}
        )
    body = _json(payload)
    return RenderedRequest(
        webhook.url, body, {**custom, **base, **sign(webhook, event_id, body, sent_at)}
    )


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def sign(webhook: WebhookConfig, event_id: str, body: bytes, sent_at: datetime) -> dict[str, str]:
    """Return the Standard Webhooks headers for `body` (the secret never leaves this call)."""
    if webhook.secret is None:
        raise ValueError(f"webhook {webhook.name!r} is generic but has no secret to sign with")
    signature = Webhook(webhook.secret.get_secret_value()).sign(event_id, sent_at, body.decode())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
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


def _slack_escape(text: str) -> str:
    # Slack mrkdwn treats &, < and > as control characters (api.slack.com "Escaping text").
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a Slack incoming-webhook body: `text` plus header, fields, reason and link blocks."""
    if payload["type"] == "okr.period_closed":
        return _period_slack_message(payload["data"])
    data = payload["data"]
    emoji = EMOJI.get(payload["type"], ":warning:")
    title = headline(payload)
    fields = [
        f"*Status*\n{data.get('status')}",
        f"*Value vs target*\n{value_vs_target(data)}",
        f"*Objective*\n{(data.get('objective') or {}).get('title', '')}",
        f"*Team*\n{data.get('team') or '-'}",
    ]
    return {
        "text": _slack_escape(f"{emoji} {title} — {value_vs_target(data)} ({data.get('status')})"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": _slack_escape(f)} for f in fields],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Reason:* {_slack_escape(data.get('status_reason') or '-')}",
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{data['link']}|Open the Key Result>"}],
            },
        ],
    }


def _score(value: float | None) -> str:
    return "not scored" if value is None else f"{value:.2f}"


def _period_slack_message(data: dict[str, Any]) -> dict[str, Any]:
    """Return the Slack body of `okr.period_closed`: each objective's final score."""
    lines = [
        f"*{_slack_escape(o['title'])}*: {_score(o['score'])} ({o['grade']})"
        for o in data["objectives"]
    ]
    title = f":checkered_flag: Period {data['period']} closed: final scores"
    return {
        "text": _slack_escape(title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{data['report']}|Retrospective>"},
            },
        ],
    }


def alertmanager_url(url: str) -> str:
    """Return the alerts endpoint: `url` itself if it ends with /api/v2/alerts, else appended."""
    base, _, query = url.partition("?")
    if not base.rstrip("/").endswith(ALERTMANAGER_PATH):
        base = base.rstrip("/") + ALERTMANAGER_PATH
    return f"{base}?{query}" if query else base


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
        "startsAt": _iso(starts),
        "endsAt": _iso(ends),
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
        "timestamp": _iso(datetime.fromtimestamp(at_ts, UTC)),
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
