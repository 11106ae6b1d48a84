"""The reports' tables and indexes on the shared metadata (migrations ``0400`` and ``0401``,
branch ``reports``).

Reports read the core tables directly when they must (a dose counts as soon as its
transaction commits), helped by two indexes:

* ``ix_doses_facility_date``: doses given at a set of facilities (a province's report by
  commune) are found without scanning every dose in the country;
* ``ix_subjects_birth_date``: a birth cohort is found without scanning every subject.

Most reports instead read leaf counters kept up to date in each writing transaction (see
:mod:`immreg.backends.sqlalchemy.reports`):

* ``report_counters``: append-only rows of counter *deltas*, one integer column per counter
  slot (``v00`` ...), keyed by ``kind`` (``M`` cohort by birth month, ``Y`` cohort by birth
  year, ``A`` administrative doses by dose month), the org unit, ``bucket`` (the birth or
  dose month or year) and ``at`` (the month from whose end the change holds). A counter is
  the sum of its rows; compaction merges rows of the same key. Appending rather than
  updating means two transactions never conflict over a counter.
* ``report_children``: what each child currently adds to the counters (its state per month
  and its numbered doses), so that a change is applied as old minus new.
* ``report_dirty``: children whose rows changed and whose contribution is not yet applied.
  Database triggers (created by migration ``0401``) add them on every write to ``subjects``,
  ``residences``, ``doses`` and ``products``, whoever writes; the unit of work applies its
  own at commit.
"""

from __future__ import annotations

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import doses, id_type, metadata, subjects

__all__ = [
    "SLOTS",
    "ix_doses_facility_date",
    "ix_subjects_birth_date",
    "report_children",
    "report_counters",
    "report_dirty",
    "slot_columns",
]

ix_doses_facility_date = sa.Index("ix_doses_facility_date", doses.c.facility_id, doses.c.date)
ix_subjects_birth_date = sa.Index("ix_subjects_birth_date", subjects.c.birth_date)

#: Integer columns per counter row: enough for the counted definition's cohort counters
#: (29 with the default antigens) and its administrative ones (23).
SLOTS = 32


def slot_columns() -> list[sa.Column[int]]:
    """The counter columns ``v00`` ... ``v31`` (integers, zero by default)."""
    return [
        sa.Column(f"v{i:02d}", sa.Integer, nullable=False, server_default="0")
        for i in range(SLOTS)
    ]


report_counters = sa.Table(
    "report_counters",
    metadata,
    sa.Column("kind", sa.String(1), nullable=False),
    sa.Column("org_unit_id", id_type(), nullable=False),
    sa.Column("bucket", sa.Date, nullable=False),
    sa.Column("at", sa.Date, nullable=False),
    *slot_columns(),
    # The nation's report reads one kind and cohort, all units (stored in this order by
    # compaction); a province's report its units only.
    sa.Index("ix_report_counters", "kind", "bucket", "org_unit_id", "at"),
    sa.Index("ix_report_counters_unit", "org_unit_id", "kind", "bucket", "at"),
)

report_children = sa.Table(
    "report_children",
    metadata,
    sa.Column("subject_id", id_type(), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
)

report_dirty = sa.Table(
    "report_dirty",
    metadata,
    sa.Column("subject_id", id_type(), nullable=False),
    # The writing transaction (PostgreSQL's txid_current(); 0 on SQLite, one writer).
    sa.Column("txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_report_dirty_txid", "txid"),
    sa.Index("ix_report_dirty_subject", "subject_id"),
)
