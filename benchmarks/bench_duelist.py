"""Due lists and reminder planning (immreg.duelist, immreg.outreach) on PostgreSQL.

One database of a province: 1,000,000 children under two (``--quick``: 20,000) in communes
of 2,000, each with the due summaries the ``vn-epi`` schedule forecasts from a realistic
history (a pool of 2,000 simulated histories, each shared by 500 people under their own
ids; the histories of communes C0 and C1 are stored as doses too). The people, their
residences and their summaries go in through ``Backend.load_batch``, 20,000 a batch, and
the tables are vacuumed and analyzed as autovacuum would after such a load.

* ``due_list_postgres``: ``Registry.due_list`` for commune C0 (2,000 children) with a
  7-day window, the whole call (unit of work, org tree, catalogue, one query, grouping);
  median and p99 of 30 calls, three rounds. Target: median under 50 ms.
* ``due_list_recompute``: the same list by forecasting every resident on request (the
  design not taken).
* ``refresh_due_rate``: summaries recomputed and stored per second (C0 and C1).
* ``bulk_load_due_cost``: ``bulk_load`` of 20,000 children with their doses, with and
  without a schedule (with one, every batch's due summaries are forecast and stored in its
  transaction).
* ``plan_reminders_1m``: ``Registry.plan_reminders`` for the province, end to end through
  the database (read the night's summaries and phones, plan, write the outbox in bulk, one
  transaction per 20 communes), the outbox emptied before each of three runs; then
  ``plan_reminders_rerun``: the same night again, which plans nothing new. Target: under
  120 s.

With ``IMMREG_BENCH_DUE_LIST_ONLY=1`` in the environment, only the province's load and the
due-list benchmarks run (the same database; no planning or bulk-load comparison).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import attrs
import sqlalchemy as sa

from _util import median, percentile, record
from bench_record import postgres_schema
from immreg.backends import open_backend
from immreg.duelist import DueSummary, summarize
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
from immreg.ports import Backend, BulkBatch
from immreg.schedule import Dose, Patient, load_schedule
from immreg.schedule.batch import forecast_many
from immreg.schedule.catalogue import PRODUCTS
from immreg.services import LOCAL_TZ, FixedClock, Registry, bulk_load

NAME = "duelist"
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime.combine(TODAY, dt.time(19, 0), LOCAL_TZ)
DUE_LIST_TARGET_MS = 50.0
PLAN_TARGET_S = 120.0
COMMUNE = 2_000
BATCH = 20_000
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


def _pool(schedule: Any) -> list[tuple[Subject, list[AdministeredDose], tuple[DueSummary, ...]]]:
    # 2,000 simulated histories and the summaries the schedule forecasts from them.
    rng = random.Random(8)
    people = [_child(rng, f"h{i:04d}", "C0") for i in range(COMMUNE)]
    items = [
        (Patient(s.birth_date, "M", tuple(Dose(d.id, d.date, d.product_code) for d in ds)), TODAY)
        for s, ds in people
    ]
    forecasts = forecast_many(schedule, items)
    return [(s, ds, summarize(s.id, fs)) for (s, ds), fs in zip(people, forecasts, strict=True)]


def _person(pool: list[Any], j: int) -> tuple[Subject, list[AdministeredDose], list[DueSummary]]:
    # Person j: commune j // 2,000, history j % 2,000 of the pool, under an id of its own.
    base, doses, summaries = pool[j % len(pool)]
    sid = f"p{j:07d}"
    unit = f"C{j // COMMUNE}"
    subject = attrs.evolve(base, id=sid, residences=[Residence(unit, base.birth_date)])
    own = [attrs.evolve(d, id=f"{sid}-{d.id}", subject_id=sid, facility_id=unit) for d in doses]
    return subject, own, [DueSummary(sid, *attrs.astuple(s, recurse=False)[1:]) for s in summaries]


def _load(backend: Backend, people: int, pool: list[Any]) -> float:
    # The province: people with their summaries (and, in C0 and C1, their doses).
    started = time.perf_counter()
    for batch_no, first in enumerate(range(0, people, BATCH)):
        subjects, doses, due = [], [], {}
        for j in range(first, min(first + BATCH, people)):
            subject, own, summaries = _person(pool, j)
            subjects.append(subject)
            if j < 2 * COMMUNE:
                doses += own
            due[subject.id] = summaries
        backend.load_batch(BulkBatch("province", batch_no, subjects, doses, due))
    return time.perf_counter() - started


def _vacuum(url: str) -> None:
    # What autovacuum does after a large load: statistics for the planner, and the
    # visibility map that lets the covering index answer without visiting the heap.
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for table in ("subjects", "residences", "due_summaries"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    engine.dispose()


def _timed(fn: Any, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _due_list(backend: Backend, reg: Registry, schedule: Any) -> Iterator[dict[str, Any]]:
    session = TODAY + dt.timedelta(days=5)
    due = reg.due_list("C0", session_date=session, window_days=7)
    rows = sum(len(g.entries) for g in due.groups)
    for round_no in range(3):
        times = _timed(lambda: reg.due_list("C0", session_date=session, window_days=7), 30)
        yield record(
            "due_list_postgres", "median_ms", median(times), "ms", target=DUE_LIST_TARGET_MS,
            n=COMMUNE, round=round_no + 1, p99_ms=round(percentile(times, 99), 2),
            people_due=due.people, rows=rows,
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
        "due_list_recompute", "median_ms", median(times), "ms", n=COMMUNE,
        note="forecast every resident per request (the design not taken)",
    )  # fmt: skip
    ids = [f"p{j:07d}" for j in range(2 * COMMUNE)]
    t = time.perf_counter()
    for k in range(0, len(ids), 500):
        with backend.unit_of_work() as uow:
            refresh_due_many(uow, ids[k : k + 500], schedule=schedule, as_of=TODAY)
            uow.commit()
    yield record(
        "refresh_due_rate", "summaries_per_s", len(ids) / (time.perf_counter() - t), "1/s",
        n=len(ids), backend="postgresql",
    )  # fmt: skip


def _bulk_cost(backend: Backend, pool: list[Any], schedule: Any, n: int) -> dict[str, Any]:
    # The same children loaded twice under other ids, without and with a schedule.
    took = {}
    for label, prefix, sched in (("without", "x", None), ("with", "y", schedule)):
        records = []
        for j in range(n):
            subject, doses, _ = _person(pool, j)
            sid = prefix + subject.id
            own = [attrs.evolve(d, subject_id=sid, id=prefix + d.id) for d in doses]
            records.append((attrs.evolve(subject, id=sid), own))
        t = time.perf_counter()
        bulk_load(backend, records, load_id=label, as_of=TODAY, schedule=sched)
        took[label] = time.perf_counter() - t
    doses = sum(len(ds) for _, ds, _ in (pool[j % len(pool)] for j in range(n)))
    return record(
        "bulk_load_due_cost", "ratio", took["with"] / took["without"], "x", n=n, doses=doses,
        without_s=round(took["without"], 2), with_s=round(took["with"], 2),
        note="bulk_load with a schedule (summaries stored in each batch) over without",
    )  # fmt: skip


def _plan(backend: Backend, url: str, people: int) -> Iterator[dict[str, Any]]:
    reg = Registry(backend, clock=FixedClock(NOW))
    engine = sa.create_engine(url)
    for run_no in range(3):
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE outbox"))
        t = time.perf_counter()
        report = reg.plan_reminders("P")
        took = time.perf_counter() - t
        yield record(
            "plan_reminders_1m", "total_s", took, "s", target=PLAN_TARGET_S, n=people,
            run=run_no + 1, people_with_summaries_in_window=report.people,
            planned=report.planned, already_planned=report.already_planned,
        )  # fmt: skip
    t = time.perf_counter()
    again = reg.plan_reminders("P")
    yield record(
        "plan_reminders_rerun", "total_s", time.perf_counter() - t, "s", n=people,
        planned=again.planned, already_planned=again.already_planned,
        note="the same night again: every key is stored already, nothing is planned",
    )  # fmt: skip
    engine.dispose()


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """The due-list and reminder-planning benchmarks (``quick``: 20,000 people, same code)."""
    people = 20_000 if quick else 1_000_000
    schedule = load_schedule("vn-epi")
    pool = _pool(schedule)
    with postgres_schema() as url:
        backend = open_backend(url)
        with backend.unit_of_work() as uow:
            for u in _units(people // COMMUNE):
                uow.org_units.add(u)
            for p in PRODUCTS:
                uow.catalogue.add_product(p)
            uow.commit()
        took = _load(backend, people, pool)
        yield record(
            "duelist_setup_load", "people_per_s", people / took, "1/s", n=people,
            note="people, residences and due summaries through load_batch",
        )  # fmt: skip
        _vacuum(url)
        reg = Registry(backend, clock=FixedClock(NOW))
        yield from _due_list(backend, reg, schedule)
        if not os.environ.get("IMMREG_BENCH_DUE_LIST_ONLY"):
            yield from _plan(backend, url, people)
            yield _bulk_cost(backend, pool, schedule, 2_000 if quick else 20_000)
        backend.close()
