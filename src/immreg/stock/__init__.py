"""Vaccine stock: an append-only ledger per (facility, product, lot), from store to commune.

Modules:

* :mod:`immreg.stock.model`: ledger events, reasons, balances (the values).
* :mod:`immreg.stock.gs1`: GS1 barcode scans (biip) to product, lot and expiry.
* :mod:`immreg.stock.ledger`: the use cases (receipt, transfer, wastage, count, reversal,
  doses administered from a lot), each inside a caller's unit of work.
* :mod:`immreg.stock.policy`: issue order (earliest expiry first, VVM first), expiry
  alerts, stock-out days, open vials.
* :mod:`immreg.stock.reports`: stock on hand rolled up the tree, the monthly stock
  report, WHO wastage rates and factor, needs estimates.
* :mod:`immreg.stock.recall`: everything a lot touched.

Only the values are imported here, so that :mod:`immreg.ports` can use them.
"""

from __future__ import annotations

from immreg.stock.model import (
    Balance,
    EventKind,
    KindTotal,
    StockEvent,
    SupplyProfile,
    VvmType,
    WastageReason,
)

__all__ = [
    "Balance",
    "EventKind",
    "KindTotal",
    "StockEvent",
    "SupplyProfile",
    "VvmType",
    "WastageReason",
]
