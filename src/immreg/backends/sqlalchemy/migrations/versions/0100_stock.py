"""The stock ledger: append-only events and a balance per (facility, product, lot).

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("stock",)
depends_on: str | Sequence[str] | None = None


# Types spelled out, not imported from stock_tables.py: a migration keeps creating what it
# created when it was written.
def _id(length: int = 64) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the stock tables."""
    op.create_table(
        "stock_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("id", _id(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("facility_id", _id(), nullable=False),
        sa.Column("product_code", _id(), nullable=False),
        sa.Column("lot_number", _id(20), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("reason", sa.String(20), nullable=True),
        sa.Column("counterpart_id", _id(100), nullable=True),
        sa.Column("transfer_id", _id(100), nullable=True),
        sa.Column("dose_id", _id(100), nullable=True),
        sa.Column("reverses", _id(100), nullable=True),
        sa.Column("vvm_stage", sa.SmallInteger, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=False),
    )
    op.create_index("ix_stock_events_facility_date", "stock_events", ["facility_id", "date"])
    op.create_index("ix_stock_events_lot", "stock_events", ["product_code", "lot_number"])
    op.create_index("ix_stock_events_transfer", "stock_events", ["transfer_id"])
    op.create_index(
        "ux_stock_events_reverses",
        "stock_events",
        ["reverses"],
        unique=True,
        postgresql_where=sa.text("reverses IS NOT NULL"),
        sqlite_where=sa.text("reverses IS NOT NULL"),
    )
    op.create_table(
        "stock_balances",
        sa.Column("facility_id", _id(), primary_key=True),
        sa.Column("product_code", _id(), primary_key=True),
        sa.Column("lot_number", _id(20), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_stock_balances_not_negative"),
    )


def downgrade() -> None:
    """Drop the stock tables."""
    op.drop_table("stock_balances")
    op.drop_table("stock_events")
