"""Benchmark: schedule engine throughput (evaluate + forecast) on the CDSi schedule.

Synthetic children aged 0-6 years follow the US routine schedule with realistic
imperfection: visits late by up to two months, some visits missed, some doses given as
combination vaccines. Each child is assessed as of a random date through the batch API
(:func:`immreg.schedule.batch.assess_many`) on one core. The record reports the median of
several timed rounds in subjects per second; each round uses new children and starts with
an empty engine memo, so the figure is a cold lower bound. Time is the process's CPU time
(the work is single-threaded), so other load on a shared machine does not distort it.

The CDSi data directory comes from ``IMMREG_CDSI_DIR`` (default ``<repo>/../shared/cdsi``);
without it the benchmark yields nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from immreg.schedule import Dose, Patient, load_schedule
from immreg.schedule.batch import assess_many

__all__ = ["run", "synthetic_children"]

# (vaccine choices, age in days of each dose) for the US routine childhood schedule.
_US_SCHEDULE: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...] = (
    (("08",), (0, 60, 180)),  # HepB
    (("20", "106"), (61, 122, 183, 457, 1461)),  # DTaP
    (("49",), (61, 122, 366)),  # Hib PRP-OMP
    (("10",), (61, 122, 183, 1461)),  # IPV
    (("133", "215", "216"), (61, 122, 183, 366)),  # PCV
    (("116",), (61, 122, 183)),  # Rotavirus
    (("03",), (366, 1461)),  # MMR
    (("21",), (366, 1461)),  # Varicella
    (("83",), (366, 548)),  # HepA
)


def synthetic_children(n: int, *, seed: int = 1) -> list[tuple[Patient, dt.date]]:
    """Generate ``n`` children aged 0-6 years with imperfect US-schedule histories.

    Args:
        n: How many children.
        seed: Random seed, so that runs are comparable.

    Returns:
        ``(patient, as_of)`` pairs.
    """
    rng = random.Random(seed)
    out: list[tuple[Patient, dt.date]] = []
    base = dt.date(2025, 11, 10)
    for i in range(n):
        age_days = rng.randrange(0, 6 * 365)
        birth = base - dt.timedelta(days=age_days)
        as_of = base
        doses: list[Dose] = []
        delay = 0
        for vaccines, ages in _US_SCHEDULE:
            vaccine = rng.choice(vaccines)
            for k, age in enumerate(ages):
                delay += rng.choice((0, 0, 0, 3, 7, 14, 30, 60))
                if rng.random() < 0.08:
                    continue  # a missed visit
                when = birth + dt.timedelta(days=age + delay)
                if when > as_of:
                    break
                doses.append(Dose(f"{i}-{vaccine}-{k}", when, vaccine))
        out.append((Patient(birth, rng.choice(("F", "M")), tuple(doses)), as_of))
    return out


def _cdsi_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "cdsi"
    return Path(os.environ.get("IMMREG_CDSI_DIR", default))


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Yield the benchmark record (see ``benchmarks/run.py``).

    Args:
        quick: Fewer subjects and rounds, for a smoke run.
    """
    data = _cdsi_dir() / "supporting-data-4.64"
    if not data.is_dir():
        return
    schedule = load_schedule(f"cdsi:{data}")
    n = 300 if quick else 2000
    rounds = 3 if quick else 5
    for _ in assess_many(schedule, synthetic_children(50, seed=0)):  # import, index
        pass
    rates = []
    for r in range(rounds):
        # Fresh children every round and an emptied engine memo: the figure is a cold,
        # conservative one (a national batch, where thousands of children share a birth
        # date, reuses far more of the memo).
        children = synthetic_children(n, seed=r + 1)
        schedule.index().memo.clear()
        start = time.process_time()
        for _ in assess_many(schedule, children):
            pass
        rates.append(n / (time.process_time() - start))
    yield {
        "name": "schedule.cdsi_evaluate_forecast",
        "metric": "subjects_per_s",
        "value": round(statistics.median(rates), 1),
        "unit": "subjects/s",
        "target": None,
        "n": n,
    }


if __name__ == "__main__":
    for record in run(quick=True):
        print(record)
