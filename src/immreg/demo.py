"""``immreg demo``: a guided tour of what immreg can do, on a small commune.

The tour builds a fresh registry (an embedded SQLite file by default), registers children
with their caregivers, records doses (showing that recording twice stores once and that bad
input is refused with the field named), corrects and voids a dose with its audit trail,
bulk-loads historical records and, where a schedule is available, explains what each child
is due for. It grows with every capability of the library.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import attrs

from immreg.backends import open_backend
from immreg.errors import ImmregError
from immreg.model import (
    AdministeredDose,
    Caregiver,
    DoseSource,
    OpenVialRule,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
)
from immreg.ports import Backend
from immreg.services import LOCAL_TZ, FixedClock, Registry

__all__ = ["DEMO_PRODUCTS", "run_demo"]

_SINCE = dt.date(2025, 7, 1)  # the tree after Vietnam's 2025 reorganisation

#: A few products of Vietnam's expanded programme, with CVX codes where CDC has one.
DEMO_PRODUCTS = (
    VaccineProduct(
        "HEPB-BD",
        "Viêm gan B sơ sinh (Gene-HBvax)",
        ["HepB"],
        cvx="08",
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        "BCG",
        "BCG (IVAC)",
        ["BCG"],
        cvx="19",
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.DISCARD_6_HOURS,
        live=True,
    ),
    VaccineProduct(
        "PENTA",
        "DPT-VGB-Hib (ComBE Five)",
        ["Diphtheria", "Tetanus", "Pertussis", "HepB", "Hib"],
        cvx="198",
        doses_per_vial=1,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        "BOPV",
        "bOPV (Polio Sabin)",
        ["Polio"],
        cvx="178",
        doses_per_vial=20,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
        live=True,
    ),
    VaccineProduct(
        "IPV",
        "IPV",
        ["Polio"],
        cvx="10",
        doses_per_vial=5,
        open_vial_rule=OpenVialRule.KEEP_28_DAYS,
    ),
    VaccineProduct(
        "MEASLES",
        "Sởi (MVVAC)",
        ["Measles"],
        cvx="05",
        doses_per_vial=10,
        open_vial_rule=OpenVialRule.DISCARD_6_HOURS,
        live=True,
    ),
    VaccineProduct(
        "MR",
        "Sởi-Rubella (MRVAC)",
        ["Measles", "Rubella"],
        cvx="04",
        doses_per_vial=10,
        open_vial_rule=OpenVialRule.DISCARD_6_HOURS,
        live=True,
    ),
)


def _tree() -> list[OrgUnit]:
    def link(parent: str) -> list[ParentLink]:
        return [ParentLink(parent, _SINCE)]

    return [
        OrgUnit("VN", "Việt Nam", OrgLevel.NATION, opened=_SINCE),
        OrgUnit("P08", "Tuyên Quang", OrgLevel.PROVINCE, parents=link("VN"), opened=_SINCE),
        OrgUnit("C0801", "Xã Minh Xuân", OrgLevel.COMMUNE, parents=link("P08"), opened=_SINCE),
        OrgUnit("C0802", "Xã Tân Trào", OrgLevel.COMMUNE, parents=link("P08"), opened=_SINCE),
        OrgUnit(
            "S0801", "Trạm Y tế xã Minh Xuân", OrgLevel.SITE, parents=link("C0801"), opened=_SINCE
        ),
    ]


def _historical(
    today: dt.date, n: int, seed: int
) -> Iterator[tuple[Subject, list[AdministeredDose]]]:
    rng = random.Random(seed)
    families = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
    given = ["Văn An", "Thị Bình", "Minh Châu", "Đức Dũng", "Thu Hà", "Quốc Huy", "Ngọc Lan"]
    for i in range(n):
        born = today - dt.timedelta(days=rng.randint(400, 1800))
        sid = f"H{i:06d}"
        subject = Subject(
            sid,
            rng.choice(families),
            rng.choice(given),
            born,
            rng.choice([Sex.MALE, Sex.FEMALE]),
            residences=[Residence(rng.choice(["C0801", "C0802"]), born)],
        )
        plan = [
            ("HEPB-BD", 0),
            ("BCG", 7),
            ("PENTA", 60),
            ("BOPV", 60),
            ("PENTA", 91),
            ("BOPV", 91),
            ("PENTA", 122),
            ("BOPV", 122),
            ("IPV", 152),
            ("MEASLES", 274),
            ("MR", 548),
        ]
        doses = [
            AdministeredDose(
                f"{sid}-{k}",
                sid,
                code,
                born + dt.timedelta(days=age + rng.randint(0, 20)),
                "S0801",
                source=DoseSource.HISTORICAL_PAPER,
                recorded_by="demo-import",
            )
            for k, (code, age) in enumerate(plan)
            if born + dt.timedelta(days=age + 20) <= today
        ]
        yield subject, doses


def run_demo(url: str, *, out: TextIO, today: dt.date | None = None) -> int:
    """Run the guided tour against a fresh backend at ``url``; returns the exit status.

    Args:
        url: A backend URL; for ``sqlite:///PATH`` the file is recreated.
        out: Where to print.
        today: The date the tour runs as of (default: today in Asia/Ho_Chi_Minh).
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    now = dt.datetime.now(LOCAL_TZ)
    if today is not None:
        now = dt.datetime.combine(today, dt.time(9, 0), LOCAL_TZ)
    today = now.date()

    def say(text: str = "") -> None:
        print(text, file=out)

    backend = open_backend(url)
    registry = Registry(backend, clock=FixedClock(now), user="nurse.lan")
    say(f"immreg demo, as of {today.isoformat()}, on {url}")
    say("=" * 72)

    say("\n1. The org-unit tree (after the 2025 reform: nation > province > commune > site)")
    registry.add_org_units(_tree())
    with backend.unit_of_work() as uow:
        for p in DEMO_PRODUCTS:
            uow.catalogue.add_product(p)
        uow.commit()
        for u in uow.org_units.list_all():
            say(f"   {u.level.value:<9} {u.id:<6} {u.name}")
    say(f"   catalogue: {', '.join(p.code for p in DEMO_PRODUCTS)}")

    say("\n2. Registering a newborn and her mother (phone typed as people write it)")
    mother = Subject(
        "M-001",
        "Trần",
        "Thị Hoa",
        today - dt.timedelta(days=365 * 27),
        Sex.FEMALE,
        residences=[Residence("C0801", _SINCE)],
    )
    baby_born = today - dt.timedelta(days=75)
    baby = Subject(
        "C-001",
        "Nguyễn",
        "Ngọc Anh",
        baby_born,
        Sex.FEMALE,
        mother_id="M-001",
        caregivers=[Caregiver("Trần Thị Hoa", "mother", phone="0912 345 678")],
        residences=[Residence("C0801", baby_born)],
    )
    registry.register_subject(mother)
    registry.register_subject(baby)
    say(
        f"   {baby.full_name}, born {baby.birth_date}, caregiver phone stored as "
        f"{baby.caregivers[0].phone}"
    )

    say("\n3. Recording doses: the client's dose id makes recording idempotent")
    doses = [
        AdministeredDose("D-001", "C-001", "HEPB-BD", baby_born, "S0801", lot_number="HB2407"),
        AdministeredDose("D-002", "C-001", "BCG", baby_born + dt.timedelta(days=3), "S0801"),
        AdministeredDose(
            "D-003",
            "C-001",
            "PENTA",
            baby_born + dt.timedelta(days=61),
            "S0801",
            lot_number="CF5-0925",
        ),
    ]
    for d in doses:
        say(f"   {d.id} {d.product_code:<8} {d.date}: {registry.record_dose(d).outcome.value}")
    again = registry.record_dose(doses[0])
    say(f"   {doses[0].id} sent again (a retry after a network error): {again.outcome.value}")

    say("\n4. Bad input is refused, naming the field, and nothing is written")
    bad = AdministeredDose("D-999", "C-001", "XYZ", baby_born - dt.timedelta(days=2), "S9999")
    try:
        registry.record_dose(bad)
    except ImmregError as e:
        say(f"   refused: {e}")
    try:
        Caregiver("Lê Văn Tư", "father", phone="0123 45")
    except ImmregError as e:
        say(f"   refused: {e}")

    say("\n5. Correcting and voiding keep an audit trail")
    fixed = attrs.evolve(doses[2], date=doses[2].date + dt.timedelta(days=1))
    registry.correct_dose(fixed, expected_version=1, reason="date copied wrongly from card")
    registry.void_dose("D-002", expected_version=1, reason="recorded for the wrong child")
    for entry in registry.audit_trail("dose", "D-003") + registry.audit_trail("dose", "D-002"):
        say(
            f"   {entry.entity_id} {entry.action:<7} by {entry.by}"
            f"{': ' + entry.reason if entry.reason else ''}"
        )

    say("\n6. The child's record")
    history = registry.history("C-001", include_voided=True)
    for d in history.doses:
        flag = f"  [voided: {d.void_reason}]" if d.voided else ""
        say(f"   {d.date}  {d.product_code:<8} lot {d.lot_number or '-':<9} v{d.version}{flag}")

    say("\n7. Bulk-loading paper registers (historical doses), resumable by batch")
    started = time.perf_counter()
    report = registry.bulk_load(
        _historical(today, 2_000, seed=7), load_id="paper-2025", batch_size=5_000
    )
    took = time.perf_counter() - started
    say(
        f"   {report.subjects} children, {report.doses} doses in {report.batches_loaded} "
        f"batches, {took:.2f} s ({report.doses / took:,.0f} doses/s)"
    )
    again_report = registry.bulk_load(
        _historical(today, 2_000, seed=7), load_id="paper-2025", batch_size=5_000
    )
    say(
        f"   run again: {again_report.batches_skipped} batches skipped, "
        f"{again_report.doses} doses added"
    )
    residents = registry.subjects_in("P08")
    say(f"   residents of Tuyên Quang today: {len(residents)}")

    _due_list_and_reminders(backend, now, say)

    say("\nDone. The database is kept at " + url)
    backend.close()
    return 0


def _due_list_and_reminders(
    backend: Backend, now: dt.datetime, say: Callable[[str], None]
) -> None:
    """Section 8: a session's due list and the reminders it sends (immreg.outreach)."""
    from immreg.backends.gateways import ConsoleGateway
    from immreg.schedule.catalogue import PRODUCTS

    say("\n8. Next week's session at Minh Xuân: the due list and the SMS reminders")
    today = now.date()
    # A registry with the vn-epi schedule keeps each child's due summary with the record.
    registry = Registry(backend, clock=FixedClock(now), user="nurse.lan", schedule="vn-epi")
    with backend.unit_of_work() as uow:
        for p in PRODUCTS:
            if uow.catalogue.find_product(p.code) is None:
                uow.catalogue.add_product(p)
        uow.commit()
    children = [
        ("E-001", "Lê", "Minh Khoa", 58, "0987 654 321", False),
        ("E-002", "Phạm", "Thu Trang", 95, "0912 000 111", False),
        ("E-003", "Vũ", "Gia Bảo", 270, "0903 222 333", True),
    ]
    for sid, family, given, age, phone, opted_out in children:
        born = today - dt.timedelta(days=age)
        registry.register_subject(
            Subject(
                sid,
                family,
                given,
                born,
                Sex.MALE,
                caregivers=[Caregiver("Mẹ", "mother", phone=phone, sms_opt_out=opted_out)],
                residences=[Residence("C0801", born)],
            )
        )
        registry.record_dose(AdministeredDose(f"{sid}-hb", sid, "HEPB-BD", born, "S0801"))
    session = today + dt.timedelta(days=2)
    due = registry.due_list("C0801", session_date=session, window_days=5)
    say(f"   session {session}: {due.people} children due")
    for group in due.groups:
        names = ", ".join(f"{e.name} ({e.status.value})" for e in group.entries)
        say(f"   {group.vaccine_group:<28} {names}")
    say(
        "   to bring: "
        + ", ".join(f"{d.product_code} {d.doses} doses/{d.vials} vials" for d in due.demand)
    )
    report = registry.plan_reminders("C0801", session_date=session)
    say(
        f"   planned {report.planned} reminders (E-003's mother opted out); planning again adds "
        f"{registry.plan_reminders('C0801', session_date=session).planned}"
    )
    sent = registry.dispatch_reminders(ConsoleGateway(_Printer(say)))
    say(f"   dispatched: {sent.sent} sent, {sent.retried} to retry")


class _Printer:
    """A text stream that hands each printed line to ``say`` (for the console gateway)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._pending = ""

    def write(self, text: str) -> int:
        """Say every complete line; keep the rest until its line ends."""
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._say(line)
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""
