"""The `slack` format of alert and period events: an incoming-webhook message, `text` plus `blocks`.

Digests and reminders have their own, longer layouts in `app.rhythm.digest_slack`.
"""

from __future__ import annotations

from typing import Any

from app.alerts.events import TEST_EVENT, headline, value_vs_target
from app.rhythm.digest_slack import escape

EMOJI = {"kr.recovered": ":white_check_mark:", "kr.achieved": ":trophy:", TEST_EVENT: ":wave:"}


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
        "text": escape(f"{emoji} {title} — {value_vs_target(data)} ({data.get('status')})"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": escape(f)} for f in fields],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Reason:* {escape(data.get('status_reason') or '-')}",
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
        f"*{escape(o['title'])}*: {_score(o['score'])} ({o['grade']})" for o in data["objectives"]
    ]
    title = f":checkered_flag: Period {data['period']} closed: final scores"
    return {
        "text": escape(title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{data['report']}|Retrospective>"},
            },
        ],
    }
