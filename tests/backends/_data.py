"""Deterministic test data for the backend tests and the bulk loader script."""

from __future__ import annotations

import datetime as dt

from immreg.model import (
    AdministeredDose,
    Caregiver,
    DoseSource,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
)
from immreg.ports import BulkBatch

START = dt.date(2000, 1, 1)


def tree() -> list[OrgUnit]:
    """VN > P1 > C1, C2; VN > P2 > C3; C2 moved from P1 to P2 on 2025-07-01."""
    return [
        OrgUnit(id="VN", name="Việt Nam", level=OrgLevel.NATION),
        OrgUnit(id="P1", name="P1", level=OrgLevel.PROVINCE, parents=[ParentLink("VN", START)]),
        OrgUnit(id="P2", name="P2", level=OrgLevel.PROVINCE, parents=[ParentLink("VN", START)]),
        OrgUnit(id="C1", name="C1", level=OrgLevel.COMMUNE, parents=[ParentLink("P1", START)]),
        OrgUnit(
            id="C2",
            name="C2",
            level=OrgLevel.COMMUNE,
            parents=[
                ParentLink("P1", START, dt.date(2025, 7, 1)),
                ParentLink("P2", dt.date(2025, 7, 1)),
            ],
        ),
        OrgUnit(id="C3", name="C3", level=OrgLevel.COMMUNE, parents=[ParentLink("P2", START)]),
    ]


def subject(sid: str, unit: str, **kw: object) -> Subject:
    """A child born 2024-01-01, resident in ``unit`` since birth."""
    fields: dict[str, object] = {
        "id": sid,
        "family_name": "Nguyễn",
        "given_name": "Thị Lan",
        "birth_date": dt.date(2024, 1, 1),
        "sex": Sex.FEMALE,
        "caregivers": [Caregiver("Trần Thị Mai", phone="+84912345678")],
        "residences": [Residence(unit, dt.date(2024, 1, 1))],
    }
    fields.update(kw)
    return Subject(**fields)  # type: ignore[arg-type]


def dose(did: str, sid: str, day: int = 1, **kw: object) -> AdministeredDose:
    """A BCG dose given to ``sid`` on day ``day`` of 2024-02."""
    fields: dict[str, object] = {
        "id": did,
        "subject_id": sid,
        "product_code": "BCG",
        "date": dt.date(2024, 2, day),
        "facility_id": "C1",
    }
    fields.update(kw)
    return AdministeredDose(**fields)  # type: ignore[arg-type]


def batch(load_id: str, n: int, *, subjects: int, doses_each: int) -> BulkBatch:
    """Batch ``n`` of a synthetic load: ``subjects`` new subjects with ``doses_each`` doses."""
    subs = [
        Subject(
            id=f"{load_id}-S{n:05d}-{i:04d}",
            family_name="Lê",
            given_name=f"Văn {i}",
            birth_date=dt.date(2023, 1 + i % 12, 1 + i % 28),
            sex=Sex.MALE if i % 2 else Sex.FEMALE,
            caregivers=[Caregiver("Lê Thị Hoa", phone="+84912345678")],
            residences=[Residence(f"C{1 + i % 3}", dt.date(2023, 1, 1))],
        )
        for i in range(subjects)
    ]
    doses = [
        AdministeredDose(
            id=f"{s.id}-D{k:02d}",
            subject_id=s.id,
            product_code="PENTA",
            date=dt.date(2024, 1 + k % 12, 1 + k % 28),
            facility_id="C1",
            lot_number="L123",
            source=DoseSource.IMPORT,
            recorded_by="loader",
        )
        for s in subs
        for k in range(doses_each)
    ]
    return BulkBatch(load_id=load_id, batch_no=n, subjects=subs, doses=doses)
