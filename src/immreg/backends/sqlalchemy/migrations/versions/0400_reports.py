"""Reports: indexes for doses by facility and date and subjects by birth date.

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0400"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("reports",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the reports' indexes."""
    op.create_index("ix_doses_facility_date", "doses", ["facility_id", "date"])
    op.create_index("ix_subjects_birth_date", "subjects", ["birth_date"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_subjects_birth_date", table_name="subjects")
    op.drop_index("ix_doses_facility_date", table_name="doses")
