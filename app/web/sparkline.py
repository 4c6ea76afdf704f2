"""Sparklines of a Key Result's period: the store's downsampled points drawn as inline SVG.

Drawing on the server keeps the overview readable without JavaScript. The points come from
`store.sample_points` (the query behind `GET /api/v1/key-results/{id}/samples`), cached per
Key Result until its latest sample changes or the entry is older than `MAX_AGE_SECONDS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlmodel import Session

from app.store import sample_points

POINTS = 40
WIDTH, HEIGHT, PAD = 120.0, 28.0, 2.0
MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class Sparkline:
    """An SVG polyline's points and the last point, in the 120×28 viewBox."""

    points: str
    last_x: float
    last_y: float
    count: int


def draw(series: list[tuple[int, float]], *, start: int, end: int) -> Sparkline | None:
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


class SparklineCache:
    """Sparklines by Key Result, kept while their latest sample is unchanged."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int | None, float, Sparkline | None]] = {}

    def get(
        self,
        session: Session,
        key_result_id: str,
        *,
        current_ts: int | None,
        period: tuple[int, int],
    ) -> Sparkline | None:
        """Return the Key Result's sparkline, querying the store only when it changed."""
        cached = self._entries.get(key_result_id)
        now = time.monotonic()
        if cached is not None and cached[0] == current_ts and now - cached[1] < MAX_AGE_SECONDS:
            return cached[2]
        start, end = period
        points = sample_points(
            session, key_result_id, since=start, until=end - 1, max_points=POINTS
        )
        line = draw([(p.ts, p.value) for p in points], start=start, end=end)
        self._entries[key_result_id] = (current_ts, now, line)
        return line
