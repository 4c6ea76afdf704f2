"""Numbers and times as status reasons show them: never "-0" or "-0%"."""

from __future__ import annotations

from datetime import UTC, datetime


def plain(value: float | None) -> float | None:
    """Return `value` with -0.0 turned into 0.0 (JSON and reasons never show a negative zero)."""
    return None if value is None else value + 0.0


def fmt(value: float | None) -> str:
    """Format a number for a status reason: four significant digits, never "-0"."""
    if value is None:
        return "n/a"
    text = f"{value:.4g}"
    return text.lstrip("-") if float(text) == 0 else text


def pct(share: float) -> str:
    """Format a share as a whole percentage, never "-0%"."""
    return f"{round(share * 100) + 0:d}%"


def day_text(ts: int) -> str:
    """Return the UTC date of `ts` as YYYY-MM-DD."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def ago_text(seconds: int) -> str:
    """Return a duration in its largest whole unit: 3d, 5h, 2m or 40s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
