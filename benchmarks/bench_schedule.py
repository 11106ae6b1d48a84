"""Benchmark: schedule engine throughput (evaluate + forecast) through the batch API.

Two schedules: the Vietnamese EPI pack (``vn-epi-2026``; the stand-in
``tests/schedule/data/vn-epi-like.json`` while no pack is bundled; the record's name says
which) and the full CDC CDSi schedule. Synthetic children aged 0-6 years follow the
schedule with realistic imperfection: visits late by up to two months, delays that
accumulate, missed visits and doses, some caught up later, some combination vaccines.
Each child is assessed on one core through :func:`immreg.schedule.batch.assess_many`
(evaluations, forecasts, series outcomes) and :func:`~immreg.schedule.batch.forecast_many`
(the lean due-list mode). Each record reports the median of several timed rounds in
subjects per second; each round uses new children and starts with the engine's caches
emptied, so the figure is a cold lower bound. The ``.warm`` records of the Vietnamese
pack time the same rounds after 20,000 other children, with the caches kept (age tables
per birth date, shifted dates, forecasts of antigens without doses per birth date and
assessment date): the steady state of a national run, where every birth date recurs
thousands of times; no result of one child is reused for another child's doses. Time is
the process's CPU time (the work is single-threaded). Each record's ``build`` says how the
engine's fast path was installed: ``"mypyc"`` (compiled, the default) or ``"pure"``
(``IMMREG_PURE_PYTHON=1`` at install time; see :func:`immreg.schedule.engine_build`).

Run: ``python benchmarks/run.py schedule``. The CDSi data directory comes from
``IMMREG_CDSI_DIR`` (default ``<repo>/../shared/cdsi``); without it only the Vietnamese
records are produced.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _util import median, record
from immreg.errors import NotFoundError
from immreg.schedule import Dose, Patient, Schedule, engine_build, load_schedule
from immreg.schedule.batch import assess_many, clear_caches, forecast_many

__all__ = ["run", "synthetic_children", "vn_children"]

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


# The Vietnamese EPI visits (age in days, roles): birth (HepB birth dose, BCG), 2, 3, 4 months
# (pentavalent DPT-VGB-Hib, bOPV, rotavirus, PCV), 5 and 9 months (IPV; measles at 9),
# 12 months and two weeks later (JE), 18 months (MR, DTP booster), 24 months (JE 3).
_VN_VISITS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ("hepb_birth", "bcg")),
    (60, ("penta", "opv", "rota", "pcv")),
    (90, ("penta", "opv", "rota", "pcv")),
    (120, ("penta", "opv", "pcv")),
    (150, ("ipv",)),
    (270, ("ipv", "measles")),
    (365, ("je",)),
    (379, ("je",)),
    (548, ("mr", "dtp")),
    (730, ("je",)),
)
# Product codes per role: the bundled pack's, and the stand-in's.
_VN_CODES: dict[str, dict[str, tuple[str, ...]]] = {
    "vn-epi-2026": {
        "hepb_birth": ("HEPB-BD",),
        "bcg": ("BCG",),
        "penta": ("PENTA-COMBE5", "PENTA-QUINVAXEM"),
        "opv": ("BOPV",),
        "rota": ("ROTA-ROTAVIN",),
        "pcv": ("PCV10", "PCV13"),
        "ipv": ("IPV",),
        "measles": ("MEASLES-MVVAC",),
        "je": ("JE-JEVAX",),
        "mr": ("MR-MRVAC",),
        "dtp": ("DTP",),
    },
    "vn-epi-like": {
        "hepb_birth": ("VGB",),
        "bcg": ("BCG",),
        "penta": ("DPT-VGB-Hib",),
        "opv": ("bOPV",),
        "rota": ("ROTA",),
        "pcv": ("PCV",),
        "ipv": ("IPV",),
        "measles": ("MEASLES",),
        "je": ("JE",),
        "mr": ("MR",),
        "dtp": ("DPT",),
    },
}


def vn_children(
    n: int, *, seed: int = 1, codes: str = "vn-epi-2026", ages: tuple[int, int] = (0, 6 * 365)
) -> list[tuple[Patient, dt.date]]:
    """Generate ``n`` children aged 0-6 years with imperfect Vietnamese EPI histories.

    Visits slip by 0-60 days (delays accumulate), 6% of visits are missed and 4% of
    doses are left out; a missed dose is caught up at the next visit with probability
    0.6. The birth doses come on day 0-2.

    Args:
        n: How many children.
        seed: Random seed, so that runs are comparable.
        codes: Whose product codes to use: ``"vn-epi-2026"`` or ``"vn-epi-like"``.
        ages: The range of ages in days on the assessment date (by default 0-6 years);
            ``(a, a + 1)`` makes children all born the same day.

    Returns:
        ``(patient, as_of)`` pairs.
    """
    table = _VN_CODES[codes]
    rng = random.Random(seed)
    out: list[tuple[Patient, dt.date]] = []
    as_of = dt.date(2026, 11, 10)
    for i in range(n):
        birth = as_of - dt.timedelta(days=rng.randrange(*ages))
        products = {role: rng.choice(choices) for role, choices in table.items()}
        doses: list[Dose] = []
        delay = 0
        owed: list[str] = []
        for age, roles in _VN_VISITS:
            if age == 0:
                when = birth + dt.timedelta(days=rng.choice((0, 0, 1, 2)))
            else:
                delay += rng.choice((0, 0, 0, 0, 3, 7, 14, 30, 60))
                when = birth + dt.timedelta(days=age + delay)
            if when > as_of:
                break
            if rng.random() < 0.06:
                owed.extend(roles)  # a missed visit
                continue
            todo = [*roles, *(r for r in owed if rng.random() < 0.6)]
            owed = []
            for role in todo:
                if rng.random() < 0.04:
                    owed.append(role)
                    continue
                doses.append(Dose(f"{i}-{len(doses)}", when, products[role]))
        out.append((Patient(birth, rng.choice(("F", "M")), tuple(doses)), as_of))
    return out


def _cdsi_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "cdsi"
    return Path(os.environ.get("IMMREG_CDSI_DIR", default))


def _vn_schedule() -> tuple[str, Schedule]:
    # The bundled pack once it exists, else the stand-in written from the same facts.
    try:
        return "vn-epi-2026", load_schedule("vn-epi-2026")
    except NotFoundError:
        path = Path(__file__).resolve().parents[1] / "tests/schedule/data/vn-epi-like.json"
        return "vn-epi-like", load_schedule(str(path))


def _rates(
    schedule: Schedule,
    children: Callable[[int, int], list[tuple[Patient, dt.date]]],
    batch: Callable[[Schedule, list[tuple[Patient, dt.date]]], Iterator[object]],
    n: int,
    rounds: int,
    *,
    warm: bool = False,
) -> list[float]:
    for _ in batch(schedule, children(50, 0)):  # imports, index, compiled plans
        pass
    if warm:
        # A stretch of a long run before the timed rounds (other children, other seeds).
        clear_caches(schedule)
        for _ in batch(schedule, children(4 * n, 1000)):
            pass
    rates = []
    for r in range(rounds):
        # Fresh children every round. Cold: the engine's memos and age tables emptied
        # first, a conservative figure. Warm: kept from the children before, as in a
        # national run, where thousands of children share each birth date.
        items = children(n, r + 1)
        if not warm:
            clear_caches(schedule)
        start = time.process_time()
        for _ in batch(schedule, items):
            pass
        rates.append(n / (time.process_time() - start))
    return rates


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Yield the benchmark records (see ``benchmarks/run.py``).

    One record per schedule and batch API: ``assess_many`` (evaluations, forecasts and
    series outcomes) and ``forecast_many`` (the lean due-list mode: every dose evaluated,
    no per-dose explanation built), in subjects per CPU second on one core. For the
    Vietnamese pack, a second record per API (``.warm``) keeps the engine's caches from
    the children assessed before, as a long national run does.

    Args:
        quick: Fewer subjects and rounds, for a smoke run.
    """
    rounds = 3 if quick else 7
    build = engine_build()  # "mypyc" or "pure": how the fast path was installed
    name, vn = _vn_schedule()
    n = 500 if quick else 5000
    for api, batch in (("assess_many", assess_many), ("forecast_many", forecast_many)):
        for warm in (False, True):
            rates = _rates(
                vn, lambda k, s: vn_children(k, seed=s, codes=name), batch, n, rounds, warm=warm
            )
            yield record(
                f"schedule.{name}.{api}" + (".warm" if warm else ""),
                "subjects_per_s",
                median(rates),
                "subjects/s",
                target=20_000,
                n=n,
                rounds=rounds,
                best=round(max(rates), 1),
                time="cpu",
                build=build,
                caches="warm" if warm else "cold",
            )
    if name == "vn-epi-2026":
        # The composed pack (each circular in force on its dates; effective-dated rules),
        # lean mode only: informational.
        composed = load_schedule("vn-epi")
        rates = _rates(composed, lambda k, s: vn_children(k, seed=s), forecast_many, n, rounds)
        yield record(
            "schedule.vn-epi.forecast_many",
            "subjects_per_s",
            median(rates),
            "subjects/s",
            target=None,
            n=n,
            rounds=rounds,
            best=round(max(rates), 1),
            time="cpu",
            build=build,
        )
    data = _cdsi_dir() / "supporting-data-4.64"
    if not data.is_dir():
        return
    cdsi = load_schedule(f"cdsi:{data}")
    n = 300 if quick else 2000
    for api, batch in (("assess_many", assess_many), ("forecast_many", forecast_many)):
        rates = _rates(cdsi, lambda k, s: synthetic_children(k, seed=s), batch, n, rounds)
        yield record(
            f"schedule.cdsi.{api}",
            "subjects_per_s",
            median(rates),
            "subjects/s",
            target=None,
            n=n,
            rounds=rounds,
            best=round(max(rates), 1),
            time="cpu",
            build=build,
        )


if __name__ == "__main__":
    for item in run(quick=True):
        print(item)
