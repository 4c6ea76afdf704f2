"""Render a `Retrospective` as Markdown (for a wiki), one self-contained HTML file, or JSON.

Pure functions. The HTML has its CSS inline and its charts as inline SVG: no script, no
font, no image, nothing fetched, so it can be attached to a review and opened offline.
Every text from the config or from people (titles, notes, authors) is escaped.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.trajectory import TrajectoryPoint
    from app.reports.retrospective import KeyResultRetro, Retrospective

CHART_WIDTH, CHART_HEIGHT = 320, 110
_CSS = (
    "body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1f24}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
    "padding:.3rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}"
    ".kr{margin:1.2rem 0;padding:.8rem;border:1px solid #d0d7de;border-radius:6px}"
    "svg{width:100%;max-width:36rem;height:auto;display:block}.muted{color:#57606a}"
)


def _day(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _md(text: str) -> str:
    """Keep a config or user text from breaking a Markdown table or adding markup."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _quality_text(kr: KeyResultRetro) -> str:
    if kr.quality is None:
        return "not sampled on a schedule"
    q = kr.quality
    return (
        f"{q.bad_share:.0%} of the time failed or stale "
        f"({q.failed_seconds / 3600:.1f} h failed, {q.stale_seconds / 3600:.1f} h stale)"
    )


def _heading(retro: Retrospective) -> list[str]:
    state = "final" if retro.closed else f"draft as of {_day(retro.now_ts)}; the period runs"
    return [
        f"{_day(retro.start_ts)} to {_day(retro.end_ts - 1)} ({state}).",
        f"Mean score {_figure(retro.mean_score)}; "
        f"{_share(retro.delivered_share)} of scored Key Results delivered (0.7 or more).",
        retro.reading,
        *([retro.ambition_note] if retro.ambition_note else []),
    ]


def retrospective_markdown(retro: Retrospective) -> str:
    """Return the retrospective as Markdown that pastes into a wiki page."""
    out = [f"# Retrospective {retro.period}", "", *_heading(retro), ""]
    out += ["## Scores", "", "| Objective / Key Result | Score | Reading |", "|---|---|---|"]
    for o in retro.objectives:
        out.append(f"| **{_md(o.line.title)}** | {_figure(o.line.score)} | {o.line.grade} |")
        for kr in o.key_results:
            title = f"{_md(kr.line.title)} (`{kr.line.id}`)"
            out.append(f"| {title} | {_figure(kr.line.score)} | {kr.line.grade} |")
    out += ["", "## What moved most", ""]
    out += [f"- {_md(k.line.title)}: {k.movement:+.2f}" for k in retro.moved_most] or ["- nothing"]
    out += ["", "## What never moved", ""]
    out += [f"- {_md(k.line.title)}" for k in retro.never_moved] or ["- everything moved"]
    out += ["", "## Key Results", ""]
    for o in retro.objectives:
        for kr in o.key_results:
            out += [f"### {_md(kr.line.title)}", ""]
            trajectory = ", ".join(
                f"{_day(p.ts)} {_figure(p.progress)}/{_figure(p.expected)}"
                for p in kr.line.trajectory
            )
            out.append(f"- Progress / expected: {trajectory or 'no data'}")
            for r in kr.revisions:
                note = _md(r.note) if r.note else "no note"
                out.append(f"- {_day(r.ts)}: {r.field} {r.old} → {r.new} ({note})")
            for c in kr.check_ins:
                who = f" {_md(c.author)}" if c.author else ""
                out.append(
                    f"- Check-in {_day(c.ts)}{who}: confidence {c.confidence:.1f} {_md(c.note)}"
                )
            out += [f"- Data quality: {_quality_text(kr)}", ""]
    return "\n".join(out)


def _polyline(points: list[tuple[int, float]], *, start: int, end: int, colour: str) -> str:
    span = max(1, end - start)
    coords = " ".join(
        f"{(ts - start) / span * CHART_WIDTH:.1f},{(1 - min(max(v, 0.0), 1.0)) * CHART_HEIGHT:.1f}"
        for ts, v in points
    )
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'


def trajectory_svg(
    trajectory: tuple[TrajectoryPoint, ...],
    confidence: list[tuple[int, float]],
    *,
    start: int,
    end: int,
) -> str:
    """Return an inline SVG: progress (blue), expected (grey dashes), confidence (orange)."""
    progress = [(p.ts, p.progress) for p in trajectory if p.progress is not None]
    expected = [(p.ts, p.expected) for p in trajectory if p.expected is not None]
    lines = [
        _polyline(expected, start=start, end=end, colour="#8c959f").replace(
            "/>", ' stroke-dasharray="4 3"/>'
        ),
        _polyline(progress, start=start, end=end, colour="#0969da"),
        _polyline(confidence, start=start, end=end, colour="#bc4c00"),
        *(
            f'<circle cx="{(ts - start) / max(1, end - start) * CHART_WIDTH:.1f}" '
            f'cy="{(1 - min(max(v, 0.0), 1.0)) * CHART_HEIGHT:.1f}" r="3" fill="#bc4c00"/>'
            for ts, v in confidence
        ),
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        f'role="img" aria-label="progress, expected and confidence over the period">'
        f'<rect width="{CHART_WIDTH}" height="{CHART_HEIGHT}" fill="#f6f8fa"/>'
        f"{''.join(lines)}</svg>"
    )


def _html_kr(kr: KeyResultRetro, retro: Retrospective) -> str:
    items = [
        f"<li>{_day(r.ts)}: {escape(r.field)} {escape(str(r.old))} → {escape(str(r.new))}"
        f" ({escape(r.note or 'no note')})</li>"
        for r in kr.revisions
    ] + [
        f"<li>Check-in {_day(c.ts)} {escape(c.author or '')}: confidence "
        f"{c.confidence:.1f} {escape(c.note)}</li>"
        for c in kr.check_ins
    ]
    chart = trajectory_svg(
        kr.line.trajectory,
        [(c.ts, c.confidence) for c in kr.check_ins],
        start=retro.start_ts,
        end=retro.end_ts,
    )
    return (
        f'<div class="kr"><h3>{escape(kr.line.title)} <code>{escape(kr.line.id)}</code></h3>'
        f"<p>Score {_figure(kr.line.score)}: {escape(kr.line.grade)}. "
        f"Data quality: {escape(_quality_text(kr))}.</p>{chart}"
        f"<ul>{''.join(items)}</ul></div>"
    )


def retrospective_html(retro: Retrospective) -> str:
    """Return the retrospective as one self-contained HTML document."""
    rows = []
    for o in retro.objectives:
        rows.append(
            f"<tr><th>{escape(o.line.title)}</th><th>{_figure(o.line.score)}</th>"
            f"<th>{escape(o.line.grade)}</th></tr>"
        )
        rows += [
            f"<tr><td>{escape(k.line.title)}</td><td>{_figure(k.line.score)}</td>"
            f"<td>{escape(k.line.grade)}</td></tr>"
            for k in o.key_results
        ]
    moved = "".join(f"<li>{escape(k.line.title)}: {k.movement:+.2f}</li>" for k in retro.moved_most)
    still = "".join(f"<li>{escape(k.line.title)}</li>" for k in retro.never_moved)
    details = "".join(_html_kr(k, retro) for o in retro.objectives for k in o.key_results)
    heading = "".join(f"<p>{escape(line)}</p>" for line in _heading(retro))
    title = f"Retrospective {escape(retro.period)}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>{heading}"
        f"<h2>Scores</h2><table>{''.join(rows)}</table>"
        f"<h2>What moved most</h2><ul>{moved or '<li>nothing</li>'}</ul>"
        f"<h2>What never moved</h2><ul>{still or '<li>everything moved</li>'}</ul>"
        f"<h2>Key Results</h2>"
        f'<p class="muted">Blue: progress; grey dashes: expected; orange: check-in '
        f"confidence.</p>{details}</body></html>"
    )


def _kr_json(kr: KeyResultRetro) -> dict[str, Any]:
    line = kr.line
    return {
        "id": line.id,
        "title": line.title,
        "score": line.score,
        "grade": line.grade.value,
        "final": line.final,
        "movement": kr.movement,
        "trajectory": [
            {"ts": p.ts, "progress": p.progress, "expected": p.expected} for p in line.trajectory
        ],
        "revisions": [
            {"ts": r.ts, "field": r.field, "old": r.old, "new": r.new, "note": r.note}
            for r in kr.revisions
        ],
        "check_ins": [
            {"ts": c.ts, "confidence": c.confidence, "note": c.note, "author": c.author}
            for c in kr.check_ins
        ],
        "data_quality": None
        if kr.quality is None
        else {
            "measured_seconds": kr.quality.measured_seconds,
            "failed_seconds": kr.quality.failed_seconds,
            "stale_seconds": kr.quality.stale_seconds,
            "bad_share": kr.quality.bad_share,
        },
    }


def retrospective_json(retro: Retrospective) -> dict[str, Any]:
    """Return the retrospective as a JSON-ready dict."""
    return {
        "period": retro.period,
        "start_ts": retro.start_ts,
        "end_ts": retro.end_ts,
        "now_ts": retro.now_ts,
        "closed": retro.closed,
        "mean_score": retro.mean_score,
        "delivered_share": retro.delivered_share,
        "reading": retro.reading,
        "ambition_note": retro.ambition_note,
        "objectives": [
            {
                "id": o.line.id,
                "title": o.line.title,
                "owner": o.line.owner,
                "team": o.line.team,
                "score": o.line.score,
                "grade": o.line.grade.value,
                "key_results": [_kr_json(k) for k in o.key_results],
            }
            for o in retro.objectives
        ],
        "moved_most": [k.line.id for k in retro.moved_most],
        "never_moved": [k.line.id for k in retro.never_moved],
    }


def retrospective_json_text(retro: Retrospective) -> str:
    """Return the retrospective as indented JSON text."""
    return json.dumps(retrospective_json(retro), indent=2, ensure_ascii=False) + "\n"


# format name -> (media type, renderer); the CLI's --format and the API's ?format= alike.
RENDERERS: dict[str, tuple[str, Callable[[Retrospective], str]]] = {
    "md": ("text/markdown; charset=utf-8", retrospective_markdown),
    "html": ("text/html; charset=utf-8", retrospective_html),
    "json": ("application/json", retrospective_json_text),
}
