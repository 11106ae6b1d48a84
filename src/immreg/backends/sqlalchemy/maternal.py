"""Pregnancy records for maternal reports in SQL: two statements, not one per woman.

The episodes of the period come with the woman's birth date, sex and residence on the day
in one statement (joined on the residence that holds that day); her tetanus-containing doses
in a second, by chunks of women. The reference selection is
:func:`immreg.reports.maternal.pregnancy_records`; the contract
:mod:`immreg.testing.maternal_conformance` checks that both return the same records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from immreg.backends.sqlalchemy.registry import pregnancy_from_row
from immreg.backends.sqlalchemy.registry_tables import registry_pregnancies as _p
from immreg.backends.sqlalchemy.tables import doses, residences, subjects
from immreg.indicators import UNASSIGNED
from immreg.model import Sex
from immreg.reports.maternal import MaternalRecord
from immreg.schedule.patient import Dose

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyMaternalRepository"]

# Women per dose statement, and most org units bound in one statement (beyond, the units
# are filtered in Python): well under the parameter caps of SQLite and PostgreSQL.
_CHUNK = 5000
_MAX_UNITS = 20000


class SqlAlchemyMaternalRepository:
    """Pregnancy records in SQL (see :class:`immreg.ports.MaternalRepository`)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def pregnancy_records(
        self,
        *,
        since: dt.date,
        until: dt.date,
        on: dt.date,
        product_codes: Collection[str],
        units: Collection[str] | None = None,
    ) -> list[MaternalRecord]:
        """Episodes of the period with the woman's doses and residence (see the port)."""
        home = sa.and_(
            residences.c.subject_id == subjects.c.id,
            residences.c.start <= on,
            sa.or_(residences.c.end.is_(None), residences.c.end > on),
        )
        stmt = (
            sa.select(
                _p,
                subjects.c.birth_date.label("woman_born"),
                subjects.c.sex.label("woman_sex"),
                residences.c.org_unit_id.label("unit"),
            )
            .select_from(
                _p.join(subjects, subjects.c.id == _p.c.subject_id).outerjoin(residences, home)
            )
            .where(
                _p.c.start <= on,
                sa.or_(
                    sa.and_(_p.c.expected_delivery >= since, _p.c.expected_delivery < until),
                    sa.and_(_p.c.ended_on >= since, _p.c.ended_on < until),
                ),
            )
        )
        if self._uow.scope is not None:
            # Women ever resident in the scope's subtree (the scoping rule of every
            # repository); an alias, so the subquery does not correlate with her home row.
            ever = residences.alias("ever")
            inside = sa.select(ever.c.subject_id).where(
                ever.c.org_unit_id.in_(sorted(self._uow.subtree()))
            )
            stmt = stmt.where(_p.c.subject_id.in_(inside))
        wanted = None if units is None else set(units)
        if wanted is not None and len(wanted) <= _MAX_UNITS:
            here: sa.ColumnElement[bool] = residences.c.org_unit_id.in_(sorted(wanted))
            if UNASSIGNED in wanted:
                here = sa.or_(here, residences.c.org_unit_id.is_(None))
            stmt = stmt.where(here)
        params: dict[str, Any] = {"scope": self._uow.scope}
        # Sorted here, not by the database, so that ids order by code point everywhere.
        found = self._uow.run(stmt, params)
        rows = sorted(
            (r for r in found if wanted is None or (r.unit or UNASSIGNED) in wanted),
            key=lambda r: str(r.id),
        )
        history = self._doses(sorted({r.subject_id for r in rows}), on, product_codes)
        return [
            MaternalRecord(
                pregnancy_from_row(r),
                r.woman_born,
                Sex(r.woman_sex),
                r.unit,
                tuple(history.get(r.subject_id, ())),
            )
            for r in rows
        ]

    def _doses(
        self, women: list[str], on: dt.date, product_codes: Collection[str]
    ) -> dict[str, list[Dose]]:
        out: dict[str, list[Dose]] = {}
        codes = sorted(set(product_codes))
        if not women or not codes:
            return out
        for k in range(0, len(women), _CHUNK):
            stmt = sa.select(
                doses.c.subject_id, doses.c.id, doses.c.date, doses.c.product_code
            ).where(
                doses.c.subject_id.in_(women[k : k + _CHUNK]),
                doses.c.voided == sa.false(),
                doses.c.date <= on,
                doses.c.product_code.in_(codes),
            )
            for row in self._uow.run(stmt):
                subject_id, dose_id, day, code = tuple(row)
                out.setdefault(subject_id, []).append(Dose(dose_id, day, code))
        for history in out.values():
            history.sort(key=lambda d: (d.date, d.id))
        return out
