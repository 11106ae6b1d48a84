"""The SQL tables of the SQLAlchemy backend, as SQLAlchemy Core :class:`~sqlalchemy.Table` objects.

The attrs domain classes are not ORM-mapped (slotted frozen classes and the ORM's
instrumentation do not mix, and the bulk path bypasses the ORM anyway); :mod:`.mapping`
converts rows to domain values and back.

Distribution (Citus): every subject-owned table (``subjects``, ``residences``,
``doses``) carries ``subject_id`` so it can be distributed and co-located on
it; ``products``, ``org_units``, ``org_unit_parents`` and ``lots`` are small reference
tables. No foreign key crosses from a subject-owned table to another shard.

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares the migrated schema with this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = [
    "ID_LENGTH",
    "LOT_LENGTH",
    "NAME_LENGTH",
    "UtcDateTime",
    "audit",
    "doses",
    "id_type",
    "load_batches",
    "lots",
    "metadata",
    "org_unit_parents",
    "org_units",
    "products",
    "residences",
    "subjects",
]

#: Width of identifier columns (``immreg.model.MAX_ID_LENGTH``).
ID_LENGTH = 64
#: Width of name columns (``immreg.model.MAX_NAME_LENGTH``).
NAME_LENGTH = 100
#: Width of lot-number columns (GS1 AI 10).
LOT_LENGTH = 20


def id_type(length: int = ID_LENGTH) -> sa.types.TypeEngine[str]:
    """A ``VARCHAR`` for identifiers that sorts by code point on every database.

    The in-memory backend orders by Python string comparison (code point order); SQLite's
    default BINARY collation agrees, and on PostgreSQL the ``"C"`` collation does, whatever
    the database's default collation (it is also the fastest to index).
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware instant stored in UTC.

    SQLite has no time zone type and would return naive values; storing UTC and attaching
    UTC on the way out gives the same aware instants on every database.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        """Convert an aware instant to UTC (naive UTC on SQLite)."""
        if value is None:
            return None
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        """Return an aware instant; naive values are UTC."""
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


metadata = sa.MetaData()

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("id", id_type(), primary_key=True),
    sa.Column("family_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("given_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("sex", sa.String(1), nullable=False),
    sa.Column("national_code", id_type(), nullable=True),
    sa.Column("mother_id", id_type(), nullable=True),
    sa.Column("deceased_on", sa.Date, nullable=True),
    # Caregivers are JSON: they are only ever read and written with their subject, so a
    # child table would cost a query per read and a COPY per bulk batch for nothing. (On
    # PostgreSQL a GIN index on this column can serve a look-up by phone if one is needed.)
    sa.Column("caregivers", json_type(), nullable=False),
    # A unique national code is a registry rule. Partial: most historical records have no
    # code, and NULLs can never clash, so indexing them would only slow loads down. Under
    # Citus this index must move to a lookup table distributed by the code (see the docs).
    sa.Index(
        "ix_subjects_national_code",
        "national_code",
        unique=True,
        postgresql_where=sa.text("national_code IS NOT NULL"),
        sqlite_where=sa.text("national_code IS NOT NULL"),
    ),
)

# Subject-owned tables have no database foreign key to subjects: the per-row referential
# check halved the bulk load rate on PostgreSQL (1M doses by COPY: 9.7 s with it, 4.6 s
# without; residences: 3x slower). Every write path checks the subject instead: residences
# are written only by the subject's own add/update, DoseRepository.add looks the subject up
# (it must anyway, to apply the scope and raise NotFoundError) and load_batch checks the
# batch's subject ids set-wise. Doses are never deleted, and subjects have no delete.
#
# Residences are a child table rather than JSON in ``subjects`` because they are searched
# on their own, by org unit and date (due lists, scoping).
residences = sa.Table(
    "residences",
    metadata,
    sa.Column("subject_id", id_type(), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("org_unit_id", id_type(), nullable=False),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("end", sa.Date, nullable=True),
    sa.Index("ix_residences_org_unit", "org_unit_id", "start"),
)

doses = sa.Table(
    "doses",
    metadata,
    sa.Column("id", id_type(), primary_key=True),
    sa.Column("subject_id", id_type(), nullable=False),
    sa.Column("product_code", id_type(), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("facility_id", id_type(), nullable=False),
    sa.Column("lot_number", sa.String(LOT_LENGTH), nullable=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("recorded_by", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("voided", sa.Boolean, nullable=False),
    sa.Column("void_reason", sa.String(NAME_LENGTH), nullable=True),
    sa.Index("ix_doses_subject_id", "subject_id"),
)

# Antigens and GTINs are JSON lists: products are a small reference table read whole.
products = sa.Table(
    "products",
    metadata,
    sa.Column("code", id_type(), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("antigens", json_type(), nullable=False),
    sa.Column("cvx", sa.String(3), nullable=True),
    sa.Column("gtins", json_type(), nullable=False),
    sa.Column("doses_per_vial", sa.Integer, nullable=False),
    sa.Column("open_vial_rule", sa.String(32), nullable=False),
    sa.Column("manufacturer", sa.String(NAME_LENGTH), nullable=True),
    sa.Column("live", sa.Boolean, nullable=False),
)

org_units = sa.Table(
    "org_units",
    metadata,
    sa.Column("id", id_type(), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("opened", sa.Date, nullable=False),
    sa.Column("closed", sa.Date, nullable=True),
)

org_unit_parents = sa.Table(
    "org_unit_parents",
    metadata,
    sa.Column(
        "org_unit_id",
        id_type(),
        sa.ForeignKey("org_units.id", name="fk_org_unit_parents_unit", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    # No foreign key on the parent: a tree may be loaded children first.
    sa.Column("parent_id", id_type(), nullable=True),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("end", sa.Date, nullable=True),
    sa.Index("ix_org_unit_parents_parent", "parent_id"),
)

lots = sa.Table(
    "lots",
    metadata,
    sa.Column("product_code", id_type(), primary_key=True),
    sa.Column("lot_number", sa.String(LOT_LENGTH), primary_key=True),
    sa.Column("expiry", sa.Date, nullable=False),
    sa.Column("manufacturer", sa.String(NAME_LENGTH), nullable=True),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("entity", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("entity_id", id_type(), nullable=False),
    sa.Column("action", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("by", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Index("ix_audit_entity", "entity", "entity_id", "seq"),
)

load_batches = sa.Table(
    "load_batches",
    metadata,
    sa.Column("load_id", sa.String(200), primary_key=True),
    sa.Column("batch_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("loaded_at", UtcDateTime(), nullable=False),
)
