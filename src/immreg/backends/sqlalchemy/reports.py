"""Report tallies in SQL: aggregate per leaf in the database, merge up the tree in Python.

The database returns one row per (org unit the data is attached to, counter), never one row
per dose, so what crosses the wire grows with the number of org units. Rolling up is done by
:func:`immreg.indicators.rollup` over the effective-dated tree, which is why the same query
serves the tree before and after 2025-07-01 and why no ``ROLLUP``/``GROUPING SETS`` is used
(two-stage aggregation measured 4x faster than a one-pass ROLLUP on PostgreSQL 15 here, and
Citus rejects ROLLUP).

Most reports read the leaf counters of :mod:`immreg.backends.sqlalchemy.report_counters`
(kept up to date in each writing transaction): ``O(org units x months)`` rows whatever the
number of doses. A report the counters cannot answer (a cohort or period that is not whole
months, ``as_of`` not a month's last day, indicators outside the counted definition, a
scoped unit of work, or children still dirty after a bulk load) uses the exact query over
the doses, whose conditions are the ones of
:meth:`immreg.indicators.ReportSpec.child_counters` written as ``CASE`` expressions; the
conformance suite checks that every path gives the same tallies.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from immreg.backends.sqlalchemy import (
    report_counters,
    reports_tables,  # noqa: F401  (registers the indexes)
)
from immreg.backends.sqlalchemy.tables import doses, residences, subjects
from immreg.indicators import (
    DTP,
    UNASSIGNED,
    ReportSpec,
    Tally,
    doses_key,
    dropped_key,
    received_key,
)

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyReportRepository"]

# Children per statement when numbering a subtree's doses (well under the 32,766 bound
# parameters SQLite allows and the 65,535 of PostgreSQL's protocol).
_CHUNK = 5000
# Most org units bound in one restricted query; beyond, the unrestricted query is used.
_MAX_UNITS = 20000


class SqlAlchemyReportRepository:
    """Leaf tallies computed by the database (see :class:`immreg.ports.ReportRepository`)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def _admitted_subjects(self) -> sa.Select[Any] | None:
        # In a scoped unit of work only subjects ever resident in the subtree count, the
        # scoping rule of every repository (see immreg.ports).
        if self._uow.scope is None:
            return None
        ids = sorted(self._uow.subtree())
        return sa.select(residences.c.subject_id).where(residences.c.org_unit_id.in_(ids))

    def flush(self) -> None:
        """Apply this transaction's own changes to the leaf counters (done at commit)."""
        report_counters.flush(self._uow)

    def leaf_tallies(
        self, spec: ReportSpec, *, units: Collection[str] | None = None
    ) -> dict[str, Tally]:
        """Tallies per org unit the data is attached to (residence or facility).

        From the leaf counters when they can answer ``spec`` (see the module docstring),
        else by the exact query.
        """
        if self._uow.scope is None and report_counters.answers(spec):
            self.flush()
            if not report_counters.pending(self._uow):
                wanted = None if units is None else sorted(set(units))
                if wanted is not None and len(wanted) > _MAX_UNITS:
                    every = report_counters.counter_tallies(self._uow, spec, None)
                    keep = set(wanted)
                    return {u: t for u, t in every.items() if u in keep}
                return report_counters.counter_tallies(self._uow, spec, wanted)
        return self.exact_leaf_tallies(spec, units=units)

    def exact_leaf_tallies(
        self, spec: ReportSpec, *, units: Collection[str] | None = None
    ) -> dict[str, Tally]:
        """:meth:`leaf_tallies` by the exact query over the doses, never the counters."""
        codes = spec.codes_by_antigen(self._uow.catalogue.list_products())
        admitted = self._admitted_subjects()
        wanted = None if units is None else sorted(set(units))
        if wanted is not None and len(wanted) > _MAX_UNITS:
            # Too many to bind (a whole country): count everything and keep the units asked
            # for; the values are the same.
            every = self.exact_leaf_tallies(spec)
            keep = set(wanted)
            return {u: t for u, t in every.items() if u in keep}
        out: dict[str, dict[str, int]] = {}
        for unit, key, value in [
            *self._cohort_rows(spec, codes, admitted, wanted),
            *self._dose_rows(spec, codes, admitted, wanted),
        ]:
            if value:
                c = out.setdefault(unit, {})
                c[key] = c.get(key, 0) + value
        return {u: Tally(c) for u, c in out.items()}

    def _cohort_rows(
        self,
        spec: ReportSpec,
        codes: dict[str, frozenset[str]],
        admitted: sa.Select[Any] | None,
        wanted: list[str] | None,
    ) -> list[tuple[str, str, int]]:
        # Stage 1: one row per child with its dose count per antigen up to as_of.
        live = sa.and_(
            doses.c.subject_id == subjects.c.id,
            doses.c.voided == sa.false(),
            doses.c.date <= spec.as_of,
        )
        home = sa.and_(
            residences.c.subject_id == subjects.c.id,
            residences.c.start <= spec.as_of,
            sa.or_(residences.c.end.is_(None), residences.c.end > spec.as_of),
        )
        n_cols = [
            sa.func.coalesce(
                sa.func.sum(sa.case((doses.c.product_code.in_(sorted(codes[a])), 1), else_=0)),
                0,
            ).label(f"n{i}")
            for i, (a, _) in enumerate(spec.antigens)
        ]
        unit_col = sa.func.coalesce(residences.c.org_unit_id, UNASSIGNED)
        child = (
            sa.select(unit_col.label("unit"), *n_cols)
            .select_from(subjects.outerjoin(residences, home).outerjoin(doses, live))
            .where(
                subjects.c.birth_date >= spec.birth_from,
                subjects.c.birth_date < spec.birth_until,
                sa.or_(subjects.c.deceased_on.is_(None), subjects.c.deceased_on > spec.as_of),
            )
            .group_by(subjects.c.id, unit_col)
        )
        if admitted is not None:
            child = child.where(subjects.c.id.in_(admitted))
        if wanted is not None:
            # On the residence column itself, so that its index finds the children.
            here: sa.ColumnElement[bool] = residences.c.org_unit_id.in_(wanted)
            if UNASSIGNED in wanted:
                here = sa.or_(here, residences.c.org_unit_id.is_(None))
            child = child.where(here)
        c = child.subquery("child")
        n = {a: c.c[f"n{i}"] for i, (a, _) in enumerate(spec.antigens)}

        def count_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
            return sa.func.sum(sa.case((cond, 1), else_=0))

        def has(antigen: str, k: int) -> sa.ColumnElement[bool]:
            return n[antigen] >= k if antigen in n else sa.false()

        # Stage 2: one row per org unit, one column per counter (the same conditions as
        # ReportSpec.child_counters).
        counters: list[tuple[str, sa.ColumnElement[Any]]] = [("cohort", sa.func.count())]
        for antigen, highest in spec.antigens:
            for k in range(1, highest + 1):
                counters.append((received_key(antigen, k), count_if(has(antigen, k))))
        for pair in spec.dropout_pairs:
            counters.append(
                (dropped_key(pair), count_if(sa.and_(has(*pair.first), ~has(*pair.second))))
            )
        counters.append(("fic", count_if(sa.and_(sa.true(), *(has(a, k) for a, k in spec.fic)))))
        counters.append(("zero_dose", count_if(~has(DTP, 1))))
        stmt = sa.select(
            c.c.unit, *(col.label(f"c{i}") for i, (_, col) in enumerate(counters))
        ).group_by(c.c.unit)
        rows: list[tuple[str, str, int]] = []
        for r in self._uow.run(stmt):
            for i, (key, _) in enumerate(counters):
                rows.append((r[0], key, int(r[i + 1] or 0)))
        return rows

    def _dose_rows(
        self,
        spec: ReportSpec,
        codes: dict[str, frozenset[str]],
        admitted: sa.Select[Any] | None,
        wanted: list[str] | None,
    ) -> list[tuple[str, str, int]]:
        rows: list[tuple[str, str, int]] = []
        chunks: list[list[str] | None] = [None]
        if wanted is not None:
            # Children who had a dose at one of the units: only their histories need
            # numbering. They are fetched first (ix_doses_facility_date finds them), then
            # their doses in chunks through ix_doses_subject_id: as one statement,
            # PostgreSQL 15 misjudged the list's size and hashed the whole doses table
            # (5 s instead of a fraction of a second for a province).
            here = sa.select(doses.c.subject_id).where(doses.c.facility_id.in_(wanted)).distinct()
            ids = sorted(self._uow.run(here).scalars())
            if not ids:
                return rows
            chunks = [ids[k : k + _CHUNK] for k in range(0, len(ids), _CHUNK)]
        pairs = sorted((code, a) for a, cs in codes.items() for code in cs)
        if not pairs:
            return rows
        # (product, antigen) as a tiny derived table (UNION ALL of literals works on every
        # database), so one scan of the doses numbers every antigen at once.
        pa = sa.union_all(
            *(
                sa.select(sa.literal(code).label("code"), sa.literal(a).label("antigen"))
                for code, a in pairs
            )
        ).subquery("pa")
        # The k-th dose of the antigen in the child's whole history, ordered as the memory
        # backend orders them (date, then id in code-point order).
        numbered = (
            sa.select(
                doses.c.facility_id,
                doses.c.date,
                pa.c.antigen,
                sa.func.row_number()
                .over(
                    partition_by=(doses.c.subject_id, pa.c.antigen),
                    order_by=(doses.c.date, doses.c.id),
                )
                .label("k"),
            )
            .select_from(doses.join(pa, doses.c.product_code == pa.c.code))
            .where(doses.c.voided == sa.false(), doses.c.date < spec.period_end)
        )
        if admitted is not None:
            numbered = numbered.where(doses.c.subject_id.in_(admitted))
        highest = dict(spec.antigens)
        for chunk in chunks:
            part = numbered
            if chunk is not None:
                # Whole histories per chunk of children, so the chunks' counts add up.
                part = part.where(doses.c.subject_id.in_(chunk))
            d = part.subquery("numbered")
            stmt = (
                sa.select(d.c.facility_id, d.c.antigen, d.c.k, sa.func.count())
                .where(d.c.date >= spec.period_start)
                .group_by(d.c.facility_id, d.c.antigen, d.c.k)
            )
            if wanted is not None:
                stmt = stmt.where(d.c.facility_id.in_(wanted))
            result: Any = self._uow.run(stmt)
            for facility, antigen, k, count in result:
                if int(k) <= highest[antigen]:
                    rows.append((facility, doses_key(antigen, int(k)), int(count)))
        return rows
