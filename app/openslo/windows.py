"""Map an OpenSLO `timeWindow` to a krtracker period and a trailing aggregation window."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

_DURATION = re.compile(r"^(\d+)([mhdwMQY])$")
# A rolling month, quarter or year as a trailing window of whole days.
_WINDOW_DAYS = {"M": 30, "Q": 91, "Y": 365}
_MONTHS = {"M": 1, "Q": 3, "Y": 12}


class UnmappableWindow(Exception):
    """The document cannot become a Key Result; the message says why."""


def time_window(slo: dict[str, Any], now: datetime) -> tuple[dict[str, Any], str, str]:
    """Return (the objective's period fields, the aggregation window, a readable window)."""
    windows = slo.get("timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise UnmappableWindow("needs exactly one timeWindow")
    duration = str(windows[0].get("duration", ""))
    match = _DURATION.match(duration)
    if not match or int(match.group(1)) == 0:
        raise UnmappableWindow(f"timeWindow duration {duration!r} is not like 28d, 1w, 1M or 1Q")
    count, unit = int(match.group(1)), match.group(2)
    days = count * _WINDOW_DAYS[unit] if unit in _WINDOW_DAYS else None
    aggregate = f"{days}d" if days else duration
    calendar = windows[0].get("calendar")
    if calendar is not None and not isinstance(calendar, dict):
        raise UnmappableWindow("timeWindow calendar must be a mapping with startTime")
    if windows[0].get("isRolling", calendar is None):
        return quarter_of(now.date()), aggregate, f"rolling {duration}"
    if unit in "mh":
        raise UnmappableWindow(
            f"a calendar window of {duration} is shorter than a day: not a period"
        )
    # YAML reads an unquoted startTime as a date or datetime: str() gives ISO text for both.
    start_text = str((calendar or {}).get("startTime", "")).split(" ")[0].split("T")[0]
    try:
        anchor = date.fromisoformat(start_text)
    except ValueError:
        raise UnmappableWindow(f"calendar.startTime {start_text!r} is not a date") from None
    today = now.astimezone(UTC).date()
    if unit in _MONTHS:
        span = count * _MONTHS[unit]
        elapsed = (today.year - anchor.year) * 12 + today.month - anchor.month
        first_month = anchor.year * 12 + anchor.month - 1 + elapsed // span * span
        first = date(first_month // 12, first_month % 12 + 1, 1)
        after_month = first_month + span
        after = date(after_month // 12, after_month % 12 + 1, 1)
    else:
        span_days = count * (7 if unit == "w" else 1)
        first = anchor + timedelta(days=(today - anchor).days // span_days * span_days)
        after = first + timedelta(days=span_days)
    if first.day == 1 and first.month % 3 == 1 and (after - first).days in range(90, 93):
        return quarter_of(first), aggregate, f"calendar {duration}"
    return {"start": first, "end": after - timedelta(days=1)}, aggregate, f"calendar {duration}"


def quarter_of(day: date) -> dict[str, Any]:
    return {"period": f"{day.year}-Q{(day.month - 1) // 3 + 1}"}
