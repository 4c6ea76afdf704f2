"""The Jinja2 environment of the pages, with the filters that format numbers and times."""

from __future__ import annotations

import hashlib
import math
import time
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
STATUS_WORDS = {
    "achieved": "Achieved",
    "on_track": "On track",
    "at_risk": "At risk",
    "off_track": "Off track",
    "no_data": "No data yet",
    "stale": "Stale",
    "error": "Source failing",
    "not_started": "Not started",
    "closed": "Closed",
}


def number(value: float | None, unit: str = "") -> str:
    """Format a value with four significant digits and its unit ("–" when there is none)."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:,.4g}" if abs(value) < 1e15 else f"{value:.3e}"
    if "e" not in text and "." not in text and abs(value) >= 1e4:
        text = f"{value:,.0f}"
    unit = unit.strip()
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def percent(value: float | None) -> str:
    """Format a share (0.0–1.0) as a whole percentage."""
    return "–" if value is None else f"{value:.0%}"


def utc_iso(ts: int | None) -> str:
    """Return a UNIX time as ISO 8601 UTC (the `datetime` attribute of `<time>`)."""
    return "" if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def utc_text(ts: int | None) -> str:
    """Return a UNIX time as readable UTC text (replaced by the viewer's zone in the browser)."""
    return "–" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def utc_date(ts: int) -> str:
    """Return the UTC day of a UNIX time (periods are whole UTC days)."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def ago(ts: int | None, now: int) -> str:
    """Say how long ago `ts` was, coarsely ("3 min ago", "2 days ago")."""
    if ts is None:
        return "never"
    seconds = now - ts
    if seconds < 0:
        return "in the future"
    for size, name in ((86400, "day"), (3600, "hour"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            plural = "s" if count > 1 and name != "min" else ""
            return f"{count} {name}{plural} ago"
    return "just now"


@cache
def asset_version(name: str) -> str:
    """Return a short hash of a static file: its URL changes whenever its content does."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """Return the versioned URL of a static file (served with a year-long cache)."""
    return f"/static/{name}?v={asset_version(name)}"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    env = templates.env
    env.filters.update(
        number=number, percent=percent, utc_iso=utc_iso, utc_text=utc_text, utc_date=utc_date
    )
    env.globals.update(static_url=static_url, ago=ago, STATUS_WORDS=STATUS_WORDS)
    # Imported here: the fragments use the formatters above.
    from app.web import fragments

    env.globals.update(
        time_tag=fragments.time_tag,
        status_badge=fragments.status_badge,
        progress_bar=fragments.progress_bar,
        sparkline=fragments.sparkline,
        json_script=fragments.json_script,
        trajectory=fragments.trajectory,
    )
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


templates = _templates()


def render(request: Any, name: str, context: dict[str, Any], *, status_code: int = 200) -> Any:
    """Render a page template with the request in its context."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)
