"""Bulk load rate: subjects with their historical doses through ``Backend.load_batch``.

Measured in one run, batch by batch, so that the rates share the machine's state:

* PostgreSQL ``load_batch`` (psycopg binary COPY into ``subjects``, ``residences``,
  ``caregivers`` and ``doses`` with their keys and indexes, plus the batch mark), one
  transaction per batch;
* the baseline: a raw psycopg binary COPY of the same dose rows into a plain table without
  keys or indexes, one transaction per batch (the ratio is to this, the fastest COPY), and
  for reference the same in COPY's text format, and the same binary COPY into a table with
  the ``doses`` table's primary key and index (what the two indexes cost, before subjects);
* SQLite file ``load_batch`` (Core executemany).

Building the domain objects is not timed (it is the caller's cost); turning them into rows
is (it is ours). Rates are doses per second; each subject has about ten doses.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _util import record
from bench_record import postgres_schema
from immreg.backends import open_backend
from immreg.backends.sqlalchemy import SqlAlchemyBackend
from immreg.backends.sqlalchemy.bulk import copy_rows
from immreg.backends.sqlalchemy.mapping import dose_tuple
from immreg.backends.sqlalchemy.tables import doses as doses_table
from immreg.model import AdministeredDose, Caregiver, DoseSource, Residence, Sex, Subject
from immreg.ports import BulkBatch

NAME = "bulk"
DOSES_PER_SUBJECT = 10
SUBJECTS_PER_BATCH = 2_000
RATE_TARGET = 100_000
RATIO_TARGET = 1 / 3
PRODUCTS = ("BCG", "HEPB", "PENTA", "OPV", "IPV", "MR", "JE", "DTP", "MEASLES", "PCV")

RAW_TABLE = """
CREATE TABLE {name} (
    id varchar(64), subject_id varchar(64), product_code varchar(64), date date,
    facility_id varchar(64), lot_number varchar(20), source varchar(20),
    recorded_by varchar(100), version int, voided boolean, void_reason varchar(100)
)
"""


def make_batch(load_id: str, n: int, subjects: int) -> BulkBatch:
    """Batch ``n``: ``subjects`` children born in 2023 with ten doses each."""
    subs: list[Subject] = []
    doses: list[AdministeredDose] = []
    for i in range(subjects):
        k = n * subjects + i
        birth = dt.date(2023, 1, 1) + dt.timedelta(days=k % 365)
        s = Subject(
            id=f"S{k:09d}",
            family_name="Nguyễn",
            given_name=f"Văn {k % 997}",
            birth_date=birth,
            sex=Sex.MALE if k % 2 else Sex.FEMALE,
            caregivers=[Caregiver("Trần Thị Mai", phone="+84912345678")],
            residences=[Residence(f"C{k % 11000:05d}", birth)],
        )
        subs.append(s)
        for j in range(DOSES_PER_SUBJECT):
            doses.append(
                AdministeredDose(
                    id=f"D{k:09d}-{j}",
                    subject_id=s.id,
                    product_code=PRODUCTS[j],
                    date=birth + dt.timedelta(days=30 * j + 1),
                    facility_id=f"C{k % 11000:05d}",
                    lot_number=f"L{j}{k % 50:03d}",
                    source=DoseSource.HISTORICAL_CARD,
                    recorded_by="import",
                )
            )
    return BulkBatch(load_id=load_id, batch_no=n, subjects=subs, doses=doses)


def _raw_copy(
    backend: SqlAlchemyBackend, rows: list[tuple[Any, ...]], *, table: str, binary: bool = True
) -> float:
    with backend.engine.connect() as conn:
        driver = conn.connection.driver_connection
        started = time.perf_counter()
        with conn.begin():
            copy_rows(driver, "doses", doses_table.c.keys(), rows, into=table, binary=binary)
        return time.perf_counter() - started


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Doses per second for PostgreSQL load_batch, raw COPY and SQLite load_batch."""
    total = 20_000 if quick else 1_000_000
    per_batch = 200 if quick else SUBJECTS_PER_BATCH
    batches = total // (per_batch * DOSES_PER_SUBJECT)
    spent = dict.fromkeys(
        ["postgresql", "raw_copy", "raw_copy_text", "indexed_copy", "sqlite"], 0.0
    )
    with postgres_schema() as pg_url, tempfile.TemporaryDirectory() as tmp:
        pg = open_backend(pg_url)
        lite = open_backend(f"sqlite:///{Path(tmp) / 'bulk.db'}")
        assert isinstance(pg, SqlAlchemyBackend)
        assert isinstance(lite, SqlAlchemyBackend)
        with pg.engine.begin() as conn:
            conn.exec_driver_sql(RAW_TABLE.format(name="raw_doses"))
            conn.exec_driver_sql(RAW_TABLE.format(name="raw_doses_text"))
            conn.exec_driver_sql("CREATE TABLE indexed_doses (LIKE doses INCLUDING INDEXES)")
        try:
            for n in range(batches):
                batch = make_batch("bench", n, per_batch)
                started = time.perf_counter()
                assert pg.load_batch(batch)
                spent["postgresql"] += time.perf_counter() - started
                rows = [dose_tuple(d) for d in batch.doses]
                spent["raw_copy"] += _raw_copy(pg, rows, table="raw_doses")
                spent["raw_copy_text"] += _raw_copy(pg, rows, table="raw_doses_text", binary=False)
                spent["indexed_copy"] += _raw_copy(pg, rows, table="indexed_doses")
                started = time.perf_counter()
                assert lite.load_batch(batch)
                spent["sqlite"] += time.perf_counter() - started
            with pg.unit_of_work() as uow:
                assert uow.doses.count() == total
        finally:
            pg.close()
            lite.close()
    rates = {k: total / v for k, v in spent.items()}
    extra = {"batches": batches, "doses_per_batch": per_batch * DOSES_PER_SUBJECT}
    yield record(NAME, "postgresql_load_batch", rates["postgresql"], "doses/s",
                 target=f">= {RATE_TARGET}", n=total, seconds=round(spent["postgresql"], 2),
                 **extra)  # fmt: skip
    yield record(NAME, "postgresql_raw_copy_baseline", rates["raw_copy"], "doses/s", n=total,
                 seconds=round(spent["raw_copy"], 2), **extra)  # fmt: skip
    yield record(NAME, "postgresql_copy_into_indexed_doses", rates["indexed_copy"], "doses/s",
                 n=total, seconds=round(spent["indexed_copy"], 2), **extra)  # fmt: skip
    yield record(NAME, "postgresql_raw_copy_text_baseline", rates["raw_copy_text"], "doses/s",
                 n=total, seconds=round(spent["raw_copy_text"], 2), **extra)  # fmt: skip
    yield record(NAME, "postgresql_ratio_to_raw_copy", rates["postgresql"] / rates["raw_copy"],
                 "ratio", target=f">= {RATIO_TARGET:.3f}", n=total)  # fmt: skip
    yield record(NAME, "postgresql_ratio_to_raw_copy_text",
                 rates["postgresql"] / rates["raw_copy_text"], "ratio", n=total)  # fmt: skip
    yield record(NAME, "sqlite_file_load_batch", rates["sqlite"], "doses/s", n=total,
                 seconds=round(spent["sqlite"], 2), **extra)  # fmt: skip
