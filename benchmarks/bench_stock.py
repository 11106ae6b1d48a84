"""Stock ledger benchmarks on PostgreSQL: append throughput and a province's monthly report.

* ``append``: ledger events appended one per unit of work (as a point-of-care dose would),
  through the use case (with its validation reads) and through the repository alone,
  from one process, on a fresh schema; events per second, beside the rate of bare
  one-row INSERT + COMMIT transactions on the same server (the floor).
* ``monthly_report_province``: :func:`immreg.stock.reports.monthly_report` rolled up over a
  province of ``communes`` facilities holding one year of events (loaded by COPY), for one
  month; seconds, median of several runs (target: under one second).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from _util import drop_schema, median, postgres_url, record, scratch_schema
from immreg.backends import open_backend
from immreg.model import Lot, OrgLevel, OrgUnit, ParentLink, VaccineProduct
from immreg.stock import ledger
from immreg.stock.model import EventKind, StockEvent
from immreg.stock.reports import monthly_report

_START = dt.date(2025, 1, 1)
_PRODUCTS = ("PENTA", "BCG", "OPV", "MR")


def _world(communes: int) -> list[OrgUnit]:
    since = dt.date(2000, 1, 1)
    units = [OrgUnit("P", "Province", OrgLevel.PROVINCE, opened=since)]
    units += [
        OrgUnit(f"C{i:04d}", f"Commune {i}", OrgLevel.COMMUNE, (ParentLink("P", since),), since)
        for i in range(communes)
    ]
    return units


def _setup(url: str, communes: int) -> Any:
    backend = open_backend(url)
    with backend.unit_of_work() as uow:
        for u in _world(communes):
            uow.org_units.add(u)
        for p in _PRODUCTS:
            uow.catalogue.add_product(VaccineProduct(p, p, (p,), doses_per_vial=10))
            uow.lots.add(Lot(p, "L1", dt.date(2030, 1, 1)))
        uow.commit()
    return backend


def _bench_append(base: str, n: int) -> dict[str, Any]:
    url, schema = scratch_schema(base, "bench_stock")
    try:
        backend = _setup(url, 1)
        with backend.unit_of_work() as uow:
            ledger.receive(
                uow, event_id="r0", facility_id="C0000",
                lot=Lot("PENTA", "L1", dt.date(2030, 1, 1)), doses=2 * n + 10, date=_START,
                as_of=_START, by="b",
            )  # fmt: skip
            uow.commit()
        started = time.perf_counter()
        for i in range(n):
            with backend.unit_of_work() as uow:
                ledger.issue(
                    uow, event_id=f"e{i}", facility_id="C0000", product_code="PENTA",
                    lot_number="L1", doses=1, date=_START, as_of=_START, by="b",
                )  # fmt: skip
                uow.commit()
        elapsed = time.perf_counter() - started
        # The repository alone (no validation reads): look-up, balance change, insert.
        started = time.perf_counter()
        for i in range(n):
            with backend.unit_of_work() as uow:
                uow.stock.append(
                    StockEvent(f"x{i}", EventKind.ISSUE, "C0000", "PENTA", "L1", -1, _START)
                )
                uow.commit()
        bare = time.perf_counter() - started
        # Baseline in the same run: one bare INSERT and COMMIT per transaction, the floor
        # any transactional append pays on this server (its fsync at commit dominates).
        scratch = sa.Table("bench_scratch", sa.MetaData(), sa.Column("id", sa.Integer))
        scratch.create(backend.engine)
        started = time.perf_counter()
        for i in range(n):
            with backend.engine.begin() as conn:
                conn.execute(scratch.insert(), {"id": i})
        baseline = time.perf_counter() - started
        # The same one-row insert through a unit of work: the backend's own per-transaction
        # cost (pool checkout, isolation level, rollback on return), which the ledger pays too.
        started = time.perf_counter()
        for i in range(n):
            with backend.unit_of_work() as uow:
                uow.connection.execute(scratch.insert(), {"id": i})  # type: ignore[attr-defined]
                uow.commit()
        uow_baseline = time.perf_counter() - started
        backend.close()
        return record(
            "stock",
            "append_events_per_s",
            n / elapsed,
            "events/s",
            n=n,
            backend="postgresql",
            repository_append_per_s=round(n / bare, 1),
            baseline_insert_commit_per_s=round(n / baseline, 1),
            baseline_uow_insert_commit_per_s=round(n / uow_baseline, 1),
        )
    finally:
        drop_schema(base, schema)


def _bench_report(base: str, communes: int, per_day: int, runs: int) -> Iterator[dict[str, Any]]:
    url, schema = scratch_schema(base, "bench_stock")
    try:
        backend = _setup(url, communes)
        rows = io.StringIO()
        n = 0
        for c in range(communes):
            f = f"C{c:04d}"
            for p in _PRODUCTS:
                rows.write(f"{f}-{p}-r\treceipt\t{f}\t{p}\tL1\t100000\t{_START}\t\\N\tb\n")
                n += 1
            for day in range(365):
                d = _START + dt.timedelta(days=day)
                for k in range(per_day):
                    p = _PRODUCTS[k % len(_PRODUCTS)]
                    # One event in ten is wastage; COPY writes NULL as \N.
                    wasted = k % 10 == 9
                    kind, reason = ("wastage", "broken") if wasted else ("administered", r"\N")
                    rows.write(f"{f}-{day}-{k}\t{kind}\t{f}\t{p}\tL1\t-1\t{d}\t{reason}\tb\n")
                    n += 1
        engine = backend.engine
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cols = (
                "id, kind, facility_id, product_code, lot_number, quantity, date, reason,"
                " recorded_by"
            )
            with cur.copy(f"COPY stock_events ({cols}) FROM STDIN") as copy:
                copy.write(rows.getvalue())
            cur.execute("ANALYZE stock_events")
            raw.commit()
        finally:
            raw.close()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            with backend.unit_of_work() as uow:
                reports = monthly_report(uow, "P", month=dt.date(2025, 11, 1), rollup=True)
            times.append(time.perf_counter() - started)
        assert reports["PENTA"].administered > 0
        backend.close()
        yield record(
            "stock",
            "monthly_report_province_s",
            median(times),
            "s",
            target=1.0,
            n=n,
            communes=communes,
            events=n,
            backend="postgresql",
        )
    finally:
        drop_schema(base, schema)


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Benchmark records (see the module docstring)."""
    base = postgres_url()
    yield _bench_append(base, 200 if quick else 3000)
    if quick:
        yield from _bench_report(base, communes=20, per_day=4, runs=3)
    else:
        # A province of 150 communes, 10 events a day each: ~550,000 events in a year.
        yield from _bench_report(base, communes=150, per_day=10, runs=7)
