"""Timeliness tallies on every backend kind: too early, on time and late, rolled up."""

from __future__ import annotations

import datetime as dt

from immreg.indicators import ReportSpec, Tally, rollup
from immreg.model import AdministeredDose, Residence, Sex, Subject
from immreg.orgunits import OrgTree
from immreg.ports import Backend
from immreg.reports.timeliness import timeliness_key, timeliness_tallies
from immreg.schedule import load_schedule
from immreg.schedule.catalogue import PRODUCTS
from immreg.testing.reports_conformance import REFORM_TREE

SPEC = ReportSpec(
    as_of=dt.date(2025, 12, 31),
    birth_from=dt.date(2024, 1, 1),
    birth_until=dt.date(2025, 1, 1),
)
BORN = dt.date(2024, 6, 1)


def _child(sid: str, home: str) -> Subject:
    return Subject(sid, "Lê", "An", BORN, Sex.FEMALE, residences=(Residence(home, BORN),))


def _dose(did: str, sid: str, day: dt.date, *, voided: bool = False) -> AdministeredDose:
    return AdministeredDose(
        id=did,
        subject_id=sid,
        product_code="PENTA-COMBE5",
        date=day,
        facility_id="A1-S",
        voided=voided,
        void_reason="entered in error" if voided else None,
    )


def test_timeliness_counts_and_rolls_up(backend: Backend) -> None:
    with backend.unit_of_work() as uow:
        for u in REFORM_TREE:
            uow.org_units.add(u)
        for p in PRODUCTS:
            uow.catalogue.add_product(p)
        uow.subjects.add(_child("t1", "A1"))
        uow.subjects.add(_child("t2", "B1"))
        uow.subjects.add(_child("t3", "C1"))
        # t1: ten days old (too early), then at two months, three months, and a year late.
        for i, day in enumerate(
            (dt.date(2024, 6, 11), dt.date(2024, 8, 1), dt.date(2024, 9, 1), dt.date(2025, 8, 1))
        ):
            uow.doses.add(_dose(f"t1-{i}", "t1", day))
        uow.doses.add(_dose("t2-0", "t2", dt.date(2024, 8, 1)))
        uow.doses.add(_dose("t3-0", "t3", dt.date(2024, 8, 1), voided=True))
        uow.commit()
    schedule = load_schedule("vn-epi")
    with backend.unit_of_work() as uow:
        leaves = timeliness_tallies(uow, SPEC, schedule, units=["A1", "B1", "C1"])
    a1 = leaves["A1"]
    assert a1[timeliness_key("Pertussis", 1, "too_early")] == 1
    assert a1[timeliness_key("Pertussis", 1, "on_time")] == 1
    assert a1[timeliness_key("Pertussis", 2, "on_time")] == 1
    assert a1[timeliness_key("Pertussis", 3, "late")] == 1
    assert leaves["B1"][timeliness_key("Pertussis", 1, "on_time")] == 1
    assert "C1" not in leaves  # the voided dose does not count
    tree = OrgTree(REFORM_TREE)
    merged = rollup(leaves, tree, on=SPEC.as_of, units=["PAB", "N"])
    assert merged["PAB"][timeliness_key("Pertussis", 1, "on_time")] == 2
    assert merged["N"] == Tally.merge(leaves.values())
    with backend.unit_of_work() as uow:
        only = timeliness_tallies(uow, SPEC, schedule, units=["B1"])
    assert only == {"B1": leaves["B1"]}
