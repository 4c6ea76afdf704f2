"""Key Results: the progress engine's definition kept as JSON (`spec`), built at sync.

Rows synced before this migration get theirs from their text columns here, once (archived
Key Results are no longer in the config); every later sync writes it from the config
(`app.core.specs`).

Revision ID: 0008_key_result_spec
Revises: 0007_digest_idempotency
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import op

from app.core.quantities import allowed_bounds
from app.core.specs import measured_from
from connectors.durations import parse_duration

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0008_key_result_spec"
down_revision: str | None = "0007_digest_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _spec(row: Any) -> dict[str, Any]:
    """Return the spec of a row synced before this migration, from its text columns."""
    relative = target = baseline = None
    if row.target_spec is not None:
        if row.target_spec.endswith("%"):
            relative = float(row.target_spec.rstrip("%").strip()) / 100.0
        else:
            target = float(row.target_spec)
    if row.baseline_spec is not None and row.baseline_spec != "first_sample":
        baseline = float(row.baseline_spec)
    aggregate = json.loads(row.aggregate) if isinstance(row.aggregate, str) else row.aggregate
    has_band = row.band_low is not None and row.band_high is not None
    return {
        "direction": row.direction,
        "period_start": measured_from(
            start_ts=row.start_ts,
            first_seen_ts=row.first_seen_ts,
            period_start=row.period_start_ts,
            period_end=row.period_end_ts,
        ),
        "period_end": row.period_end_ts,
        "baseline": baseline,
        "baseline_from_first_sample": row.baseline_spec in (None, "first_sample"),
        "target": target,
        "relative_target": relative,
        "band": [row.band_low, row.band_high] if has_band else None,
        "interval_seconds": row.interval_seconds,
        "aggregate": aggregate["function"] if aggregate else None,
        "aggregate_window": parse_duration(aggregate["window"]) if aggregate else None,
        "value_range": list(allowed_bounds(row.unit, low=row.range_low, high=row.range_high)),
    }


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("key_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spec", sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT k.id, k.direction, k.unit, k.target_spec, k.baseline_spec, k.band_low,"
            " k.band_high, k.interval_seconds, k.aggregate, k.start_ts, k.first_seen_ts,"
            " k.range_low, k.range_high, o.period_start_ts, o.period_end_ts"
            " FROM key_results k JOIN objectives o ON o.id = k.objective_id"
        )
    ).all()
    table = sa.table("key_results", sa.column("id", sa.String), sa.column("spec", sa.JSON))
    for row in rows:
        bind.execute(table.update().where(table.c.id == row.id).values(spec=_spec(row)))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("key_results", schema=None) as batch_op:
        batch_op.drop_column("spec")
