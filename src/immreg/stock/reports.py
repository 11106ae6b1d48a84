"""Stock reports: on hand rolled up the tree, the monthly report, WHO wastage, needs.

Every report reads sums, never event lists: the monthly report of a province is two
grouped queries over its facilities' events (opening = everything before the month, then
the month's movements by kind), so its cost grows with facilities and kinds, not events.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping

import attrs

from immreg.orgunits import OrgTree
from immreg.ports import UnitOfWork
from immreg.stock.model import EventKind, KindTotal, WastageReason

__all__ = [
    "MonthlyStockReport",
    "NeedsEstimate",
    "estimate_needs",
    "merge",
    "monthly_report",
    "needs_estimate",
    "on_hand",
    "usage_rate",
    "wastage_factor",
    "wastage_rate",
]


@attrs.frozen
class MonthlyStockReport:
    """One facility's (or a subtree's) month of one product, in doses.

    ``closing == opening + received - issued - administered - wasted + adjusted`` always
    holds (a test checks it); ``adjusted`` covers adjustments and count differences.

    Attributes:
        facility_id: The facility, or the root of the subtree rolled up.
        product_code: The product.
        month: First day of the month.
        opening: On hand at the start of the month.
        received: Receipts and shipments booked in.
        issued: Issues and shipments sent.
        administered: Doses given.
        wasted: Doses wasted, all reasons.
        wasted_by_reason: Doses wasted per reason.
        adjusted: Net adjustments and count differences.
        closing: On hand at the end of the month.
    """

    facility_id: str
    product_code: str
    month: dt.date
    opening: int = 0
    received: int = 0
    issued: int = 0
    administered: int = 0
    wasted: int = 0
    wasted_by_reason: Mapping[WastageReason, int] = attrs.field(factory=dict)
    adjusted: int = 0
    closing: int = 0

    def __add__(self, other: MonthlyStockReport) -> MonthlyStockReport:
        """Merge two reports of the same product and month (rolling up the tree)."""
        reasons = dict(self.wasted_by_reason)
        for r, n in other.wasted_by_reason.items():
            reasons[r] = reasons.get(r, 0) + n
        return attrs.evolve(
            self,
            opening=self.opening + other.opening,
            received=self.received + other.received,
            issued=self.issued + other.issued,
            administered=self.administered + other.administered,
            wasted=self.wasted + other.wasted,
            wasted_by_reason=reasons,
            adjusted=self.adjusted + other.adjusted,
            closing=self.closing + other.closing,
        )

    @property
    def wastage_rate(self) -> float:
        """WHO wastage rate of the month (see :func:`wastage_rate`)."""
        return wastage_rate(used=self.administered + self.wasted, administered=self.administered)


def _month_end(month: dt.date) -> dt.date:
    days = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=days) + dt.timedelta(days=1)


def _apply(report: MonthlyStockReport, t: KindTotal) -> MonthlyStockReport:
    q = t.quantity
    if t.kind in (EventKind.RECEIPT, EventKind.TRANSFER_IN):
        return attrs.evolve(report, received=report.received + q)
    if t.kind in (EventKind.ISSUE, EventKind.TRANSFER_OUT):
        return attrs.evolve(report, issued=report.issued - q)
    if t.kind is EventKind.ADMINISTERED:
        return attrs.evolve(report, administered=report.administered - q)
    if t.kind is EventKind.WASTAGE:
        reasons = dict(report.wasted_by_reason)
        assert t.reason is not None
        reasons[t.reason] = reasons.get(t.reason, 0) - q
        return attrs.evolve(report, wasted=report.wasted - q, wasted_by_reason=reasons)
    return attrs.evolve(report, adjusted=report.adjusted + q)


def monthly_report(
    uow: UnitOfWork,
    facility_id: str,
    *,
    month: dt.date,
    rollup: bool = False,
) -> dict[str, MonthlyStockReport]:
    """The monthly stock report of a facility, per product.

    Args:
        uow: An open unit of work.
        facility_id: The facility (or, with ``rollup``, the root of a subtree).
        month: Any day of the month.
        rollup: Sum over the facility and every unit below it (tree as on the 1st).

    Returns:
        Reports by product code (products the facility never held are left out).
    """
    start = month.replace(day=1)
    end = _month_end(start)
    ids = [facility_id]
    if rollup:
        tree = OrgTree(uow.org_units.list_all())
        ids = sorted(tree.subtree(facility_id, on=start))
    reports: dict[str, MonthlyStockReport] = {}

    def report(product: str) -> MonthlyStockReport:
        return reports.get(product) or MonthlyStockReport(facility_id, product, start)

    for t in uow.stock.totals(ids, since=None, until=start):
        r = report(t.product_code)
        reports[t.product_code] = attrs.evolve(r, opening=r.opening + t.quantity)
    for t in uow.stock.totals(ids, since=start, until=end):
        reports[t.product_code] = _apply(report(t.product_code), t)
    return {
        p: attrs.evolve(
            r,
            closing=r.opening + r.received - r.issued - r.administered - r.wasted + r.adjusted,
        )
        for p, r in sorted(reports.items())
    }


def on_hand(
    uow: UnitOfWork, root_id: str, *, on: dt.date, product_code: str | None = None
) -> dict[str, dict[tuple[str, str], int]]:
    """Stock on hand now, by (product, lot), for every unit of a subtree, rolled up.

    Each unit's figure includes everything below it (tree as on ``on``); a unit that
    holds nothing in its subtree is left out.

    Returns:
        Org-unit id -> {(product, lot): doses}.
    """
    tree = OrgTree(uow.org_units.list_all())
    ids = tree.subtree(root_id, on=on)
    totals: dict[str, dict[tuple[str, str], int]] = {}
    for b in uow.stock.balances(facility_ids=sorted(ids), product_code=product_code):
        path = tree.path(b.facility_id, on=on)
        # Only the part of the path inside the subtree rolls up.
        for unit in path[path.index(root_id) :]:
            lots = totals.setdefault(unit, {})
            key = (b.product_code, b.lot_number)
            lots[key] = lots.get(key, 0) + b.quantity
    return dict(sorted(totals.items()))


def wastage_rate(*, used: int, administered: int) -> float:
    """WHO wastage rate: ``(used - administered) / used`` (0 when nothing was used).

    ``used`` is doses opened or otherwise consumed (administered + wasted). WHO,
    "Monitoring vaccine wastage at country level" (WHO/V&B/03.18), section 2.
    """
    if used <= 0:
        return 0.0
    return (used - administered) / used


def usage_rate(*, used: int, administered: int) -> float:
    """WHO vaccine usage rate: ``administered / used``, the complement of the wastage rate
    (1 when nothing was used)."""
    return 1.0 - wastage_rate(used=used, administered=administered)


def wastage_factor(rate: float) -> float:
    """WHO wastage factor ``1 / (1 - rate)`` (WHO/V&B/03.18): doses to supply per dose given.

    Raises:
        ValueError: ``rate`` is not in [0, 1).
    """
    if not 0 <= rate < 1:
        raise ValueError("a wastage rate is from 0 up to (not including) 1")
    return 1 / (1 - rate)


@attrs.frozen
class NeedsEstimate:
    """Doses a facility needs for a period.

    Attributes:
        facility_id: The facility.
        product_code: The product.
        target_population: People to vaccinate in the period.
        doses_per_person: Doses of the product each needs.
        wastage_factor: WHO wastage factor applied.
        buffer: Safety stock, in doses.
        on_hand: Usable doses on hand.
        needed: Doses to order (never negative), rounded up to whole vials.
    """

    facility_id: str
    product_code: str
    target_population: int
    doses_per_person: int
    wastage_factor: float
    buffer: int
    on_hand: int
    needed: int


def needs_estimate(
    *,
    facility_id: str,
    product_code: str,
    target_population: int,
    doses_per_person: int,
    wastage_factor: float,
    on_hand: int,
    doses_per_vial: int = 1,
    buffer_fraction: float = 0.25,
) -> NeedsEstimate:
    """Doses to order: target x doses x wastage factor + buffer - on hand (WHO method).

    The buffer (safety stock) is ``buffer_fraction`` of the period's need, 25% by default
    as in WHO's "Vaccine forecasting" guidance for a three-month supply interval.
    """
    need = target_population * doses_per_person * wastage_factor
    buffer = math.ceil(need * buffer_fraction)
    raw = math.ceil(need) + buffer - on_hand
    vials = math.ceil(max(0, raw) / doses_per_vial)
    return NeedsEstimate(
        facility_id,
        product_code,
        target_population,
        doses_per_person,
        wastage_factor,
        buffer,
        on_hand,
        vials * doses_per_vial,
    )


def merge(reports: Iterable[MonthlyStockReport]) -> MonthlyStockReport | None:
    """The sum of several reports of one product and month, or ``None`` for none."""
    out: MonthlyStockReport | None = None
    for r in reports:
        out = r if out is None else out + r
    return out


def estimate_needs(
    uow: UnitOfWork,
    facility_id: str,
    product_code: str,
    *,
    target_population: int,
    doses_per_person: int,
    as_of: dt.date,
    history_months: int = 12,
    buffer_fraction: float = 0.25,
) -> NeedsEstimate:
    """A facility's needs from its own ledger: WHO wastage factor of its last months, usable
    stock on hand, and the product's vial size (see :func:`needs_estimate`).

    The wastage rate is that of the ``history_months`` whole months before ``as_of``'s month
    (summed, then the WHO formula); with no history it is 0. Stock of lots expired on
    ``as_of`` does not count as on hand.

    Raises:
        NotFoundError: No such product.
    """
    product = uow.catalogue.get_product(product_code)
    month = as_of.replace(day=1)
    used = administered = 0
    for _ in range(history_months):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        r = monthly_report(uow, facility_id, month=month).get(product_code)
        if r is not None:
            used += r.administered + r.wasted
            administered += r.administered
    rate = wastage_rate(used=used, administered=administered)
    usable = 0
    for b in uow.stock.balances(facility_ids=[facility_id], product_code=product_code):
        lot = uow.lots.find(product_code, b.lot_number)
        if lot is None or lot.expiry >= as_of:
            usable += b.quantity
    return needs_estimate(
        facility_id=facility_id,
        product_code=product_code,
        target_population=target_population,
        doses_per_person=doses_per_person,
        wastage_factor=wastage_factor(min(rate, 0.99)),
        on_hand=usable,
        doses_per_vial=product.doses_per_vial,
        buffer_fraction=buffer_fraction,
    )
