"""The maternal report repository in memory: the reference selection over visible data.

:func:`immreg.reports.maternal.pregnancy_records` runs over what the unit of work sees (its
own uncommitted writes included); the SQL backend must return the same records (checked by
:mod:`immreg.testing.maternal_conformance`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING

from immreg.reports.maternal import MaternalRecord, pregnancy_records

if TYPE_CHECKING:
    from immreg.backends.memory import MemoryUnitOfWork

__all__ = ["MemoryMaternalRepository"]


class MemoryMaternalRepository:
    """Pregnancy records in memory (see :class:`immreg.ports.MaternalRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
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
        uow = self._uow
        guard = uow.scope_guard
        women = {s.id: s for s in uow.subjects._rows.values() if guard.admits(s)}
        return pregnancy_records(
            episodes=uow.pregnancies.rows.values(),
            subjects=women,
            doses=uow.doses._rows.values(),
            since=since,
            until=until,
            on=on,
            product_codes=product_codes,
            units=units,
        )
