"""Deliveries: an idempotency key, unique, for scheduled events such as weekly digests.

Revision ID: 0007_digest_idempotency
Revises: 0006_data_version
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlmodel
from alembic import op

if TYPE_CHECKING:
    from collections.abc import Sequence

revision: str = "0007_digest_idempotency"
down_revision: str | None = "0006_data_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
            )
        )
        batch_op.create_index("ix_deliveries_idempotency_key", ["idempotency_key"], unique=True)


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_idempotency_key")
        batch_op.drop_column("idempotency_key")
