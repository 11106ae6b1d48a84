"""The SQL tables of due summaries and the message outbox, on the backend's shared metadata.

``due_summaries`` holds each person's next dose per vaccine group (see
:mod:`immreg.duelist`), replaced whenever the person's history changes; a session's due list
joins it to ``residences`` and ``subjects`` in one query, reading it through a covering
index on ``(subject_id, recommended)``. It is subject-owned (distributed on
``subject_id`` under Citus, co-located with ``residences``). ``outbox`` holds planned messages,
one per idempotency key; the dispatcher reads it by ``(status, next_attempt_at)``.
"""

from __future__ import annotations

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import (
    NAME_LENGTH,
    UtcDateTime,
    id_type,
    metadata,
)

__all__ = ["KEY_LENGTH", "due_summaries", "outbox"]

#: Width of the outbox's idempotency-key column (``immreg.messaging.MAX_KEY_LENGTH``).
KEY_LENGTH = 200

due_summaries = sa.Table(
    "due_summaries",
    metadata,
    sa.Column("subject_id", id_type(), primary_key=True),
    sa.Column("vaccine_group", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("dose_number", sa.Integer, nullable=False),
    sa.Column("earliest", sa.Date, nullable=False),
    sa.Column("recommended", sa.Date, nullable=False),
    sa.Column("past_due", sa.Date, nullable=True),
    sa.Column("latest", sa.Date, nullable=True),
    # Product codes joined by spaces (codes have none): decoding a JSON list per row was
    # most of a 2,000-child due list's time on PostgreSQL.
    sa.Column("vaccines", sa.Text, nullable=False),
    # Covering (PostgreSQL): due lists and nightly plans read summaries recommended by a
    # day from the index alone (migration 0301).
    sa.Index(
        "ix_due_summaries_subject_recommended",
        "subject_id",
        "recommended",
        postgresql_include=[
            "vaccine_group",
            "dose_number",
            "earliest",
            "past_due",
            "latest",
            "vaccines",
        ],
    ),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("key", id_type(KEY_LENGTH), primary_key=True),
    sa.Column("recipient", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("not_before", UtcDateTime(), nullable=False),
    sa.Column("subject_id", id_type(), nullable=True),
    sa.Column("episode", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    sa.Column("provider_id", sa.String(200), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),
    sa.Index("ix_outbox_subject", "subject_id"),
)
