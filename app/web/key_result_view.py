"""The Key Result page's data: the API's detail, the store's samples, and the chart's JSON.

`detail_of` and `sample_points` are the functions behind `GET /api/v1/key-results/{id}` and
`…/samples`, so the page and the API cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import Session

from app.api.representations import detail_of
from app.core.domain import Direction
from app.store.attempts import list_attempts
from app.store.check_ins import list_check_ins, list_revisions
from app.store.models import CheckIn, KeyResult, Objective, SamplingAttempt, TargetRevision
from app.store.pages import AlertEvent, alert_events
from app.store.samples import SamplePoint, sample_points
from app.store.versions import read_key_result_version
from app.web.chart_cache import ChartPointsCache

CHART_POINTS = 500
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|cookie", re.I)


@dataclass
class KeyResultPage:
    """Everything the Key Result template shows."""

    kr: KeyResult
    objective: Objective
    detail: dict[str, Any]
    points: list[SamplePoint]
    check_ins: list[CheckIn]
    revisions: list[TargetRevision]
    attempts: list[SamplingAttempt]
    events: list[AlertEvent]
    source: list[tuple[str, str]]
    chart: dict[str, Any]


def _redact(key: str, value: Any) -> str:
    """Show a source field, never a secret: secret-looking keys and URL passwords are hidden."""
    if _SECRET_KEY.search(key):
        return "(hidden)"
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password or parts.username:
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
            text = urlunsplit(parts._replace(netloc=netloc))
    return text


def source_fields(source: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Return a source's fields as (key, shown value), nested tables flattened with dots."""
    fields: list[tuple[str, str]] = []

    def walk(prefix: str, data: dict[str, Any]) -> None:
        for key, value in data.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and not _SECRET_KEY.search(key):
                walk(f"{name}.", value)
            elif value is not None:
                fields.append((name, _redact(key, value)))

    walk("", source or {})
    return fields


def expected_line(kr: KeyResult, objective: Objective) -> list[list[float]] | None:
    """Return the expected pace: from the baseline at the start to the target at the end."""
    if Direction(kr.direction).is_band or kr.baseline_value is None or kr.target_value is None:
        return None
    return [
        [objective.period_start_ts, kr.baseline_value],
        [objective.period_end_ts, kr.target_value],
    ]


def chart_data(page: KeyResultPage) -> dict[str, Any]:
    """Return the data handed to the chart (times in UNIX seconds)."""
    kr, objective = page.kr, page.objective
    forecast = None
    if kr.forecast and "at_ts" in kr.forecast:  # else {"unavailable": why}
        forecast = {k: kr.forecast[k] for k in ("at_ts", "value", "low", "high")}
    return {
        "id": kr.id,
        "unit": kr.unit,
        "direction": kr.direction,
        "period": {"start": objective.period_start_ts, "end": objective.period_end_ts},
        "points": {
            "t": [p.ts for p in page.points],
            "value": [p.value for p in page.points],
            "min": [p.min for p in page.points],
            "max": [p.max for p in page.points],
            "count": [p.count for p in page.points],
        },
        "baseline": kr.baseline_value,
        "target": kr.target_value,
        "band": [kr.band_low, kr.band_high]
        if kr.band_low is not None or kr.band_high is not None
        else None,
        "expected": expected_line(kr, objective),
        "forecast": forecast,
        "check_ins": [
            {"t": c.ts, "confidence": c.confidence, "note": c.note, "author": c.author}
            for c in reversed(page.check_ins)
        ],
        "revisions": [
            {
                "t": r.ts,
                "field": r.field_name,
                "old": r.old_value,
                "new": r.new_value,
                "note": r.note,
            }
            for r in page.revisions
        ],
        "alerts": [{"t": e.ts, "type": e.event_type, "summary": e.summary} for e in page.events],
    }


def _chart_points(
    session: Session,
    kr: KeyResult,
    objective: Objective,
    *,
    version: int | None,
    cache: ChartPointsCache,
) -> list[SamplePoint]:
    """Return the period's points, downsampled by the samples endpoint's own query."""
    since, until = objective.period_start_ts, objective.period_end_ts - 1

    def load() -> list[SamplePoint]:
        return list(
            sample_points(session, kr.id, since=since, until=until, max_points=CHART_POINTS)
        )

    return cache.get(kr.id, version=version, since=since, until=until, load=load)


def build_key_result_page(
    session: Session, key_result_id: str, *, chart_points: ChartPointsCache | None = None
) -> KeyResultPage | None:
    """Load a Key Result's page, or None when there is no such Key Result."""
    version = read_key_result_version(session.connection(), key_result_id)
    kr = session.get(KeyResult, key_result_id)
    if kr is None:
        return None
    objective = session.get(Objective, kr.objective_id)
    assert objective is not None
    check_ins = list(list_check_ins(session, key_result_id, limit=100))
    page = KeyResultPage(
        kr=kr,
        objective=objective,
        detail=detail_of(kr, check_ins[0] if check_ins else None).model_dump(),
        points=_chart_points(
            session, kr, objective, version=version, cache=chart_points or ChartPointsCache(0)
        ),
        check_ins=check_ins,
        revisions=list(list_revisions(session, key_result_id)),
        attempts=list(list_attempts(session, key_result_id, limit=20)),
        events=alert_events(session, key_result_id, since=objective.period_start_ts),
        source=source_fields(kr.source),
        chart={},
    )
    page.chart = chart_data(page)
    return page
