"""A commune's vaccine stock for a month: receive, ship, scan, vaccinate, report, recall.

Run it on any backend URL (an SQLite file by default)::

    python examples/stock_commune.py sqlite:///stock-example.db

It prints the commune's monthly stock report and what a recall of the lot reaches.
"""

from __future__ import annotations

import datetime as dt
import sys

from immreg import open_backend
from immreg.model import (
    AdministeredDose,
    Lot,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
)
from immreg.services import LOCAL_TZ, FixedClock, Registry
from immreg.stock.model import WastageReason

GTIN = "08936011370011"  # a GTIN-14 with a valid check digit (illustrative)


def main(url: str) -> None:
    """Run the month on the backend at ``url`` (created empty)."""
    backend = open_backend(url)
    since = dt.date(2000, 1, 1)
    province = OrgUnit("01", "Hà Nội", OrgLevel.PROVINCE, opened=since)
    commune = OrgUnit(
        "01-00004", "Phường Ba Đình", OrgLevel.COMMUNE, (ParentLink("01", since),), since
    )
    clock = FixedClock(dt.datetime(2026, 3, 20, 9, 0, tzinfo=LOCAL_TZ))
    reg = Registry(backend, clock=clock, user="cb.kho")
    reg.add_org_units([province, commune])
    with backend.unit_of_work() as uow:
        uow.catalogue.add_product(
            VaccineProduct(
                "MR", "Sởi-Rubella", ("Measles", "Rubella"), gtins=(GTIN,), doses_per_vial=10
            )
        )
        uow.commit()
    for i in range(3):
        reg.register_subject(
            Subject(
                f"c{i}",
                "Trần",
                f"Bé {i}",
                dt.date(2025, 3, 1),
                Sex.FEMALE,
                residences=(Residence("01-00004", dt.date(2025, 3, 1)),),
            )
        )

    lot = Lot("MR", "MR2501(A)", dt.date(2027, 6, 30), manufacturer="POLYVAC")
    reg.stock.receive("rcv-1", "01", lot, vials=20, supplier="EPI", date=dt.date(2026, 3, 2))
    reg.stock.ship("T-0301", "01", "01-00004", "MR", lot.lot_number, 30, date=dt.date(2026, 3, 3))
    reg.stock.receive_shipment("T-0301", 30, date=dt.date(2026, 3, 4))

    # At the session: scan the vial's DataMatrix (FNC1 as GS), then record each dose.
    vial = reg.stock.scan(f"]d201{GTIN}17270600" + f"10{lot.lot_number}\x1d21SN01")
    for i in range(3):
        reg.record_dose(
            AdministeredDose(
                f"d{i}",
                f"c{i}",
                vial.product.code,
                dt.date(2026, 3, 18),
                "01-00004",
                lot_number=vial.lot.lot_number,
            )
        )
    reg.stock.waste(
        "w-1",
        "01-00004",
        "MR",
        lot.lot_number,
        7,
        WastageReason.OPEN_VIAL_LIMIT,
        date=dt.date(2026, 3, 18),
    )

    report = reg.stock.monthly_report("01-00004", dt.date(2026, 3, 1))["MR"]
    print(
        f"MR 2026-03 {commune.name}: opening {report.opening}, received {report.received},"
        f" administered {report.administered}, wasted {report.wasted}, closing {report.closing}"
    )
    print(f"wastage rate {report.wastage_rate:.0%}")
    recall = reg.stock.recall("MR", lot.lot_number)
    holders = ", ".join(f"{h.facility_id}: {h.quantity}" for h in recall.holdings)
    print(f"recall {lot.lot_number}: {len(recall.subject_ids)} children; held {holders}")
    backend.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///stock-example.db")
