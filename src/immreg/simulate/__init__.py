"""Synthetic populations and schedule simulation, for researchers, demos and benchmarks.

Needs the ``simulate`` extra (numpy; pyarrow for Parquet, matplotlib for charts)::

    pip install "immreg[simulate]"

* :func:`simulate_cohort` runs a birth cohort through a schedule under a
  :class:`BehaviourModel`, vectorised; :func:`check_against_engine` compares it with the
  exact engine on a sample.
* :func:`compare` and :func:`write_report` put scenarios side by side as CSV, Parquet and
  PNG charts.
* :func:`synthetic_country` builds a Vietnam-like country (org tree, births, names,
  caregivers and phones, doses, moves, deaths, duplicates, historical records, vaccine
  lots) whose records load into any backend with :func:`load_country`.

Everything is reproducible from a seed; nothing reads the clock.
"""

from __future__ import annotations

from immreg.simulate.behaviour import VIETNAM, BehaviourModel, DoseBehaviour
from immreg.simulate.cohort import CohortResult, EngineCheck, check_against_engine, simulate_cohort
from immreg.simulate.plan import Plan, PlannedEvent, plan_for

__all__ = [
    "VIETNAM",
    "BehaviourModel",
    "CohortResult",
    "DoseBehaviour",
    "EngineCheck",
    "Plan",
    "PlannedEvent",
    "check_against_engine",
    "plan_for",
    "simulate_cohort",
]
