"""Indexes the reports need on the shared tables (migration ``0400``, branch ``reports``).

Reports read the core tables directly (a dose counts as soon as its transaction commits),
so they add no table of their own, only indexes on the shared ``metadata``:

* ``ix_doses_facility_date``: doses given at a set of facilities (a province's report by
  commune) are found without scanning every dose in the country;
* ``ix_subjects_birth_date``: a birth cohort is found without scanning every subject.
"""

from __future__ import annotations

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import doses, subjects

__all__ = ["ix_doses_facility_date", "ix_subjects_birth_date"]

ix_doses_facility_date = sa.Index("ix_doses_facility_date", doses.c.facility_id, doses.c.date)
ix_subjects_birth_date = sa.Index("ix_subjects_birth_date", subjects.c.birth_date)
