"""Stock use cases over a caller's unit of work: they check everything, then append.

Each function validates its input against the registry (product in the catalogue, facility
an org unit, date not after ``as_of``, lot known and of that product), raising
:class:`~immreg.errors.ValidationError` naming the field before anything is written, and
then appends ledger events; the repository refuses any event that would take a balance
below zero (:class:`~immreg.errors.StockError`). None of them commits: the caller's unit
of work makes several changes atomic (a dose and its stock event, a shipment's receipt and
its transit loss).

Doses administered: :func:`dose_administered` is called by
:func:`immreg.services.record_dose` for every new dose. A dose decrements its lot when it
was given at the point of care, names a lot, and its facility *keeps a ledger for the
product* (has had any ledger event for it). Without a ledger the dose is recorded with no
stock event: facilities adopt stock tracking one product at a time, and historical doses
(cards, imports) never touch today's stock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TypeGuard

import attrs

from immreg.errors import ConflictError, FieldError, NotFoundError, ValidationError
from immreg.model import AdministeredDose, DoseSource, Lot
from immreg.orgunits import OrgTree
from immreg.ports import UnitOfWork
from immreg.stock.model import EventKind, StockEvent, WastageReason
from immreg.stock.policy import discard_event_id, open_vial_expires, open_vials

__all__ = [
    "Shipment",
    "SupplyLinks",
    "adjust",
    "administered_event_id",
    "count",
    "discard_open_vials",
    "dose_administered",
    "dose_corrected",
    "dose_voided",
    "in_transit",
    "issue",
    "open_vial",
    "receive",
    "receive_shipment",
    "record_wastage",
    "reverse",
    "ship",
]


@attrs.frozen
class SupplyLinks:
    """Who supplies whom: by default a facility's parent in the org tree; overrides win.

    Attributes:
        overrides: Facility id -> the facility it receives from, where that is not its
            parent (a commune served by a neighbouring district's store, say).
    """

    overrides: Mapping[str, str] = attrs.field(factory=dict)

    def supplier(self, tree: OrgTree, facility_id: str, *, on: dt.date) -> str | None:
        """The facility that supplies ``facility_id`` on ``on`` (``None`` for the top store)."""
        if facility_id in self.overrides:
            return self.overrides[facility_id]
        return tree.get(facility_id).parent_on(on)


@attrs.frozen
class Shipment:
    """A transfer's state, derived from its ledger events.

    Attributes:
        transfer_id: The shipment id.
        source_id: Shipping facility.
        destination_id: Receiving facility.
        product_code: Product.
        lot_number: Lot.
        shipped: Doses shipped (net of reversals).
        received: Doses booked in at the destination (losses are booked in, then wasted).
        shipped_on: Date shipped.
    """

    transfer_id: str
    source_id: str
    destination_id: str
    product_code: str
    lot_number: str
    shipped: int
    received: int
    shipped_on: dt.date

    @property
    def in_transit(self) -> int:
        """Doses shipped and not yet received."""
        return self.shipped - self.received


def _check(
    uow: UnitOfWork,
    *,
    facility_id: str,
    product_code: str,
    lot_number: str | None,
    date: dt.date,
    as_of: dt.date,
    quantity: int | None = None,
    quantity_field: str = "doses",
    lot_must_exist: bool = True,
) -> list[FieldError]:
    errors: list[FieldError] = []
    if uow.org_units.find(facility_id) is None:
        errors.append(FieldError("facility_id", f"org unit {facility_id!r} does not exist"))
    if uow.catalogue.find_product(product_code) is None:
        errors.append(
            FieldError("product_code", f"{product_code!r} is not a vaccine in the catalogue")
        )
    elif (
        lot_must_exist
        and lot_number is not None
        and uow.lots.find(product_code, lot_number) is None
    ):
        errors.append(
            FieldError("lot_number", f"lot {lot_number!r} of {product_code} is not known")
        )
    if date > as_of:
        errors.append(FieldError("date", f"is after today ({as_of.isoformat()})"))
    if quantity is not None and (not _whole(quantity) or quantity <= 0):
        errors.append(FieldError(quantity_field, "must be a whole number more than 0"))
    return errors


def _whole(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a whole number (an ``int`` that is not a ``bool``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationError(errors=errors)


def _event(**kwargs: object) -> StockEvent:
    try:
        return StockEvent(**kwargs)  # type: ignore[arg-type]
    except ValidationError:
        raise
    except TypeError as e:  # pragma: no cover - a programming error, not input
        raise ValidationError("event", str(e)) from e


def receive(
    uow: UnitOfWork,
    *,
    event_id: str,
    facility_id: str,
    lot: Lot,
    date: dt.date,
    as_of: dt.date,
    by: str,
    doses: int | None = None,
    vials: int | None = None,
    supplier: str | None = None,
    vvm_stage: int | None = None,
) -> StockEvent:
    """Book stock arriving from outside the ledger (manufacturer, UNICEF, national import).

    Give the quantity in ``doses`` or in ``vials`` (converted with the product's
    ``doses_per_vial``). The lot is stored in the catalogue if it is new.

    Raises:
        ValidationError: Unknown facility or product, a date after ``as_of``, a lot expired
            on arrival, or not exactly one of ``doses`` and ``vials`` given.
        ConflictError: The lot is known with another expiry or manufacturer.
    """
    errors = _check(
        uow,
        facility_id=facility_id,
        product_code=lot.product_code,
        lot_number=None,
        date=date,
        as_of=as_of,
    )
    if (doses is None) == (vials is None):
        errors.append(FieldError("doses", "give the quantity in doses or in vials, not both"))
    product = uow.catalogue.find_product(lot.product_code)
    quantity = doses
    if vials is not None:
        if not _whole(vials) or vials <= 0:
            errors.append(FieldError("vials", "must be a whole number more than 0"))
        elif product is not None:
            quantity = vials * product.doses_per_vial
    elif doses is not None and (not _whole(doses) or doses <= 0):
        errors.append(FieldError("doses", "must be a whole number more than 0"))
    if lot.expiry < date:
        errors.append(FieldError("lot.expiry", f"the lot expired on {lot.expiry.isoformat()}"))
    _raise(errors)
    assert quantity is not None
    uow.lots.add(lot)
    event = _event(
        id=event_id,
        kind=EventKind.RECEIPT,
        facility_id=facility_id,
        product_code=lot.product_code,
        lot_number=lot.lot_number,
        quantity=quantity,
        date=date,
        counterpart_id=supplier,
        vvm_stage=vvm_stage,
        recorded_by=by,
    )
    uow.stock.append(event)
    return event


def _simple(
    uow: UnitOfWork,
    kind: EventKind,
    *,
    event_id: str,
    facility_id: str,
    product_code: str,
    lot_number: str,
    quantity: int,
    date: dt.date,
    as_of: dt.date,
    by: str,
    reason: WastageReason | None = None,
    counterpart_id: str | None = None,
    transfer_id: str | None = None,
    vvm_stage: int | None = None,
    at: dt.datetime | None = None,
) -> StockEvent:
    _raise(
        _check(
            uow,
            facility_id=facility_id,
            product_code=product_code,
            lot_number=lot_number,
            date=date,
            as_of=as_of,
        )
    )
    event = _event(
        id=event_id,
        kind=kind,
        facility_id=facility_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=quantity,
        date=date,
        reason=reason,
        counterpart_id=counterpart_id,
        transfer_id=transfer_id,
        vvm_stage=vvm_stage,
        at=at,
        recorded_by=by,
    )
    uow.stock.append(event)
    return event


def _positive(value: object, field: str) -> int:
    if not _whole(value) or value <= 0:
        raise ValidationError(field, "must be a whole number more than 0")
    return value


def issue(
    uow: UnitOfWork,
    *,
    event_id: str,
    facility_id: str,
    product_code: str,
    lot_number: str,
    doses: int,
    date: dt.date,
    as_of: dt.date,
    by: str,
    to: str | None = None,
) -> StockEvent:
    """Hand stock to a destination that keeps no ledger (a private clinic, a campaign team).

    Raises:
        ValidationError: Bad input (see the module docstring).
        StockError: Not enough stock.
    """
    n = _positive(doses, "doses")
    return _simple(
        uow,
        EventKind.ISSUE,
        event_id=event_id,
        facility_id=facility_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=-n,
        date=date,
        as_of=as_of,
        by=by,
        counterpart_id=to,
    )


def record_wastage(
    uow: UnitOfWork,
    *,
    event_id: str,
    facility_id: str,
    product_code: str,
    lot_number: str,
    doses: int,
    reason: WastageReason,
    date: dt.date,
    as_of: dt.date,
    by: str,
    at: dt.datetime | None = None,
    vvm_stage: int | None = None,
) -> StockEvent:
    """Book doses discarded (expired, VVM at discard point, frozen, broken, open vial, lost).

    Raises:
        ValidationError: Bad input, or ``reason`` missing.
        StockError: Not enough stock.
    """
    n = _positive(doses, "doses")
    return _simple(
        uow,
        EventKind.WASTAGE,
        event_id=event_id,
        facility_id=facility_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=-n,
        date=date,
        as_of=as_of,
        by=by,
        reason=reason,
        at=at,
        vvm_stage=vvm_stage,
    )


def adjust(
    uow: UnitOfWork,
    *,
    event_id: str,
    facility_id: str,
    product_code: str,
    lot_number: str,
    doses: int,
    reason: WastageReason,
    date: dt.date,
    as_of: dt.date,
    by: str,
) -> StockEvent:
    """Book an explained correction of ``doses`` (positive or negative).

    Raises:
        ValidationError: Bad input, ``doses`` of 0, or no reason.
        StockError: A negative adjustment larger than the stock.
    """
    if not _whole(doses) or doses == 0:
        raise ValidationError("doses", "must be a whole number other than 0")
    return _simple(
        uow,
        EventKind.ADJUSTMENT,
        event_id=event_id,
        facility_id=facility_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=doses,
        date=date,
        as_of=as_of,
        by=by,
        reason=reason,
    )


def count(
    uow: UnitOfWork,
    *,
    event_id: str,
    facility_id: str,
    product_code: str,
    lot_number: str,
    counted: int,
    date: dt.date,
    as_of: dt.date,
    by: str,
    reason: WastageReason | None = None,
    vvm_stage: int | None = None,
) -> StockEvent:
    """Book a physical count: the event carries the difference from the book balance.

    A difference must be explained (``reason``); a count that agrees is booked as a
    zero event, which is still evidence that the count was done.

    Raises:
        ValidationError: Bad input, a negative count, or a difference without a reason.
    """
    if not _whole(counted) or counted < 0:
        raise ValidationError("counted", "must be a whole number, 0 or more")
    book = uow.stock.balance(facility_id, product_code, lot_number)
    if counted != book and reason is None:
        raise ValidationError(
            "reason", f"the count ({counted}) differs from the book ({book}): say why"
        )
    return _simple(
        uow,
        EventKind.COUNT,
        event_id=event_id,
        facility_id=facility_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=counted - book,
        date=date,
        as_of=as_of,
        by=by,
        reason=reason if counted != book else None,
        vvm_stage=vvm_stage,
    )


def open_vial(
    uow: UnitOfWork,
    *,
    event_id: str,
    facility_id: str,
    product_code: str,
    lot_number: str,
    at: dt.datetime,
    as_of: dt.date,
    by: str,
) -> StockEvent:
    """Book the opening of a multi-dose vial (see :mod:`immreg.stock.policy` for discards).

    Raises:
        ValidationError: Bad input, or no whole vial's worth of the lot is on hand.
    """
    product = uow.catalogue.find_product(product_code)
    if (
        product is not None
        and uow.stock.balance(facility_id, product_code, lot_number) < product.doses_per_vial
    ):
        raise ValidationError("lot_number", f"no full vial of lot {lot_number} is on hand")
    return _simple(
        uow,
        EventKind.VIAL_OPENED,
        event_id=event_id,
        facility_id=facility_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=0,
        date=at.date(),
        as_of=as_of,
        by=by,
        at=at,
    )


def ship(
    uow: UnitOfWork,
    *,
    transfer_id: str,
    source_id: str,
    destination_id: str,
    product_code: str,
    lot_number: str,
    doses: int,
    date: dt.date,
    as_of: dt.date,
    by: str,
    links: SupplyLinks | None = None,
) -> StockEvent:
    """Ship stock to another ledger facility; it is in transit until received.

    With ``links``, the destination must be supplied by the source (its parent store by
    default, or as configured); without, any ledger facility may ship to any other.

    Raises:
        ValidationError: Bad input, an unknown destination, or a destination the source
            does not supply.
        StockError: Not enough stock at the source.
    """
    n = _positive(doses, "doses")
    if uow.org_units.find(destination_id) is None:
        raise ValidationError("destination_id", f"org unit {destination_id!r} does not exist")
    if links is not None and uow.org_units.find(source_id) is not None:
        tree = OrgTree(uow.org_units.list_all())
        supplier = links.supplier(tree, destination_id, on=date)
        if supplier != source_id:
            raise ValidationError(
                "destination_id", f"{destination_id} is supplied by {supplier}, not {source_id}"
            )
    return _simple(
        uow,
        EventKind.TRANSFER_OUT,
        event_id=f"{transfer_id}:out",
        facility_id=source_id,
        product_code=product_code,
        lot_number=lot_number,
        quantity=-n,
        date=date,
        as_of=as_of,
        by=by,
        counterpart_id=destination_id,
        transfer_id=transfer_id,
    )


def _shipment(uow: UnitOfWork, transfer_id: str) -> Shipment | None:
    events = uow.stock.events(transfer_id=transfer_id)
    out = [e for e in events if e.kind is EventKind.TRANSFER_OUT]
    if not out:
        return None
    received = sum(e.quantity for e in events if e.kind is EventKind.TRANSFER_IN)
    return _shipment_of(transfer_id, out, received)


def _shipment_of(transfer_id: str, out: list[StockEvent], received: int) -> Shipment:
    """A shipment from its outgoing events and the doses booked in at the destination.

    ``out`` holds the transfer's ``TRANSFER_OUT`` events, the first one (which says who
    shipped what to whom, and when) first.
    """
    first = out[0]
    assert first.counterpart_id is not None
    return Shipment(
        transfer_id=transfer_id,
        source_id=first.facility_id,
        destination_id=first.counterpart_id,
        product_code=first.product_code,
        lot_number=first.lot_number,
        shipped=-sum(e.quantity for e in out),
        received=received,
        shipped_on=first.date,
    )


def receive_shipment(
    uow: UnitOfWork,
    *,
    transfer_id: str,
    received: int,
    date: dt.date,
    as_of: dt.date,
    by: str,
    loss_reason: WastageReason = WastageReason.TRANSIT_LOSS,
    vvm_stage: int | None = None,
) -> list[StockEvent]:
    """Book a shipment in at its destination, with any shortfall as wastage there.

    The whole shipped quantity is booked in (``TRANSFER_IN``), then the doses missing or
    damaged (shipped - ``received``) are booked out as wastage with ``loss_reason``, in the
    same unit of work: the shipment leaves transit completely and no dose disappears from
    the books unexplained.

    Raises:
        NotFoundError: No such shipment.
        ValidationError: More received than shipped, or a negative quantity.
        ConflictError: The shipment was received already.
    """
    shipment = _shipment(uow, transfer_id)
    if shipment is None:
        raise NotFoundError("shipment", transfer_id, field="transfer_id")
    if shipment.received or shipment.shipped == 0:
        raise ConflictError(f"shipment {transfer_id!r} was received (or cancelled) already")
    if not _whole(received) or received < 0:
        raise ValidationError("received", "must be a whole number, 0 or more")
    if received > shipment.shipped:
        raise ValidationError(
            "received", f"is more than the {shipment.shipped} doses shipped; book a receipt"
        )
    if date < shipment.shipped_on:
        raise ValidationError("date", "is before the shipment left")
    common = {
        "facility_id": shipment.destination_id,
        "product_code": shipment.product_code,
        "lot_number": shipment.lot_number,
        "date": date,
        "recorded_by": by,
    }
    _raise(
        _check(
            uow,
            facility_id=shipment.destination_id,
            product_code=shipment.product_code,
            lot_number=shipment.lot_number,
            date=date,
            as_of=as_of,
        )
    )
    # A receipt that was reversed may be booked again: each booking gets ids of its own.
    earlier = [
        e
        for e in uow.stock.events(transfer_id=transfer_id, kind=EventKind.TRANSFER_IN)
        if e.reverses is None
    ]
    suffix = f"-{len(earlier) + 1}" if earlier else ""
    booked_in = _event(
        id=f"{transfer_id}:in{suffix}",
        kind=EventKind.TRANSFER_IN,
        quantity=shipment.shipped,
        counterpart_id=shipment.source_id,
        transfer_id=transfer_id,
        vvm_stage=vvm_stage,
        **common,
    )
    uow.stock.append(booked_in)
    events = [booked_in]
    if received < shipment.shipped:
        loss = _event(
            id=f"{transfer_id}:loss{suffix}",
            kind=EventKind.WASTAGE,
            quantity=received - shipment.shipped,
            reason=loss_reason,
            transfer_id=transfer_id,
            **common,
        )
        uow.stock.append(loss)
        events.append(loss)
    return events


def in_transit(
    uow: UnitOfWork, *, product_code: str | None = None, lot_number: str | None = None
) -> list[Shipment]:
    """Shipments not yet received, ordered by transfer id."""
    outs = uow.stock.events(
        kind=EventKind.TRANSFER_OUT, product_code=product_code, lot_number=lot_number
    )
    ins = uow.stock.events(
        kind=EventKind.TRANSFER_IN, product_code=product_code, lot_number=lot_number
    )
    received: dict[str, int] = {}
    for e in ins:
        assert e.transfer_id is not None
        received[e.transfer_id] = received.get(e.transfer_id, 0) + e.quantity
    shipped: dict[str, list[StockEvent]] = {}
    for e in outs:
        assert e.transfer_id is not None
        shipped.setdefault(e.transfer_id, []).append(e)
    out = []
    for tid in sorted(shipped):
        s = _shipment_of(tid, shipped[tid], received.get(tid, 0))
        if s.in_transit:
            out.append(s)
    return out


def reverse(
    uow: UnitOfWork,
    *,
    event_id: str,
    reversal_id: str,
    date: dt.date,
    as_of: dt.date,
    by: str,
) -> StockEvent:
    """Undo a ledger event by appending its reversal (the ledger is never edited).

    Raises:
        NotFoundError: No such event.
        ValidationError: ``date`` after ``as_of``; the event is an administered dose (void
            or correct the dose instead); a shipment that was received already (reverse
            its receipt first); a reversal itself (book the event again instead).
        ConflictError: The event was reversed already.
        StockError: Undoing it would take a balance below zero.
    """
    original = uow.stock.find_event(event_id)
    if original is None:
        raise NotFoundError("stock event", event_id, field="event_id")
    if date > as_of:
        raise ValidationError("date", f"is after today ({as_of.isoformat()})")
    if original.reverses is not None:
        raise ValidationError("event_id", "is a reversal; book the original event again")
    if original.kind is EventKind.ADMINISTERED:
        raise ValidationError("event_id", "is a dose given: void or correct the dose instead")
    if original.kind is EventKind.TRANSFER_OUT and original.transfer_id is not None:
        s = _shipment(uow, original.transfer_id)
        if s is not None and s.received:
            raise ValidationError("event_id", "the shipment was received: reverse that first")
    if original.kind is EventKind.TRANSFER_IN and original.transfer_id is not None:
        losses = uow.stock.events(transfer_id=original.transfer_id, kind=EventKind.WASTAGE)
        if any(e.reverses is None and uow.stock.reversal_of(e.id) is None for e in losses):
            raise ValidationError("event_id", "reverse the shipment's transit loss first")
    if uow.stock.reversal_of(event_id) is not None:
        raise ConflictError(f"stock event {event_id!r} is reversed already")
    event = original.reversal(reversal_id, date=date, recorded_by=by)
    uow.stock.append(event)
    return event


# --- doses administered ------------------------------------------------------------------


def administered_event_id(dose: AdministeredDose) -> str:
    """The ledger event id of a dose's stock decrement (one per dose version)."""
    return f"dose:{dose.id}:v{dose.version}"


def _decrements(uow: UnitOfWork, dose: AdministeredDose) -> bool:
    return (
        dose.source is DoseSource.POINT_OF_CARE
        and dose.lot_number is not None
        and not dose.voided
        and uow.stock.tracks(dose.facility_id, dose.product_code)
    )


def dose_administered(uow: UnitOfWork, dose: AdministeredDose, *, by: str) -> StockEvent | None:
    """Take one dose of the dose's lot off its facility's stock, if the facility tracks it.

    Returns the event, or ``None`` when the dose touches no stock (see the module docstring).

    Raises:
        StockError: The facility has none of that lot on hand.
    """
    if not _decrements(uow, dose):
        return None
    assert dose.lot_number is not None
    event = StockEvent(
        id=administered_event_id(dose),
        kind=EventKind.ADMINISTERED,
        facility_id=dose.facility_id,
        product_code=dose.product_code,
        lot_number=dose.lot_number,
        quantity=-1,
        date=dose.date,
        dose_id=dose.id,
        recorded_by=by,
    )
    uow.stock.append(event)
    return event


def _undo_dose(uow: UnitOfWork, old: AdministeredDose, *, date: dt.date, by: str) -> None:
    # The live decrement carries the id of the version that made it: corrections that did
    # not move the dose's stock keep the older version's event.
    for version in range(old.version, 0, -1):
        stored = uow.stock.find_event(administered_event_id(attrs.evolve(old, version=version)))
        if stored is not None:
            if uow.stock.reversal_of(stored.id) is None:
                uow.stock.append(stored.reversal(f"rev:{stored.id}", date=date, recorded_by=by))
            return


def dose_voided(uow: UnitOfWork, old: AdministeredDose, *, date: dt.date, by: str) -> None:
    """Put a voided dose's vial dose back on stock (a reversal of its decrement)."""
    _undo_dose(uow, old, date=date, by=by)


def dose_corrected(
    uow: UnitOfWork, old: AdministeredDose, new: AdministeredDose, *, date: dt.date, by: str
) -> None:
    """Move a corrected dose's decrement to its new lot, facility or product, if it changed.

    Raises:
        StockError: The new lot is not on hand.
    """
    keys = ("facility_id", "product_code", "lot_number", "source")
    if all(getattr(old, k) == getattr(new, k) for k in keys):
        return
    _undo_dose(uow, old, date=date, by=by)
    dose_administered(uow, new, by=by)


def discard_open_vials(
    uow: UnitOfWork,
    *,
    facility_id: str,
    product_code: str,
    at: dt.datetime,
    as_of: dt.date,
    by: str,
    session_end: dt.datetime | None = None,
) -> list[StockEvent]:
    """Book as wastage what is left in every opened vial whose open-vial rule has run out.

    For each lot, the vials opened at the facility are matched with the doses given from
    them (:func:`immreg.stock.policy.open_vials`); a vial past its limit at ``at``
    (:func:`immreg.stock.policy.open_vial_expires`: 28 days, six hours, or the end of the
    session) with doses left gets a wastage event (reason ``OPEN_VIAL_LIMIT``) for them.
    Running it again books nothing new.

    Returns:
        The wastage events booked.

    Raises:
        ValidationError: Unknown facility or product, or ``at`` after ``as_of``.
    """
    _raise(
        _check(
            uow,
            facility_id=facility_id,
            product_code=product_code,
            lot_number=None,
            date=at.date(),
            as_of=as_of,
        )
    )
    product = uow.catalogue.get_product(product_code)
    events = uow.stock.events(facility_id=facility_id, product_code=product_code)
    booked = []
    for lot in sorted({e.lot_number for e in events if e.kind is EventKind.VIAL_OPENED}):
        mine = [e for e in events if e.lot_number == lot]
        for vial in open_vials(mine, doses_per_vial=product.doses_per_vial):
            rule = product.open_vial_rule
            expires = open_vial_expires(vial.opened, rule, session_end=session_end)
            if vial.discarded or vial.remaining <= 0 or expires > at:
                continue
            left = min(vial.remaining, uow.stock.balance(facility_id, product_code, lot))
            if left <= 0:
                continue
            event = StockEvent(
                id=discard_event_id(vial.opened),
                kind=EventKind.WASTAGE,
                facility_id=facility_id,
                product_code=product_code,
                lot_number=lot,
                quantity=-left,
                date=at.date(),
                reason=WastageReason.OPEN_VIAL_LIMIT,
                at=at,
                recorded_by=by,
            )
            uow.stock.append(event)
            booked.append(event)
    return booked
