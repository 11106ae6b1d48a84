"""Benchmark: a national birth cohort through ``vn-epi``, checked against the engine.

``cohort_seconds`` is the wall time to simulate 1,700,000 children (Viet Nam's births in
a year, the issue's figure) through the ``vn-epi`` pack under the Vietnam-like behaviour
model and compute the coverage-by-age and summary tables (target: under 60 s), the median
of three runs with different seeds. ``engine_max_difference_pp`` runs a 10,000-child
sample of the cohort through the exact engine (:func:`immreg.schedule.batch.assess_many`)
and reports the largest difference in coverage at any age, for any antigen or vaccine
group dose, in percentage points (target: at most 0.1); ``engine_mismatched_children`` the
children whose valid doses differ anywhere.

``--quick`` runs 50,000 children and a 500-child engine sample (a smoke test).

Run: ``python benchmarks/run.py simulate``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from _util import median, record
from immreg.schedule import load_schedule
from immreg.simulate import check_against_engine, simulate_cohort

__all__ = ["run"]


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Yield the benchmark's records (see the module docstring)."""
    births = 50_000 if quick else 1_700_000
    sample = 500 if quick else 10_000
    rounds = 1 if quick else 3
    schedule = load_schedule("vn-epi")
    took = []
    result = None
    for seed in range(1, rounds + 1):
        started = time.perf_counter()
        result = simulate_cohort(schedule, births=births, start=dt.date(2027, 1, 1), seed=seed)
        result.coverage()
        result.summary()
        took.append(time.perf_counter() - started)
    yield record(
        "simulate", "cohort_seconds", median(took), "s", target="< 60", n=births, rounds=rounds
    )
    assert result is not None
    check = check_against_engine(result, schedule, sample=sample, seed=1)
    yield record(
        "simulate",
        "engine_max_difference_pp",
        check.max_difference_pp,
        "pp",
        target="<= 0.1",
        n=check.children,
    )
    yield record(
        "simulate",
        "engine_mismatched_children",
        float(check.mismatched_children),
        "children",
        target=None,
        n=check.children,
    )
