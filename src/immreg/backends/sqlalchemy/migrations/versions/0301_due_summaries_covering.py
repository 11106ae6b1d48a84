"""Due summaries: a covering index for due lists and nightly planning.

``(subject_id, recommended)`` with every other column included (PostgreSQL): a due list or
a night's plan reads a resident's summaries recommended by a day from the index alone
(an index-only scan, no heap visit per person). On SQLite, where an index cannot include
columns, the key alone.

Revision ID: 0301
Revises: 0300
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0301"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INCLUDE = ["vaccine_group", "dose_number", "earliest", "past_due", "latest", "vaccines"]


def upgrade() -> None:
    """Create the covering index."""
    op.create_index(
        "ix_due_summaries_subject_recommended",
        "due_summaries",
        ["subject_id", "recommended"],
        postgresql_include=_INCLUDE,
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_due_summaries_subject_recommended", table_name="due_summaries")
