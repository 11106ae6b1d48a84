"""Was each dose given on time? Timeliness windows for due lists and indicators.

A dose counted for a target dose is classified against that dose's window in the
schedule:

* ``too_early``: before the minimum age or the minimum interval (a dose the engine judged
  not valid for age or interval, or valid only within a grace period);
* ``on_time``: from the minimum up to the last day before the dose is late. The window
  opens at the *recommended* date (the earliest recommended age, else the latest
  earliest-recommended interval, as the engine forecasts it) and, unless the schedule
  says otherwise, closes 14 days after it (:data:`DEFAULT_WINDOW_DAYS`). A valid dose
  between the minimum and the recommended date is on time too (reason
  ``before_recommended``);
* ``late``: on or after the schedule's latest recommended age (or interval) date; without
  one, from the 15th day after the recommended date.

The packs write a window as ``latest_rec = recommended + 15 days`` so that the engine's
forecast ``past_due`` (``latest_rec`` - 1 day, CDSi 4.6 FORECASTDT-5) is the last on-time
day. Every result carries a reason and the ``rule_id`` of the rule that set the date it was
compared with. This is a pure function of the schedule, the patient and the assessment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import attrs

from immreg.schedule.dates import add
from immreg.schedule.patient import Assessment, DoseEvaluation, Patient
from immreg.schedule.rules import Interval, Schedule, SeriesDose, SeriesDoseAge

__all__ = ["DEFAULT_WINDOW_DAYS", "DoseTimeliness", "TimelinessStatus", "classify"]

#: Days after the recommended date that still count as on time, when a rule sets no window.
DEFAULT_WINDOW_DAYS = 14

TimelinessStatus = Literal["too_early", "on_time", "late"]

_EARLY_REASONS = ("age_too_young", "interval_too_soon")


@attrs.frozen
class DoseTimeliness:
    """How timely one dose was for one antigen.

    Attributes:
        dose_id: The dose.
        antigen: The antigen it was judged for.
        vaccine_group: The vaccine group.
        target_dose: The target dose number.
        date: The dose date.
        status: ``"too_early"``, ``"on_time"`` or ``"late"``.
        reason: ``"age_too_young"``, ``"interval_too_soon"``, ``"grace_period"``,
            ``"before_recommended"``, ``"within_window"`` or ``"after_window"``.
        rule_id: The rule that set the date the dose was compared with.
        recommended: The recommended date for this dose given the history.
        late_from: The first late day.
    """

    dose_id: str
    antigen: str
    vaccine_group: str
    target_dose: int | None
    date: dt.date
    status: TimelinessStatus
    reason: str
    rule_id: str
    recommended: dt.date | None
    late_from: dt.date | None


def _in_effect(effective: dt.date | None, cessation: dt.date | None, on: dt.date) -> bool:
    return (effective is None or effective <= on) and (cessation is None or on < cessation)


def _age_rule(target: SeriesDose, on: dt.date) -> SeriesDoseAge | None:
    # The same choice as the engine (CDSi 4.6 §3.3): the rule in effect on the date.
    for age in target.ages:
        if _in_effect(age.effective, age.cessation, on):
            return age
    return target.ages[0] if target.ages else None


def _target(schedule: Schedule, ev: DoseEvaluation) -> SeriesDose | None:
    if ev.target_dose is None:
        return None
    for antigen in schedule.antigens:
        if antigen.name != ev.antigen:
            continue
        for series in antigen.series:
            if series.name == ev.series and series.doses:
                # A recurring last dose repeats: later numbers use it.
                return series.doses[min(ev.target_dose, len(series.doses)) - 1]
    return None


def _reference(
    iv: Interval,
    ev: DoseEvaluation,
    earlier: Sequence[tuple[dt.date, DoseEvaluation]],
    patient: Patient,
    on: dt.date,
) -> dt.date | None:
    if iv.reference == "previous":
        # CALCDTINT-1: the latest earlier valid or not-valid dose of this antigen.
        for when, e in reversed(earlier):
            if e.status in ("valid", "not_valid") and e.reason != "inadvertent_vaccine":
                return when
        return None
    if iv.reference == "target_dose":
        for when, e in earlier:
            if e.status == "valid" and e.target_dose == iv.target_dose:
                return when
        return None
    if iv.reference == "most_recent":
        dates = [d.date for d in patient.doses if d.vaccine in iv.vaccines and d.date < on]
        return max(dates) if dates else None
    dates = [
        o.date
        for o in patient.observations
        if o.code == iv.observation and o.date is not None and o.date <= on
    ]
    return max(dates) if dates else None


def classify(
    schedule: Schedule,
    patient: Patient,
    assessment: Assessment,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> tuple[DoseTimeliness, ...]:
    """Classify every dose counted (or judged too early) for a target dose.

    Args:
        schedule: The schedule the assessment was made with.
        patient: The patient assessed.
        assessment: The engine's assessment of the patient.
        window_days: Days after the recommended date that are on time when a rule sets no
            latest recommended age or interval.

    Returns:
        One result per valid dose and per dose not valid for age or interval, per
        antigen, in the assessment's order. Extraneous and sub-standard doses and doses
        not valid for other reasons (wrong product, live-virus conflict) are left out.
    """
    dates = {d.id: d.date for d in patient.doses}
    dob = patient.birth_date
    history: dict[str, list[tuple[dt.date, DoseEvaluation]]] = {}
    out: list[DoseTimeliness] = []
    for ev in assessment.evaluations:
        when = dates[ev.dose_id]
        earlier = history.setdefault(ev.antigen, [])
        target = _target(schedule, ev)
        counted = ev.status == "valid" or (
            ev.status == "not_valid" and ev.reason in _EARLY_REASONS
        )
        if target is not None and counted:
            out.append(_one(ev, when, target, earlier, patient, dob, window_days))
        earlier.append((when, ev))
    return tuple(out)


def _one(
    ev: DoseEvaluation,
    when: dt.date,
    target: SeriesDose,
    earlier: Sequence[tuple[dt.date, DoseEvaluation]],
    patient: Patient,
    dob: dt.date,
    window_days: int,
) -> DoseTimeliness:
    age = _age_rule(target, when)
    minimum: list[tuple[dt.date, str]] = []
    rec_age: tuple[dt.date, str] | None = None
    late_age: tuple[dt.date, str] | None = None
    if age is not None:
        if age.min is not None:
            minimum.append((add(dob, age.min), age.rule_id))
        if age.earliest_rec is not None:
            rec_age = (add(dob, age.earliest_rec), age.rule_id)
        if age.latest_rec is not None:
            late_age = (add(dob, age.latest_rec), age.rule_id)
    rec_ints: list[tuple[dt.date, str]] = []
    late_ints: list[tuple[dt.date, str]] = []
    for iv in target.intervals:
        if not _in_effect(iv.effective, iv.cessation, when):
            continue
        ref = _reference(iv, ev, earlier, patient, when)
        if ref is None:
            continue
        if iv.min is not None:
            minimum.append((add(ref, iv.min), iv.rule_id))
        if iv.earliest_rec is not None:
            rec_ints.append((add(ref, iv.earliest_rec), iv.rule_id))
        if iv.latest_rec is not None:
            late_ints.append((add(ref, iv.latest_rec), iv.rule_id))
    earliest = max(minimum) if minimum else (dob, target.rule_id)
    # As the engine forecasts (CDSi 4.6 FORECASTDT-2..5): the recommended age first, then
    # the recommended interval, never before the earliest date.
    recommended = rec_age or (max(rec_ints) if rec_ints else None) or earliest
    recommended = max(recommended, earliest)
    late = late_age or (max(late_ints) if late_ints else None)
    if late is None:
        late = (recommended[0] + dt.timedelta(days=window_days + 1), recommended[1])

    def result(status: TimelinessStatus, reason: str, rule_id: str) -> DoseTimeliness:
        return DoseTimeliness(
            ev.dose_id,
            ev.antigen,
            ev.vaccine_group,
            ev.target_dose,
            when,
            status,
            reason,
            rule_id,
            recommended[0],
            late[0],
        )

    if ev.status == "not_valid":
        return result("too_early", str(ev.reason), ev.rule_id)
    if ev.reason == "grace_period":
        failing = [m for m in minimum if when < m[0]]
        return result("too_early", "grace_period", failing[0][1] if failing else ev.rule_id)
    if when >= late[0]:
        return result("late", "after_window", late[1])
    if when < recommended[0]:
        return result("on_time", "before_recommended", recommended[1])
    return result("on_time", "within_window", recommended[1])
