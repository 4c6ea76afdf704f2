"""Key Results: when they were first seen, their own start, and the range of their values.

`first_seen_ts` stays NULL for rows that existed before this migration: nobody knows when
they appeared, so they keep being measured from their period's start.

Revision ID: 0004_forecast
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0004_forecast"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("key_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_seen_ts", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("start_ts", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("range_low", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("range_high", sa.Float(), nullable=True))


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("key_results", schema=None) as batch_op:
        batch_op.drop_column("range_high")
        batch_op.drop_column("range_low")
        batch_op.drop_column("start_ts")
        batch_op.drop_column("first_seen_ts")
