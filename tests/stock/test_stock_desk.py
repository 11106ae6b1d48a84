"""The stock desk end to end: receive, scan at the point of care, give, report, recall."""

from __future__ import annotations

import datetime as dt

import pytest

from immreg.backends import open_backend
from immreg.errors import StockError, ValidationError
from immreg.model import Lot, VaccineProduct
from immreg.services import FixedClock, Registry
from immreg.stock import ledger
from immreg.stock.model import WastageReason
from immreg.testing.conformance import NOW, SEED, dose, subject

GTIN = "08901234567890"


def test_a_commune_day() -> None:
    backend = open_backend("memory://")
    SEED.store(backend)
    reg = Registry(backend, clock=FixedClock(NOW), user="nv.lan")
    mr = VaccineProduct("MR", "Sởi-Rubella", ("Measles", "Rubella"), gtins=(GTIN,),
                        doses_per_vial=10)  # fmt: skip
    with backend.unit_of_work() as uow:
        uow.catalogue.add_product(mr)
        uow.subjects.add(subject("s1"))
        uow.commit()
    lot = Lot("MR", "MR(24)01", dt.date(2027, 6, 30))
    reg.stock.receive("r1", "HN", lot, vials=10, supplier="NIHE")
    reg.stock.ship("T1", "HN", "HN-BD-S1", "MR", lot.lot_number, 20)
    reg.stock.receive_shipment("T1", 20)
    vial = reg.stock.scan(f"(01){GTIN}(17)270600(10)MR(24)01")
    assert (vial.product.code, vial.lot) == ("MR", lot)
    reg.record_dose(dose("d1", "s1", product="MR", lot=vial.lot.lot_number, day=NOW.date()))
    reg.stock.waste("w1", "HN-BD-S1", "MR", lot.lot_number, 9, WastageReason.OPEN_VIAL_LIMIT)
    reg.stock.count("c1", "HN-BD-S1", "MR", lot.lot_number, 10)
    with pytest.raises(StockError):
        reg.stock.waste("w2", "HN-BD-S1", "MR", lot.lot_number, 11, WastageReason.LOST)
    with pytest.raises(ValidationError):
        reg.stock.scan(f"(01){GTIN}(17)260200(10)OLD")
    report = reg.stock.monthly_report("HN", NOW.date(), rollup=True)["MR"]
    assert (report.received, report.administered, report.wasted, report.closing) == (
        120, 1, 9, 90,
    )  # fmt: skip
    assert reg.stock.recall("MR", lot.lot_number).subject_ids == ("s1",)
    reg.stock.reverse("w1", "w1-undo")
    with backend.unit_of_work() as uow:
        assert uow.stock.balance("HN-BD-S1", "MR", lot.lot_number) == 19


def test_desk_policies() -> None:
    backend = open_backend("memory://")
    SEED.store(backend)
    reg = Registry(backend, clock=FixedClock(NOW), user="kho")
    early = Lot("PENTA", "EARLY", dt.date(2026, 4, 1))
    late = Lot("PENTA", "LATE", dt.date(2027, 4, 1))
    reg.stock.receive("r1", "HN-BD-S1", early, doses=10, date=dt.date(2026, 3, 1))
    reg.stock.receive("r2", "HN-BD-S1", late, doses=10, date=dt.date(2026, 3, 1), vvm_stage=1)
    plan = reg.stock.suggest_issue("HN-BD-S1", "PENTA", 12)
    assert [(p.lot_number, p.doses) for p in plan] == [("EARLY", 10), ("LATE", 2)]
    # A count that reads VVM stage 2 on the later lot puts it first.
    reg.stock.count("c1", "HN-BD-S1", "PENTA", "LATE", 10)
    with backend.unit_of_work() as uow:
        ledger.count(uow, event_id="c2", facility_id="HN-BD-S1", product_code="PENTA",
                     lot_number="LATE", counted=10, vvm_stage=2, date=NOW.date(),
                     as_of=NOW.date(), by="kho")  # fmt: skip
        uow.commit()
    plan = reg.stock.suggest_issue("HN-BD-S1", "PENTA", 12)
    assert [(p.lot_number, p.doses, p.vvm_stage) for p in plan] == [
        ("LATE", 10, 2),
        ("EARLY", 2, 1),
    ]
    alerts = reg.stock.expiry_alerts("HN", days=30)
    assert [(a.balance.lot_number, a.days_left) for a in alerts] == [("EARLY", 17)]
    reg.stock.waste("w1", "HN-BD-S1", "PENTA", "LATE", 10, WastageReason.VVM_DISCARD)
    # EARLY expires on 1 April: from the 2nd nothing usable is left.
    out = reg.stock.stock_out_days(
        "HN-BD-S1", "PENTA", start=dt.date(2026, 3, 25), end=dt.date(2026, 4, 5)
    )
    assert out == 3  # the 2nd, 3rd and 4th


def test_supply_links_follow_the_tree_unless_configured() -> None:
    backend = open_backend("memory://")
    SEED.store(backend)
    reg = Registry(backend, clock=FixedClock(NOW), user="kho")
    reg.stock.receive("r1", "HCM", SEED.lots[0], doses=50)
    tree_only = ledger.SupplyLinks()
    with pytest.raises(ValidationError, match="supplied by HN, not HCM"):
        reg.stock.ship("T1", "HCM", "HN-BD", "PENTA", "L001", 5, links=tree_only)
    links = ledger.SupplyLinks(overrides={"HN-BD": "HCM"})
    reg.stock.ship("T1", "HCM", "HN-BD", "PENTA", "L001", 5, links=links)
    with backend.unit_of_work() as uow:
        from immreg.orgunits import OrgTree

        tree = OrgTree(uow.org_units.list_all())
        assert tree_only.supplier(tree, "HN-BD-S1", on=NOW.date()) == "HN-BD"
        assert links.supplier(tree, "HN-BD", on=NOW.date()) == "HCM"
        assert [s.destination_id for s in ledger.in_transit(uow)] == ["HN-BD"]
