"""Stock: supply profiles (VVM type, diluent, packed volume) per product.

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(length: int = 64) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the supply profile table."""
    op.create_table(
        "stock_profiles",
        sa.Column("product_code", _id(), primary_key=True),
        sa.Column("vvm_type", sa.String(8), nullable=False),
        sa.Column("diluent_code", _id(100), nullable=True),
        sa.Column("vial_volume_cm3", sa.Float, nullable=True),
    )


def downgrade() -> None:
    """Drop the supply profile table."""
    op.drop_table("stock_profiles")
