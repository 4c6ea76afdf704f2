"""Value changes: manual values corrected or deleted through the API, with who did it.

Revision ID: 0005_value_changes
Revises: 0004_forecast
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlmodel
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0005_value_changes"
down_revision: str | None = "0004_forecast"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "value_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_result_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sample_ts", sa.BigInteger(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("old_value", sa.Float(), nullable=True),
        sa.Column("new_value", sa.Float(), nullable=True),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("changed_ts", sa.BigInteger(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["key_result_id"], ["key_results.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("value_changes", schema=None) as batch_op:
        batch_op.create_index("ix_value_changes_key_result_id", ["key_result_id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("value_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_value_changes_key_result_id")
    op.drop_table("value_changes")
