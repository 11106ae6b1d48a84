"""The registry feature's SQL tables, on the backend's shared ``metadata``.

``registry_merges`` keeps every merge with the snapshots needed to undo it exactly, as
one JSON document (written and read whole, never searched inside), beside the columns it
is looked up by. It is subject-owned: under Citus it is distributed by ``survivor_id``.
"""

from __future__ import annotations

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import NAME_LENGTH, UtcDateTime, id_type, metadata

__all__ = [
    "registry_aefi",
    "registry_merges",
    "registry_pregnancies",
    "registry_verifications",
]

registry_merges = sa.Table(
    "registry_merges",
    metadata,
    sa.Column("id", id_type(), primary_key=True),
    sa.Column("survivor_id", id_type(), nullable=False),
    sa.Column("absorbed_id", id_type(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("by", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("undone_at", UtcDateTime(), nullable=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Index("ix_registry_merges_survivor", "survivor_id"),
    sa.Index("ix_registry_merges_absorbed", "absorbed_id"),
)

# One row per verified-or-not historical dose. subject_id is the dose's (for Citus
# co-location with doses; a merge that moves doses moves their verifications' too).
registry_verifications = sa.Table(
    "registry_verifications",
    metadata,
    sa.Column("dose_id", id_type(), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("evidence", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("by", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
)

# AEFI reports are rare: listings per lot or facility join the dose by its key rather than
# copying its lot and facility here, so a corrected dose moves its reports with it.
registry_aefi = sa.Table(
    "registry_aefi",
    metadata,
    sa.Column("id", id_type(), primary_key=True),
    sa.Column("dose_id", id_type(), nullable=False),
    sa.Column("onset", UtcDateTime(), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("reported_by", sa.String(NAME_LENGTH), nullable=False),
    sa.Index("ix_registry_aefi_dose", "dose_id"),
)

# Pregnancy episodes of women in the registry; subject-owned (distributed by subject_id).
registry_pregnancies = sa.Table(
    "registry_pregnancies",
    metadata,
    sa.Column("id", id_type(), primary_key=True),
    sa.Column("subject_id", id_type(), nullable=False),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("expected_delivery", sa.Date, nullable=False),
    sa.Column("ended_on", sa.Date, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Index("ix_registry_pregnancies_subject", "subject_id"),
)
