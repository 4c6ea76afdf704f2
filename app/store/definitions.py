"""Sync the config file into the database: the file is the source of truth for definitions.

Idempotent: running it twice changes nothing the second time. A Key Result or Objective
removed from the file is archived with its history, never deleted. A changed target,
baseline or band leaves a `TargetRevision` row (old, new, when, and `revision_note`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.config.secrets import redactor_for
from app.core.schedule import schedule_of
from app.core.specs import measured_from, spec_of, spec_to_json
from app.store.key_results import definitions_by_id
from app.store.models import KeyResult, Objective, TargetRevision
from app.store.versions import bump_data_version

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.config.loading import LoadedConfig
    from app.config.objectives import KeyResultConfig, ObjectiveConfig
    from app.core.redaction import Redactor


@dataclass
class SyncReport:
    """What one sync changed."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)


def _spec_text(value: float | str | None) -> str | None:
    if value is None:
        return None
    return repr(value) if isinstance(value, float) else str(value)


def objective_fields(objective: ObjectiveConfig, position: int) -> dict[str, Any]:
    """Return the Objective row's definition columns for a config entry."""
    start, end = objective.period_bounds()
    return {
        "title": objective.title,
        "owner": objective.owner,
        "team": objective.team,
        "parent_id": objective.parent,
        "description": objective.description,
        "period_start_ts": int(start.timestamp()),
        "period_end_ts": int(end.timestamp()),
        "position": position,
        "archived_ts": None,
    }


def key_result_fields(
    objective_id: str, kr: KeyResultConfig, *, position: int, polled: bool, redactor: Redactor
) -> dict[str, Any]:
    """Return the KeyResult row's definition columns for a config entry.

    The stored `source` is redacted: a query's url may carry an API key (`?token=`).
    """
    schedule = schedule_of(every_seconds=kr.interval_seconds, cron=kr.cron, polled=polled)
    return {
        "objective_id": objective_id,
        "title": kr.title,
        "unit": kr.unit,
        "direction": kr.direction.value,
        "baseline_spec": _spec_text(kr.baseline),
        "target_spec": _spec_text(kr.target),
        "band_low": kr.band[0] if kr.band else None,
        "band_high": kr.band[1] if kr.band else None,
        "connector": kr.source.connector if kr.source else None,
        "source": redactor.json(kr.source.model_dump()) if kr.source else None,
        "schedule": (kr.cron and f"cron {kr.cron}")
        or (schedule and f"every {schedule.interval_seconds}s"),
        "interval_seconds": schedule.approx_interval_seconds() if schedule else None,
        "aggregate": kr.aggregate.model_dump(mode="json") if kr.aggregate else None,
        "start_ts": kr.start_ts,
        "range_low": kr.range[0] if kr.range else None,
        "range_high": kr.range[1] if kr.range else None,
        "description": kr.description,
        "position": position,
        "archived_ts": None,
    }


_REVISED = {
    "target_spec": "target",
    "baseline_spec": "baseline",
    "band_low": "band_low",
    "band_high": "band_high",
}


def _apply(row: Any, fields: dict[str, Any]) -> bool:
    changed = False
    for name, value in fields.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def sync_config(
    session: Session, loaded: LoadedConfig, *, now_ts: int, redactor: Redactor | None = None
) -> SyncReport:
    """Bring the database's definitions in line with the config; the caller commits."""
    redactor = redactor or redactor_for(loaded)
    report = SyncReport()
    objectives, key_results = definitions_by_id(session)
    # Key Results present at the first sync (a new installation) existed before krtracker
    # saw them: they keep their period's start. Later ones were added mid-period.
    first_seen = now_ts if key_results else None
    seen_objectives: set[str] = set()
    seen_krs: set[str] = set()
    for position, objective in enumerate(loaded.config.objectives):
        seen_objectives.add(objective.id)
        fields = objective_fields(objective, position)
        row = objectives.get(objective.id)
        if row is None:
            session.add(Objective(id=objective.id, **fields))
            report.created.append(objective.id)
        elif _apply(row, fields):
            report.updated.append(objective.id)
    session.flush()
    for objective, kr, position in (
        (o, kr, j) for o in loaded.config.objectives for j, kr in enumerate(o.key_results)
    ):
        seen_krs.add(kr.id)
        connector = loaded.connectors.get(kr.source.connector) if kr.source else None
        polled = connector is not None and connector.cls.scheduled
        fields = key_result_fields(
            objective.id, kr, position=position, polled=polled, redactor=redactor
        )
        existing = key_results.get(kr.id)
        period_start, period_end = objective.period_bounds()
        starts = measured_from(
            start_ts=kr.start_ts,
            first_seen_ts=first_seen if existing is None else existing.first_seen_ts,
            period_start=int(period_start.timestamp()),
            period_end=int(period_end.timestamp()),
        )
        spec = spec_of(
            kr,
            measured_from_ts=starts,
            period_end=int(period_end.timestamp()),
            interval_seconds=fields["interval_seconds"],
        )
        fields["spec"] = spec_to_json(spec)
        if existing is None:
            session.add(KeyResult(id=kr.id, first_seen_ts=first_seen, **fields))
            report.created.append(kr.id)
            continue
        for column, label in _REVISED.items():
            old, new = getattr(existing, column), fields[column]
            if old != new:
                session.add(
                    TargetRevision(
                        key_result_id=kr.id,
                        ts=now_ts,
                        field_name=label,
                        old_value=None if old is None else str(old),
                        new_value=None if new is None else str(new),
                        note=kr.revision_note,
                    )
                )
                report.revisions.append(f"{kr.id}.{label}")
        if _apply(existing, fields):
            report.updated.append(kr.id)
    for kr_id, kr_row in key_results.items():
        if kr_id not in seen_krs and kr_row.archived_ts is None:
            kr_row.archived_ts = now_ts
            report.archived.append(kr_id)
    for objective_id, objective_row in objectives.items():
        if objective_id not in seen_objectives and objective_row.archived_ts is None:
            objective_row.archived_ts = now_ts
            report.archived.append(objective_id)
    session.flush()
    changed = {*report.created, *report.updated, *report.archived}
    if changed:
        bump_data_version(
            session.connection(),
            key_results=changed & (seen_krs | key_results.keys()),
            objectives=changed & (seen_objectives | objectives.keys()),
        )
    return report
