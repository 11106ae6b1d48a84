"""Due lists and reminder planning (immreg.duelist, immreg.outreach).

* ``due_list_postgres``: a session's due list for a commune of 2,000 children (plus as many
  children in other communes) on PostgreSQL, answered from the stored due summaries: the
  whole ``Registry.due_list`` call (unit of work, org tree, catalogue, one join query,
  grouping). Target: median under 50 ms.
* ``due_list_recompute``: the alternative the summaries replace, forecasting every resident
  on request with the lean batch forecast (``forecast_many``), for the same commune.
* ``refresh_due_rate``: summaries recomputed and stored per second (the cost moved to write
  time: one forecast per dose recorded).
* ``plan_reminders_1m``: nightly reminder planning for 1,000,000 people, the pure planner
  (:func:`immreg.duelist.plan_reminders`) over people with real vn-epi summaries. Target:
  under 120 s. ``plan_commune_postgres`` is the database use case for one commune of 2,000
  (read summaries and caregivers, write the outbox), for scale.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from typing import Any

from _util import median, percentile, record
from bench_record import postgres_schema
from immreg.backends import open_backend
from immreg.duelist import ReminderPolicy, plan_reminders, summarize
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
from immreg.outreach import refresh_due_many
from immreg.ports import BulkBatch
from immreg.schedule import Dose, Patient, load_schedule
from immreg.schedule.batch import forecast_many
from immreg.schedule.catalogue import PRODUCTS
from immreg.services import LOCAL_TZ, FixedClock, Registry

NAME = "duelist"
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime.combine(TODAY, dt.time(19, 0), LOCAL_TZ)
DUE_LIST_TARGET_MS = 50.0
PLAN_TARGET_S = 120.0
# The Vietnamese EPI visits by age in days (birth, 2, 3, 4, 5, 9, 18 months).
_VISITS = [
    (0, ["HEPB-BD", "BCG"]),
    (61, ["PENTA-COMBE5", "BOPV", "ROTA-ROTAVIN", "PCV10"]),
    (91, ["PENTA-COMBE5", "BOPV", "ROTA-ROTAVIN", "PCV10"]),
    (122, ["PENTA-COMBE5", "BOPV", "PCV10"]),
    (152, ["IPV"]),
    (274, ["MEASLES-MVVAC", "PCV10", "IPV"]),
    (365, ["JE-JEVAX"]),
    (372, ["JE-JEVAX"]),
    (548, ["MR-MRVAC", "DTP"]),
    (730, ["JE-JEVAX"]),
]
# Share of children who stop at each visit: with 4%, about three in four complete the
# course, near the coverage of Vietnam's EPI (WUENIC: DTP3 ~90%, MCV2 ~80%).
_DROPOUT = 0.04
_PHONE = Caregiver("Mẹ", "mother", phone="0912345678")


def _child(rng: random.Random, sid: str, unit: str) -> tuple[Subject, list[AdministeredDose]]:
    born = TODAY - dt.timedelta(days=rng.randint(0, 730))
    subject = Subject(
        sid, "Nguyễn", "Văn An", born, Sex.MALE, caregivers=[_PHONE],
        residences=[Residence(unit, born)],
    )  # fmt: skip
    doses = []
    late = 0  # a late visit delays the ones after it
    for age, codes in _VISITS:
        # Most children on time, some late, some dropping out.
        if rng.random() < _DROPOUT:
            break
        late += rng.choice([0, 0, 0, 3, 10, 40])
        day = born + dt.timedelta(days=age + late)
        if day > TODAY:
            break
        doses += [
            AdministeredDose(f"{sid}-{age}-{c}", sid, c, day, unit, source=DoseSource.IMPORT)
            for c in codes
        ]
    return subject, doses


def _units(communes: int) -> list[OrgUnit]:
    since = dt.date(2025, 7, 1)
    out = [OrgUnit("P", "Tỉnh", OrgLevel.PROVINCE, opened=since)]
    out += [
        OrgUnit(f"C{i}", f"Xã {i}", OrgLevel.COMMUNE, parents=[ParentLink("P", since)])
        for i in range(communes)
    ]
    return out


def _timed(fn: Any, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _due_list(quick: bool) -> Iterator[dict[str, Any]]:
    children = 150 if quick else 2_000
    rng = random.Random(8)
    schedule = load_schedule("vn-epi")
    with postgres_schema() as url:
        backend = open_backend(url)
        with backend.unit_of_work() as uow:
            for u in _units(3):
                uow.org_units.add(u)
            for p in PRODUCTS:
                uow.catalogue.add_product(p)
            uow.commit()
        people = [_child(rng, f"s{u}{i:05d}", f"C{u}") for u in (0, 1) for i in range(children)]
        backend.load_batch(
            BulkBatch("bench", 0, [s for s, _ in people], [d for _, ds in people for d in ds])
        )
        ids = [s.id for s, _ in people]
        t = time.perf_counter()
        for k in range(0, len(ids), 500):
            with backend.unit_of_work() as uow:
                refresh_due_many(uow, ids[k : k + 500], schedule=schedule, as_of=TODAY)
                uow.commit()
        took = time.perf_counter() - t
        yield record(
            "refresh_due_rate", "summaries_per_s", len(ids) / took, "1/s", n=len(ids),
            backend="postgresql",
        )  # fmt: skip
        reg = Registry(backend, clock=FixedClock(NOW))
        session = TODAY + dt.timedelta(days=5)
        due = reg.due_list("C0", session_date=session, window_days=7)
        times = _timed(lambda: reg.due_list("C0", session_date=session, window_days=7), 30)
        yield record(
            "due_list_postgres", "median_ms", median(times), "ms", target=DUE_LIST_TARGET_MS,
            n=children, p95_ms=round(percentile(times, 95), 2), people_due=due.people,
            rows=sum(len(g.entries) for g in due.groups),
        )  # fmt: skip

        def recompute() -> None:
            residents = reg.subjects_in("C0", on=session)
            with backend.unit_of_work() as uow:
                items = [
                    (
                        Patient(s.birth_date, s.sex.value, tuple(  # type: ignore[arg-type]
                            Dose(d.id, d.date, d.product_code)
                            for d in uow.doses.list_for_subject(s.id)
                        )),
                        session,
                    )
                    for s in residents
                ]  # fmt: skip
            list(forecast_many(schedule, items))

        times = _timed(recompute, 3)
        yield record(
            "due_list_recompute", "median_ms", median(times), "ms", n=children,
            note="forecast every resident per request (the design not taken)",
        )  # fmt: skip

        times = []
        for day in range(5):
            at = NOW + dt.timedelta(days=day)
            r = Registry(backend, clock=FixedClock(at))
            t = time.perf_counter()
            r.plan_reminders("C0")
            times.append((time.perf_counter() - t) * 1000)
        yield record(
            "plan_commune_postgres", "median_ms", median(times), "ms", n=children,
            note="one commune's nightly plan: read summaries and caregivers, write the outbox",
        )  # fmt: skip
        backend.close()


def _plan_1m(quick: bool) -> Iterator[dict[str, Any]]:
    people = 20_000 if quick else 1_000_000
    schedule = load_schedule("vn-epi")
    rng = random.Random(1)
    # Real summaries for 2,000 children of every age and history, reused across people.
    pool = []
    for i in range(2_000):
        subject, doses = _child(rng, f"p{i}", "C0")
        patient = Patient(
            subject.birth_date, "M", tuple(Dose(d.id, d.date, d.product_code) for d in doses)
        )
        (forecasts,) = forecast_many(schedule, [(patient, TODAY)])
        pool.append((subject, summarize(subject.id, forecasts)))
    policy = ReminderPolicy()
    planned = 0
    spent = 0.0
    for i in range(people):
        subject, summaries = pool[i % len(pool)]
        t = time.perf_counter()
        planned += len(
            plan_reminders(subject, summaries, as_of=TODAY, at=NOW, place="Xã 0", policy=policy)
        )
        spent += time.perf_counter() - t
    yield record(
        "plan_reminders_1m", "total_s", spent, "s", target=PLAN_TARGET_S, n=people,
        planned=planned,
    )  # fmt: skip


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """The due-list and reminder-planning benchmarks (``quick``: small sizes, same code)."""
    yield from _due_list(quick)
    yield from _plan_1m(quick)
