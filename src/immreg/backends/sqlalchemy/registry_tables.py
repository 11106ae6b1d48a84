"""The registry feature's SQL tables, on the backend's shared ``metadata``.

``registry_merges`` keeps every merge with the snapshots needed to undo it exactly, as
one JSON document (written and read whole, never searched inside), beside the columns it
is looked up by. It is subject-owned: under Citus it is distributed by ``survivor_id``.
"""

from __future__ import annotations

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import NAME_LENGTH, UtcDateTime, id_type, metadata

__all__ = ["registry_merges"]

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
