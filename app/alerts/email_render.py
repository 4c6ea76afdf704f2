"""Render an outbox event as an email: a subject, a plain-text part and an HTML part.

`okr.digest` gets the whole digest (objectives, status changes, movers, missing check-ins
with owners, failing sources, alerts); a `kr.*` alert gets its headline, value against
target, reason and link. The Message-ID derives from the event id, so a retried send of
one event can be recognised by mail clients as the same message.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from typing import Any

from app.alerts.events import headline, value_vs_target
from app.core.domain import DIGEST_EVENT, PERIOD_CLOSED, REMINDER_EVENT


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.0f} %"


def _score(score: float | None) -> str:
    return "not scored" if score is None else f"{score:.2f}"


def _label(status: str | None) -> str:
    return (status or "unknown").replace("_", " ")


def digest_sections(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Return the digest as (heading, lines) sections, shared by the text and HTML parts."""
    objectives = []
    for o in data["objectives"]:
        owner = f", owner {o['owner']}" if o.get("owner") else ""
        objectives.append(f"{o['title']}: {_pct(o.get('progress'))}{owner}")
        objectives += [
            f"  - {kr['title']}: {_pct(kr.get('progress'))} ({_label(kr.get('status'))})"
            for kr in o["key_results"]
        ]
    return [
        ("Objectives", objectives or ["No objectives for these teams."]),
        (
            "Status changes",
            [
                f"{c['key_result']['title']}: {_label(c['status_then'])} -> "
                f"{_label(c['status_now'])} ({c['reason_now']})"
                for c in data["status_changes"]
            ],
        ),
        (
            "Biggest movers",
            [
                f"{m['key_result']['title']}: {_pct(m['progress_then'])} -> "
                f"{_pct(m['progress_now'])}"
                for m in data["movers"]
            ],
        ),
        (
            "No check-in in 7 days",
            [
                f"{m['key_result']['title']} (owner {m['key_result'].get('owner') or 'unset'}, "
                f"last check-in {(m['last_check_in'] or 'never')[:10]})"
                for m in data["missing_check_ins"]
            ],
        ),
        (
            "Failing or stale sources",
            [
                f"{p['key_result']['title']}: {_label(p['status'])} ({p['reason']})"
                for p in data["source_problems"]
            ],
        ),
        (
            "Alerts raised",
            [
                f"{a['raised'][:16].replace('T', ' ')} {a['type']}: "
                f"{a['key_result'].get('title') or a['key_result']['id']}"
                for a in data["alerts"]
            ],
        ),
    ]


def _parts(payload: dict[str, Any]) -> tuple[str, list[tuple[str, list[str]]], str]:
    """Return the subject, the sections and the link of an event."""
    data = payload["data"]
    if payload["type"] == DIGEST_EVENT:
        who = ", ".join(data["teams"]) if data.get("teams") else "everyone"
        subject = (
            f"OKR digest {data['digest']} for {who}: {data['since'][:10]} to {data['until'][:10]}"
        )
        return subject, digest_sections(data), data["link"]
    if payload["type"] == PERIOD_CLOSED:
        sections = [
            (
                f"{o['title']}: {_score(o['score'])} ({o['grade']})",
                [f"{k['title']}: {_score(k['score'])} ({k['grade']})" for k in o["key_results"]],
            )
            for o in data["objectives"]
        ]
        return f"Period {data['period']} closed: final scores", sections, data.get("report", "")
    if payload["type"] == REMINDER_EVENT:
        title = data["key_result"]["title"]
        lines = [
            f"{data.get('owner') or 'Owner'}: please check in on {title!r} "
            f"({data['objective']['title']}): progress and your confidence.",
            f"Last check-in: {(data.get('last_check_in') or 'never')[:10]}",
            f"Progress: {_pct(data.get('progress'))} ({_label(data.get('status'))})",
        ]
        return f"Check-in due: {title}", [("", lines)], data["link"]
    lines = [
        f"Status: {_label(data.get('status'))}",
        f"Value vs target: {value_vs_target(data)}",
        f"Objective: {(data.get('objective') or {}).get('title', '')}",
        f"Reason: {data.get('status_reason') or '-'}",
    ]
    return headline(payload), [("", lines)], data.get("link") or ""


def email_message(
    payload: dict[str, Any], *, event_id: str, sender: str, to: list[str]
) -> EmailMessage:
    """Return the multipart/alternative message (text, then HTML) of one event."""
    subject, sections, link = _parts(payload)
    text = [subject, ""]
    html = [f"<h1>{escape(subject)}</h1>"]
    for heading, lines in sections:
        if not lines:
            continue
        if heading:
            text += [heading, "-" * len(heading)]
            html.append(f"<h2>{escape(heading)}</h2>")
        text += [*lines, ""]
        html.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
    if link:
        text.append(f"Open: {link}")
        html.append(f'<p><a href="{escape(link, quote=True)}">Open in krtracker</a></p>')
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{event_id}@krtracker>"
    message.set_content("\n".join(text))
    message.add_alternative(
        "<!doctype html><html><body>" + "\n".join(html) + "</body></html>", subtype="html"
    )
    return message
