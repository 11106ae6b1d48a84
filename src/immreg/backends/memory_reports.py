"""Report tallies in the in-memory backend: the reference computation over visible data.

The tallies are computed by :func:`immreg.indicators.leaf_tallies` from what the unit of
work sees (its own uncommitted writes included), so a dose counts as soon as it is there;
the SQL backend must give the same numbers (checked by
:mod:`immreg.testing.reports_conformance`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from immreg.indicators import ReportSpec, Tally, leaf_tallies

if TYPE_CHECKING:
    from immreg.backends.memory import MemoryUnitOfWork

__all__ = ["MemoryReportRepository"]


class MemoryReportRepository:
    """Leaf tallies in memory (see :class:`immreg.ports.ReportRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def leaf_tallies(
        self, spec: ReportSpec, *, units: Collection[str] | None = None
    ) -> dict[str, Tally]:
        """Tallies per org unit the data is attached to (residence or facility)."""
        uow = self._uow
        guard = uow.scope_guard
        subjects = [s for s in uow.subjects._rows.values() if guard.admits(s)]
        tallies = leaf_tallies(
            spec,
            subjects,
            uow.doses._rows.values(),
            uow.catalogue.list_products(),
        )
        if units is None:
            return tallies
        wanted = set(units)
        return {u: t for u, t in tallies.items() if u in wanted}
