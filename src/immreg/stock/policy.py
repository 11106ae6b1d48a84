"""Stock policies: which lot to issue first, expiry alerts, stock-out days, open vials.

* Issue order: earliest expiry first (EEFO/FEFO), except that a lot whose vaccine vial
  monitor has reached stage 2 goes before any stage-1 lot whatever their expiry dates (WHO
  "Vaccine vial monitor" guidance and EVM: a VVM-2 vial is still usable but must be used
  first; stages 3-4 are past the discard point and never issued).
* Open vials (WHO Multi-dose Vial Policy, WHO/IVB/14.07): a vial of a product kept under
  the policy may be used for up to 28 days after opening; others are discarded at the end
  of the session or six hours after opening, whichever comes first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from immreg.model import Lot, OpenVialRule
from immreg.stock.model import Balance, EventKind, StockEvent

__all__ = [
    "ExpiryAlert",
    "IssueSuggestion",
    "OpenVial",
    "discard_event_id",
    "expiry_alerts",
    "open_vial_expires",
    "open_vials",
    "stock_out_days",
    "suggest_issue",
    "vvm_stages",
]


@attrs.frozen
class IssueSuggestion:
    """Take ``doses`` from ``lot_number`` (one line of an issue plan).

    Attributes:
        lot_number: The lot.
        doses: Doses to take from it.
        expiry: The lot's expiry.
        vvm_stage: Its last VVM reading (1 when never read).
    """

    lot_number: str
    doses: int
    expiry: dt.date
    vvm_stage: int


def vvm_stages(events: Iterable[StockEvent]) -> dict[tuple[str, str, str], int]:
    """The latest VVM stage read per (facility, product, lot), from events in ledger order."""
    out: dict[tuple[str, str, str], int] = {}
    for e in events:
        if e.vvm_stage is not None:
            out[(e.facility_id, e.product_code, e.lot_number)] = e.vvm_stage
    return out


def suggest_issue(
    balances: Iterable[Balance],
    lots: Mapping[str, Lot],
    *,
    doses: int,
    as_of: dt.date,
    vvm: Mapping[str, int] | None = None,
) -> list[IssueSuggestion]:
    """Which lots to issue ``doses`` from: VVM stage 2 first, then earliest expiry.

    Expired lots and lots at VVM stage 3 or 4 are never suggested. The plan may fall
    short of ``doses`` when the usable stock does.

    Args:
        balances: One facility's balances of one product.
        lots: The lots by lot number (for their expiry).
        doses: Doses wanted.
        as_of: The day of issue (a lot expiring before it is left out).
        vvm: Latest VVM stage per lot number.
    """
    stages = vvm or {}
    usable = [
        b
        for b in balances
        if b.quantity > 0
        and b.lot_number in lots
        and lots[b.lot_number].expiry >= as_of
        and stages.get(b.lot_number, 1) <= 2
    ]
    usable.sort(
        key=lambda b: (-stages.get(b.lot_number, 1), lots[b.lot_number].expiry, b.lot_number)
    )
    plan = []
    left = doses
    for b in usable:
        if left <= 0:
            break
        take = min(left, b.quantity)
        plan.append(
            IssueSuggestion(
                b.lot_number, take, lots[b.lot_number].expiry, stages.get(b.lot_number, 1)
            )
        )
        left -= take
    return plan


@attrs.frozen
class ExpiryAlert:
    """Stock that expires within the alert window.

    Attributes:
        balance: The holding.
        expiry: The lot's expiry.
        days_left: Days from ``as_of`` to expiry (negative: expired already).
    """

    balance: Balance
    expiry: dt.date
    days_left: int


def expiry_alerts(
    balances: Iterable[Balance], lots: Mapping[tuple[str, str], Lot], *, as_of: dt.date, days: int
) -> list[ExpiryAlert]:
    """Holdings whose lot expires within ``days`` of ``as_of`` (or has expired), soonest first."""
    out = []
    for b in balances:
        lot = lots.get((b.product_code, b.lot_number))
        if lot is None or b.quantity <= 0:
            continue
        left = (lot.expiry - as_of).days
        if left <= days:
            out.append(ExpiryAlert(b, lot.expiry, left))
    return sorted(out, key=lambda a: (a.expiry, a.balance.facility_id, a.balance.lot_number))


def stock_out_days(
    events: Iterable[StockEvent],
    *,
    start: dt.date,
    end: dt.date,
    usable_until: Mapping[str, dt.date] | None = None,
) -> int:
    """Days in ``[start, end)`` on which a facility held no usable dose of a product.

    ``events`` are one facility's events of one product (all lots), in ledger order; the
    balance at the end of each day is what counts. A lot past its ``usable_until`` date
    (expiry) counts as nothing, so expired stock cannot hide a stock-out.
    """
    per_lot: dict[str, int] = {}
    by_day: dict[dt.date, list[StockEvent]] = {}
    for e in events:
        if e.date < start:
            per_lot[e.lot_number] = per_lot.get(e.lot_number, 0) + e.quantity
        else:
            by_day.setdefault(e.date, []).append(e)
    limits = usable_until or {}
    out = 0
    day = start
    while day < end:
        for e in by_day.get(day, ()):
            per_lot[e.lot_number] = per_lot.get(e.lot_number, 0) + e.quantity
        usable = sum(
            q for lot, q in per_lot.items() if q > 0 and (lot not in limits or limits[lot] >= day)
        )
        if usable <= 0:
            out += 1
        day += dt.timedelta(days=1)
    return out


def open_vial_expires(
    opened: StockEvent, rule: OpenVialRule, *, session_end: dt.datetime | None = None
) -> dt.datetime:
    """When an opened vial must be discarded (WHO multi-dose vial policy).

    Args:
        opened: The ``VIAL_OPENED`` event (with its instant ``at``).
        rule: The product's open-vial rule.
        session_end: End of the session, for products discarded at the end of it.

    Raises:
        ValueError: ``opened`` is not a vial opening with an instant.
    """
    if opened.kind is not EventKind.VIAL_OPENED or opened.at is None:
        raise ValueError("needs a VIAL_OPENED event with its instant")
    if rule is OpenVialRule.KEEP_28_DAYS:
        return opened.at + dt.timedelta(days=28)
    six_hours = opened.at + dt.timedelta(hours=6)
    if rule is OpenVialRule.DISCARD_END_OF_SESSION and session_end is not None:
        return min(session_end, six_hours)
    return six_hours


@attrs.frozen
class OpenVial:
    """One opened multi-dose vial and what was drawn from it.

    Attributes:
        opened: Its ``VIAL_OPENED`` event.
        doses_per_vial: Doses it held.
        drawn: Doses given from it.
        discarded: Whether its remainder was booked as wastage already.
    """

    opened: StockEvent
    doses_per_vial: int
    drawn: int
    discarded: bool

    @property
    def remaining(self) -> int:
        """Doses left in the vial."""
        return self.doses_per_vial - self.drawn


def discard_event_id(opened: StockEvent) -> str:
    """The id of the wastage event that closes an opened vial."""
    return f"{opened.id}:discard"


def open_vials(events: Iterable[StockEvent], *, doses_per_vial: int) -> list[OpenVial]:
    """The vials opened at one facility of one lot, with the doses drawn from each.

    ``events`` are that facility's events of that lot in ledger order. Each dose given
    (an ``ADMINISTERED`` event not reversed) is drawn from the oldest vial still open on its
    date with doses left; a dose that finds none was drawn from a vial nobody booked as
    opened, and is left out (a vial must be opened in the ledger to be accounted for).
    """
    listed = list(events)
    reversed_ids = {e.reverses for e in listed if e.reverses is not None}
    vials: list[_Vial] = []
    by_discard: dict[str, _Vial] = {}
    for e in listed:
        if e.reverses is not None or e.id in reversed_ids:
            continue
        if e.kind is EventKind.VIAL_OPENED:
            vial = _Vial(e)
            vials.append(vial)
            by_discard[discard_event_id(e)] = vial
        elif e.kind is EventKind.WASTAGE and e.id in by_discard:
            by_discard[e.id].discarded = True
        elif e.kind is EventKind.ADMINISTERED:
            for v in vials:
                if not v.discarded and v.drawn < doses_per_vial and v.opened.date <= e.date:
                    v.drawn -= e.quantity
                    break
    return [
        OpenVial(v.opened, doses_per_vial, min(v.drawn, doses_per_vial), v.discarded)
        for v in vials
    ]


@attrs.define
class _Vial:
    opened: StockEvent
    drawn: int = 0
    discarded: bool = False
