"""Latency of recording one dose through the service layer, one unit of work per dose.

Each sample is ``Registry.record_dose`` on a fresh dose: look-ups of the dose id, the
subject, the product, the facility and the lot, the insert, the audit entry and the commit,
measured on an SQLite file and on PostgreSQL (a fresh schema, dropped afterwards).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _util import drop_schema, median, percentile, postgres_url, record, scratch_schema
from immreg.backends import open_backend
from immreg.model import (
    AdministeredDose,
    Caregiver,
    Lot,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
)
from immreg.ports import Backend
from immreg.services import FixedClock, Registry

NAME = "record"
SUBJECTS = 500
P99_TARGET_MS = 20.0
NOW = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = postgres_url()
    url, schema = scratch_schema(base, "bench")
    try:
        yield url
    finally:
        drop_schema(base, schema)


def _setup(backend: Backend) -> None:
    start = dt.date(2000, 1, 1)
    with backend.unit_of_work() as uow:
        uow.org_units.add(OrgUnit(id="VN", name="Việt Nam", level=OrgLevel.NATION))
        link = ParentLink("VN", start)
        uow.org_units.add(OrgUnit(id="C1", name="Xã 1", level=OrgLevel.COMMUNE, parents=[link]))
        uow.catalogue.add_product(
            VaccineProduct(code="PENTA", name="DPT-VGB-Hib", antigens=("Diphtheria", "Tetanus"))
        )
        uow.lots.add(Lot(product_code="PENTA", lot_number="L1", expiry=dt.date(2030, 1, 1)))
        for i in range(SUBJECTS):
            uow.subjects.add(
                Subject(
                    id=f"S{i:06d}",
                    family_name="Nguyễn",
                    given_name="Văn An",
                    birth_date=dt.date(2024, 1, 1),
                    sex=Sex.MALE,
                    caregivers=[Caregiver("Trần Thị Mai", phone="+84912345678")],
                    residences=[Residence("C1", dt.date(2024, 1, 1))],
                )
            )
        uow.commit()


def _measure(url: str, samples: int) -> list[float]:
    backend = open_backend(url)
    try:
        _setup(backend)
        registry = Registry(backend, clock=FixedClock(NOW), user="bench")
        times: list[float] = []
        for i in range(samples + 20):
            dose = AdministeredDose(
                id=f"D{i:07d}",
                subject_id=f"S{i % SUBJECTS:06d}",
                product_code="PENTA",
                date=dt.date(2024, 3, 1) + dt.timedelta(days=i % 300),
                facility_id="C1",
                lot_number="L1",
                recorded_by="bench",
            )
            started = time.perf_counter()
            registry.record_dose(dose)
            elapsed = time.perf_counter() - started
            if i >= 20:  # the first few warm the pool and the statement caches
                times.append(elapsed * 1000)
        return times
    finally:
        backend.close()


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Median and p99 latency of ``record_dose`` on an SQLite file and on PostgreSQL."""
    samples = 200 if quick else 5000
    with tempfile.TemporaryDirectory() as tmp:
        times = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}", samples)
    yield record(NAME, "sqlite_file_median", median(times), "ms", n=len(times))
    yield record(NAME, "sqlite_file_p99", percentile(times, 99), "ms", n=len(times))
    with postgres_schema() as url:
        times = _measure(url, samples)
    yield record(NAME, "postgresql_median", median(times), "ms", n=len(times))
    yield record(
        NAME, "postgresql_p99", percentile(times, 99), "ms", target=f"< {P99_TARGET_MS}",
        n=len(times),
    )  # fmt: skip
