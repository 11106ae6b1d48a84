"""Reports: leaf counters, per-child contributions, and the triggers that mark children dirty.

Every subject already stored is marked dirty, so reports use the exact query until
``immreg report --refresh`` (:func:`immreg.backends.sqlalchemy.reports.refresh_report_counters`)
has computed the counters.

Revision ID: 0401
Revises: 0400
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0401"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SLOTS = 32


def _id() -> sa.types.TypeEngine[str]:
    return sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


# (table, the column naming the subject, what a new product marks).
_SOURCES = (("subjects", "id"), ("residences", "subject_id"), ("doses", "subject_id"))

# On PostgreSQL, statement-level triggers with transition tables: one INSERT per statement
# (a COPY of a million doses marks its children in one go), tagged with the writing
# transaction so that each transaction applies only its own.
_PG_MARK = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO report_dirty (subject_id, txid)
  SELECT DISTINCT s, txid_current() FROM ({rows}) AS marked(s);
  RETURN NULL;
END $$
"""


def _pg_upgrade() -> None:
    for table, column in _SOURCES:
        rows = {
            "INSERT": f"SELECT {column} FROM new_rows",
            "DELETE": f"SELECT {column} FROM old_rows",
            "UPDATE": f"SELECT {column} FROM new_rows UNION SELECT {column} FROM old_rows",
        }
        for event, select in rows.items():
            name = f"report_mark_{table}_{event.lower()}"
            op.execute(_PG_MARK.format(name=name, rows=select))
            refs = {
                "INSERT": "NEW TABLE AS new_rows",
                "DELETE": "OLD TABLE AS old_rows",
                "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
            }[event]
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    # A product added (or changed) after doses that name it changes what they count for.
    for event, refs in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "NEW TABLE AS new_rows"),
    ):
        name = f"report_mark_products_{event.lower()}"
        select = "SELECT d.subject_id FROM doses d JOIN new_rows n ON d.product_code = n.code"
        op.execute(_PG_MARK.format(name=name, rows=select))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON products REFERENCING {refs}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def _sqlite_upgrade() -> None:
    for table, column in _SOURCES:
        for event, values in (
            ("INSERT", f"(new.{column}, 0)"),
            ("DELETE", f"(old.{column}, 0)"),
            ("UPDATE", f"(old.{column}, 0), (new.{column}, 0)"),
        ):
            op.execute(
                f"CREATE TRIGGER report_mark_{table}_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN INSERT INTO report_dirty (subject_id, txid) VALUES {values}; END"
            )
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER report_mark_products_{event.lower()} AFTER {event} ON products"
            " BEGIN INSERT INTO report_dirty (subject_id, txid)"
            " SELECT DISTINCT subject_id, 0 FROM doses WHERE product_code = new.code; END"
        )


def upgrade() -> None:
    """Create the counter tables and triggers; mark every stored subject dirty."""
    op.create_table(
        "report_counters",
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("org_unit_id", _id(), nullable=False),
        sa.Column("bucket", sa.Date, nullable=False),
        sa.Column("at", sa.Date, nullable=False),
        *(
            sa.Column(f"v{i:02d}", sa.Integer, nullable=False, server_default="0")
            for i in range(_SLOTS)
        ),
    )
    op.create_index(
        "ix_report_counters", "report_counters", ["kind", "bucket", "org_unit_id", "at"]
    )
    op.create_index(
        "ix_report_counters_unit", "report_counters", ["org_unit_id", "kind", "bucket", "at"]
    )
    op.create_table(
        "report_children",
        sa.Column("subject_id", _id(), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
    )
    op.create_table(
        "report_dirty",
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column("txid", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_report_dirty_txid", "report_dirty", ["txid"])
    op.create_index("ix_report_dirty_subject", "report_dirty", ["subject_id"])
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()
    op.execute("INSERT INTO report_dirty (subject_id, txid) SELECT id, 0 FROM subjects")


def downgrade() -> None:
    """Drop the triggers and the tables."""
    pg = op.get_bind().dialect.name == "postgresql"
    names = [
        (f"report_mark_{t}_{e}", t)
        for t in ("subjects", "residences", "doses")
        for e in ("insert", "delete", "update")
    ] + [(f"report_mark_products_{e}", "products") for e in ("insert", "update")]
    for name, table in names:
        op.execute(f"DROP TRIGGER {name} ON {table}" if pg else f"DROP TRIGGER {name}")
        if pg:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("report_dirty")
    op.drop_table("report_children")
    op.drop_table("report_counters")
