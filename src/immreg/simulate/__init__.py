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
  lots) whose records load into any backend with :func:`load_country`; :func:`supply`
  gives the stock each province needed, lot by lot, with wastage.

Everything is reproducible from a seed; nothing reads the clock.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from immreg.simulate.behaviour import VIETNAM, BehaviourModel, DoseBehaviour
    from immreg.simulate.cohort import (
        CohortResult,
        EngineCheck,
        check_against_engine,
        simulate_cohort,
    )
    from immreg.simulate.country import (
        SupplyLine,
        SyntheticCountry,
        load_country,
        supply,
        synthetic_country,
    )
    from immreg.simulate.plan import Plan, PlannedEvent, plan_for
    from immreg.simulate.report import compare, write_report
    from immreg.simulate.scenarios import move_vaccine

__all__ = [
    "VIETNAM",
    "BehaviourModel",
    "CohortResult",
    "DoseBehaviour",
    "EngineCheck",
    "Plan",
    "PlannedEvent",
    "SupplyLine",
    "SyntheticCountry",
    "check_against_engine",
    "compare",
    "load_country",
    "move_vaccine",
    "plan_for",
    "simulate_cohort",
    "supply",
    "synthetic_country",
    "write_report",
]

# Names are imported on first use, so that ``immreg simulate --help`` and the rest of immreg
# work without numpy; using one without the ``simulate`` extra raises ImportError then.
_HOME = {
    "VIETNAM": "behaviour",
    "BehaviourModel": "behaviour",
    "DoseBehaviour": "behaviour",
    "CohortResult": "cohort",
    "EngineCheck": "cohort",
    "check_against_engine": "cohort",
    "simulate_cohort": "cohort",
    "SupplyLine": "country",
    "SyntheticCountry": "country",
    "supply": "country",
    "load_country": "country",
    "synthetic_country": "country",
    "Plan": "plan",
    "PlannedEvent": "plan",
    "plan_for": "plan",
    "compare": "report",
    "write_report": "report",
    "move_vaccine": "scenarios",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'immreg.simulate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"immreg.simulate.{module}"), name)
