"""Vaccine usage and wastage from the stock ledger, per org unit and period, up the tree.

Each facility's ledger (:mod:`immreg.stock`) is summed per product over the period into
mergeable :class:`~immreg.indicators.Tally` counters, ``stock:PRODUCT:FIELD``:

``opening``
    Doses on hand at the start of the period (every event before it).
``received``
    Receipts and transfers booked in during the period.
``issued``
    Issues and transfers sent out.
``administered``
    Doses given (``ADMINISTERED`` events).
``wasted`` and ``wasted:REASON``
    Doses discarded, in all and per :class:`~immreg.stock.model.WastageReason`.
``adjusted``
    Net adjustments and count differences.

A subtree's counters are the sum of its facilities' (so a district's ``received`` includes
what its own store shipped to its communes, as on the paper report when it is added up);
``closing = opening + received - issued - administered - wasted + adjusted``. The WHO
indicators are computed from the merged counters, never averaged
(WHO, *Monitoring vaccine wastage at country level*, WHO/V&B/03.18):

* doses used = administered + wasted (doses opened or otherwise consumed);
* wastage rate = (used - administered) / used (:func:`immreg.stock.reports.wastage_rate`);
* usage rate = administered / used = 1 - wastage rate;
* wastage factor = 1 / (1 - wastage rate).

The ledger's sums come from :meth:`immreg.ports.StockLedgerRepository.totals` (grouped in
the database on SQL backends), so the cost grows with facilities, products and event
kinds, not with events; the stock contract already holds every backend to the same sums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence

import attrs

from immreg.errors import ValidationError
from immreg.indicators import Tally
from immreg.model import OrgLevel
from immreg.ports import UnitOfWork
from immreg.reports.lines import Line, check_date, cut_tree, pct
from immreg.stock.model import EventKind, KindTotal, WastageReason
from immreg.stock.reports import wastage_factor, wastage_rate

__all__ = [
    "FIELDS",
    "StockFigures",
    "StockReport",
    "build_stock_report",
    "stock_key",
    "stock_table",
    "stock_tallies",
]

#: The counters kept per product (``wasted:REASON`` besides).
FIELDS = ("opening", "received", "issued", "administered", "wasted", "adjusted")

_FIELD_OF: dict[EventKind, tuple[str, int]] = {
    EventKind.RECEIPT: ("received", 1),
    EventKind.TRANSFER_IN: ("received", 1),
    EventKind.ISSUE: ("issued", -1),
    EventKind.TRANSFER_OUT: ("issued", -1),
    EventKind.ADMINISTERED: ("administered", -1),
    EventKind.WASTAGE: ("wasted", -1),
    EventKind.ADJUSTMENT: ("adjusted", 1),
    EventKind.COUNT: ("adjusted", 1),
    EventKind.VIAL_OPENED: ("adjusted", 1),  # always zero doses
}


def stock_key(product_code: str, field: str) -> str:
    """Counter name: ``field`` of ``product_code`` (``wasted:REASON`` for one reason)."""
    return f"stock:{product_code}:{field}"


def _check_period(period_start: dt.date, period_end: dt.date) -> None:
    check_date("period_start", period_start)
    check_date("period_end", period_end)
    if period_end <= period_start:
        raise ValidationError("period_end", "must be after period_start")


def _tally(totals: Iterable[KindTotal], *, opening: bool) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for t in totals:
        c = out.setdefault(t.facility_id, {})
        keys: list[tuple[str, int]]
        if opening:
            keys = [("opening", 1)]
        else:
            field, sign = _FIELD_OF[t.kind]
            keys = [(field, sign)]
            if t.kind is EventKind.WASTAGE and t.reason is not None:
                keys.append((f"wasted:{t.reason.value}", sign))
        for field, sign in keys:
            key = stock_key(t.product_code, field)
            c[key] = c.get(key, 0) + sign * t.quantity
    return out


def stock_tallies(
    uow: UnitOfWork,
    *,
    period_start: dt.date,
    period_end: dt.date,
    facility_ids: Sequence[str],
) -> dict[str, Tally]:
    """Stock counters per facility over ``[period_start, period_end)`` (see the module).

    Raises:
        ValidationError: A bad period (field ``period_start`` or ``period_end``).
    """
    _check_period(period_start, period_end)
    ids = sorted(set(facility_ids))
    before = _tally(uow.stock.totals(ids, since=None, until=period_start), opening=True)
    during = _tally(uow.stock.totals(ids, since=period_start, until=period_end), opening=False)
    out: dict[str, Tally] = {}
    for unit in sorted(set(before) | set(during)):
        t = Tally(before.get(unit, {})) + Tally(during.get(unit, {}))
        if t != Tally.empty():
            out[unit] = t
    return out


@attrs.frozen
class StockFigures:
    """One product's figures in one tally, and the WHO indicators.

    Attributes:
        tally: The merged counters.
        product_code: The product.
    """

    tally: Tally
    product_code: str

    def get(self, field: str) -> int:
        """A counter: one of :data:`FIELDS`, or ``wasted:REASON``.

        Raises:
            ValidationError: Not such a field (field ``field``).
        """
        if field not in FIELDS and not field.startswith("wasted:"):
            raise ValidationError("field", f"must be one of {', '.join(FIELDS)}")
        return self.tally[stock_key(self.product_code, field)]

    def wasted_by(self, reason: WastageReason) -> int:
        """Doses wasted for ``reason``."""
        return self.get(f"wasted:{reason.value}")

    @property
    def closing(self) -> int:
        """On hand at the end: opening + received - issued - administered - wasted + adjusted."""
        g = self.get
        return (
            g("opening")
            + g("received")
            - g("issued")
            - g("administered")
            - g("wasted")
            + g("adjusted")
        )

    @property
    def used(self) -> int:
        """Doses used: administered + wasted."""
        return self.get("administered") + self.get("wasted")

    @property
    def wastage_rate(self) -> float | None:
        """WHO wastage rate ``(used - administered) / used``; ``None`` when nothing was used."""
        used = self.used
        if used <= 0:
            return None
        return wastage_rate(used=used, administered=self.get("administered"))

    @property
    def usage_rate(self) -> float | None:
        """WHO usage rate ``administered / used``; ``None`` when nothing was used."""
        rate = self.wastage_rate
        return None if rate is None else 1 - rate

    @property
    def wastage_factor(self) -> float | None:
        """WHO wastage factor ``1 / (1 - wastage rate)``; ``None`` when nothing was used or
        everything used was wasted."""
        rate = self.wastage_rate
        return None if rate is None or rate >= 1 else wastage_factor(rate)


@attrs.frozen
class StockReport:
    """Usage and wastage per org unit of one level, for one period.

    Attributes:
        period_start: First day of the period.
        period_end: First day after it.
        on: The day whose tree was used.
        level: The level of the lines.
        rows: One line per org unit of ``level``.
        total: The line of the unit reported on (``within``), or of everything.
        products: The products with any figure, in code order.
    """

    period_start: dt.date
    period_end: dt.date
    on: dt.date
    level: OrgLevel
    rows: tuple[Line, ...]
    total: Line
    products: tuple[str, ...]


def build_stock_report(
    uow: UnitOfWork,
    *,
    period_start: dt.date,
    period_end: dt.date,
    level: OrgLevel,
    within: str | None = None,
    on: dt.date | None = None,
    products: Collection[str] | None = None,
) -> StockReport:
    """Usage and wastage of every org unit of ``level`` (under ``within``) for a period.

    Args:
        uow: Where the ledger is.
        period_start: First day of the period (e.g. the 1st of a month).
        period_end: First day after it.
        level: Level of the lines (e.g. communes for a district manager).
        within: Only units under this one (its line is the total); all units otherwise.
        on: The day whose tree to use; the last day of the period by default.
        products: Only these product codes (all by default).

    Raises:
        ValidationError: A bad period or level.
        NotFoundError: ``within`` is not an org unit.
    """
    _check_period(period_start, period_end)
    day = on if on is not None else period_end - dt.timedelta(days=1)
    cut = cut_tree(uow, level=level, within=within, on=day)
    ids = cut.scope if cut.scope is not None else cut.tree.units.keys()
    leaves = stock_tallies(
        uow, period_start=period_start, period_end=period_end, facility_ids=sorted(ids)
    )
    if products is not None:
        keep = set(products)
        leaves = {
            u: Tally({k: v for k, v in t.counts.items() if k.split(":")[1] in keep})
            for u, t in leaves.items()
        }
    lines = cut.lines(leaves)
    codes = sorted({k.split(":")[1] for t in leaves.values() for k in t.counts})
    return StockReport(period_start, period_end, day, level, lines.rows, lines.total, tuple(codes))


def stock_table(report: StockReport) -> tuple[list[str], list[list[str]]]:
    """The report as a header and lines of text cells: one line per unit and product (the
    total's last), with the figures, the WHO usage and wastage rates and the wastage
    factor."""
    head = [
        "org_unit",
        "name",
        "product",
        *FIELDS,
        "closing",
        "used",
        "usage %",
        "wastage %",
        "wastage factor",
    ]
    body = []
    for line in [*report.rows, report.total]:
        for p in report.products:
            f = StockFigures(line.tally, p)
            factor = f.wastage_factor
            body.append(
                [
                    line.org_unit_id,
                    line.name,
                    p,
                    *(str(f.get(name)) for name in FIELDS),
                    str(f.closing),
                    str(f.used),
                    pct(f.usage_rate),
                    pct(f.wastage_rate),
                    "" if factor is None else f"{factor:.2f}",
                ]
            )
    return head, body
