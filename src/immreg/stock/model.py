"""The stock ledger's values: events, balances, totals, and their invariants.

Stock is counted in **doses** (a vial of a 10-dose product is 10); vials matter only where
a product's ``doses_per_vial`` does (receipts in vials, open vials). Every movement is a
:class:`StockEvent` carrying a signed ``quantity``, the change it makes to the balance of
one (facility, product, lot); the ledger is append-only and a mistake is undone by a
*reversal* event (same kind, opposite quantity, ``reverses`` naming the original), never
by an edit.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

import attrs

from immreg.errors import ValidationError

__all__ = [
    "MAX_EVENT_ID_LENGTH",
    "Balance",
    "EventKind",
    "KindTotal",
    "StockEvent",
    "SupplyProfile",
    "VvmType",
    "WastageReason",
]

#: Longest accepted stock event id (a dose id with a prefix and version must fit).
MAX_EVENT_ID_LENGTH = 100

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
# GS1 AI (10): up to 20 characters of the GS1 "AI encodable character set 82"
# (GS1 General Specifications, figure 7.11-1), the same rule as immreg.model.Lot.
_LOT_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


class EventKind(enum.Enum):
    """What a ledger event records, and the sign its quantity must have.

    ``RECEIPT`` (+) stock arriving from outside the ledger (manufacturer, UNICEF, import);
    ``ISSUE`` (-) stock handed to a destination that keeps no ledger; ``TRANSFER_OUT`` (-)
    shipped to another ledger facility (in transit until received); ``TRANSFER_IN`` (+)
    received from a shipment; ``ADMINISTERED`` (-) doses given; ``WASTAGE`` (-) doses
    discarded, with a :class:`WastageReason`; ``ADJUSTMENT`` (+/-) an explained correction;
    ``COUNT`` (+/-) a physical count's difference from the book balance; ``VIAL_OPENED`` (0)
    a multi-dose vial was opened (its doses stay on hand until given or discarded).
    """

    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADMINISTERED = "administered"
    WASTAGE = "wastage"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    VIAL_OPENED = "vial_opened"


#: Required sign of a (non-reversal) event's quantity: +1, -1, 0 (exactly zero) or None (any
#: non-zero sign for adjustments; any sign, zero included, for counts).
_SIGN: dict[EventKind, int | None] = {
    EventKind.RECEIPT: 1,
    EventKind.ISSUE: -1,
    EventKind.TRANSFER_OUT: -1,
    EventKind.TRANSFER_IN: 1,
    EventKind.ADMINISTERED: -1,
    EventKind.WASTAGE: -1,
    EventKind.ADJUSTMENT: None,
    EventKind.COUNT: None,
    EventKind.VIAL_OPENED: 0,
}


class WastageReason(enum.Enum):
    """Why doses left the ledger other than by being given or shipped.

    The first six are the typed wastage reasons of the WHO Vaccine Wastage Rates Calculator
    and the Effective Vaccine Management (EVM) criteria; ``TRANSIT_LOSS`` is a shipment's
    shortfall found on receipt; ``COUNT_DIFFERENCE``, ``DATA_ENTRY`` and ``FOUND`` explain
    adjustments and count differences.
    """

    EXPIRED = "expired"
    VVM_DISCARD = "vvm_discard"
    FROZEN = "frozen"
    BROKEN = "broken"
    OPEN_VIAL_LIMIT = "open_vial_limit"
    LOST = "lost"
    TRANSIT_LOSS = "transit_loss"
    COUNT_DIFFERENCE = "count_difference"
    DATA_ENTRY = "data_entry"
    FOUND = "found"


class VvmType(enum.Enum):
    """Vaccine vial monitor type: days to discard point at 37 °C (WHO PQS E006/IND03)."""

    VVM2 = "VVM2"
    VVM7 = "VVM7"
    VVM14 = "VVM14"
    VVM30 = "VVM30"
    NONE = "none"


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(field, message)


def _event_id(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise _fail(attribute.name, "is required")
    if len(value) > MAX_EVENT_ID_LENGTH:
        raise _fail(attribute.name, f"is longer than {MAX_EVENT_ID_LENGTH} characters")
    if not _ID_RE.match(value):
        raise _fail(
            attribute.name,
            "may contain only letters, digits and . _ : - and must start with a letter or digit",
        )


def _optional_id(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _event_id(inst, attribute, value)


def _short_id(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # Facility and product codes follow immreg.model's identifier rule (64 characters).
    _event_id(_inst, attribute, value)
    assert isinstance(value, str)
    if len(value) > 64:
        raise _fail(attribute.name, "is longer than 64 characters")


def _lot(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _LOT_RE.match(value):
        raise _fail(
            attribute.name,
            "must be 1 to 20 characters of letters, digits and GS1-allowed punctuation",
        )


def _int(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(attribute.name, "must be a whole number")


def _date(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise _fail(attribute.name, "must be a date (YYYY-MM-DD)")


def _enum(kind: type[enum.Enum], *, optional: bool = False) -> Any:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if not isinstance(value, kind):
            allowed = ", ".join(str(m.value) for m in kind)
            raise _fail(attribute.name, f"must be one of {allowed}")

    return check


def _aware(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
        raise _fail(attribute.name, "must be a timezone-aware date and time")


@attrs.frozen
class StockEvent:
    """One append-only movement of one lot at one facility.

    The client supplies ``id``: appending the same event twice stores it once (a retried
    request is harmless), while the same id with other content is a conflict.

    Attributes:
        id: Client-supplied event id (up to 100 characters).
        kind: What happened.
        facility_id: The org unit whose stock changed.
        product_code: Catalogue code of the product.
        lot_number: The lot (GS1 AI 10).
        quantity: Signed change to the balance, in doses.
        date: Business date of the movement (reports group by it).
        reason: Required for wastage, adjustments and non-zero count differences.
        counterpart_id: The other facility of a transfer or issue, or the supplier of a receipt.
        transfer_id: Shipment id linking a ``TRANSFER_OUT`` to its ``TRANSFER_IN``.
        dose_id: The administered dose, for ``ADMINISTERED`` events.
        reverses: Id of the event this one reverses (it then has the opposite quantity).
        vvm_stage: Vaccine vial monitor stage seen (1-4), where it was read.
        at: The instant, where time of day matters (open vials).
        recorded_by: Who recorded it.
    """

    id: str = attrs.field(validator=_event_id)
    kind: EventKind = attrs.field(validator=_enum(EventKind))
    facility_id: str = attrs.field(validator=_short_id)
    product_code: str = attrs.field(validator=_short_id)
    lot_number: str = attrs.field(validator=_lot)
    quantity: int = attrs.field(validator=_int)
    date: dt.date = attrs.field(validator=_date)
    reason: WastageReason | None = attrs.field(
        default=None, validator=_enum(WastageReason, optional=True)
    )
    counterpart_id: str | None = attrs.field(default=None, validator=_optional_id)
    transfer_id: str | None = attrs.field(default=None, validator=_optional_id)
    dose_id: str | None = attrs.field(default=None, validator=_optional_id)
    reverses: str | None = attrs.field(default=None, validator=_optional_id)
    vvm_stage: int | None = attrs.field(default=None)
    at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    recorded_by: str = attrs.field(default="system")

    @vvm_stage.validator
    def _check_vvm(self, attribute: attrs.Attribute[Any], value: object) -> None:
        # WHO VVM stages 1-2 usable, 3-4 past the discard point.
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4
        ):
            raise _fail(attribute.name, "must be a VVM stage from 1 to 4")

    @recorded_by.validator
    def _check_by(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            raise _fail(attribute.name, "must be a name of 1 to 100 characters")

    def __attrs_post_init__(self) -> None:
        sign = _SIGN[self.kind]
        if self.reverses is not None:
            if self.reverses == self.id:
                raise _fail("reverses", "an event cannot reverse itself")
            return  # a reversal carries the opposite of whatever the original carried
        if sign == 1 and self.quantity <= 0:
            raise _fail("quantity", f"a {self.kind.value} adds stock: must be more than 0")
        if sign == -1 and self.quantity >= 0:
            raise _fail("quantity", f"a {self.kind.value} takes stock away: must be less than 0")
        if sign == 0 and self.quantity != 0:
            raise _fail("quantity", "opening a vial does not change the balance: must be 0")
        if self.kind is EventKind.ADJUSTMENT and self.quantity == 0:
            raise _fail("quantity", "an adjustment of 0 changes nothing")
        needs_reason = self.kind in (EventKind.WASTAGE, EventKind.ADJUSTMENT) or (
            self.kind is EventKind.COUNT and self.quantity != 0
        )
        if needs_reason and self.reason is None:
            raise _fail("reason", f"a {self.kind.value} must say why (a reason)")
        if self.kind in (EventKind.TRANSFER_OUT, EventKind.TRANSFER_IN):
            if self.transfer_id is None:
                raise _fail("transfer_id", "a transfer event names its shipment")
            if self.counterpart_id is None:
                raise _fail("counterpart_id", "a transfer event names the other facility")
            if self.counterpart_id == self.facility_id:
                raise _fail("counterpart_id", "a facility cannot ship to itself")

    def reversal(self, event_id: str, *, date: dt.date, recorded_by: str) -> StockEvent:
        """The event that undoes this one (same kind and lot, opposite quantity)."""
        return attrs.evolve(
            self,
            id=event_id,
            quantity=-self.quantity,
            date=date,
            reverses=self.id,
            # A reversal says nothing new about the vial monitor or the time of day.
            vvm_stage=None,
            at=None,
            recorded_by=recorded_by,
        )


@attrs.frozen
class Balance:
    """What one facility holds of one lot, in doses.

    Attributes:
        facility_id: The facility.
        product_code: The product.
        lot_number: The lot.
        quantity: Doses on hand (never negative).
    """

    facility_id: str
    product_code: str
    lot_number: str
    quantity: int


@attrs.frozen
class KindTotal:
    """The sum of a group of events: one facility, product, kind and reason.

    Attributes:
        facility_id: The facility.
        product_code: The product.
        kind: The event kind.
        reason: The reason (``None`` for events without one).
        quantity: Sum of the events' signed quantities, in doses.
        events: How many events were summed.
    """

    facility_id: str
    product_code: str
    kind: EventKind
    reason: WastageReason | None
    quantity: int
    events: int


@attrs.frozen
class SupplyProfile:
    """What the supply chain needs to know about a product beyond the catalogue.

    The catalogue (:class:`immreg.model.VaccineProduct`) already holds GTINs, doses per
    vial and the open-vial rule; this adds the vaccine vial monitor type and the diluent.

    Attributes:
        product_code: The product.
        vvm_type: Its vaccine vial monitor type (``NONE`` when it carries none).
        diluent_code: Catalogue code of the diluent it is reconstituted with (a product of
            its own, with its own lots, that must travel with it), or ``None``.
        vial_volume_cm3: Packed volume per dose in cm³ (cold-chain capacity planning).
    """

    product_code: str = attrs.field(validator=_short_id)
    vvm_type: VvmType = attrs.field(default=VvmType.NONE, validator=_enum(VvmType))
    diluent_code: str | None = attrs.field(default=None, validator=_optional_id)
    vial_volume_cm3: float | None = attrs.field(default=None)

    @vial_volume_cm3.validator
    def _check_volume(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not value > 0
        ):
            raise _fail(attribute.name, "must be a number of cm³ more than 0")

    def __attrs_post_init__(self) -> None:
        if self.diluent_code == self.product_code:
            raise _fail("diluent_code", "a product is not its own diluent")
