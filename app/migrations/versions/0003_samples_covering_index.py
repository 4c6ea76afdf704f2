"""Samples: an index carrying the value, so time-series reads skip the table pages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.create_index("ix_samples_kr_ts_value", ["key_result_id", "ts", "value"])


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index("ix_samples_kr_ts_value")
