"""Recall: everything one lot touched, from the ledger.

A dose recorded with its lot at the point of care is an ``ADMINISTERED`` event naming the
dose, so a recall finds every dose (and so every person) given from the lot, every
facility still holding it, and every shipment of it still in transit.
"""

from __future__ import annotations

import attrs

from immreg.ports import UnitOfWork
from immreg.stock import ledger
from immreg.stock.model import Balance, EventKind

__all__ = ["RecallReport", "recall"]


@attrs.frozen
class RecallReport:
    """What a recall of one lot must reach.

    Attributes:
        product_code: The product.
        lot_number: The lot.
        dose_ids: Doses given from the lot and not voided, ordered.
        subject_ids: The people who received them, ordered.
        holdings: Facilities holding the lot now.
        in_transit: Shipments of the lot not yet received.
    """

    product_code: str
    lot_number: str
    dose_ids: tuple[str, ...]
    subject_ids: tuple[str, ...]
    holdings: tuple[Balance, ...]
    in_transit: tuple[ledger.Shipment, ...]


def recall(uow: UnitOfWork, product_code: str, lot_number: str) -> RecallReport:
    """Everything a recall of the lot must reach (doses, people, holdings, shipments).

    Doses are read through ``uow.doses``, so a scoped unit of work raises
    :class:`~immreg.errors.ScopeError` for a person outside its scope: a recall is a
    national operation, run unscoped.
    """
    given = uow.stock.events(
        product_code=product_code, lot_number=lot_number, kind=EventKind.ADMINISTERED
    )
    net: dict[str, int] = {}
    for e in given:
        if e.dose_id is not None:
            net[e.dose_id] = net.get(e.dose_id, 0) + e.quantity
    dose_ids = tuple(sorted(d for d, q in net.items() if q < 0))
    subjects = set()
    for d in dose_ids:
        found = uow.doses.find(d)
        if found is not None and not found.voided:
            subjects.add(found.subject_id)
    return RecallReport(
        product_code,
        lot_number,
        dose_ids,
        tuple(sorted(subjects)),
        tuple(uow.stock.balances(product_code=product_code, lot_number=lot_number)),
        tuple(ledger.in_transit(uow, product_code=product_code, lot_number=lot_number)),
    )
