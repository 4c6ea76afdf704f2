"""Render an `okr.digest` event as a Slack Block Kit message people read, not a JSON dump.

Header, the window, one section per objective (its progress and each Key Result's), then
status changes, biggest movers, missing check-ins with owners, failing sources and alerts.
Slack caps a message at 50 blocks and a section's text at 3000 characters: long lists are
cut with "and N more" and a link to the full review page.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_LINES = 10
STATUS_EMOJI = {
    "on_track": ":large_green_circle:",
    "achieved": ":trophy:",
    "at_risk": ":large_yellow_circle:",
    "off_track": ":red_circle:",
    "error": ":x:",
    "stale": ":hourglass:",
}


def escape(text: str) -> str:
    """Escape Slack mrkdwn's control characters (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pct(value: float | None) -> str:
    """Return a progress figure as a whole percentage, or "no data"."""
    return "no data" if value is None else f"{value * 100:.0f} %"


def _status(status: str | None) -> str:
    label = (status or "unknown").replace("_", " ")
    return f"{STATUS_EMOJI.get(status or '', ':white_circle:')} {label}"


def _link(kr: dict[str, Any]) -> str:
    return f"<{kr['link']}|{escape(kr['title'])}>" if kr.get("link") else escape(kr["title"])


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_SECTION_CHARS:
        text = text[: MAX_SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _list(title: str, lines: list[str], *, link: str) -> list[dict[str, Any]]:
    if not lines:
        return []
    shown = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        shown.append(f"_…and {len(lines) - MAX_LINES} more in <{link}|the review>_")
    return [_section(f"*{title}*\n" + "\n".join(shown))]


def _objective(o: dict[str, Any]) -> dict[str, Any]:
    owner = f" · owner {escape(o['owner'])}" if o.get("owner") else ""
    lines = [f"*{escape(o['title'])}* — {pct(o.get('progress'))}{owner}"]
    lines += [
        f"• {escape(kr['title'])}: {pct(kr.get('progress'))} {_status(kr.get('status'))}"
        for kr in o["key_results"]
    ]
    return _section("\n".join(lines))


def digest_text(data: dict[str, Any]) -> str:
    """Return the one-line notification text of a digest."""
    who = ", ".join(data["teams"]) if data.get("teams") else "everyone"
    return (
        f"Weekly OKR digest for {who}: {len(data['objectives'])} objectives, "
        f"{len(data['status_changes'])} status changes, {len(data['alerts'])} alerts"
    )


def slack_digest(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the Slack incoming-webhook body of an `okr.digest` event."""
    data = payload["data"]
    link = data["link"]
    window = f"{data['since'][:10]} → {data['until'][:10]}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"OKR digest: {data['digest']}"[:150]},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{window} · <{link}|Open the review>"}],
        },
        {"type": "divider"},
    ]
    objectives = [_objective(o) for o in data["objectives"]]
    if not objectives:
        objectives = [_section("_No objectives for these teams._")]
    changes = [
        f"• {_link(c['key_result'])}: {_status(c['status_then'])} → {_status(c['status_now'])}"
        f" — {escape(c['reason_now'])}"
        for c in data["status_changes"]
    ]
    movers = [
        f"• {_link(m['key_result'])}: {pct(m['progress_then'])} → {pct(m['progress_now'])}"
        f" ({'+' if m['delta'] >= 0 else '−'}{abs(m['delta']) * 100:.0f} pts)"
        for m in data["movers"]
    ]
    missing = [
        f"• {_link(m['key_result'])} — owner {escape(m['key_result'].get('owner') or 'unset')}"
        f", last check-in {(m['last_check_in'] or 'never')[:10]}"
        for m in data["missing_check_ins"]
    ]
    failing = [
        f"• {_link(p['key_result'])}: {_status(p['status'])} — {escape(p['reason'])}"
        for p in data["source_problems"]
    ]
    alerts = [
        f"• {a['raised'][:16].replace('T', ' ')} {escape(a['type'])}: "
        f"{escape(a['key_result'].get('title') or a['key_result']['id'])}"
        for a in data["alerts"]
    ]
    tail = [
        *_list("Status changes", changes, link=link),
        *_list("Biggest movers", movers, link=link),
        *_list("No check-in in 7 days", missing, link=link),
        *_list("Failing or stale sources", failing, link=link),
        *_list("Alerts raised", alerts, link=link),
    ]
    if not tail:
        tail = [_section("_A quiet week: no status changes, movers, missing check-ins or alerts._")]
    room = MAX_BLOCKS - len(blocks) - len(tail) - 1
    if len(objectives) > room:
        hidden = len(objectives) - room + 1
        objectives = [
            *objectives[: room - 1],
            _section(f"_…and {hidden} more objectives in <{link}|the review>_"),
        ]
    return {
        "text": escape(digest_text(data)),
        "blocks": [*blocks, *objectives, {"type": "divider"}, *tail],
    }


def slack_reminder(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the Slack body of an `okr.checkin_reminder` event: who, which KR, since when."""
    data = payload["data"]
    kr = {**data["key_result"], "link": data["link"]}
    owner = escape(data.get("owner") or "the owner")
    last = (data.get("last_check_in") or "never")[:10]
    text = (
        f":memo: Check-in due for {_link(kr)} ({escape(data['objective']['title'])}): "
        f"{owner}, how confident are you? Last check-in: {last}; "
        f"progress {pct(data.get('progress'))}, {_status(data.get('status'))}."
    )
    return {
        "text": escape(f"Check-in due: {data['key_result']['title']} ({owner})"),
        "blocks": [_section(text)],
    }
