"""Timeliness tallies: each dose too early, on time or late against the pack's windows.

The schedule engine judges every child's history (:func:`immreg.schedule.engine.assess`) and
:func:`immreg.schedule.timeliness.classify` compares each counted dose with its window; the
results become counters ``timely:ANTIGEN:k:STATUS`` of the org unit the child lives in on
``as_of``, for doses given in the spec's period. The counters are a
:class:`~immreg.indicators.Tally` like every other, so they roll up the same way. They are
computed in Python through the repositories (the engine is Python), so every backend gives
the same numbers by construction; the cost grows with the children of the units asked for.
"""

from __future__ import annotations

from collections.abc import Collection

from immreg.indicators import ReportSpec, Tally
from immreg.ports import UnitOfWork
from immreg.schedule.engine import assess
from immreg.schedule.patient import Dose, Patient
from immreg.schedule.rules import Schedule
from immreg.schedule.timeliness import DEFAULT_WINDOW_DAYS, classify

__all__ = ["STATUSES", "timeliness_key", "timeliness_tallies"]

#: The timeliness statuses, in the order reports show them.
STATUSES = ("too_early", "on_time", "late")


def timeliness_key(antigen: str, dose: int, status: str) -> str:
    """Counter name: doses of the period that were ``antigen`` dose ``dose`` with ``status``."""
    return f"timely:{antigen}:{dose}:{status}"


def timeliness_tallies(
    uow: UnitOfWork,
    spec: ReportSpec,
    schedule: Schedule,
    *,
    units: Collection[str],
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> dict[str, Tally]:
    """Timeliness counters per org unit for the cohort children living in ``units``.

    Only the antigens and dose numbers of ``spec.antigens`` are counted. Doses of products
    the schedule does not know are left out of the child's history (the engine cannot judge
    them).

    Args:
        uow: Where the data is.
        spec: Cohort, ``as_of`` and period.
        schedule: The schedule whose windows judge the doses (e.g. ``load_schedule("vn-epi")``).
        units: The org units whose residents are counted.
        window_days: On-time days after the recommended date when a rule sets no window.
    """
    highest = dict(spec.antigens)
    known = schedule.index().vaccines
    out: dict[str, dict[str, int]] = {}
    for s in uow.subjects.list_resident(sorted(units), on=spec.as_of):
        if not spec.birth_from <= s.birth_date < spec.birth_until:
            continue
        if s.deceased_on is not None and s.deceased_on <= spec.as_of:
            continue
        unit = s.residence_on(spec.as_of)
        if unit is None:
            continue
        history = tuple(
            Dose(d.id, d.date, d.product_code)
            for d in uow.doses.list_for_subject(s.id)
            if d.date <= spec.as_of and d.date >= s.birth_date and d.product_code in known
        )
        patient = Patient(s.birth_date, s.sex.value, history)
        for t in classify(
            schedule, patient, assess(schedule, patient, as_of=spec.as_of), window_days=window_days
        ):
            if t.target_dose is None or t.target_dose > highest.get(t.antigen, 0):
                continue
            if not spec.period_start <= t.date < spec.period_end:
                continue
            c = out.setdefault(unit, {})
            key = timeliness_key(t.antigen, t.target_dose, t.status)
            c[key] = c.get(key, 0) + 1
    return {u: Tally(c) for u, c in out.items()}
