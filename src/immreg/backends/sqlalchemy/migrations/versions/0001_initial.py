"""The initial schema: subjects, doses, catalogue, org units, lots, audit, bulk loads.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Types are spelled out here rather than imported from tables.py: a migration must keep
# creating what it created when it was written, whatever tables.py says later.
def _id(length: int = 64) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "subjects",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("family_name", sa.String(100), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("national_code", _id(), nullable=True),
        sa.Column("mother_id", _id(), nullable=True),
        sa.Column("deceased_on", sa.Date, nullable=True),
        sa.Column("caregivers", _json(), nullable=False),
    )
    op.create_index(
        "ix_subjects_national_code",
        "subjects",
        ["national_code"],
        unique=True,
        postgresql_where=sa.text("national_code IS NOT NULL"),
        sqlite_where=sa.text("national_code IS NOT NULL"),
    )
    op.create_table(
        "residences",
        sa.Column("subject_id", _id(), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("org_unit_id", _id(), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=True),
    )
    op.create_index("ix_residences_org_unit", "residences", ["org_unit_id", "start"])
    op.create_table(
        "doses",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column("product_code", _id(), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("facility_id", _id(), nullable=False),
        sa.Column("lot_number", sa.String(20), nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("voided", sa.Boolean, nullable=False),
        sa.Column("void_reason", sa.String(100), nullable=True),
    )
    op.create_index("ix_doses_subject_id", "doses", ["subject_id"])
    op.create_table(
        "products",
        sa.Column("code", _id(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("antigens", _json(), nullable=False),
        sa.Column("cvx", sa.String(3), nullable=True),
        sa.Column("gtins", _json(), nullable=False),
        sa.Column("doses_per_vial", sa.Integer, nullable=False),
        sa.Column("open_vial_rule", sa.String(32), nullable=False),
        sa.Column("manufacturer", sa.String(100), nullable=True),
        sa.Column("live", sa.Boolean, nullable=False),
    )
    op.create_table(
        "org_units",
        sa.Column("id", _id(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("opened", sa.Date, nullable=False),
        sa.Column("closed", sa.Date, nullable=True),
    )
    op.create_table(
        "org_unit_parents",
        sa.Column(
            "org_unit_id",
            _id(),
            sa.ForeignKey("org_units.id", name="fk_org_unit_parents_unit", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("parent_id", _id(), nullable=True),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=True),
    )
    op.create_index("ix_org_unit_parents_parent", "org_unit_parents", ["parent_id"])
    op.create_table(
        "lots",
        sa.Column("product_code", _id(), primary_key=True),
        sa.Column("lot_number", sa.String(20), primary_key=True),
        sa.Column("expiry", sa.Date, nullable=False),
        sa.Column("manufacturer", sa.String(100), nullable=True),
    )
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("entity_id", _id(), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_entity", "audit", ["entity", "entity_id", "seq"])
    op.create_table(
        "load_batches",
        sa.Column("load_id", sa.String(200), primary_key=True),
        sa.Column("batch_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop every table."""
    for table in (
        "load_batches", "audit", "lots", "org_unit_parents", "org_units", "products",
        "doses", "residences", "subjects",
    ):  # fmt: skip
        op.drop_table(table)
