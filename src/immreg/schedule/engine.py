"""Evaluate a dose history and forecast the next doses (CDSi 4.6 chapters 4 to 9).

The processing model is CDSi's, applied to any :class:`~immreg.schedule.rules.Schedule`:

1. organise the history into antigen doses (§4.2), using the schedule's vaccine map;
2. create the relevant patient series (§5.1: sex, indications);
3. evaluate every antigen dose against each relevant series' target doses (§4.4, ch. 6);
4. forecast each series' next target dose (ch. 7);
5. select the best series per series group (ch. 8);
6. combine the antigens' best series into vaccine-group forecasts (ch. 9).

Everything is a pure function of the schedule, the patient and ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Collection, Sequence

import attrs

from immreg.errors import ValidationError
from immreg.schedule.compiled import BestForecast, Compiled, compile_schedule
from immreg.schedule.compiled import run as run_plan
from immreg.schedule.dates import Duration, add
from immreg.schedule.patient import (
    Assessment,
    Dose,
    DoseEvaluation,
    EvaluationStatus,
    ForecastStatus,
    Patient,
    SeriesOutcome,
    VaccineGroupForecast,
)
from immreg.schedule.rules import (
    Antigen,
    Condition,
    ConditionalSkip,
    Interval,
    Schedule,
    Series,
    SeriesDose,
    SeriesDoseAge,
    VaccineRule,
)

__all__ = ["assess", "evaluate", "forecast", "forecast_only", "validate_patient"]

_MIN_DATE = dt.date(1900, 1, 1)
_MAX_DATE = dt.date(2999, 12, 31)
_ONE_DAY = dt.timedelta(days=1)


def _at(base: dt.date, dur: Duration | None, default: dt.date) -> dt.date:
    return default if dur is None else add(base, dur)


@attrs.define
class _Rec:
    """An antigen administered record (CDSi 4.6 §4.2)."""

    index: int
    dose: Dose
    date: dt.date
    vaccine: str


@attrs.define
class _Eval:
    status: EvaluationStatus
    reason: str | None
    rule_id: str
    target: int | None
    inadvertent: bool = False
    reasons: tuple[str, ...] = ()


@attrs.define
class _SeriesRun:
    """A relevant patient series being evaluated and forecast."""

    series: Series
    targets: list[SeriesDose]
    state: list[str]  # "not_satisfied" | "satisfied" | "skipped", per target
    recs: dict[int, _Rec]
    satisfied_by: dict[int, _Rec] = attrs.field(factory=dict)
    evals: dict[int, _Eval] = attrs.field(factory=dict)
    status: ForecastStatus = "not_complete"
    forecast_target: int | None = None
    dose_number: int | None = None
    earliest: dt.date | None = None
    recommended: dt.date | None = None
    past_due: dt.date | None = None
    latest: dt.date | None = None
    reason: str | None = None
    decided_by: str = ""
    priority: bool = False
    vaccines: tuple[str, ...] = ()
    score: int | None = None
    evaluated: bool = False
    forecast_done: bool = False
    valid_count: int = 0  # target doses satisfied (SELECTB-21)
    last_reference: _Rec | None = None  # the "previous dose" of CALCDTINT-1 so far
    inadvertent: list[_Rec] = attrs.field(factory=list)  # inadvertent administrations
    dose_status: dict[int, str] = attrs.field(factory=dict)  # by id() of the Dose
    first_valid: dt.date | None = None  # date of the first valid dose


class _PatientView:
    """What every antigen of one assessment reads about the patient, computed once."""

    def __init__(self, schedule: Schedule, patient: Patient, as_of: dt.date) -> None:
        self.index = schedule.index()
        self.patient = patient
        self.dob = patient.birth_date
        self.as_of = as_of
        self.ages: dict[int, dt.date] = {}  # age dates, keyed by the Duration object
        self.windows: dict[tuple[int, int], tuple[dt.date, dt.date]] = {}
        self.limits: dict[int, tuple[dt.date, dt.date, dt.date]] = {}
        self.doses_by_vaccine: dict[str, list[Dose]] = {}
        for d in patient.doses:
            self.doses_by_vaccine.setdefault(d.vaccine, []).append(d)
        # Observations active on the assessment date (dated on or before it, or undated).
        self.active = frozenset(
            o.code for o in patient.observations if o.date is None or o.date <= as_of
        )
        # For memo keys: (date, vaccine) of every dose and the observations, sorted.
        self.dated_doses = sorted((d.date, d.vaccine) for d in patient.doses)
        self.observation_key = tuple(
            sorted((o.code, o.date or _MIN_DATE) for o in patient.observations)
        )

    def window(self, begin: Duration | None, end: Duration | None) -> tuple[dt.date, dt.date]:
        """The dates the patient reaches two ages (an age window), cached per pair."""
        key = (id(begin), id(end))
        found = self.windows.get(key)
        if found is None:
            found = self.windows[key] = (self.age(begin, _MIN_DATE), self.age(end, _MAX_DATE))
        return found

    def age_limits(self, rule: SeriesDoseAge) -> tuple[dt.date, dt.date, dt.date]:
        """The absolute minimum, minimum and maximum age dates of an age rule, cached."""
        found = self.limits.get(id(rule))
        if found is None:
            found = self.limits[id(rule)] = (
                self.age(rule.abs_min, _MIN_DATE),
                self.age(rule.min, _MIN_DATE),
                self.age(rule.max, _MAX_DATE),
            )
        return found

    def age(self, duration: Duration | None, default: dt.date) -> dt.date:
        """The date the patient reaches an age (``default`` when the age is unset)."""
        if duration is None:
            return default
        # Keyed by the duration object: the schedule's durations live as long as it does.
        key = id(duration)
        found = self.ages.get(key)
        if found is None:
            found = self.ages[key] = add(self.dob, duration)
        return found


class _Context:
    """Per-patient, per-antigen working state."""

    def __init__(
        self, schedule: Schedule, view: _PatientView, antigen: Antigen, recs: list[_Rec]
    ) -> None:
        self.schedule = schedule
        self.index = view.index
        self.patient = view.patient
        self.dob = view.dob
        self.as_of = view.as_of
        self.age = view.age
        self.window = view.window
        self.age_limits = view.age_limits
        self.doses_by_vaccine = view.doses_by_vaccine
        self.active = view.active
        self.antigen = antigen
        self.recs = recs
        self.runs: list[_SeriesRun] = []
        self.busy: set[str] = set()
        self.immune: str | None = None  # "" once checked and not immune
        self.contraindicated = ""


# --- chapter 4.2: organise the history ------------------------------------------------


def validate_patient(schedule: Schedule, patient: Patient, *, as_of: dt.date) -> None:
    """Check that a patient's history can be assessed.

    Raises:
        ValidationError: A dose is dated before birth or after ``as_of``, or names a
            vaccine code the schedule does not know; the field is ``doses[i].date`` or
            ``doses[i].vaccine``.
    """
    known = schedule.index().vaccines
    for i, d in enumerate(patient.doses):
        if d.date < patient.birth_date:
            raise ValidationError(f"doses[{i}].date", "the dose is dated before the birth date")
        if d.date > as_of:
            raise ValidationError(f"doses[{i}].date", "the dose is dated after the as-of date")
        if d.vaccine not in known:
            raise ValidationError(
                f"doses[{i}].vaccine", f"vaccine code {d.vaccine!r} is not in the schedule"
            )


def _organise(view: _PatientView) -> dict[str, list[_Rec]]:
    associations = view.index.associations
    # Sorting on every field makes the result independent of the input order.
    doses = sorted(view.patient.doses, key=lambda d: (d.date, d.vaccine, d.mvx or "", d.id))
    out: dict[str, list[_Rec]] = {}
    for i, d in enumerate(doses):
        for assoc in associations.get(d.vaccine, ()):
            # CVX associations may hold only within an age window (e.g. Zoster < 50y).
            if assoc.begin_age is not None and d.date < view.age(assoc.begin_age, _MIN_DATE):
                continue
            if assoc.end_age is not None and d.date >= view.age(assoc.end_age, _MAX_DATE):
                continue
            out.setdefault(assoc.antigen, []).append(_Rec(i, d, d.date, d.vaccine))
    return out


# --- chapter 5: relevant patient series ------------------------------------------------


def _relevant(ctx: _Context, series: Series) -> bool:
    if series.required_sex and ctx.patient.sex not in series.required_sex:
        return False
    if series.type != "risk":
        return True
    # CDSi 4.6 table 5-4: an indication applies if an active observation matches and the
    # assessment date is within the indication's ages.
    for ind in series.indications:
        if ind.observation not in ctx.active:
            continue
        if ctx.age(ind.begin_age, _MIN_DATE) <= ctx.as_of < ctx.age(ind.end_age, _MAX_DATE):
            return True
    return False


def _startable(ctx: _Context, run: _SeriesRun) -> bool:
    start = run.series.min_age_to_start
    return start is None or run.valid_count > 0 or ctx.as_of >= ctx.age(start, _MIN_DATE)


# --- chapter 6: evaluation ---------------------------------------------------------------


def _in_effect(effective: dt.date | None, cessation: dt.date | None, on: dt.date) -> bool:
    # CDSi 4.6 §3.3: supporting data applies from its effective date until its cessation.
    return (effective is None or effective <= on) and (cessation is None or on < cessation)


def _age_rule(target: SeriesDose, on: dt.date) -> SeriesDoseAge | None:
    ages = target.ages
    for age in ages:
        # CDSi 4.6 §3.3: the age rule in effect on the date (dose date or as-of date).
        if (age.effective is None or age.effective <= on) and (
            age.cessation is None or on < age.cessation
        ):
            return age
    return ages[0] if ages else None


def _previous_rec(run: _SeriesRun) -> _Rec | None:
    """CALCDTINT-1: the latest earlier dose that is Valid or Not Valid, not inadvertent.

    Doses are evaluated in date order, so this is the last such dose evaluated so far
    (every dose, when forecasting).
    """
    return run.last_reference


def _reference_date(ctx: _Context, run: _SeriesRun, iv: Interval, on: dt.date) -> dt.date | None:
    if iv.reference == "previous":
        prev = _previous_rec(run)
        return prev.date if prev else None
    if iv.reference == "target_dose":
        rec = run.satisfied_by.get((iv.target_dose or 1) - 1)
        return rec.date if rec else None
    if iv.reference == "most_recent":
        # CALCDTINT-8: most recent dose of the named vaccine types, any antigen.
        latest: dt.date | None = None
        for code in iv.vaccines:
            for d in ctx.doses_by_vaccine.get(code, ()):
                later = d.date < on and (latest is None or d.date > latest)
                if later and not any(r.dose is d for r in run.inadvertent):
                    latest = d.date
        return latest
    # CALCDTINT-9: most recent active observation with the code.
    dates = [
        o.date
        for o in ctx.patient.observations
        if o.code == iv.observation and o.date is not None and o.date <= on
    ]
    return max(dates) if dates else None


def _condition_met(
    ctx: _Context,
    run: _SeriesRun,
    cond: Condition,
    ref: dt.date,
    prior: Sequence[_Rec],
) -> bool:
    if cond.kind == "age":
        # Table 6-6: begin age date <= reference date < end age date.
        begin, end = ctx.window(cond.begin_age, cond.end_age)
        return begin <= ref < end
    if cond.kind == "interval":
        # Table 6-8 with CALCDTSKIP-5: interval from the immediately previous dose.
        if not prior or cond.interval is None:
            return False
        return ref >= add(prior[-1].date, cond.interval)
    if cond.kind == "completed_series":
        return any(_group_complete(ctx, g) for g in cond.series_groups)
    # CONDSKIP-1: count doses of the listed vaccine types within the age and date windows.
    begin, end = ctx.window(cond.begin_age, cond.end_age)
    start = cond.start_date or _MIN_DATE
    stop = cond.end_date or _MAX_DATE
    wanted = set(cond.vaccines)
    count = 0
    for rec in prior:
        if wanted and rec.vaccine not in wanted:
            continue
        if not (begin <= rec.date < end and start <= rec.date < stop):
            continue
        if cond.dose_type == "valid":
            ev = run.evals.get(rec.index)
            if ev is None or ev.status != "valid":
                continue
        count += 1
    target = cond.dose_count or 0
    if cond.count_logic == "greater":
        return count > target
    if cond.count_logic == "less":
        return count < target
    return count == target


def _skip_applies(
    ctx: _Context,
    run: _SeriesRun,
    target: SeriesDose,
    context: str,
    ref: dt.date,
    prior: Sequence[_Rec],
) -> ConditionalSkip | None:
    for skip in target.skips:
        if skip.context != context and skip.context != "both":
            continue
        if not skip.sets:
            continue
        # Tables 6-10 and 6-11, stopping as soon as the outcome is known.
        need_all = skip.logic == "and"
        for cset in skip.sets:
            met = _in_effect(cset.effective, cset.cessation, ref) and (
                all(_condition_met(ctx, run, c, ref, prior) for c in cset.conditions)
                if cset.logic == "and"
                else any(_condition_met(ctx, run, c, ref, prior) for c in cset.conditions)
            )
            if met and not need_all:
                return skip
            if not met and need_all:
                break
        else:
            if need_all:
                return skip
    return None


def _vaccine_ok(ctx: _Context, rule: VaccineRule, rec: _Rec, *, preferable: bool) -> bool:
    begin, end = ctx.window(rule.begin_age, rule.end_age)
    if not begin <= rec.date < end:
        return False
    # CDSi 4.6 §6.8: a preferable vaccine may name a manufacturer; a known, different MVX
    # makes it not preferable (an unknown MVX is given the benefit of the doubt).
    return not (preferable and rule.mvx and rec.dose.mvx and rule.mvx != rec.dose.mvx)


def _evaluate_dose(
    ctx: _Context, run: _SeriesRun, rec: _Rec, target: SeriesDose, num: int
) -> _Eval:
    # §6.1: a dose condition (expired, recalled...) makes the dose sub-standard.
    if rec.dose.condition:
        return _Eval("sub_standard", "dose_condition", target.rule_id, num)
    # §6.3: inadvertent administration.
    if rec.vaccine in target.inadvertent_vaccines:
        return _Eval("not_valid", "inadvertent_vaccine", target.rule_id, num, inadvertent=True)
    # Not in CDSi 4.6, which is silent on it: the same vaccine recorded twice on one day
    # counts once, even where a schedule allows a zero-day interval. Two different
    # products on one day may both count where the schedule says so (CDC case 2018-0009:
    # ZVL and RZV on the same day, Zoster 3-dose series).
    for r in run.satisfied_by.values():
        if r.date == rec.date and r.vaccine == rec.vaccine:
            return _Eval("not_valid", "same_day_as_valid_dose", target.rule_id, num)
    # §6.4 to §6.9 are all checked, so that every reason is known (§6.10, "evaluation
    # reasons"); the first in the order of chapter 6 is the one reported in `reason`.
    failures: list[tuple[str, str]] = []
    age = _age_rule(target, rec.date)
    grace = False
    if age is not None:
        abs_min, min_age, max_age = ctx.age_limits(age)
        if rec.date >= max_age:
            # Table 6-31: a dose at or after the maximum age is extraneous.
            return _Eval("extraneous", "age_too_old", age.rule_id, num)
        if rec.date < abs_min:
            failures.append(("age_too_young", age.rule_id))
        elif rec.date < min_age:
            grace = True
    # §6.5 and §6.6: all preferable intervals, else all allowable intervals.
    failed: Interval | None = None
    for iv in target.intervals:
        if (iv.effective or iv.cessation) and not _in_effect(iv.effective, iv.cessation, rec.date):
            continue
        ref = _reference_date(ctx, run, iv, rec.date)
        if ref is None:
            continue
        if rec.date < _at(ref, iv.abs_min, _MIN_DATE):
            failed = iv
            break
        if rec.date < _at(ref, iv.min, _MIN_DATE):
            grace = True
    if failed is not None:
        allowed = [
            iv
            for iv in target.allowable_intervals
            if _in_effect(iv.effective, iv.cessation, rec.date)
        ]
        ok = bool(allowed)
        for iv in allowed:
            ref = _reference_date(ctx, run, iv, rec.date)
            if ref is not None and rec.date < _at(ref, iv.abs_min, _MIN_DATE):
                ok = False
        if not ok:
            failures.append(("interval_too_soon", failed.rule_id))
    # §6.7: live virus conflicts with earlier doses of any antigen.
    if rec.vaccine in ctx.index.conflicts:
        conflict = _conflict(ctx, run, rec)
        if conflict is not None:
            failures.append(("live_virus_conflict", conflict))
    # §6.8 and §6.9: preferable, else allowable vaccine.
    preferable, allowable = ctx.index.vaccine_rules[id(target)]
    product_ok = False
    for rule in preferable.get(rec.vaccine, ()):
        if _vaccine_ok(ctx, rule, rec, preferable=True):
            product_ok = True
            break
    else:
        for rule in allowable.get(rec.vaccine, ()):
            if _vaccine_ok(ctx, rule, rec, preferable=False):
                product_ok = True
                break
    if not product_ok:
        failures.append(("not_preferable_or_allowable_vaccine", target.rule_id))
    if not failures:
        return _Eval("valid", "grace_period" if grace else None, target.rule_id, num)
    reason, rule_id = failures[0]
    return _Eval("not_valid", reason, rule_id, num, reasons=tuple(f[0] for f in failures))


def _conflict(ctx: _Context, run: _SeriesRun, rec: _Rec) -> str | None:
    conflicts = ctx.index.conflicts.get(rec.vaccine)
    if not conflicts:
        return None
    by_vaccine = ctx.doses_by_vaccine
    for c in conflicts:
        for d in by_vaccine.get(c.previous, ()):
            if d is rec.dose or d.date > rec.date:
                continue
            # CALCDTCONFLICT-2: a valid (or unevaluated) earlier dose ends the conflict at
            # the minimum end; a not-valid one at the full end.
            status = run.dose_status.get(id(d))
            end = c.min_end if status in (None, "valid") else c.end
            if add(d.date, c.begin) <= rec.date < add(d.date, end):
                return c.rule_id
    return None


def _evaluate_series(ctx: _Context, run: _SeriesRun) -> None:
    """CDSi 4.6 §4.4, figure 4-6: walk target doses and antigen doses together."""
    t = 0
    done: list[_Rec] = []
    for rec in ctx.recs:
        while t < len(run.targets):
            target = run.targets[t]
            if not target.skips or not _skip_applies(
                ctx, run, target, "evaluation", rec.date, done
            ):
                break
            run.state[t] = "skipped"
            t += 1
        if t >= len(run.targets):
            # Step 6a: no target dose left; the dose is extraneous.
            run.evals[rec.index] = _Eval(
                "extraneous", "series_already_complete", run.series.rule_id, None
            )
            done.append(rec)
            continue
        target = run.targets[t]
        ev = _evaluate_dose(ctx, run, rec, target, t + 1)
        run.evals[rec.index] = ev
        run.dose_status[id(rec.dose)] = ev.status
        done.append(rec)
        if ev.inadvertent:
            run.inadvertent.append(rec)
        elif ev.status in ("valid", "not_valid"):
            run.last_reference = rec
        if ev.status == "valid":
            run.state[t] = "satisfied"
            run.valid_count += 1
            if run.first_valid is None:
                run.first_valid = rec.date
            run.satisfied_by[t] = rec
            if target.recurring:
                # Step 5a: a recurring dose is followed by a copy of itself.
                run.targets.insert(t + 1, target)
                run.state.insert(t + 1, "not_satisfied")
            t += 1
    run.evaluated = True


# --- chapter 7: forecast ------------------------------------------------------------------


def _immune(ctx: _Context) -> str | None:
    imm = ctx.antigen.immunity
    if imm is None:
        return None
    for code in imm.observations if ctx.active else ():
        if code in ctx.active:
            return imm.rule_id
    # §7.2: born before the immunity birth date, unless an exclusion applies.
    born_before = imm.birth_date_before is not None and ctx.dob < imm.birth_date_before
    if born_before and not any(c in ctx.active for c in imm.exclusions):
        return imm.rule_id
    return None


def _contraindicated(ctx: _Context) -> str | None:
    if not ctx.active:
        return None  # contraindications are observations
    # §7.3: an active contraindication observation within its ages.
    for ci in ctx.antigen.contraindications:
        if ci.observation in ctx.active:
            begin, end = ctx.window(ci.begin_age, ci.end_age)
            if begin <= ctx.as_of < end:
                return ci.rule_id
    return None


def _contraindicated_vaccines(ctx: _Context) -> set[str]:
    out: set[str] = set()
    for ci in ctx.antigen.vaccine_contraindications:
        if ci.observation in ctx.active:
            begin, end = ctx.window(ci.begin_age, ci.end_age)
            if begin <= ctx.as_of < end:
                out.update(ci.vaccines)
    return out


def _first_open(run: _SeriesRun) -> int:
    for i, s in enumerate(run.state):
        if s == "not_satisfied":
            return i
    return len(run.state)


def _forecast_series(ctx: _Context, run: _SeriesRun) -> None:
    if not run.evaluated:
        _evaluate_series(ctx, run)
    run.forecast_done = True
    if ctx.immune is None:
        ctx.immune = _immune(ctx) or ""
        ctx.contraindicated = _contraindicated(ctx) or ""
    if ctx.immune:
        _set_status(run, "immune", "evidence_of_immunity", ctx.immune)
        return
    if ctx.contraindicated:
        _set_status(run, "contraindicated", "contraindication", ctx.contraindicated)
        return
    t = _first_open(run)
    reference = ctx.as_of
    while True:
        # §7.1 (reference: assessment date) and §7.6 (reference: the earliest date).
        while t < len(run.targets):
            target = run.targets[t]
            if not target.skips or not _skip_applies(
                ctx, run, target, "forecast", reference, ctx.recs
            ):
                break
            run.state[t] = "skipped"
            t += 1
        if t >= len(run.targets):
            if run.valid_count:
                _set_status(run, "complete", "series_complete", run.series.rule_id)
            else:
                _set_status(run, "not_recommended", "not_needed", run.series.rule_id)
            return
        _forecast_dates(ctx, run, t)
        if run.status != "not_complete" or run.earliest is None:
            return
        # §7.6: the forecast must still hold on its own earliest date.
        target = run.targets[t]
        if (
            not target.skips
            or reference == run.earliest
            or not _skip_applies(ctx, run, target, "forecast", run.earliest, ctx.recs)
        ):
            return
        reference = run.earliest
        # Re-run from the same target with the new reference date.
        run.status = "not_complete"


def _set_status(run: _SeriesRun, status: ForecastStatus, reason: str, rule_id: str) -> None:
    run.status = status
    run.reason = reason
    run.decided_by = rule_id
    run.earliest = run.recommended = run.past_due = run.latest = None
    run.dose_number = None
    run.forecast_target = None


def _forecast_dates(ctx: _Context, run: _SeriesRun, t: int) -> None:
    target = run.targets[t]
    dob = ctx.dob
    age = _age_rule(target, ctx.as_of)
    candidates: list[tuple[dt.date, str, str]] = []
    min_age = max_age = rec_age = late_age = None
    if age is not None:
        min_age = None if age.min is None else ctx.age(age.min, dob)
        max_age = None if age.max is None else ctx.age(age.max, dob)
        rec_age = None if age.earliest_rec is None else ctx.age(age.earliest_rec, dob)
        late_age = None if age.latest_rec is None else ctx.age(age.latest_rec, dob)
        if min_age is not None:
            candidates.append((min_age, "min_age", age.rule_id))
    rec_ints: list[dt.date] = []
    late_ints: list[dt.date] = []
    intervals = [
        iv for iv in target.intervals if _in_effect(iv.effective, iv.cessation, ctx.as_of)
    ]
    for iv in intervals:
        ref = _reference_date(ctx, run, iv, ctx.as_of + _ONE_DAY)
        if ref is None:
            continue
        if iv.min is not None:
            candidates.append((add(ref, iv.min), "min_interval", iv.rule_id))
        if iv.earliest_rec is not None:
            rec_ints.append(add(ref, iv.earliest_rec))
        if iv.latest_rec is not None:
            late_ints.append(add(ref, iv.latest_rec))
    run.priority = bool(intervals) and all(iv.priority for iv in intervals)
    # CALCDTCONFLICT-3: a live vaccine given earlier delays a conflicting next dose.
    conflicts = ctx.index.forecast_conflicts.get(id(target))
    if conflicts:
        for d in ctx.patient.doses:
            for c in conflicts.get(d.vaccine, ()):
                candidates.append((add(d.date, c.end), "live_virus_conflict", c.rule_id))
    if target.season_start is not None:
        candidates.append((target.season_start, "season_start", target.rule_id))
    for rec in ctx.recs:
        ev = run.evals.get(rec.index)
        if ev is not None and ev.status != "extraneous":
            # The rule at stake is the target dose being forecast: it cannot come earlier.
            candidates.append((rec.date, "previous_dose", target.rule_id))
    if candidates:
        earliest, reason, decided = max(candidates, key=lambda c: c[0])
    else:
        earliest, reason, decided = dob, "min_age", target.rule_id
    # Table 7-10: should the patient receive another target dose?
    if target.season_end is not None and ctx.as_of > target.season_end:
        _set_status(run, "not_recommended", "past_seasonal_end", target.rule_id)
        return
    if max_age is not None and ctx.as_of >= max_age:
        _set_status(run, "aged_out", "max_age_exceeded", age.rule_id if age else "")
        return
    if max_age is not None and earliest >= max_age:
        _set_status(run, "aged_out", "cannot_finish_before_max_age", age.rule_id if age else "")
        return
    # §7.5, FORECASTDT-1..6.
    recommended = rec_age or (max(rec_ints) if rec_ints else None) or earliest
    past_due: dt.date | None = None
    if late_age is not None:
        past_due = late_age - _ONE_DAY
    elif late_ints:
        past_due = max(late_ints) - _ONE_DAY
    run.status = "not_complete"
    run.forecast_target = t
    run.earliest = earliest
    run.recommended = max(recommended, earliest)
    run.past_due = None if past_due is None else max(past_due, earliest)
    run.latest = None if max_age is None else max_age - _ONE_DAY
    run.reason = reason
    run.decided_by = decided
    # FORECASTDN-1: satisfied target doses plus one.
    # A dose given before a seasonal target dose's season starts counts for evaluation but
    # not for this season's dose number.
    run.dose_number = 1 + sum(
        1
        for i, state in enumerate(run.state)
        if state == "satisfied"
        and (
            run.targets[i].season_start is None
            or run.satisfied_by[i].date >= (run.targets[i].season_start or _MIN_DATE)
        )
    )
    excluded = _contraindicated_vaccines(ctx) if ctx.active else set()
    run.vaccines = tuple(
        dict.fromkeys(
            v.vaccine
            for v in target.preferable_vaccines
            if v.forecast
            and v.vaccine not in excluded
            and ctx.age(v.begin_age, _MIN_DATE) <= run.recommended < ctx.age(v.end_age, _MAX_DATE)
        )
    )


# --- chapter 8: best series -------------------------------------------------------------


def _group_complete(ctx: _Context, group: str) -> bool:
    """Whether a series group holds a complete relevant series (table 6-7)."""
    for run in ctx.runs:
        if run.series.series_group != group or run.series.rule_id in ctx.busy:
            continue
        ctx.busy.add(run.series.rule_id)
        try:
            if not run.forecast_done:
                _forecast_series(ctx, run)
        finally:
            ctx.busy.discard(run.series.rule_id)
        if run.status == "complete":
            return True
    return False


def _finish_date(run: _SeriesRun) -> dt.date | None:
    """SELECTB-12: the earliest date plus the minimum intervals of the remaining doses."""
    if run.status != "not_complete" or run.earliest is None or run.forecast_target is None:
        return None
    when = run.earliest
    for target in run.targets[run.forecast_target + 1 :]:
        longest: dt.date | None = None
        for iv in target.intervals:
            if iv.reference == "previous" and iv.min is not None:
                cand = add(when, iv.min)
                longest = cand if longest is None or cand > longest else longest
        if longest is not None:
            when = longest
    return when


def _completable(ctx: _Context, run: _SeriesRun) -> bool:
    """SELECTB-3: the series can finish before the last target dose's maximum age."""
    finish = _finish_date(run)
    if finish is None:
        return False
    last = _age_rule(run.targets[-1], ctx.as_of)
    return last is None or finish < ctx.age(last.max, _MAX_DATE)


def _points(flags: list[bool], yes: int, tie: int, no: int) -> list[int]:
    count = sum(flags)
    return [(tie if count > 1 else yes) if f else no for f in flags]


def _score(ctx: _Context, runs: list[_SeriesRun], kind: str) -> None:
    for run in runs:
        run.score = 0
    valid = [r.valid_count for r in runs]
    if kind == "complete":
        for r, p in zip(runs, _points([v == max(valid) for v in valid], 1, 0, -1), strict=True):
            r.score = (r.score or 0) + p
        return
    completable = [_completable(ctx, r) for r in runs]
    if kind == "in_process":
        all_valid = [
            r.series.product_path and all(e.status == "valid" for e in r.evals.values())
            for r in runs
        ]
        remaining = [sum(1 for s in r.state if s == "not_satisfied") for r in runs]
        finish = [_finish_date(r) for r in runs]
        finishes = [f for f, c in zip(finish, completable, strict=True) if c and f is not None]
        earliest_finish = [
            c and f is not None and f <= min(finishes)
            for f, c in zip(finish, completable, strict=True)
        ]
        parts = [
            [2 if f else -2 for f in all_valid],
            [3 if c else -3 for c in completable],
            _points([v == max(valid) for v in valid], 2, 0, -2),
            _points([m == min(remaining) for m in remaining], 2, 0, -2),
            _points(earliest_finish, 1, 0, -1),
        ]
    else:
        starts = [r.earliest for r in runs]
        known = [s for s in starts if s is not None]
        parts = [
            _points([s is not None and s == min(known) for s in starts], 1, 0, -1),
            [1 if c else -1 for c in completable],
            [-1 if r.series.product_path else 1 for r in runs],
        ]
    for part in parts:
        for r, p in zip(runs, part, strict=True):
            r.score = (r.score or 0) + p


def _status(ctx: _Context, run: _SeriesRun) -> ForecastStatus:
    """A series' forecast status, forecasting it on first use.

    Best-series selection often needs only some series' forecasts (a default series with
    no valid doses anywhere settles a group at once), so forecasts are made on demand.
    """
    if not run.forecast_done:
        _forecast_series(ctx, run)
    return run.status


def _prioritized(ctx: _Context, runs: list[_SeriesRun]) -> _SeriesRun | None:
    """CDSi 4.6 §8.1 to §8.7 for one series group."""
    # SELECTB-24 drops contraindicated series unless all are; contraindications are per
    # antigen (§7.3), so either every series of the group is contraindicated or none is,
    # and every series stays a candidate.
    candidates = runs
    if len(runs) == 1 and runs[0].series.default:
        # Table 8-3 settles a lone default series whether or not it is scorable.
        return runs[0]
    risk_priorities = [r.series.priority for r in runs if r.series.type == "risk"]
    top = min(risk_priorities) if risk_priorities else None
    none_valid = all(r.valid_count == 0 for r in runs)
    defaults = [r for r in runs if r.series.default]
    scorable: list[_SeriesRun] = []
    for r in candidates:
        s = r.series
        if s.type == "risk":
            if s.priority == top:
                scorable.append(r)
        elif s.type == "standard":
            first = r.first_valid
            started = first is not None and first < ctx.age(s.max_age_to_start, _MAX_DATE)
            if started or (none_valid and not defaults):
                scorable.append(r)
        elif _status(ctx, r) == "complete":
            scorable.append(r)
    # Table 8-3.
    if not scorable:
        return defaults[0] if len(defaults) == 1 else None
    if len(scorable) == 1:
        return scorable[0]
    complete = [r for r in scorable if _status(ctx, r) == "complete"]
    in_process = [r for r in scorable if r.status == "not_complete" and r.valid_count > 0]
    if len(complete) == 1:
        return complete[0]
    if not complete and len(in_process) == 1:
        return in_process[0]
    if not complete and not in_process and len(defaults) == 1:
        return defaults[0]
    # Table 8-5.
    if len(complete) >= 2:
        scored, kind = complete, "complete"
    elif len(in_process) >= 2:
        scored, kind = in_process, "in_process"
    else:
        scored = [r for r in scorable if r.valid_count == 0] or scorable
        kind = "none"
    _score(ctx, scored, kind)
    # SELECTBEST-2: highest score, then best preference.
    return min(scored, key=lambda r: (-(r.score or 0), r.series.preference))


def _best_series(ctx: _Context) -> list[_SeriesRun]:
    groups: dict[str, list[_SeriesRun]] = {}
    for run in ctx.runs:
        groups.setdefault(run.series.series_group, []).append(run)
    chosen: dict[str, _SeriesRun] = {}
    for g, runs in groups.items():
        p = _prioritized(ctx, runs)
        if p is not None:
            chosen[g] = p
    best: list[_SeriesRun] = []
    for g, p in chosen.items():
        equivalent = [
            chosen[e] for e in p.series.equivalent_series_groups if e != g and e in chosen
        ]
        # Table 8-14.
        if _status(ctx, p) == "complete":
            best.append(p)
        elif (
            any(_status(ctx, e) == "complete" for e in equivalent)
            or p.series.type == "evaluation_only"
        ):
            continue
        elif p.series.type == "risk" or not any(e.series.type == "risk" for e in equivalent):
            best.append(p)
    if len(best) > 1:
        # A path the patient never started and has aged out of, or that needs nothing (all
        # its target doses skipped), says nothing while another path is open or complete
        # (e.g. the infant series for a 65-year-old).
        open_paths = [
            r for r in best if r.valid_count > 0 or r.status not in ("aged_out", "not_recommended")
        ]
        best = open_paths or best[:1]
    # The series with the most valid doses reports the evaluations (see assess()).
    best.sort(key=lambda r: (-r.valid_count, r.status != "complete"))
    return best


# --- chapter 9: vaccine groups -----------------------------------------------------------

_STATUS_ORDER: tuple[ForecastStatus, ...] = (
    "contraindicated",
    "aged_out",
    "not_recommended",
    "not_complete",
)


_SETTLED: dict[tuple[str, str, str | None, str, tuple[str, ...]], VaccineGroupForecast] = {}


def _settled(
    name: str, status: ForecastStatus, reason: str | None, rule_id: str, antigens: Sequence[str]
) -> VaccineGroupForecast:
    """A forecast with nothing due (complete, aged out...): one shared immutable object."""
    key = (name, status, reason, rule_id, tuple(antigens))
    found = _SETTLED.get(key)
    if found is None:
        if len(_SETTLED) >= 10_000:  # bounded by the rules of the schedules in use
            _SETTLED.clear()
        found = _SETTLED[key] = VaccineGroupForecast(
            name, status, None, None, None, None, None, reason, rule_id, tuple(antigens)
        )
    return found


def _copied(name: str, r: _BestForecast, antigens: Sequence[str]) -> VaccineGroupForecast:
    """Chapter 9 for one best series: the group copies its forecast."""
    if r.status != "not_complete":
        return _settled(name, r.status, r.reason, r.decided_by, antigens)
    earliest = r.earliest
    assert earliest is not None
    assert r.recommended is not None
    return VaccineGroupForecast(
        name,
        "not_complete",
        r.dose_number,
        earliest,
        max(r.recommended, earliest),
        None if r.past_due is None else max(r.past_due, earliest),
        r.latest,
        r.reason,
        r.decided_by,
        tuple(antigens),
        r.vaccines,
    )


def _group_forecast(
    schedule: Schedule,
    patient: Patient,
    name: str,
    antigens: Sequence[str],
    administer_full: bool,
    runs: Sequence[_BestForecast],
) -> VaccineGroupForecast:
    if not runs:
        return _settled(name, "not_recommended", "no_relevant_series", name, antigens)
    if len(runs) == 1:
        return _copied(name, runs[0], antigens)
    statuses = [r.status for r in runs]
    status: ForecastStatus
    for s in _STATUS_ORDER:
        if s in statuses:
            status = s
            break
    else:
        status = "immune" if all(s == "immune" for s in statuses) else "complete"
    deciding = [r for r in runs if r.status == status]
    if status != "not_complete":
        first = deciding[0]
        return VaccineGroupForecast(
            name,
            status,
            None,
            None,
            None,
            None,
            None,
            first.reason,
            first.decided_by,
            tuple(antigens),
        )
    open_runs = deciding
    earliest_dates = [r.earliest for r in open_runs if r.earliest is not None]
    single = len({r.antigen for r in runs}) == 1
    if single:
        earliest = min(earliest_dates)
    elif any(r.priority for r in open_runs):
        # MULTIANTVG-1 with FORECASTPRIORITY-1.
        idx = schedule.index()
        group_vaccines = {
            d.vaccine
            for d in patient.doses
            if any(a.antigen in antigens for a in idx.associations.get(d.vaccine, ()))
        }
        last = max(
            (d.date for d in patient.doses if d.vaccine in group_vaccines), default=_MIN_DATE
        )
        earliest = max(min(earliest_dates), last)
    else:
        earliest = max(earliest_dates)
    decider = next(r for r in open_runs if r.earliest == max(earliest_dates))
    recommended = max(min(r.recommended for r in open_runs if r.recommended), earliest)
    past_dues = [r.past_due for r in open_runs if r.past_due is not None]
    past_due = max(min(past_dues), earliest) if past_dues else None
    latests = [r.latest for r in open_runs if r.latest is not None]
    numbers = [r.dose_number for r in open_runs if r.dose_number is not None]
    number = (min(numbers) if administer_full else max(numbers)) if numbers else None
    vaccines = tuple(dict.fromkeys(v for r in open_runs for v in r.vaccines))
    return VaccineGroupForecast(
        name,
        "not_complete",
        number,
        earliest,
        recommended,
        past_due,
        min(latests) if latests else None,
        decider.reason,
        decider.decided_by,
        tuple(antigens),
        vaccines,
    )


# --- public API ----------------------------------------------------------------------------


# What chapter 9 needs of a best patient series' forecast: a named tuple, cheap to make.
_BestForecast = BestForecast


@attrs.frozen
class _AntigenResult:
    """One antigen's outcome for one patient, reusable for an identical input."""

    best: tuple[_BestForecast, ...]
    outcomes: tuple[SeriesOutcome, ...]
    # Per antigen record position: (evaluation, vaccine group, series name).
    evals: tuple[tuple[int, _Eval, str, str], ...]


_MEMO_LIMIT = 50_000  # about 70 MB on the CDSi schedule; emptied when full


def _assess_antigen(
    schedule: Schedule, view: _PatientView, antigen: Antigen, recs: list[_Rec]
) -> _AntigenResult:
    ctx = _Context(schedule, view, antigen, recs)
    patient = view.patient
    rec_map = {r.index: r for r in recs}
    # §5.1: standard and evaluation-only series need only the right sex; risk series
    # also need an indication, which needs an observation.
    candidates = ctx.index.plain_series[antigen.name].get(patient.sex, ())
    if ctx.active:
        candidates = tuple(s for s in antigen.series if _relevant(ctx, s))
    ctx.runs = [
        _SeriesRun(s, list(s.doses), ["not_satisfied"] * len(s.doses), rec_map) for s in candidates
    ]
    for run in ctx.runs:
        if not run.evaluated:
            _evaluate_series(ctx, run)
    # "Minimum age to start" (CDSi 4.6 appendix A): a series the patient is too young to
    # start is kept only if it has already been started with a valid dose.
    ctx.runs = [r for r in ctx.runs if _startable(ctx, r)]
    best = _best_series(ctx)
    outcomes = tuple(
        SeriesOutcome(
            antigen.name,
            run.series.name,
            run.series.rule_id,
            run in best,
            run.status,
            run.dose_number,
            run.earliest,
            run.recommended,
            run.past_due,
            run.latest,
            run.reason,
            run.decided_by,
            run.score,
        )
        for run in ctx.runs
        if run.forecast_done
    )
    source = best[0] if best else (ctx.runs[0] if recs and ctx.runs else None)
    evals: list[tuple[int, _Eval, str, str]] = []
    if source is not None:
        for pos, rec in enumerate(recs):
            ev = source.evals.get(rec.index)
            if ev is not None:
                evals.append((pos, ev, source.series.vaccine_group, source.series.name))
    light = tuple(
        _BestForecast(
            antigen.name,
            r.status,
            r.earliest,
            r.recommended,
            r.past_due,
            r.latest,
            r.dose_number,
            r.priority,
            r.vaccines,
            r.reason,
            r.decided_by,
        )
        for r in best
    )
    return _AntigenResult(light, outcomes, tuple(evals))


def _memo_key(
    view: _PatientView, antigen: Antigen, recs: list[_Rec], external: frozenset[str]
) -> tuple[object, ...]:
    # Everything an antigen's outcome depends on: birth date, sex, as-of date, its own
    # doses, the other doses its rules look at (live-virus conflicts, "most recent"
    # intervals) and the observations.
    return (
        antigen.name,
        view.dob,
        view.patient.sex,
        view.as_of,
        tuple([(r.date, r.vaccine, r.dose.mvx, r.dose.condition) for r in recs]),
        tuple([d for d in view.dated_doses if d[1] in external]) if external else (),
        view.observation_key,
    )


def assess(
    schedule: Schedule,
    patient: Patient,
    *,
    as_of: dt.date,
    vaccine_groups: Collection[str] | None = None,
) -> Assessment:
    """Evaluate a patient's doses and forecast every vaccine group of a schedule.

    Args:
        schedule: The schedule to apply.
        patient: The patient and history.
        as_of: The assessment date ("today" for this run; never read from the clock).
        vaccine_groups: Only these vaccine groups (and their antigens), e.g. the groups a
            due list covers; ``None`` for all. Unknown names are ignored.

    Returns:
        The evaluations (per dose and antigen, from each antigen's best series), the
        vaccine-group forecasts in schedule order, and every relevant series' outcome.

    Raises:
        ValidationError: A dose is before birth, after ``as_of`` or of an unknown vaccine.
    """
    result = _assess(schedule, patient, as_of, vaccine_groups, full=True, fast=True)
    assert isinstance(result, Assessment)
    return result


def forecast_only(
    schedule: Schedule,
    patient: Patient,
    *,
    as_of: dt.date,
    vaccine_groups: Collection[str] | None = None,
) -> tuple[VaccineGroupForecast, ...]:
    """The forecasts of :func:`assess`, without building per-dose explanations.

    Every dose is still evaluated (a forecast depends on it); only the
    :class:`DoseEvaluation` and :class:`SeriesOutcome` objects are not made, which is most
    of the cost on a small national schedule. Due lists use it.

    Raises:
        ValidationError: As :func:`assess`.
    """
    if vaccine_groups is None and not patient.observations:
        compiled = _compiled(schedule)
        if compiled.order:
            return _forecast_fast(schedule, compiled, patient, as_of)
    result = _assess(schedule, patient, as_of, vaccine_groups, full=False, fast=True)
    assert isinstance(result, tuple)
    return result


def _compiled(schedule: Schedule) -> Compiled:
    idx = schedule.index()
    if not idx.compiled:
        idx.compiled.append(compile_schedule(schedule))
    found = idx.compiled[0]
    assert isinstance(found, Compiled)
    return found


def _full_order(d: Dose) -> tuple[dt.date, str, str, str]:
    return d.date, d.vaccine, d.mvx or "", d.id


_ORDER = operator.attrgetter("date", "vaccine", "mvx", "id")


def _in_order(doses: tuple[Dose, ...]) -> list[Dose]:
    """§4.2: the doses by date, then vaccine, MVX and id, so that input order never matters.

    The C-level key gives the same order as :func:`_full_order`; it only fails to compare
    a missing MVX with a present one on the same day and vaccine, which is then sorted by
    the full key.
    """
    try:
        return sorted(doses, key=_ORDER)
    except TypeError:
        return sorted(doses, key=_full_order)


def _forecast_fast(
    schedule: Schedule, compiled: Compiled, patient: Patient, as_of: dt.date
) -> tuple[VaccineGroupForecast, ...]:
    """:func:`forecast_only` when every antigen runs on the fast path: the batch API's
    lean loop (:func:`immreg.schedule.lean.forecast_lean`, compiled where built so)."""
    from immreg.schedule.lean import forecast_lean  # lean builds on this module

    return forecast_lean(schedule, compiled, patient, as_of)


def _assess(
    schedule: Schedule,
    patient: Patient,
    as_of: dt.date,
    vaccine_groups: Collection[str] | None,
    *,
    full: bool,
    fast: bool,
) -> Assessment | tuple[VaccineGroupForecast, ...]:
    """:func:`assess` (``full``) or :func:`forecast_only`; ``fast=False`` forces the
    general path for every antigen (the differential tests compare the two)."""
    if fast and not full and vaccine_groups is None and not patient.observations:
        compiled = _compiled(schedule)
        if compiled.order:
            return _forecast_fast(schedule, compiled, patient, as_of)
    validate_patient(schedule, patient, as_of=as_of)
    idx = schedule.index()
    groups = schedule.vaccine_groups
    antigens: Sequence[Antigen] = schedule.antigens
    if vaccine_groups is not None:
        wanted = set(vaccine_groups)
        groups = tuple(g for g in groups if g.name in wanted)
        members = {a for g in groups for a in g.antigens}
        antigens = [a for a in antigens if a.name in members]
    # Observations bring immunity, contraindications and risk series: the general path.
    plans = _compiled(schedule).plans if fast and not patient.observations else {}
    best_by_antigen: dict[str, tuple[_BestForecast, ...]] = {}
    evaluations: list[tuple[int, DoseEvaluation]] = []
    outcomes: list[SeriesOutcome] = []
    doses = _in_order(patient.doses)
    fast_recs: dict[str, list[tuple[dt.date, str, Dose, int]]] = {}
    view: _PatientView | None = None
    by_antigen: dict[str, list[_Rec]] = {}
    if plans:
        compiled = _compiled(schedule)
        ages = compiled.ages(patient.birth_date)
        antigens_of = compiled.antigens_of
        for pos, d in enumerate(doses):
            rec_f = (d.date, d.vaccine, d, pos)
            for name, begin, end in antigens_of[d.vaccine]:
                # Associations may hold only within an age window (zoster < 50 years).
                if begin and not ages[begin] <= d.date < ages[end]:
                    continue
                found = fast_recs.get(name)
                if found is None:
                    fast_recs[name] = [rec_f]
                else:
                    found.append(rec_f)
        by_vaccine: dict[str, list[Dose]] | None = None
        if schedule.conflicts:
            by_vaccine = {}
            for d in patient.doses:
                by_vaccine.setdefault(d.vaccine, []).append(d)
    for antigen in antigens:
        plan = plans.get(antigen.name)
        if plan is not None:
            recs_f = fast_recs.get(antigen.name, [])
            out = run_plan(
                plan,
                ages,
                recs_f,
                as_of,
                patient.birth_date,
                patient.sex,
                patient.doses,
                by_vaccine,
            )
            best_by_antigen[antigen.name] = out[0]
            if not full:
                continue
            series = plan.series
            fc = out[1]
            if fc is not None:
                outcomes.append(_series_outcome(series, fc))
            antigen_name = antigen.name
            group_name = series.vaccine_group
            series_name = series.name
            for position, status, reason, rule_id, target, reasons in out[2]:
                rec_f = recs_f[position]
                evaluations.append(
                    (
                        rec_f[3],
                        DoseEvaluation(
                            rec_f[2].id,
                            antigen_name,
                            group_name,
                            series_name,
                            target,
                            status,
                            reason,
                            rule_id,
                            reasons or ((reason,) if reason else ()),
                        ),
                    )
                )
            continue
        if view is None:
            view = _PatientView(schedule, patient, as_of)
            by_antigen = _organise(view)
        recs = by_antigen.get(antigen.name, [])
        # The outcome is a pure function of the key, so identical inputs (children born
        # the same day, assessed the same day, with the same doses) share one result.
        memo = idx.memo
        key = _memo_key(view, antigen, recs, idx.external[antigen.name])
        result = memo.get(key)
        if not isinstance(result, _AntigenResult):
            result = _assess_antigen(schedule, view, antigen, recs)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = result
        best_by_antigen[antigen.name] = result.best
        if not full:
            continue
        outcomes.extend(result.outcomes)
        for pos, ev_, group_name, series_name in result.evals:
            rec = recs[pos]
            evaluations.append(
                (
                    rec.index,
                    DoseEvaluation(
                        rec.dose.id,
                        antigen.name,
                        group_name,
                        series_name,
                        ev_.target,
                        ev_.status,
                        ev_.reason,
                        ev_.rule_id,
                        ev_.reasons or ((ev_.reason,) if ev_.reason else ()),
                    ),
                )
            )
    forecasts = []
    for group in groups:
        runs = [r for a in group.antigens for r in best_by_antigen.get(a, ())]
        forecasts.append(
            _group_forecast(
                schedule, patient, group.name, group.antigens, group.administer_full, runs
            )
        )
    if not full:
        return tuple(forecasts)
    # Dose order (positions follow dates), then antigen order: the sort is stable.
    evaluations.sort(key=_FIRST)
    return Assessment(
        as_of=as_of,
        evaluations=tuple(map(_SECOND, evaluations)),
        forecasts=tuple(forecasts),
        series=tuple(outcomes),
    )


def _series_outcome(series: Series, fc: _BestForecast) -> SeriesOutcome:
    """The outcome of a fast-path series; one shared object when nothing is due."""
    settled = fc.earliest is None
    if settled:
        found = _SETTLED_SERIES.get((series.rule_id, fc))
        if found is not None:
            return found
    outcome = SeriesOutcome(
        fc.antigen,
        series.name,
        series.rule_id,
        True,
        fc.status,
        fc.dose_number,
        fc.earliest,
        fc.recommended,
        fc.past_due,
        fc.latest,
        fc.reason,
        fc.decided_by,
        None,
    )
    if settled:
        if len(_SETTLED_SERIES) >= 10_000:  # bounded by the rules of the schedules in use
            _SETTLED_SERIES.clear()
        _SETTLED_SERIES[(series.rule_id, fc)] = outcome
    return outcome


_SETTLED_SERIES: dict[tuple[str, _BestForecast], SeriesOutcome] = {}


_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


def evaluate(
    schedule: Schedule,
    patient: Patient,
    *,
    as_of: dt.date,
    vaccine_groups: Collection[str] | None = None,
) -> tuple[DoseEvaluation, ...]:
    """Return only the dose evaluations of :func:`assess`."""
    return assess(schedule, patient, as_of=as_of, vaccine_groups=vaccine_groups).evaluations


def forecast(
    schedule: Schedule,
    patient: Patient,
    *,
    as_of: dt.date,
    vaccine_groups: Collection[str] | None = None,
) -> tuple[VaccineGroupForecast, ...]:
    """Return only the vaccine-group forecasts of :func:`assess` (see :func:`forecast_only`)."""
    return forecast_only(schedule, patient, as_of=as_of, vaccine_groups=vaccine_groups)
