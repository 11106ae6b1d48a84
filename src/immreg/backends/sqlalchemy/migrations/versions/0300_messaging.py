"""Due summaries and the message outbox (immreg.duelist, immreg.messaging).

Revision ID: 0300
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0300"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("messaging",)
depends_on: str | Sequence[str] | None = None


# Types spelled out, as in 0001: a migration keeps creating what it created when written.
def _id(length: int = 64) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _instant() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the due-summary and outbox tables."""
    op.create_table(
        "due_summaries",
        sa.Column("subject_id", _id(), primary_key=True),
        sa.Column("vaccine_group", sa.String(100), primary_key=True),
        sa.Column("dose_number", sa.Integer, nullable=False),
        sa.Column("earliest", sa.Date, nullable=False),
        sa.Column("recommended", sa.Date, nullable=False),
        sa.Column("past_due", sa.Date, nullable=True),
        sa.Column("latest", sa.Date, nullable=True),
        sa.Column("vaccines", sa.Text, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("key", _id(200), primary_key=True),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("not_before", _instant(), nullable=False),
        sa.Column("subject_id", _id(), nullable=True),
        sa.Column("episode", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _instant(), nullable=False),
        sa.Column("sent_at", _instant(), nullable=True),
        sa.Column("provider_id", sa.String(200), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_subject", "outbox", ["subject_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_outbox_subject", table_name="outbox")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("due_summaries")
