"""Register a child and record doses in an SQLite registry, then print the record.

Run: ``python examples/record_doses.py [sqlite:///PATH]`` (default: an in-memory SQLite).
"""

from __future__ import annotations

import datetime as dt
import sys
from zoneinfo import ZoneInfo

import immreg
from immreg.services import FixedClock, Registry

URL = sys.argv[1] if len(sys.argv) > 1 else "sqlite://"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
SINCE = dt.date(2025, 7, 1)


def main() -> None:
    """Build a one-commune registry, record two doses, print the child's record."""
    backend = immreg.open_backend(URL)
    registry = Registry(backend, clock=FixedClock(NOW), user="nurse.lan")
    registry.add_org_units(
        [
            immreg.OrgUnit("VN", "Việt Nam", immreg.OrgLevel.NATION),
            immreg.OrgUnit(
                "C01",
                "Xã Minh Xuân",
                immreg.OrgLevel.COMMUNE,
                parents=[immreg.ParentLink("VN", SINCE)],
            ),
        ]
    )
    with backend.unit_of_work() as uow:
        uow.catalogue.add_product(immreg.VaccineProduct("BCG", "BCG", ["BCG"], cvx="19"))
        uow.catalogue.add_product(
            immreg.VaccineProduct(
                "PENTA", "DPT-VGB-Hib", ["Diphtheria", "Tetanus", "Pertussis", "HepB", "Hib"]
            )
        )
        uow.commit()
    born = dt.date(2026, 8, 31)
    registry.register_subject(
        immreg.Subject(
            "C-001",
            "Nguyễn",
            "Ngọc Anh",
            born,
            immreg.Sex.FEMALE,
            caregivers=[immreg.Caregiver("Trần Thị Hoa", "mother", phone="0912 345 678")],
            residences=[immreg.Residence("C01", born)],
        )
    )
    registry.record_dose(immreg.AdministeredDose("D-1", "C-001", "BCG", born, "C01"))
    registry.record_dose(
        immreg.AdministeredDose(
            "D-2", "C-001", "PENTA", dt.date(2026, 10, 31), "C01", lot_number="CF5-0925"
        )
    )
    history = registry.history("C-001")
    print(history.subject.full_name, history.subject.caregivers[0].phone)
    for dose in history.doses:
        print(dose.date, dose.product_code, dose.lot_number or "-")
    backend.close()


if __name__ == "__main__":
    main()
