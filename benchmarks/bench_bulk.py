"""Bulk load rate: people with their historical doses through ``services.bulk_load``.

Measured in one run, batch by batch, so that the rates share the machine's state:

* PostgreSQL ``bulk_load``: the public path, validation of every record included, one
  transaction per batch (psycopg binary COPY into ``doses``, ``subjects`` and
  ``residences`` with their keys and indexes, plus the batch mark); beside it the time
  spent in ``Backend.load_batch`` alone;
* the baseline the acceptance ratio is to: a raw psycopg binary COPY of the same dose rows,
  one transaction per batch, into a table of the same definition as the ``doses`` table
  (``CREATE TABLE scratch.doses (LIKE doses INCLUDING ALL)``: same columns, types,
  collations, constraints and indexes) in a scratch schema, so that it grows to the same
  size over the run and maintains the same indexes;
* for reference, the same COPY into a table with the same columns and no index
  (``LIKE doses``), the fastest COPY there is and what no registry table can be;
* SQLite file ``bulk_load`` (Core executemany), in a second pass.

Building the domain objects is not timed (it is the caller's cost); validating them and
turning them into rows is (it is ours). The baselines get their rows ready-made, outside
the timer. Rates are doses per second; each person has ten doses and one residence.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _util import record
from bench_record import postgres_schema
from immreg.backends import open_backend
from immreg.backends.sqlalchemy import SqlAlchemyBackend
from immreg.backends.sqlalchemy.bulk import copy_rows
from immreg.backends.sqlalchemy.mapping import dose_tuple
from immreg.backends.sqlalchemy.tables import doses as doses_table
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
    VaccineProduct,
)
from immreg.ports import Backend, BulkBatch
from immreg.services import bulk_load

NAME = "bulk"
DOSES_PER_SUBJECT = 10
SUBJECTS_PER_BATCH = 2_000
COMMUNES = 11_000
RATE_TARGET = 100_000
RATIO_TARGET = 1 / 3
PRODUCTS = ("BCG", "HEPB", "PENTA", "OPV", "IPV", "MR", "JE", "DTP", "MEASLES", "PCV")
AS_OF = dt.date(2026, 1, 1)


def make_batch(load_id: str, n: int, subjects: int) -> BulkBatch:
    """Batch ``n``: ``subjects`` children born in 2023 with ten doses each."""
    subs: list[Subject] = []
    doses: list[AdministeredDose] = []
    for i in range(subjects):
        k = n * subjects + i
        birth = dt.date(2023, 1, 1) + dt.timedelta(days=k % 365)
        commune = f"C{k % COMMUNES:05d}"
        s = Subject(
            id=f"S{k:09d}",
            family_name="Nguyễn",
            given_name=f"Văn {k % 997}",
            birth_date=birth,
            sex=Sex.MALE if k % 2 else Sex.FEMALE,
            caregivers=[Caregiver("Trần Thị Mai", phone="+84912345678")],
            residences=[Residence(commune, birth)],
        )
        subs.append(s)
        for j in range(DOSES_PER_SUBJECT):
            doses.append(
                AdministeredDose(
                    id=f"D{k:09d}-{j}",
                    subject_id=s.id,
                    product_code=PRODUCTS[j],
                    date=birth + dt.timedelta(days=30 * j + 1),
                    facility_id=commune,
                    lot_number=f"L{j}{k % 50:03d}",
                    source=DoseSource.HISTORICAL_CARD,
                    recorded_by="import",
                )
            )
    return BulkBatch(load_id=load_id, batch_no=n, subjects=subs, doses=doses)


def _reference_data(backend: Backend) -> None:
    # What bulk_load validates against: the products and a country's communes.
    start = dt.date(2000, 1, 1)
    with backend.unit_of_work() as uow:
        uow.org_units.add(OrgUnit(id="VN", name="Việt Nam", level=OrgLevel.NATION))
        for c in range(COMMUNES):
            uow.org_units.add(
                OrgUnit(
                    id=f"C{c:05d}",
                    name=f"Xã {c}",
                    level=OrgLevel.COMMUNE,
                    parents=[ParentLink("VN", start)],
                )
            )
        for code in PRODUCTS:
            uow.catalogue.add_product(VaccineProduct(code=code, name=code, antigens=(code,)))
        uow.commit()


class _TimedBackend:
    """A backend whose ``load_batch`` calls are timed; everything else passes through."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def load_batch(self, batch: BulkBatch) -> bool:
        started = time.perf_counter()
        try:
            return self.backend.load_batch(batch)
        finally:
            self.seconds += time.perf_counter() - started


def _timed_load(
    backend: Backend, batches: int, per_batch: int, after_batch: Callable[[BulkBatch], None]
) -> tuple[float, float]:
    """Run ``bulk_load`` over the synthetic batches; return the seconds spent in it and in
    ``load_batch``, without the time spent making the records and in ``after_batch``."""
    timed = _TimedBackend(backend)
    excluded = 0.0

    def records() -> Iterator[tuple[Subject, Sequence[AdministeredDose]]]:
        nonlocal excluded
        previous: BulkBatch | None = None
        for n in range(batches + 1):
            # bulk_load asks for this record only after it stored the previous batch.
            started = time.perf_counter()
            if previous is not None:
                after_batch(previous)
            if n == batches:
                excluded += time.perf_counter() - started
                return
            previous = make_batch("bench", n, per_batch)
            own: dict[str, list[AdministeredDose]] = {s.id: [] for s in previous.subjects}
            for d in previous.doses:
                own[d.subject_id].append(d)
            chunk = [(s, own[s.id]) for s in previous.subjects]
            excluded += time.perf_counter() - started
            yield from chunk

    started = time.perf_counter()
    report = bulk_load(
        timed,  # type: ignore[arg-type]
        records(),
        load_id="bench",
        as_of=AS_OF,
        batch_size=per_batch * (DOSES_PER_SUBJECT + 1),
    )
    wall = time.perf_counter() - started - excluded
    assert report.batches_loaded == batches, report
    assert report.doses == batches * per_batch * DOSES_PER_SUBJECT, report
    return wall, timed.seconds


@contextmanager
def _baseline_tables(backend: SqlAlchemyBackend) -> Iterator[dict[str, str]]:
    """The baselines' tables in a scratch schema beside the backend's: one of the same
    definition as ``doses``, one of the same columns without indexes."""
    with backend.engine.begin() as conn:
        own = conn.exec_driver_sql("SELECT current_schema()").scalar()
        scratch = f"{own}_copy"
        tables = {"same_schema": f'"{scratch}"."doses"', "unindexed": f'"{scratch}"."plain"'}
        conn.exec_driver_sql(f'CREATE SCHEMA "{scratch}"')
        conn.exec_driver_sql(
            f'CREATE TABLE {tables["same_schema"]} (LIKE "{own}"."doses" INCLUDING ALL)'
        )
        conn.exec_driver_sql(f'CREATE TABLE {tables["unindexed"]} (LIKE "{own}"."doses")')
    try:
        yield tables
    finally:
        with backend.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{scratch}" CASCADE')


def _raw_copy(backend: SqlAlchemyBackend, rows: list[tuple[Any, ...]], into: str) -> float:
    # The baseline: one transaction per batch, default settings, rows ready-made.
    with backend.engine.connect() as conn:
        driver = conn.connection.driver_connection
        started = time.perf_counter()
        with conn.begin():
            copy_rows(driver, "doses", doses_table.c.keys(), rows, into=into)
        return time.perf_counter() - started


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Doses per second for PostgreSQL bulk_load beside raw COPY, and SQLite bulk_load."""
    total = 20_000 if quick else 1_000_000
    per_batch = 200 if quick else SUBJECTS_PER_BATCH
    batches = total // (per_batch * DOSES_PER_SUBJECT)
    copy_seconds = {"same_schema": 0.0, "unindexed": 0.0}
    load_before = os.getloadavg()[0]
    with postgres_schema() as pg_url:
        pg = open_backend(pg_url)
        assert isinstance(pg, SqlAlchemyBackend)
        _reference_data(pg)
        try:
            with _baseline_tables(pg) as tables:

                def baselines(batch: BulkBatch) -> None:
                    rows = [dose_tuple(d) for d in batch.doses]
                    for kind, table in tables.items():
                        copy_seconds[kind] += _raw_copy(pg, rows, table)

                pg_wall, pg_load_batch = _timed_load(pg, batches, per_batch, baselines)
            with pg.unit_of_work() as uow:
                assert uow.doses.count() == total
        finally:
            pg.close()
    load_after = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        lite = open_backend(f"sqlite:///{Path(tmp) / 'bulk.db'}")
        _reference_data(lite)
        lite_wall, _ = _timed_load(lite, batches, per_batch, lambda batch: None)
        lite.close()
    rate = total / pg_wall
    copy_rates = {k: total / v for k, v in copy_seconds.items()}
    extra = {"batches": batches, "doses_per_batch": per_batch * DOSES_PER_SUBJECT}
    yield record(NAME, "postgresql_bulk_load", rate, "doses/s", target=f">= {RATE_TARGET}",
                 n=total, seconds=round(pg_wall, 2),
                 load_average=[round(load_before, 2), round(load_after, 2)],
                 **extra)  # fmt: skip
    yield record(NAME, "postgresql_load_batch", total / pg_load_batch, "doses/s", n=total,
                 seconds=round(pg_load_batch, 2), **extra)  # fmt: skip
    yield record(NAME, "postgresql_copy_same_schema", copy_rates["same_schema"], "doses/s",
                 n=total, seconds=round(copy_seconds["same_schema"], 2),
                 table="LIKE doses INCLUDING ALL", **extra)  # fmt: skip
    yield record(NAME, "postgresql_copy_unindexed", copy_rates["unindexed"], "doses/s",
                 n=total, seconds=round(copy_seconds["unindexed"], 2),
                 table="LIKE doses (no index)", **extra)  # fmt: skip
    yield record(NAME, "postgresql_ratio_to_copy_same_schema", rate / copy_rates["same_schema"],
                 "ratio", target=f">= {RATIO_TARGET:.3f}", n=total)  # fmt: skip
    yield record(NAME, "postgresql_ratio_to_copy_unindexed", rate / copy_rates["unindexed"],
                 "ratio", n=total)  # fmt: skip
    yield record(NAME, "sqlite_file_bulk_load", total / lite_wall, "doses/s", n=total,
                 seconds=round(lite_wall, 2), **extra)  # fmt: skip
