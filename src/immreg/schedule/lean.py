"""The batch API's per-patient loops, for schedules whose every antigen has a plan.

:func:`immreg.schedule.batch.forecast_many` and :func:`~immreg.schedule.batch.assess_many`
call :func:`forecast_lean` and :func:`assess_lean` for each patient when every antigen of
the schedule has a compiled plan (:mod:`immreg.schedule.compiled`): the doses in CDSi §4.2
order routed to their antigens' plans, each plan run, and the antigens' best forecasts
combined per vaccine group (chapter 9), with the per-schedule tables looked up by position.

Like :mod:`immreg.schedule.compiled`, this module is compiled with mypyc at install time
(``hatch_build.py``; ``IMMREG_PURE_PYTHON=1`` builds it as Python). Its annotations are
checked at run time in the compiled build, and its docstrings are not kept there: the
public documentation of these loops is :mod:`immreg.schedule.batch`'s.
"""

from __future__ import annotations

import datetime as dt
import operator

from immreg.schedule.compiled import _NOTHING, BestForecast, Compiled, Outcome, Rec, relabel
from immreg.schedule.compiled import run as run_plan
from immreg.schedule.engine import (
    _group_forecast,
    _in_order,
    _series_outcome,
    _settled,
    validate_patient,
)
from immreg.schedule.patient import (
    Assessment,
    Dose,
    DoseEvaluation,
    Patient,
    SeriesOutcome,
    VaccineGroupForecast,
)
from immreg.schedule.rules import Schedule

__all__ = ["assess_lean", "forecast_lean"]


def forecast_lean(
    schedule: Schedule, compiled: Compiled, patient: Patient, as_of: dt.date
) -> tuple[VaccineGroupForecast, ...]:
    """:func:`forecast_only` for a schedule whose every antigen has a compiled plan.

    The same steps as the engine's lean loop, with the per-schedule tables looked up by
    position: the doses in §4.2 order, each routed to its antigens' plans, each plan run,
    and the antigens' best forecasts combined per vaccine group (chapter 9).
    """
    recs = _route(schedule, compiled, patient, as_of)
    outcomes = _run_plans(schedule, compiled, patient, as_of, recs, False)
    return _group_forecasts(schedule, compiled, patient, outcomes)


def assess_lean(
    schedule: Schedule, compiled: Compiled, patient: Patient, as_of: dt.date
) -> Assessment:
    """:func:`assess` for a schedule whose every antigen has a compiled plan: the steps
    of :func:`forecast_lean`, plus each antigen's dose evaluations and series outcome."""
    recs = _route(schedule, compiled, patient, as_of)
    outcomes = _run_plans(schedule, compiled, patient, as_of, recs, True)
    evaluations: list[tuple[int, DoseEvaluation]] = []
    series_outcomes: list[SeriesOutcome] = []
    for (name, plan), mine, (_, fc, evals) in zip(compiled.order, recs, outcomes, strict=True):
        series = plan.series
        if fc is not None:
            series_outcomes.append(_series_outcome(series, fc))
        group = series.vaccine_group
        series_name = series.name
        for position, status, reason, rule_id, target, reasons in evals:
            rec = mine[position]
            evaluations.append(
                (
                    rec[3],
                    DoseEvaluation(
                        rec[2].id,
                        name,
                        group,
                        series_name,
                        target,
                        status,
                        reason,
                        rule_id,
                        reasons or ((reason,) if reason else ()),
                    ),
                )
            )
    # Dose order (positions follow dates), then antigen order: the sort is stable.
    evaluations.sort(key=_FIRST)
    return Assessment(
        as_of=as_of,
        evaluations=tuple(map(_SECOND, evaluations)),
        forecasts=_group_forecasts(schedule, compiled, patient, outcomes),
        series=tuple(series_outcomes),
    )


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


def _route(
    schedule: Schedule, compiled: Compiled, patient: Patient, as_of: dt.date
) -> list[list[Rec]]:
    """§4.2: the patient's doses in order, per antigen position (validated on the way)."""
    dob = patient.birth_date
    ages = compiled.ages(dob)
    routes = compiled.routes
    recs: list[list[Rec]] = [[] for _ in compiled.order]
    for pos, d in enumerate(_in_order(patient.doses)):
        date = d.date
        found = routes.get(d.vaccine)
        if found is None or date < dob or date > as_of:
            # The checks of validate_patient, folded into this loop; it names the first
            # bad dose in input order.
            validate_patient(schedule, patient, as_of=as_of)
            raise AssertionError("validate_patient accepted a bad dose")  # pragma: no cover
        rec = (date, d.vaccine, d, pos)
        plain, windowed = found
        for i in plain:
            recs[i].append(rec)
        for i, begin, end in windowed:
            # Associations may hold only within an age window (zoster < 50 years).
            if ages[begin] <= date < ages[end]:
                recs[i].append(rec)
    return recs


def _run_plans(
    schedule: Schedule,
    compiled: Compiled,
    patient: Patient,
    as_of: dt.date,
    recs: list[list[Rec]],
    evaluations: bool,
) -> list[Outcome]:
    """Each antigen's plan run on its doses, in schedule order.

    An antigen whose plan is an earlier one's up to labels (``Compiled.shares``) and
    that got the same doses takes that run's outcome, relabelled; without
    ``evaluations`` its dose evaluations are left out (only the forecasts are read).
    """
    by_vaccine: dict[str, list[Dose]] | None = None
    if schedule.conflicts:
        by_vaccine = {}
        for d in patient.doses:
            by_vaccine.setdefault(d.vaccine, []).append(d)
    dob = patient.birth_date
    ages = compiled.ages(dob)
    sex = patient.sex
    doses = patient.doses
    outcomes: list[Outcome] = []
    unused = compiled.unused
    shares = compiled.shares
    for i, (_, plan) in enumerate(compiled.order):
        mine = recs[i]
        share = shares[i]
        if sex not in plan.sexes:
            outcomes.append(_NOTHING)  # §5.1: no relevant series
        elif (
            share is not None
            and mine
            and mine == recs[share.source]
            and (got := relabel(outcomes[share.source], share, evaluations)) is not None
        ):
            # The same plan as an earlier antigen's (up to labels) on the same doses (the
            # pentavalent vaccine's antigens): that run, relabelled.
            outcomes.append(got)
        elif mine or plan.delays:
            outcomes.append(run_plan(plan, ages, mine, as_of, dob, sex, doses, by_vaccine))
        else:
            # No dose of the antigen (and no live vaccine delays it): the outcome is one
            # of the birth date and the assessment date, which children share.
            key = (i, dob, as_of)
            got = unused.get(key)
            if got is None:
                if len(unused) >= _UNUSED_LIMIT:
                    unused.clear()
                got = unused[key] = run_plan(plan, ages, mine, as_of, dob, sex, doses, None)
            outcomes.append(got)
    return outcomes


def _group_forecasts(
    schedule: Schedule, compiled: Compiled, patient: Patient, outcomes: list[Outcome]
) -> tuple[VaccineGroupForecast, ...]:
    """Chapter 9: the vaccine groups' forecasts from the antigens' best forecasts."""
    out: list[VaccineGroupForecast] = []
    settled = compiled.settled
    for g, (name, antigens, full, members) in enumerate(compiled.groups):
        if len(members) != 1:
            runs = [r for i in members for r in outcomes[i][0]]
            out.append(_combine(schedule, compiled, patient, name, antigens, full, runs))
            continue
        one = outcomes[members[0]][0]
        if not one:
            out.append(_settled(name, "not_recommended", "no_relevant_series", name, antigens))
            continue
        fc = one[0]
        if fc.status != "not_complete":
            # Nothing due: one shared object per group, status, reason and rule.
            skey = (g, fc.status, fc.reason, fc.decided_by)
            vgf = settled.get(skey)
            if vgf is None:
                vgf = settled[skey] = _settled(name, fc.status, fc.reason, fc.decided_by, antigens)
            out.append(vgf)
            continue
        earliest = fc.earliest
        assert earliest is not None
        assert fc.recommended is not None
        past_due = fc.past_due
        out.append(
            VaccineGroupForecast(
                name,
                "not_complete",
                fc.dose_number,
                earliest,
                fc.recommended if fc.recommended > earliest else earliest,
                None if past_due is None else past_due if past_due > earliest else earliest,
                fc.latest,
                fc.reason,
                fc.decided_by,
                antigens,
                fc.vaccines,
            )
        )
    return tuple(out)


_UNUSED_LIMIT = 100_000  # (antigen, birth date, as-of date) forecasts kept; emptied when full

# Group statuses that come before "not_complete" (chapter 9).
_BEFORE_OPEN = frozenset(("contraindicated", "aged_out", "not_recommended"))


def _combine(
    schedule: Schedule,
    compiled: Compiled,
    patient: Patient,
    name: str,
    antigens: tuple[str, ...],
    full: bool,
    runs: list[BestForecast],
) -> VaccineGroupForecast:
    """Chapter 9 for a group of several antigens (the engine's ``_group_forecast``).

    The group's status is the first of contraindicated, aged out, not recommended and not
    complete that any antigen has (else immune if all are, else complete); with nothing
    due it is a shared object. When a dose is due, MULTIANTVG-1 with FORECASTPRIORITY-1
    reads the latest dose of any of the group's vaccines from a per-group code set.
    """
    open_runs: list[BestForecast] = []
    before_open = False  # a status that comes before "not_complete"
    same = True  # every run has the first run's status
    single = True  # every run is of the first run's antigen
    first = runs[0] if runs else None
    for r in runs:
        assert first is not None
        status = r.status
        if status == "not_complete":
            open_runs.append(r)
        elif status in _BEFORE_OPEN:
            before_open = True
        if status != first.status:
            same = False
        if r.antigen != first.antigen:
            single = False
    if first is None or len(runs) < 2 or before_open or not open_runs:
        if first is not None and same:
            return _settled(name, first.status, first.reason, first.decided_by, antigens)
        return _group_forecast(schedule, patient, name, antigens, full, runs)
    # Every open run is "not_complete"; the others are complete or immune. One pass for
    # the latest and earliest earliest dates, the earliest recommended, past-due and
    # latest dates, the dose number, priority and the recommended vaccines.
    e_max: dt.date | None = None
    e_min: dt.date | None = None
    decider = first
    recommended: dt.date | None = None
    past_due: dt.date | None = None
    latest: dt.date | None = None
    number: int | None = None
    priority = False
    vaccines: list[str] = []
    for r in open_runs:
        when = r.earliest
        if when is not None:
            if e_max is None or when > e_max:
                e_max, decider = when, r
            if e_min is None or when < e_min:
                e_min = when
        if r.recommended and (recommended is None or r.recommended < recommended):
            recommended = r.recommended
        if r.past_due is not None and (past_due is None or r.past_due < past_due):
            past_due = r.past_due
        if r.latest is not None and (latest is None or r.latest < latest):
            latest = r.latest
        count = r.dose_number
        if count is not None and (number is None or (count < number if full else count > number)):
            number = count
        priority = priority or r.priority
        vaccines += r.vaccines
    if e_max is None or e_min is None or recommended is None:
        return _group_forecast(schedule, patient, name, antigens, full, runs)
    if single:
        earliest = e_min
    elif priority:
        # MULTIANTVG-1 with FORECASTPRIORITY-1: not before the group's latest dose.
        codes = compiled.group_codes[name]
        earliest = e_min
        for d in patient.doses:
            if d.date > earliest and d.vaccine in codes:
                earliest = d.date
    else:
        earliest = e_max
    return VaccineGroupForecast(
        name,
        "not_complete",
        number,
        earliest,
        recommended if recommended > earliest else earliest,
        None if past_due is None else past_due if past_due > earliest else earliest,
        latest,
        decider.reason,
        decider.decided_by,
        antigens,
        tuple(dict.fromkeys(vaccines)),
    )
