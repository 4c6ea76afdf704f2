"""Data version: one row every writer of what the API shows raises in its transaction.

Rows of `objectives` and `key_results` carry the version of the transaction that last
changed them, so a cached listing is brought up to date by reading only those rows.

Revision ID: 0006_data_version
Revises: 0005_value_changes
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0006_data_version"
down_revision: str | None = "0005_value_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    table = op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])
    for name in ("objectives", "key_results"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("row_version", sa.BigInteger(), nullable=False, server_default="0")
            )
    with op.batch_alter_table("key_results", schema=None) as batch_op:
        batch_op.create_index("ix_key_results_row_version", ["row_version"])


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("key_results", schema=None) as batch_op:
        batch_op.drop_index("ix_key_results_row_version")
    for name in ("objectives", "key_results"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("row_version")
    op.drop_table("data_version")
