"""Small HTML pieces used many times per page, built in Python (Jinja macros cost ~10× more).

Everything interpolated is escaped with markupsafe; the result is `Markup`.
"""

from __future__ import annotations

from typing import Any

import orjson
from markupsafe import Markup, escape

from app.web.templating import STATUS_WORDS, percent, utc_iso, utc_text


def time_tag(ts: int | None, text: str | None = None) -> Markup:
    """Return `<time>` in UTC; without `text` the browser rewrites it in the viewer's zone."""
    if ts is None:
        return Markup('<span class="muted">–</span>')
    local = " data-local" if text is None else ""
    shown = utc_text(ts) if text is None else text
    return Markup(
        f'<time datetime="{utc_iso(ts)}" title="{utc_text(ts)}"{local}>{escape(shown)}</time>'
    )


def status_badge(status: str) -> Markup:
    """Return the status as a coloured pill that also says it in words."""
    word = escape(STATUS_WORDS.get(status, status))
    status = escape(status)
    return Markup(
        f'<span class="status status-{status}" data-status="{status}">'
        f'<span class="dot" aria-hidden="true"></span>{word}</span>'
    )


def _clamped_percent(share: float) -> float:
    return max(0.0, min(share * 100, 100.0))


def progress_bar(progress: float | None, expected: float | None) -> Markup:
    """Return a progress bar with a marker where progress is expected to be today."""
    label = f"Progress {percent(progress)}"
    marker = text = ""
    if expected is not None:
        label += f", expected {percent(expected)} by now"
        marker = (
            f'<span class="expected" style="left: {_clamped_percent(expected):.1f}%" '
            f'title="Expected today: {percent(expected)}"></span>'
        )
        text = f' <span class="muted">/ {percent(expected)} expected</span>'
    shown = '<span class="muted">no progress yet</span>' if progress is None else percent(progress)
    return Markup(
        f'<div class="progress"><div class="bar" role="img" aria-label="{label}">'
        f'<span class="fill" style="width: {_clamped_percent(progress or 0.0):.1f}%"></span>'
        f'{marker}</div><span class="progress-text">{shown}{text}</span></div>'
    )


def sparkline(line: Any, status: str) -> Markup:
    """Return the period's sparkline as inline SVG (or a note when there are no samples)."""
    if not line:
        return Markup('<span class="spark-empty muted">no samples yet</span>')
    return Markup(
        f'<svg class="spark spark-{escape(status)}" viewBox="0 0 120 28" width="120" height="28" '
        f'role="img" aria-label="Trend over the period ({line.count} points)">'
        f'<polyline points="{line.points}" fill="none" stroke-width="1.5" '
        f'vector-effect="non-scaling-stroke"/>'
        f'<circle cx="{line.last_x}" cy="{line.last_y}" r="2"/></svg>'
    )


def json_script(data: Any) -> Markup:
    """Return JSON safe inside `<script type="application/json">` (no `<`, `>` or `&`)."""
    text = orjson.dumps(data).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def trajectory(points: Any) -> Markup:
    """Return progress over the period (solid) against the expected line (dashed) as SVG."""
    if len(points) < 2 or all(p.progress is None for p in points):
        return Markup('<span class="muted small">–</span>')
    step = 100 / (len(points) - 1)

    def line(values: list[float | None]) -> str:
        # Progress is drawn between 0 and 1.2 (20% over the target still shows).
        return " ".join(
            f"{i * step:.1f},{30 - max(0.0, min(v, 1.2)) * 25:.1f}"
            for i, v in enumerate(values)
            if v is not None
        )

    return Markup(
        '<svg class="trajectory" viewBox="0 0 100 30" width="120" height="36" role="img" '
        'aria-label="Progress over the period against the expected line">'
        f'<polyline fill="none" stroke="#8a6d00" stroke-dasharray="3 2" stroke-width="1" '
        f'points="{line([p.expected for p in points])}"/>'
        f'<polyline fill="none" stroke="#0b57a4" stroke-width="1.5" '
        f'points="{line([p.progress for p in points])}"/></svg>'
    )
