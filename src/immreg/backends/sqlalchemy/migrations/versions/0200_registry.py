"""The registry feature: merges, historical dose verifications, AEFI, pregnancy episodes.

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("registry",)
depends_on: str | Sequence[str] | None = None


# Types spelled out rather than imported from registry_tables.py: a migration must keep
# creating what it created when it was written.
def _id() -> sa.types.TypeEngine[str]:
    return sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the registry feature's tables."""
    op.create_table(
        "registry_merges",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("survivor_id", _id(), nullable=False),
        sa.Column("absorbed_id", _id(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_registry_merges_survivor", "registry_merges", ["survivor_id"])
    op.create_index("ix_registry_merges_absorbed", "registry_merges", ["absorbed_id"])
    op.create_table(
        "registry_verifications",
        sa.Column("dose_id", _id(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("evidence", sa.String(100), nullable=True),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "registry_aefi",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("dose_id", _id(), nullable=False),
        sa.Column("onset", sa.DateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("reported_by", sa.String(100), nullable=False),
    )
    op.create_index("ix_registry_aefi_dose", "registry_aefi", ["dose_id"])
    op.create_table(
        "registry_pregnancies",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("expected_delivery", sa.Date, nullable=False),
        sa.Column("ended_on", sa.Date, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_index("ix_registry_pregnancies_subject", "registry_pregnancies", ["subject_id"])


def downgrade() -> None:
    """Drop the registry feature's tables."""
    op.drop_table("registry_pregnancies")
    op.drop_table("registry_aefi")
    op.drop_table("registry_verifications")
    op.drop_table("registry_merges")
