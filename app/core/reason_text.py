"""Numbers as they leave the progress engine: never -0.0, never "-0" or "-0%" in a reason."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def negative_zero(value: float | None) -> bool:
    """Return whether `value` is -0.0 (JSON would carry the sign)."""
    return value is not None and value == 0 and math.copysign(1.0, value) < 0


def fmt(value: float | None) -> str:
    """Format a number for a status reason: four significant digits, never "-0"."""
    if value is None:
        return "n/a"
    text = f"{value:.4g}"
    return text.lstrip("-") if float(text) == 0 else text


# Beyond this a whole percentage is meaningless (and past ~1e306 it overflows a float).
PERCENT_LIMIT = 1e15  # written "1e15" in the text below


def pct(share: float) -> str:
    """Format a share as a whole percentage, never "-0%" and never an overflow."""
    if math.isnan(share):
        return "n/a"
    scaled = share * 100
    if not abs(scaled) < PERCENT_LIMIT:  # also catches infinities
        return "below -1e15%" if share < 0 else "above 1e15%"
    return f"{round(scaled) + 0:d}%"


def day_text(ts: int) -> str:
    """Return the UTC date of `ts` as YYYY-MM-DD."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def ago_text(seconds: int) -> str:
    """Return a duration in its largest whole unit: 3d, 5h, 2m or 40s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
