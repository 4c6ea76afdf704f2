"""Render a delivery's generic event payload into the HTTP request its webhook's format expects.

- `generic`: the payload as JSON, signed per the Standard Webhooks spec (`webhook-id` is the
  delivery's stable event id, `webhook-timestamp` the send time, `webhook-signature` an
  HMAC-SHA256 `v1,` signature). The secret is the `whsec_<base64>` form those libraries
  generate (bare base64 is accepted too; the key is the decoded bytes).
- `slack`: an incoming-webhook message (`app.alerts.slack`, digests and reminders
  `app.rhythm.digest_slack`).
- `alertmanager`: Alertmanager's `POST /api/v2/alerts` (`app.alerts.alertmanager`).
Custom `headers` of the webhook are added to every request (the format's own headers win).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from standardwebhooks import Webhook

from app.alerts.alertmanager import alertmanager_alerts, alertmanager_url
from app.alerts.slack import slack_message
from app.core.domain import DIGEST_EVENT, REMINDER_EVENT
from app.rhythm.digest_slack import slack_digest, slack_reminder

if TYPE_CHECKING:
    from datetime import datetime

    from app.config.delivery import WebhookConfig


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
