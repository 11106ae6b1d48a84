"""Assess many patients at once: a Python API and the JSON-lines contract.

:func:`assess_many` (and :func:`forecast_many`) run the engine over an iterable of
patients with one schedule, resolved once. :func:`forecast_jsonl` is what
``immreg forecast --schedule SPEC --jsonl`` calls: it reads one JSON object per line and
writes one JSON object per line, in order, flushed after each line.

Input line::

    {"id": "c1", "birth_date": "2024-01-15", "sex": "F", "as_of": "2025-06-01",
     "doses": [{"id": "d1", "date": "2024-03-01", "vaccine": "08", "mvx": null}],
     "observations": [{"code": "055", "date": null}]}

Output line::

    {"id": "c1",
     "doses": [{"id": "d1", "evaluations": [{"antigen": "HepB", "vaccine_group": "HepB",
                                             "status": "valid", "reason": null}]}],
     "vaccine_groups": [{"vaccine_group": "HepB", "status": "not_complete",
                         "forecast_dose_number": 2, "earliest": "2024-03-29",
                         "recommended": "2024-03-29", "past_due": "2024-07-14",
                         "latest": null, "reason": "min_interval"}, ...]}

``id``, ``birth_date``, ``sex``, ``as_of`` and ``doses`` are required; ``observations``
and a dose's ``mvx`` may be left out or null; other keys are ignored. A line that cannot be
assessed (not JSON, a missing or malformed field, a dose before birth or after ``as_of``,
an unknown vaccine code, a repeated dose id) is answered in its place with
``{"id": ..., "error": {"field": ..., "message": ...}}``; the other lines go on.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Collection, Iterable, Iterator
from typing import Any, TextIO

from immreg.errors import ValidationError
from immreg.schedule.compiled import _NOTHING, BestForecast, Compiled, Outcome, Rec, relabel
from immreg.schedule.compiled import run as run_plan
from immreg.schedule.engine import (
    _compiled,
    _group_forecast,
    _in_order,
    _series_outcome,
    _settled,
    assess,
    forecast_only,
    validate_patient,
)
from immreg.schedule.patient import (
    Assessment,
    Dose,
    DoseEvaluation,
    Observation,
    Patient,
    SeriesOutcome,
    VaccineGroupForecast,
)
from immreg.schedule.rules import Schedule

__all__ = [
    "assess_many",
    "assessment_to_json",
    "clear_caches",
    "forecast_jsonl",
    "forecast_many",
    "patient_from_json",
]


def assess_many(
    schedule: Schedule,
    items: Iterable[tuple[Patient, dt.date]],
    *,
    vaccine_groups: Collection[str] | None = None,
) -> Iterator[Assessment]:
    """Assess each ``(patient, as_of)`` pair, lazily and in order.

    Args:
        schedule: The schedule (its look-up tables are built once, on first use).
        items: Patients with their assessment dates.
        vaccine_groups: Only these vaccine groups (see :func:`assess`).

    Yields:
        One :class:`Assessment` per item.

    Raises:
        ValidationError: An item's history cannot be assessed (see :func:`assess`).
    """
    schedule.index()
    compiled = _compiled(schedule)
    lean = vaccine_groups is None and bool(compiled.order)
    for patient, as_of in items:
        if lean and not patient.observations:
            yield _assess_lean(schedule, compiled, patient, as_of)
        else:
            yield assess(schedule, patient, as_of=as_of, vaccine_groups=vaccine_groups)


def clear_caches(schedule: Schedule) -> None:
    """Empty the engine's caches for a schedule (the per-antigen memo and age tables).

    Results never depend on the caches; benchmarks call this to measure a cold start, and
    a long-running process may call it to give the memory back.
    """
    idx = schedule.index()
    idx.memo.clear()
    for compiled in idx.compiled:
        if isinstance(compiled, Compiled):
            compiled.clear()


def forecast_many(
    schedule: Schedule,
    items: Iterable[tuple[Patient, dt.date]],
    *,
    vaccine_groups: Collection[str] | None = None,
) -> Iterator[tuple[VaccineGroupForecast, ...]]:
    """Like :func:`assess_many`, yielding only the vaccine-group forecasts.

    The lean mode for due lists: every dose is still evaluated, but no per-dose
    explanation is built (:func:`immreg.schedule.engine.forecast_only`), so it runs
    several times faster than :func:`assess_many` and yields the same forecasts.
    """
    schedule.index()
    compiled = _compiled(schedule)
    lean = vaccine_groups is None and bool(compiled.order)
    for patient, as_of in items:
        if lean and not patient.observations:
            yield _forecast_lean(schedule, compiled, patient, as_of)
        else:
            yield forecast_only(schedule, patient, as_of=as_of, vaccine_groups=vaccine_groups)


def _forecast_lean(
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


def _assess_lean(
    schedule: Schedule, compiled: Compiled, patient: Patient, as_of: dt.date
) -> Assessment:
    """:func:`assess` for a schedule whose every antigen has a compiled plan: the steps
    of :func:`_forecast_lean`, plus each antigen's dose evaluations and series outcome."""
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


def _date(value: Any, field: str) -> dt.date:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a date written YYYY-MM-DD")
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"{value!r} is not a date written YYYY-MM-DD") from None


def _str(obj: dict[str, Any], key: str, field: str, *, optional: bool = False) -> str | None:
    if key not in obj or obj[key] is None:
        if optional:
            return None
        raise ValidationError(field, "is required")
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty string")
    return value


def patient_from_json(obj: Any) -> tuple[Patient, dt.date]:
    """Validate one input object of the JSON-lines contract.

    Returns:
        The patient and the assessment date.

    Raises:
        ValidationError: A field is missing or malformed; the field path names it
            (``"doses[1].date"``).
    """
    if not isinstance(obj, dict):
        raise ValidationError("$", "each line must be a JSON object")
    birth = _date(obj.get("birth_date"), "birth_date")
    as_of = _date(obj.get("as_of"), "as_of")
    if "sex" not in obj:
        raise ValidationError("sex", "is required ('F', 'M' or 'U')")
    sex = obj["sex"]
    if sex not in ("F", "M", "U"):
        raise ValidationError("sex", "must be 'F', 'M' or 'U'")
    if "doses" not in obj:
        raise ValidationError("doses", "is required (a list, possibly empty)")
    raw_doses = obj["doses"]
    if not isinstance(raw_doses, list):
        raise ValidationError("doses", "must be a list")
    doses = []
    for i, d in enumerate(raw_doses):
        where = f"doses[{i}]"
        if not isinstance(d, dict):
            raise ValidationError(where, "must be an object")
        doses.append(
            Dose(
                id=str(_str(d, "id", f"{where}.id")),
                date=_date(d.get("date"), f"{where}.date"),
                vaccine=str(_str(d, "vaccine", f"{where}.vaccine")),
                mvx=_str(d, "mvx", f"{where}.mvx", optional=True),
            )
        )
    raw_obs = obj.get("observations") or []
    if not isinstance(raw_obs, list):
        raise ValidationError("observations", "must be a list")
    observations = []
    for i, o in enumerate(raw_obs):
        where = f"observations[{i}]"
        if not isinstance(o, dict):
            raise ValidationError(where, "must be an object")
        when = o.get("date")
        observations.append(
            Observation(
                code=str(_str(o, "code", f"{where}.code")),
                date=None if when is None else _date(when, f"{where}.date"),
            )
        )
    if as_of < birth:
        raise ValidationError("as_of", "is before the birth date")
    patient = Patient(birth, sex, tuple(doses), tuple(observations))
    return patient, as_of


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def assessment_to_json(
    subject_id: str, patient: Patient, assessment: Assessment
) -> dict[str, Any]:
    """Render an assessment as one output object of the JSON-lines contract."""
    per_dose: dict[str, list[dict[str, Any]]] = {d.id: [] for d in patient.doses}
    for e in assessment.evaluations:
        per_dose.setdefault(e.dose_id, []).append(
            {
                "antigen": e.antigen,
                "vaccine_group": e.vaccine_group,
                "status": e.status,
                "reason": e.reason,
            }
        )
    return {
        "id": subject_id,
        "doses": [{"id": d.id, "evaluations": per_dose[d.id]} for d in patient.doses],
        "vaccine_groups": [
            {
                "vaccine_group": f.vaccine_group,
                "status": f.status,
                "forecast_dose_number": f.forecast_dose_number,
                "earliest": _iso(f.earliest),
                "recommended": _iso(f.recommended),
                "past_due": _iso(f.past_due),
                "latest": _iso(f.latest),
                "reason": f.reason,
            }
            for f in assessment.forecasts
        ],
    }


def _answer(schedule: Schedule, line: str) -> tuple[dict[str, Any], bool]:
    subject_id: Any = None
    try:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValidationError("$", f"not JSON: {e.msg}") from e
        if isinstance(obj, dict):
            subject_id = obj.get("id")
        if not isinstance(subject_id, str) or not subject_id:
            raise ValidationError("id", "is required and must be a non-empty string")
        patient, as_of = patient_from_json(obj)
        seen: set[str] = set()
        for i, d in enumerate(patient.doses):
            if d.id in seen:
                raise ValidationError(f"doses[{i}].id", f"dose id {d.id!r} is repeated")
            seen.add(d.id)
        assessment = assess(schedule, patient, as_of=as_of)
    except ValidationError as e:
        return {"id": subject_id, "error": {"field": e.field, "message": e.message}}, False
    return assessment_to_json(subject_id, patient, assessment), True


def forecast_jsonl(spec: str, infile: TextIO, outfile: TextIO) -> int:
    """Assess JSON-lines input and write JSON-lines output (the CLI's ``--jsonl`` mode).

    Args:
        spec: Schedule spec for :func:`immreg.schedule.load_schedule`.
        infile: One JSON object per line; blank lines are skipped.
        outfile: Receives one JSON object per input line, in order, flushed each line.

    Returns:
        0 if every line was assessed, 1 if any line was answered with an error.

    Raises:
        NotFoundError: The schedule spec names nothing (before any line is read).
        ValidationError: The schedule file is invalid (before any line is read).
    """
    from immreg.schedule import load_schedule

    schedule = load_schedule(spec)
    schedule.index()
    status = 0
    for line in infile:
        if not line.strip():
            continue
        answer, ok = _answer(schedule, line)
        if not ok:
            status = 1
        outfile.write(json.dumps(answer, ensure_ascii=False, separators=(",", ":")) + "\n")
        outfile.flush()
    return status
