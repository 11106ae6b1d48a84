"""Hypothesis strategies for the stock ledger's values and for GS1 barcode scans.

::

    from hypothesis import given
    from immreg.testing import stock_strategies as sst

    @given(sst.stock_events())
    def test_event_round_trip(event): ...

    @given(sst.gs1_packs(), sst.scan_forms())
    def test_scans(pack, form):
        assert parse_scan(sst.render_scan(pack, form)).lot_number == pack.lot_number

Lots are drawn from the whole GS1 character set 82 (``(``, ``)``, ``%``, ``/``...), GTINs
carry a correct check digit, and expiry dates include day ``00`` (end of month).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal
from urllib.parse import quote

import attrs
from hypothesis import strategies as st

from immreg.model import gs1_check_digit
from immreg.stock.gs1 import SEPARATORS
from immreg.stock.model import EventKind, StockEvent, SupplyProfile, VvmType, WastageReason

__all__ = [
    "GS1_CHARSET_82",
    "GS1Pack",
    "ScanForm",
    "gs1_lot_numbers",
    "gs1_packs",
    "gtins",
    "render_scan",
    "scan_forms",
    "stock_events",
    "supply_profiles",
]

#: GS1 "AI encodable character set 82" (GS1 General Specifications, figure 7.11-1).
GS1_CHARSET_82 = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)

#: The ways a scan reaches immreg.
ScanForm = Literal["raw_gs", "raw_wedge", "symbology", "hri", "digital_link"]


@st.composite
def gtins(draw: st.DrawFn) -> str:
    """GTIN-14 strings with a correct check digit."""
    body = draw(st.text("0123456789", min_size=13, max_size=13))
    return body + gs1_check_digit(body)


def gs1_lot_numbers() -> st.SearchStrategy[str]:
    """Lot numbers from GS1 character set 82, 1 to 20 characters.

    Lots holding a scanner's textual stand-in for the separator (``<GS>``, ``<FNC1>``, ``~1``,
    see :data:`immreg.stock.gs1.SEPARATORS`) are left out: in a keyboard-wedge scan they cannot
    be told from a real separator, by immreg or by anyone.
    """
    return st.text(GS1_CHARSET_82, min_size=1, max_size=20).filter(
        lambda lot: not any(stand_in in lot for stand_in in SEPARATORS[1:])
    )


@attrs.frozen
class GS1Pack:
    """What a pack's barcode encodes.

    Attributes:
        gtin: GTIN-14.
        lot_number: Lot (AI 10).
        expiry_yymmdd: Expiry as encoded (day may be ``00``).
        expiry: The date it means.
    """

    gtin: str
    lot_number: str
    expiry_yymmdd: str
    expiry: dt.date


@st.composite
def gs1_packs(draw: st.DrawFn) -> GS1Pack:
    """A GTIN, lot and expiry, with day ``00`` (last day of the month) often."""
    year = draw(st.integers(2000, 2049))
    month = draw(st.integers(1, 12))
    last = calendar.monthrange(year, month)[1]
    day = draw(st.one_of(st.just(0), st.integers(1, last)))
    expiry = dt.date(year, month, day or last)
    encoded = f"{year % 100:02d}{month:02d}{day:02d}"
    return GS1Pack(draw(gtins()), draw(gs1_lot_numbers()), encoded, expiry)


def scan_forms() -> st.SearchStrategy[ScanForm]:
    """Every form of scan :func:`immreg.stock.gs1.parse_scan` reads."""
    return st.sampled_from(["raw_gs", "raw_wedge", "symbology", "hri", "digital_link"])


def render_scan(pack: GS1Pack, form: ScanForm) -> str:
    """The text a scanner would hand over for ``pack`` in ``form``.

    The human-readable form puts the lot last, as most vaccine packs print it.
    """
    if form == "hri":
        return f"(01){pack.gtin}(17){pack.expiry_yymmdd}(10){pack.lot_number}"
    if form == "digital_link":
        lot = quote(pack.lot_number, safe="")
        return f"https://id.gs1.org/01/{pack.gtin}/10/{lot}?17={pack.expiry_yymmdd}"
    separator = {"raw_gs": "\x1d", "raw_wedge": "<GS>", "symbology": "\x1d"}[form]
    prefix = "]d2" if form == "symbology" else ""
    return f"{prefix}01{pack.gtin}10{pack.lot_number}{separator}17{pack.expiry_yymmdd}"


@st.composite
def stock_events(draw: st.DrawFn, *, kinds: tuple[EventKind, ...] | None = None) -> StockEvent:
    """Valid ledger events of any kind (quantities of the right sign, reasons where needed)."""
    kind = draw(st.sampled_from(kinds or tuple(EventKind)))
    magnitude = draw(st.integers(1, 10_000))
    sign = {
        EventKind.RECEIPT: 1,
        EventKind.TRANSFER_IN: 1,
        EventKind.VIAL_OPENED: 0,
        EventKind.ADJUSTMENT: draw(st.sampled_from([1, -1])),
        EventKind.COUNT: draw(st.sampled_from([1, 0, -1])),
    }.get(kind, -1)
    quantity = sign * magnitude
    needs_reason = kind in (EventKind.WASTAGE, EventKind.ADJUSTMENT) or (
        kind is EventKind.COUNT and quantity != 0
    )
    transfer = kind in (EventKind.TRANSFER_IN, EventKind.TRANSFER_OUT)
    ident = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:\-]{0,30}\Z")
    return StockEvent(
        id=draw(ident),
        kind=kind,
        facility_id="F1",
        product_code=draw(st.sampled_from(["BCG", "PENTA", "MR"])),
        lot_number=draw(gs1_lot_numbers()),
        quantity=quantity,
        date=draw(st.dates(dt.date(2000, 1, 1), dt.date(2049, 12, 31))),
        reason=draw(st.sampled_from(list(WastageReason))) if needs_reason else None,
        counterpart_id="F2" if transfer else draw(st.none() | st.just("NATIONAL")),
        transfer_id=draw(ident) if transfer else None,
        vvm_stage=draw(st.none() | st.integers(1, 4)),
        at=draw(
            st.none()
            | st.datetimes(
                dt.datetime(2000, 1, 1), dt.datetime(2049, 12, 31), timezones=st.just(dt.UTC)
            )
        ),
    )


@st.composite
def supply_profiles(draw: st.DrawFn) -> SupplyProfile:
    """Supply profiles: any VVM type, with or without a diluent and a packed volume."""
    return SupplyProfile(
        product_code=draw(st.sampled_from(["BCG", "MR", "PENTA"])),
        vvm_type=draw(st.sampled_from(list(VvmType))),
        diluent_code=draw(st.none() | st.just("DIL-1")),
        vial_volume_cm3=draw(st.none() | st.floats(0.1, 100.0)),
    )
