"""GS1 barcode scans of vaccine packs: product (GTIN), lot and expiry, parsed with biip.

A scanner hands over one of three forms, all accepted by :func:`parse_scan`:

* the raw element string of a GS1 DataMatrix or GS1-128, maybe with its symbology
  identifier (``]d2``, ``]C1``), with FNC1 sent as the ASCII group separator (GS, 0x1D) or
  as a keyboard-wedge stand-in (``<GS>``, ``{GS}``, ``␝``... see :data:`SEPARATORS`);
* the human-readable interpretation printed under the code, ``(01)...(17)...(10)...``;
* a GS1 Digital Link URI (``https://id.gs1.org/01/.../10/...?17=...``).

Expiry (AI 17) is YYMMDD; day ``00`` means the last day of the month (GS1 General
Specifications, section 3.4.4), which biip applies. A lot (AI 10) may contain ``(`` and
``)`` (they are in the GS1 character set 82), so the human-readable form cannot simply be
split at parentheses: :func:`parse_scan` tries each split and keeps the first one whose
every element is valid, so ``(10)AB(12)`` is the lot ``AB(12)`` (a due date, AI 12, needs
six digits).
"""

from __future__ import annotations

import datetime as dt
import re

import attrs
from biip import ParseConfig, parse
from biip.gs1_messages import GS1Message

from immreg.errors import ValidationError
from immreg.model import Lot, VaccineProduct
from immreg.ports import UnitOfWork

__all__ = ["SEPARATORS", "Scan", "ScannedVial", "parse_scan", "resolve_scan"]

# "{", "~" and "␝" are outside GS1 character set 82, so those stand-ins cannot be part of a
# lot; "<GS>" could in theory, but scanners are set to send it because no real lot has it.
#: What scanners in keyboard-wedge mode send for FNC1 (the GS character) besides GS itself.
SEPARATORS: tuple[str, ...] = ("\x1d", "<GS>", "{GS}", "\u241d", "<FNC1>", "~1")

_HRI_AI = re.compile(r"\((\d{2,4})\)")
_GS = "\x1d"


@attrs.frozen
class Scan:
    """What a vaccine pack's barcode says.

    Attributes:
        gtin: The GTIN-14 (AI 01).
        lot_number: The lot (AI 10), if encoded.
        expiry: The expiry date (AI 17, day 00 resolved), if encoded.
        serial: The serial number (AI 21), if encoded.
        raw: The text as scanned.
    """

    gtin: str
    lot_number: str | None
    expiry: dt.date | None
    serial: str | None
    raw: str


@attrs.frozen
class ScannedVial:
    """A scan resolved against the catalogue.

    Attributes:
        product: The vaccine product with that GTIN.
        lot: The lot (from the lot table, or built from the scan when new).
        scan: The scan.
    """

    product: VaccineProduct
    lot: Lot
    scan: Scan


def _hri_to_raw(text: str) -> str | None:
    # Candidate splits: every "(NN)" could start an element. Try the splits in order of
    # more elements first, keeping the first that biip accepts element by element.
    marks = list(_HRI_AI.finditer(text))
    if not marks or marks[0].start() != 0:
        return None

    def attempt(i: int) -> list[tuple[str, str]] | None:
        # Elements from marks[i] to the end; returns [(ai, value)] or None.
        ai = marks[i].group(1)
        start = marks[i].end()
        for j in range(i + 1, len(marks) + 1):
            end = marks[j].start() if j < len(marks) else len(text)
            value = text[start:end]
            if not _element_ok(ai, value):
                continue
            if j == len(marks):
                return [(ai, value)]
            rest = attempt(j)
            if rest is not None:
                return [(ai, value), *rest]
        return None

    elements = attempt(0)
    if elements is None:
        return None
    return _GS.join(ai + value for ai, value in elements)


def _element_ok(ai: str, value: str) -> bool:
    try:
        msg = GS1Message.parse(ai + value)
    except Exception:  # biip raises its own ParseError; any failure means "not this split"
        return False
    return len(msg.element_strings) == 1 and msg.element_strings[0].value == value


def parse_scan(text: str, *, field: str = "scan") -> Scan:
    """Parse a scanned GS1 barcode (any of the forms in the module docstring).

    Args:
        text: The scanned text.
        field: The field named in errors.

    Raises:
        ValidationError: Not a GS1 code, or no GTIN in it.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(field, "is empty: scan the barcode on the vial or box")
    raw = text.strip()
    source = raw
    if raw.startswith("("):
        converted = _hri_to_raw(raw)
        if converted is None:
            raise ValidationError(field, f"{raw!r} is not a valid GS1 human-readable code")
        source = converted
    elif not raw.lower().startswith(("http://", "https://")):
        for stand_in in SEPARATORS[1:]:
            source = source.replace(stand_in, _GS)
    result = parse(source, config=ParseConfig(separator_chars=(_GS,)))
    elements = None
    if result.gs1_message is not None:
        elements = result.gs1_message.element_strings
    elif result.gs1_digital_link_uri is not None:
        elements = result.gs1_digital_link_uri.element_strings
    if elements is None:
        detail = result.gs1_message_error or result.gs1_digital_link_uri_error or "unreadable"
        raise ValidationError(field, f"{raw!r} is not a GS1 barcode ({detail})")
    values = {e.ai.ai: e for e in elements}
    gtin = values.get("01")
    if gtin is None:
        raise ValidationError(field, "the barcode has no GTIN (AI 01): scan the product code")
    if gtin.gtin is None:
        raise ValidationError(field, f"GTIN {gtin.value} is not valid ({gtin.gtin_error})")
    lot = values.get("10")
    expiry = values.get("17")
    serial = values.get("21")
    return Scan(
        gtin=gtin.value,
        lot_number=lot.value if lot is not None else None,
        expiry=expiry.date if expiry is not None else None,
        serial=serial.value if serial is not None else None,
        raw=raw,
    )


def _gtin14(gtin: str) -> str:
    return gtin.rjust(14, "0")


def resolve_scan(
    uow: UnitOfWork, text: str, *, as_of: dt.date, field: str = "scan"
) -> ScannedVial:
    """Parse a scan and find its product and lot: the point-of-care check.

    A lot not stored yet is built from the scan (lot number and expiry both needed).

    Raises:
        ValidationError: Not a GS1 code; a GTIN of no product in the catalogue; no lot in
            the code; the lot's expiry (stored or scanned) is before ``as_of``; or the
            scanned expiry contradicts the stored one.
    """
    scan = parse_scan(text, field=field)
    wanted = _gtin14(scan.gtin)
    product = next(
        (p for p in uow.catalogue.list_products() if wanted in map(_gtin14, p.gtins)), None
    )
    if product is None:
        raise ValidationError(field, f"GTIN {scan.gtin} is not a vaccine in the catalogue")
    if scan.lot_number is None:
        raise ValidationError(field, "the barcode has no lot number (AI 10)")
    lot = uow.lots.find(product.code, scan.lot_number)
    if lot is None:
        if scan.expiry is None:
            raise ValidationError(
                field, f"lot {scan.lot_number} is not known and the code has no expiry"
            )
        lot = Lot(product.code, scan.lot_number, scan.expiry)
    elif scan.expiry is not None and scan.expiry != lot.expiry:
        raise ValidationError(
            field,
            f"the code says lot {lot.lot_number} expires {scan.expiry.isoformat()},"
            f" the registry says {lot.expiry.isoformat()}: check the vial",
        )
    if lot.expiry < as_of:
        raise ValidationError(
            field, f"lot {lot.lot_number} of {product.name} expired on {lot.expiry.isoformat()}"
        )
    return ScannedVial(product, lot, scan)
