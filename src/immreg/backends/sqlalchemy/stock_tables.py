"""The stock ledger's SQL tables, on the backend's shared :data:`~.tables.metadata`.

``stock_events`` is append-only; ``stock_balances`` holds the running balance of every
(facility, product, lot), changed in the same transaction as each event by one conditional
``UPDATE`` (``... WHERE quantity + :delta >= 0``), so concurrent writers serialize on the
balance row and none can take it below zero; a ``CHECK`` constraint backs that up.

Both are facility-owned (no subject id): under Citus they would be distributed by
``facility_id`` and co-located with each other.
"""

from __future__ import annotations

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import (
    LOT_LENGTH,
    NAME_LENGTH,
    UtcDateTime,
    id_type,
    metadata,
)

__all__ = ["EVENT_ID_LENGTH", "stock_balances", "stock_events", "stock_profiles"]

#: Width of stock event ids (``immreg.stock.model.MAX_EVENT_ID_LENGTH``).
EVENT_ID_LENGTH = 100

stock_events = sa.Table(
    "stock_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("id", id_type(EVENT_ID_LENGTH), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("facility_id", id_type(), nullable=False),
    sa.Column("product_code", id_type(), nullable=False),
    sa.Column("lot_number", id_type(LOT_LENGTH), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("reason", sa.String(20), nullable=True),
    sa.Column("counterpart_id", id_type(EVENT_ID_LENGTH), nullable=True),
    sa.Column("transfer_id", id_type(EVENT_ID_LENGTH), nullable=True),
    sa.Column("dose_id", id_type(EVENT_ID_LENGTH), nullable=True),
    sa.Column("reverses", id_type(EVENT_ID_LENGTH), nullable=True),
    sa.Column("vvm_stage", sa.SmallInteger, nullable=True),
    sa.Column("at", UtcDateTime(), nullable=True),
    sa.Column("recorded_by", sa.String(NAME_LENGTH), nullable=False),
    # The monthly report and the ledger listing read one facility's events by date.
    sa.Index("ix_stock_events_facility_date", "facility_id", "date"),
    # Recall reads a lot's events wherever they happened.
    sa.Index("ix_stock_events_lot", "product_code", "lot_number"),
    sa.Index("ix_stock_events_transfer", "transfer_id"),
    # An event is reversed at most once.
    sa.Index(
        "ux_stock_events_reverses",
        "reverses",
        unique=True,
        postgresql_where=sa.text("reverses IS NOT NULL"),
        sqlite_where=sa.text("reverses IS NOT NULL"),
    ),
)

stock_balances = sa.Table(
    "stock_balances",
    metadata,
    sa.Column("facility_id", id_type(), primary_key=True),
    sa.Column("product_code", id_type(), primary_key=True),
    sa.Column("lot_number", id_type(LOT_LENGTH), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.CheckConstraint("quantity >= 0", name="ck_stock_balances_not_negative"),
)

# One row per product: small reference data, read one product at a time.
stock_profiles = sa.Table(
    "stock_profiles",
    metadata,
    sa.Column("product_code", id_type(), primary_key=True),
    sa.Column("vvm_type", sa.String(8), nullable=False),
    sa.Column("diluent_code", id_type(EVENT_ID_LENGTH), nullable=True),
    sa.Column("vial_volume_cm3", sa.Float, nullable=True),
)
