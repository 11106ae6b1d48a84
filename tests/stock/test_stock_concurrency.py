"""Eight processes record doses from one lot at one facility on PostgreSQL at once.

Each process records doses (fresh ids) through :class:`immreg.services.Registry`, retrying
a dose whose unit of work lost a race (:class:`~immreg.errors.ConflictError`: safe, since
the dose id makes the retry idempotent) and stopping at the first
:class:`~immreg.errors.StockError` (the lot ran out). The run lasts
``IMMREG_STOCK_RACE_SECONDS`` (30 by default, the acceptance figure; CI may lower it).
At the end: the balance is exactly the stock received minus the doses each process saw
recorded, it never went negative, and every recorded dose has exactly one ledger event.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time

import pytest

from immreg.backends import open_backend
from immreg.errors import ConflictError, StockError
from immreg.services import FixedClock, Registry
from immreg.stock import ledger
from immreg.stock.model import EventKind
from immreg.testing.conformance import AS_OF, NOW, SEED, dose, subject

PROCESSES = 8
SECONDS = float(os.environ.get("IMMREG_STOCK_RACE_SECONDS", "30"))
STOCK = 4000


def _worker(url: str, n: int, seconds: float, out: multiprocessing.Queue[tuple[int, int]]) -> None:
    backend = open_backend(url, create_schema=False)
    reg = Registry(backend, clock=FixedClock(NOW), user=f"w{n}")
    recorded = retries = 0
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        d = dose(f"w{n}-{i}", f"s{n}", product="PENTA", lot="L001")
        try:
            reg.record_dose(d)
        except ConflictError:
            retries += 1
            continue  # same dose again: idempotent
        except StockError:
            break
        recorded += 1
        i += 1
    backend.close()
    out.put((recorded, retries))


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_processes_record_doses_from_one_lot(postgres_url: str) -> None:
    backend = open_backend(postgres_url)
    SEED.store(backend)
    with backend.unit_of_work() as uow:
        for n in range(PROCESSES):
            uow.subjects.add(subject(f"s{n}"))
        ledger.receive(
            uow, event_id="rcv", facility_id="HN-BD-S1", lot=SEED.lots[0], doses=STOCK,
            date=dt.date(2024, 3, 1), as_of=AS_OF, by="kho",
        )  # fmt: skip
        uow.commit()
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[tuple[int, int]] = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(postgres_url, n, SECONDS, out)) for n in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=SECONDS + 120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    recorded = sum(r for r, _ in results)
    retries = sum(n for _, n in results)
    # Shown with pytest -s: the figures quoted in docs/stock.md.
    print(f"\n{PROCESSES} processes, {SECONDS:g} s: {recorded} doses, {retries} retries")
    assert recorded > 0
    with backend.unit_of_work() as uow:
        balance = uow.stock.balance("HN-BD-S1", "PENTA", "L001")
        given = uow.stock.events(kind=EventKind.ADMINISTERED)
        assert balance == STOCK - recorded >= 0
        assert len(given) == recorded == len({e.dose_id for e in given})
        assert uow.doses.count() == recorded
        running = 0
        for e in uow.stock.events(facility_id="HN-BD-S1"):
            running += e.quantity
            assert running >= 0
    backend.close()
