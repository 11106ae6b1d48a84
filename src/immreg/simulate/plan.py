"""What a schedule asks of a birth cohort, read from the schedule's own rules.

:func:`plan_for` turns a loaded :class:`~immreg.schedule.rules.Schedule` into the list of
*visits* a child makes (one :class:`PlannedEvent` per product dose: the third
DPT-VGB-Hib dose is one event that counts for five antigens) and keeps, for every target
dose, the rules the fast path needs to judge a dose the way the engine does: minimum age,
minimum interval from the previous dose, maximum age, age-based conditional skips and the
effective dates of each rule. Nothing here names a pack, a vaccine or an age: every number
comes from the schedule, so a changed schedule (a moved dose, another country's pack) is
simulated by the same code.

The dates of a whole cohort are handled as numpy ``int64`` day numbers (days since
1970-01-01); :func:`add_duration` is CDSi date arithmetic (CALCDT-1 to 6) on such arrays.

The fast path covers what childhood schedules use. A schedule that needs more (intervals
from a named target dose or vaccine, live-virus conflicts, counting skips over vaccines the
plan gives, a vaccine planned for some antigens that also counts for others planned as
other vaccines, as the ``who`` pack's DTP-HepB-Hib beside DTP) is refused with a
:class:`~immreg.errors.ValidationError` rather than simulated wrongly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from immreg.errors import ValidationError
from immreg.schedule.dates import Duration, add
from immreg.schedule.rules import Schedule, Series, SeriesDose

__all__ = [
    "EPOCH",
    "AgeFn",
    "AgeRule",
    "IntervalRule",
    "Plan",
    "PlannedEvent",
    "TargetRules",
    "add_duration",
    "day_number",
    "from_day_number",
    "months_until",
    "plan_for",
]

#: Day 0 of the day numbers used for cohort arrays.
EPOCH = dt.date(1970, 1, 1)
# A reference birth date for the plan's nominal ages (a 31st, so month ends are exercised).
_REFERENCE_BIRTH = dt.date(2001, 1, 31)

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
#: Birth dates plus a duration, for every child (see :class:`TargetRules`).
AgeFn = Callable[[Duration], IntArray]


def day_number(day: dt.date) -> int:
    """The day number of a date (days since 1970-01-01)."""
    return (day - EPOCH).days


def from_day_number(n: int) -> dt.date:
    """The date of a day number."""
    return EPOCH + dt.timedelta(days=int(n))


def add_duration(days: IntArray, duration: Duration | None) -> IntArray:
    """Add a CDSi duration to an array of day numbers, element by element.

    Years and months are added first with the day of the month held; a day that does not
    exist moves to the first of the next month (CALCDT-5); days are added last. This is
    :func:`immreg.schedule.dates.add` on arrays, and tested against it.

    Args:
        days: Day numbers.
        duration: What to add; ``None`` adds nothing.

    Returns:
        A new array of day numbers.
    """
    out = np.array(days, dtype=np.int64, copy=True)
    if duration is None:
        return out
    if duration.total_months:
        month_of, day_of, month_start = _calendar()
        # Callers keep dates within 1970-2199; "no date" entries (-1) are clipped here and
        # their results ignored by the caller's masks.
        at = np.clip(out, 0, month_of.shape[0] - 1)
        target = np.clip(month_of[at] + duration.total_months, 0, month_start.shape[0] - 2)
        start = month_start[target]
        following = month_start[target + 1]
        day = day_of[at]
        out = np.where(day < following - start, start + day, following)
    if duration.days:
        out = out + duration.days
    return out


def months_until(start: IntArray, day: IntArray) -> IntArray:
    """Per element, the fewest whole months ``m`` with ``start + m months >= day``.

    "By age ``m`` months" (on or before the day ``start`` plus ``m`` months, CDSi date
    arithmetic) holds exactly for ``m >= months_until(start, day)``. Requires
    ``day >= start``.
    """
    month_of, day_of, month_start = _calendar()
    s = np.clip(start, 0, month_of.shape[0] - 1)
    d = np.clip(day, 0, month_of.shape[0] - 1)
    dom = day_of[s]

    def landed(months: IntArray) -> IntArray:
        target = np.clip(month_of[s] + months, 0, month_start.shape[0] - 2)
        first = month_start[target]
        following = month_start[target + 1]
        out: IntArray = np.where(dom < following - first, first + dom, following)
        return out

    # start + k months lands in day's month, or on the 1st of the month after when that
    # month is too short (CALCDT-5): so k - 1 may already reach the day, and k + 1 is
    # needed when k lands before it.
    k = month_of[d] - month_of[s]
    out = k + (landed(k) < day)
    result: IntArray = out - ((k >= 1) & (landed(np.maximum(k - 1, 0)) >= day))
    return result


_CALENDAR: list[tuple[IntArray, IntArray, IntArray]] = []


def _calendar() -> tuple[IntArray, IntArray, IntArray]:
    # Look-up tables from day number to month index and day of month, and from month
    # index to its first day: integer indexing is many times faster than numpy's
    # datetime64 conversions, which dominated the cost of a national cohort.
    if not _CALENDAR:
        months = np.arange(0, (2200 - 1970) * 12 + 2, dtype=np.int64)
        month_start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        days = np.arange(0, int(month_start[-2]), dtype=np.int64)
        month_of = np.searchsorted(month_start, days, side="right").astype(np.int64) - 1
        day_of = days - month_start[month_of]
        _CALENDAR.append((month_of, day_of, month_start))
    return _CALENDAR[0]


def _in_effect(effective: dt.date | None, cessation: dt.date | None, on: IntArray) -> BoolArray:
    mask = np.ones(on.shape, dtype=bool)
    if effective is not None:
        mask &= on >= day_number(effective)
    if cessation is not None:
        mask &= on < day_number(cessation)
    return mask


@attrs.frozen
class AgeRule:
    """One effective-dated age rule of a target dose.

    Attributes:
        minimum: Absolute minimum age (the minimum when no absolute one is set).
        recommended: Earliest recommended age, if any.
        maximum: Age from which the dose is no longer given, if any.
        effective: First day the rule holds (``None``: always).
        cessation: First day it no longer holds (``None``: never).
    """

    minimum: Duration | None
    recommended: Duration | None
    maximum: Duration | None
    effective: dt.date | None
    cessation: dt.date | None


@attrs.frozen
class IntervalRule:
    """One effective-dated minimum interval from the previous dose of the antigen.

    Attributes:
        minimum: Absolute minimum interval (the minimum when no absolute one is set).
        recommended: Earliest recommended interval, if any.
        effective: First day the rule holds.
        cessation: First day it no longer holds.
    """

    minimum: Duration | None
    recommended: Duration | None
    effective: dt.date | None
    cessation: dt.date | None


@attrs.frozen
class TargetRules:
    """What judges a dose against one target dose of an antigen's series.

    Attributes:
        antigen: The antigen.
        vaccine_group: Its vaccine group.
        number: Target dose number (1-based).
        vaccines: Vaccine codes that count (preferable and allowable).
        ages: Age rules, in schedule order (the engine falls back to the first).
        intervals: Interval rules from the previous dose.
        skip_ages: Ages from which the target dose is skipped in evaluation, each with
            the dates the skip holds (CDSi conditional skip, age condition).
        season_start: First day the target dose may be given, if the schedule says.
    """

    antigen: str
    vaccine_group: str
    number: int
    vaccines: frozenset[str]
    ages: tuple[AgeRule, ...]
    intervals: tuple[IntervalRule, ...]
    skip_ages: tuple[tuple[Duration, Duration | None, dt.date | None, dt.date | None], ...]
    season_start: dt.date | None

    def age_date(self, ages: AgeFn, on: IntArray, pick: str) -> IntArray:
        """Per child, birth plus the age rule in effect on ``on`` (``pick``: attribute).

        Args:
            ages: Birth dates plus a duration (``ages(duration)``), cached by the caller.
            on: The date that selects the rule (CDSi §3.3: the first rule in effect on
                it, else the first rule).
            pick: ``"minimum"``, ``"recommended"`` or ``"maximum"``.

        Returns:
            Day numbers; ``-1`` where the rule has no such age.
        """
        values: list[Duration | None] = [getattr(rule, pick) for rule in self.ages]
        if not values:
            return np.full(on.shape, -1, dtype=np.int64)
        if all(v == values[0] for v in values):
            # One value whichever rule is in effect (the usual case): no masks needed.
            first = values[0]
            return ages(first) if first is not None else np.full(on.shape, -1, dtype=np.int64)
        out = ages(values[0]) if values[0] is not None else np.full(on.shape, -1, np.int64)
        # Built last-to-first so that earlier rules in effect overwrite later ones.
        for rule, value in reversed(list(zip(self.ages, values, strict=True))):
            mask = _in_effect(rule.effective, rule.cessation, on)
            out = np.where(mask, ages(value) if value is not None else -1, out)
        return out

    def interval_ok(
        self, previous: IntArray, on: IntArray, sums: dict[Duration, IntArray] | None = None
    ) -> BoolArray:
        """Whether a dose on ``on`` meets every interval in effect from ``previous``.

        ``previous`` is ``-1`` where there is no earlier dose (no interval applies).
        ``sums`` caches ``previous`` plus each duration across calls with the same
        ``previous``.
        """
        ok = np.ones(on.shape, dtype=bool)
        has_previous = previous >= 0
        if sums is None:
            sums = {}
        for rule in self.intervals:
            if rule.minimum is None:
                continue
            if rule.minimum not in sums:
                sums[rule.minimum] = add_duration(previous, rule.minimum)
            applies = _in_effect(rule.effective, rule.cessation, on) & has_previous
            ok &= ~applies | (on >= sums[rule.minimum])
        return ok

    def skipped(self, ages: AgeFn, on: IntArray) -> BoolArray:
        """Whether the target dose is skipped for a dose given on ``on`` (age skips)."""
        out = np.zeros(on.shape, dtype=bool)
        for begin, end, effective, cessation in self.skip_ages:
            hit = _in_effect(effective, cessation, on) & (on >= ages(begin))
            if end is not None:
                hit &= on < ages(end)
            out |= hit
        return out


@attrs.frozen
class PlannedEvent:
    """One visit of the plan: a dose of one product that counts for several target doses.

    Attributes:
        vaccine: The vaccine (product) code given.
        course_dose: Which dose of this product it is (1-based).
        members: ``(antigen, target dose number)`` pairs the dose is meant for.
        nominal_days: Age in days at which an on-time child gets it (for ordering and
            for reading the plan; computed on a reference birth date).
    """

    vaccine: str
    course_dose: int
    members: tuple[tuple[str, int], ...]
    nominal_days: int

    @property
    def key(self) -> str:
        """``"VACCINE:N"``, the name behaviour settings and tables use."""
        return f"{self.vaccine}:{self.course_dose}"


@attrs.frozen
class Plan:
    """A schedule read for simulation.

    Attributes:
        schedule_name: The schedule's name.
        events: The visits, in nominal order.
        targets: Per antigen, its target doses' rules in order.
        vaccine_groups: Per antigen, its vaccine group.
        horizon_months: Doses recommended after this age were left out.
    """

    schedule_name: str
    events: tuple[PlannedEvent, ...]
    targets: dict[str, tuple[TargetRules, ...]]
    vaccine_groups: dict[str, str]
    horizon_months: int

    def event(self, key: str) -> PlannedEvent:
        """The event named ``"VACCINE:N"``.

        Raises:
            ValidationError: No such event in the plan.
        """
        for e in self.events:
            if e.key == key:
                return e
        known = ", ".join(e.key for e in self.events)
        raise ValidationError("event", f"{key!r} is not in the plan (known: {known})")


def _series_for(antigen_series: tuple[Series, ...]) -> Series | None:
    standard = [s for s in antigen_series if s.type == "standard" and s.doses]
    if not standard:
        return None
    defaults = [s for s in standard if s.default]
    return (defaults or standard)[0]


def _target_rules(
    antigen: str, group: str, dose: SeriesDose, plan_vaccines: set[str]
) -> TargetRules:
    where = f"{antigen} dose {dose.number}"
    for iv in dose.intervals:
        if iv.reference != "previous":
            raise ValidationError(
                "schedule", f"{where}: intervals from {iv.reference!r} are not simulated"
            )
    skip_ages: list[tuple[Duration, Duration | None, dt.date | None, dt.date | None]] = []
    for skip in dose.skips:
        if skip.context == "forecast":
            continue  # forecasts do not change how a given dose is judged
        if skip.logic == "and" and len(skip.sets) > 1:
            raise ValidationError("schedule", f"{where}: 'and' skips are not simulated")
        for cset in skip.sets:
            ages = [c for c in cset.conditions if c.kind == "age"]
            constants: list[bool] = []
            for c in cset.conditions:
                if c.kind == "age":
                    continue
                # A count of vaccines the plan never gives is zero for every simulated
                # child, so the condition is a constant. Anything else is not simulated.
                if c.kind != "vaccine_count_by_age" or set(c.vaccines) & plan_vaccines:
                    raise ValidationError(
                        "schedule", f"{where}: a {c.kind!r} skip condition is not simulated"
                    )
                target = c.dose_count or 0
                logic = {"greater": target < 0, "less": target > 0, "equal": target == 0}
                constants.append(logic[c.count_logic])
            if cset.logic == "and" and not all(constants):
                continue  # the set never holds
            if cset.logic == "or" and any(constants):
                raise ValidationError("schedule", f"{where}: a skip that always holds")
            if len(ages) != 1:
                if ages or constants:
                    raise ValidationError(
                        "schedule", f"{where}: compound age skips are not simulated"
                    )
                continue
            (c,) = ages
            skip_ages.append(
                (c.begin_age or Duration(), c.end_age, cset.effective, cset.cessation)
            )
    return TargetRules(
        antigen=antigen,
        vaccine_group=group,
        number=dose.number,
        vaccines=frozenset(
            v.vaccine for v in (*dose.preferable_vaccines, *dose.allowable_vaccines)
        ),
        ages=tuple(
            AgeRule(a.abs_min or a.min, a.earliest_rec, a.max, a.effective, a.cessation)
            for a in dose.ages
        ),
        intervals=tuple(
            IntervalRule(iv.abs_min or iv.min, iv.earliest_rec, iv.effective, iv.cessation)
            for iv in dose.intervals
        ),
        skip_ages=tuple(skip_ages),
        season_start=dose.season_start,
    )


def plan_for(schedule: Schedule, *, horizon_months: int = 24, on: dt.date | None = None) -> Plan:
    """Read a schedule's childhood series into a simulation plan.

    Each antigen contributes its default standard series (risk series, such as tetanus
    for pregnant women, are not part of a birth cohort). Each target dose is given as
    its first preferable vaccine; target doses of different antigens given as the same
    vaccine's n-th dose become one event (one combination dose). Target doses whose
    on-time age is beyond ``horizon_months`` are left out, with every later one.

    Args:
        schedule: A loaded schedule.
        horizon_months: Oldest age followed, in months (1 to 240).
        on: The date whose rules set the nominal ages (default: the latest rules).

    Returns:
        The plan.

    Raises:
        ValidationError: ``horizon_months`` is out of range, the schedule has live-virus
            conflict rules, or a rule the fast path does not simulate (the message names
            the antigen and dose).
    """
    if isinstance(horizon_months, bool) or not isinstance(horizon_months, int):
        raise ValidationError("horizon_months", "must be a whole number of months")
    if not 1 <= horizon_months <= 240:
        raise ValidationError("horizon_months", "must be between 1 and 240 months")
    if schedule.conflicts:
        raise ValidationError("schedule", "live-virus conflict rules are not simulated")
    horizon = add(_REFERENCE_BIRTH, Duration(months=horizon_months))
    picked: list[tuple[str, str, SeriesDose]] = []
    groups: dict[str, str] = {}
    for ag in schedule.antigens:
        series = _series_for(ag.series)
        if series is None:
            continue
        for dose in series.doses:
            if not dose.preferable_vaccines:
                break
            picked.append((ag.name, series.vaccine_group, dose))
            groups[ag.name] = series.vaccine_group
    plan_vaccines = {d.preferable_vaccines[0].vaccine for _, _, d in picked}
    targets: dict[str, list[TargetRules]] = {}
    nominal: dict[tuple[str, int], int] = {}
    last: dict[str, int] = {}
    ref_birth = np.array([day_number(_REFERENCE_BIRTH)], dtype=np.int64)
    cut: set[str] = set()
    for antigen, group, dose in picked:
        if antigen in cut:
            continue
        rules = _target_rules(antigen, group, dose, plan_vaccines)
        probe = np.array([day_number(on or dt.date(2100, 1, 1))], dtype=np.int64)

        def ref_ages(d: Duration) -> IntArray:
            return add_duration(ref_birth, d)

        rec = int(rules.age_date(ref_ages, probe, "recommended")[0])
        if rec < 0:
            rec = int(rules.age_date(ref_ages, probe, "minimum")[0])
        when = max(rec, int(ref_birth[0]))
        for iv in rules.intervals:
            if antigen in last and _in_effect(iv.effective, iv.cessation, probe)[0]:
                step = iv.recommended or iv.minimum
                when = max(when, int(add_duration(np.array([last[antigen]]), step)[0]))
        if when > day_number(horizon):
            cut.add(antigen)
            continue
        targets.setdefault(antigen, []).append(rules)
        nominal[(antigen, dose.number)] = when
        last[antigen] = when
    # Group target doses by (vaccine, n-th use of that vaccine by the antigen).
    by_vaccine: dict[tuple[str, int], list[tuple[str, int]]] = {}
    uses: dict[tuple[str, str], int] = {}
    for antigen, _group, dose in picked:
        if (antigen, dose.number) not in nominal:
            continue
        vaccine = dose.preferable_vaccines[0].vaccine
        n = uses.get((antigen, vaccine), 0) + 1
        uses[(antigen, vaccine)] = n
        by_vaccine.setdefault((vaccine, n), []).append((antigen, dose.number))
    events = [
        PlannedEvent(
            vaccine=vaccine,
            course_dose=n,
            members=tuple(members),
            nominal_days=max(nominal[m] for m in members) - int(ref_birth[0]),
        )
        for (vaccine, n), members in by_vaccine.items()
    ]
    events.sort(key=lambda e: (e.nominal_days, e.vaccine, e.course_dose))
    if not events:
        raise ValidationError("schedule", "has no childhood series to simulate")
    # The fast path judges each antigen's doses from the visits planned for it. A vaccine
    # that also counts for an antigen it was not planned for (a DTP-HepB-Hib dose planned
    # for HepB only, while DTP is planned as another product) would be missed: refuse.
    counts_for: dict[str, set[str]] = {}
    for assoc in schedule.vaccines:
        counts_for.setdefault(assoc.vaccine, set()).add(assoc.antigen)
    for e in events:
        planned = {a for a, _ in e.members}
        extra = sorted((counts_for.get(e.vaccine, set()) & set(targets)) - planned)
        if extra:
            raise ValidationError(
                "schedule",
                f"vaccine {e.vaccine!r} planned for {', '.join(sorted(planned))} also counts "
                f"for {', '.join(extra)}, planned as other vaccines: not simulated",
            )
    return Plan(
        schedule_name=schedule.name,
        events=tuple(events),
        targets={a: tuple(t) for a, t in targets.items()},
        vaccine_groups=groups,
        horizon_months=horizon_months,
    )
