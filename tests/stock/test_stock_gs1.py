"""Real-world scan strings: separators, lots with "(", Digital Link URLs, day 00."""

from __future__ import annotations

import datetime as dt

import pytest

from immreg.backends import open_backend
from immreg.errors import ValidationError
from immreg.model import Lot, VaccineProduct
from immreg.stock.gs1 import parse_scan, resolve_scan

GS = "\x1d"
GTIN = "08901234567890"  # check digit 0 (GS1 mod-10)

SCANS = [
    # raw DataMatrix with the ]d2 symbology identifier, FNC1 sent as GS
    (f"]d201{GTIN}17271200" + f"10AB123{GS}21S1", "AB123", dt.date(2027, 12, 31), "S1"),
    # GS1-128 ]C1, lot last (no separator needed)
    (f"]C101{GTIN}1728022910XY-9", "XY-9", dt.date(2028, 2, 29), None),
    # keyboard-wedge stand-ins for FNC1
    (f"01{GTIN}10LOT1<GS>17260600", "LOT1", dt.date(2026, 6, 30), None),
    (f"01{GTIN}10LOT1{{GS}}17260200", "LOT1", dt.date(2026, 2, 28), None),
    (f"01{GTIN}10LOT1\u241d17240200", "LOT1", dt.date(2024, 2, 29), None),
    # human-readable with a lot containing "(" that looks like an AI
    (f"(01){GTIN}(17)271200(10)AB(12)", "AB(12)", dt.date(2027, 12, 31), None),
    (f"(01){GTIN}(10)A(1)B(17)270115", "A(1)B", dt.date(2027, 1, 15), None),
    (f"(01){GTIN}(10)AB(17)271231(21)X(1)", "AB", dt.date(2027, 12, 31), "X(1)"),
    # GS1 Digital Link URIs, with and without the expiry in the query string
    (f"https://id.gs1.org/01/{GTIN}/10/L001?17=271231", "L001", dt.date(2027, 12, 31), None),
    (
        f"https://vax.example.vn/01/{GTIN}/10/K%2F7/21/99?17=270900",
        "K/7",
        dt.date(2027, 9, 30),
        "99",
    ),
    # GTIN-13 written as GTIN-14 with a leading zero, lowercase lot
    (f"01{GTIN}17301000" + "10abc", "abc", dt.date(2030, 10, 31), None),
]


@pytest.mark.parametrize(("text", "lot", "expiry", "serial"), SCANS)
def test_real_world_scans(text: str, lot: str, expiry: dt.date, serial: str | None) -> None:
    scan = parse_scan(text)
    assert scan.gtin == GTIN
    assert scan.lot_number == lot
    assert scan.expiry == expiry
    assert scan.serial == serial


@pytest.mark.parametrize(
    "text",
    ["", "   ", "hello", "(01)08901234567897(10)AB", "(10)AB(17)271231", "https://example.com/x"],
)
def test_unreadable_scans_are_validation_errors(text: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_scan(text)
    assert e.value.field == "scan"


def test_resolve_at_the_point_of_care() -> None:
    backend = open_backend("memory://")
    product = VaccineProduct("PENTA", "Penta", ("Hib",), gtins=(GTIN[1:],), doses_per_vial=10)
    with backend.unit_of_work() as uow:
        uow.catalogue.add_product(product)
        uow.lots.add(Lot("PENTA", "OLD", dt.date(2025, 1, 31)))
        uow.commit()
    as_of = dt.date(2026, 3, 15)
    with backend.unit_of_work() as uow:
        got = resolve_scan(uow, f"(01){GTIN}(17)271200(10)NEW(1)", as_of=as_of)
        assert got.product == product
        assert got.lot == Lot("PENTA", "NEW(1)", dt.date(2027, 12, 31))
        with pytest.raises(ValidationError, match="expired on 2025-01-31"):
            resolve_scan(uow, f"01{GTIN}10OLD", as_of=as_of)
        with pytest.raises(ValidationError, match="expired"):
            resolve_scan(uow, f"01{GTIN}1726020010NEW2", as_of=as_of)
        with pytest.raises(ValidationError, match="not a vaccine in the catalogue"):
            resolve_scan(uow, "0100000000000017" + "10X", as_of=as_of)
        with pytest.raises(ValidationError, match="registry says"):
            resolve_scan(uow, f"01{GTIN}1727010110OLD", as_of=as_of)
        with pytest.raises(ValidationError, match="no lot number"):
            resolve_scan(uow, f"01{GTIN}17270101", as_of=as_of)
