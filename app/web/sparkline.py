"""Sparklines of a Key Result's period, drawn on the server as inline SVG (no JavaScript).

A sparkline is the Key Result's value at 40 evenly spaced instants from the period's start
to now (`store_pages.values_at`: one index seek per point). Lines are cached per Key Result
until its latest sample changes or `MAX_AGE_SECONDS` pass (a value posted for an earlier
time shows within that age).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.store.pages import values_at

POINTS = 40
WIDTH, HEIGHT, PAD = 120.0, 28.0, 2.0
MAX_AGE_SECONDS = 60


@dataclass(frozen=True)
class Sparkline:
    """An SVG polyline's points and the last point, in the 120×28 viewBox."""

    points: str
    last_x: float
    last_y: float
    count: int


def draw(series: Sequence[tuple[int, float]], *, start: int, end: int) -> Sparkline | None:
    """Scale (ts, value) pairs into the viewBox: time across the period, values to their range."""
    if not series:
        return None
    values = [v for _, v in series]
    low, high = min(values), max(values)
    span_v = (high - low) or 1.0
    span_t = max(end - start, 1)
    coords = []
    for ts, value in series:
        x = PAD + (WIDTH - 2 * PAD) * min(max((ts - start) / span_t, 0.0), 1.0)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * ((value - low) / span_v if high > low else 0.5)
        coords.append((round(x, 1), round(y, 1)))
    text = " ".join(f"{x},{y}" for x, y in coords)
    return Sparkline(text, coords[-1][0], coords[-1][1], len(coords))


def instants(start: int, end: int, now: int) -> list[int]:
    """Return `POINTS` evenly spaced instants from the period's start to now (or its end)."""
    last = min(now, end - 1)
    if last <= start:
        return []
    step = (last - start) / (POINTS - 1)
    return sorted({start + round(i * step) for i in range(POINTS)})


class SparklineCache:
    """Sparklines by Key Result, kept while their latest sample is unchanged."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int | None, float, Sparkline | None]] = {}

    def fill(
        self,
        session: Session,
        cards: Sequence[dict[str, Any]],
        *,
        periods: dict[str, tuple[int, int]],
        now: int,
    ) -> None:
        """Set each card's `sparkline`, querying only the Key Results that changed."""
        clock = time.monotonic()
        stale: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for card in cards:
            cached = self._entries.get(card["id"])
            if cached and cached[0] == card["current_ts"] and clock - cached[1] < MAX_AGE_SECONDS:
                card["sparkline"] = cached[2]
            else:
                stale.setdefault(periods[card["objective_id"]], []).append(card)
        for (start, end), group in stale.items():
            series = values_at(session, [c["id"] for c in group], instants(start, end, now))
            for card in group:
                line = draw(series.get(card["id"], []), start=start, end=end)
                self._entries[card["id"]] = (card["current_ts"], clock, line)
                card["sparkline"] = line
