"""The engine's fast path: antigens compiled into flat plans, evaluated without allocation.

Most antigens of a national childhood schedule have one series of target doses with plain
ages, intervals from the previous dose and a few vaccines: best-series selection (CDSi 4.6
chapter 8) has nothing to choose, and evaluating a dose is a handful of date comparisons.
:func:`compile_schedule` detects such antigens from the schedule data, once per schedule,
and turns each into an :class:`AntigenPlan`: target doses as slotted records whose age
limits are positions in a per-birth-date table of age dates (children share birth dates,
so the table is built once per birth date, not once per child). :func:`run` then walks a
patient's antigen doses and the plan together, following exactly the steps of the general
engine (:mod:`immreg.schedule.engine`) for the features the plan allows; anything else
(several series, risk or evaluation-only series, observations, recurring or seasonal doses,
conditional skips other than age and interval conditions, allowable intervals, dated
rules) stays on the general path. A differential property test checks that the two paths
give identical assessments.

This module (and :mod:`immreg.schedule.lean`, the batch API's loops over its plans) is
compiled with mypyc when immreg is installed (``hatch_build.py``; ``IMMREG_PURE_PYTHON=1``
at build time keeps it Python, and it runs as Python wherever the extension is absent).
Compiled, its annotations are checked at run time, its classes are native (no instance
``__dict__``, no monkeypatching, no ``__slots__`` to read back) and its docstrings are
not kept; :func:`immreg.schedule.engine_build` tells which build is loaded.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from typing import NamedTuple

from immreg.schedule.dates import Duration, add, add_months
from immreg.schedule.patient import Dose, EvaluationStatus, ForecastStatus, VaccineGroupForecast
from immreg.schedule.rules import (
    Antigen,
    ConditionalSkip,
    Interval,
    Schedule,
    Series,
    SeriesDose,
    VaccineRule,
)

__all__ = [
    "AntigenPlan",
    "BestForecast",
    "Compiled",
    "Evaluation",
    "Outcome",
    "Share",
    "compile_schedule",
    "relabel",
    "run",
]

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)
_ONE_DAY = dt.timedelta(days=1)
# Age-table positions of the CDSi assumed values for a missing age (01/01/1900, 12/31/2999).
_LOW = 0
_HIGH = 1
_DOB_LIMIT = 20_000  # birth dates kept per schedule (about 55 years of them); emptied when full


_SHIFT_LIMIT = 50_000  # dates kept per duration (a shift's memo); emptied when full


class _Shift(dict[dt.date, dt.date]):
    """A duration with months, as a memo: ``shift[date]`` is ``add(date, duration)``.

    Adding months is the costly CDSi date step (CALCDT-1, -2, -5); interval references
    (dose dates) and birth dates repeat across a batch, so each result is kept.
    """

    __slots__ = ("duration",)

    def __init__(self, duration: Duration) -> None:
        super().__init__()
        self.duration = duration

    def __missing__(self, when: dt.date) -> dt.date:
        if len(self) >= _SHIFT_LIMIT:
            self.clear()
        found = self[when] = add(when, self.duration)
        return found


class BestForecast(NamedTuple):
    """What CDSi chapter 9 needs of a best patient series' forecast.

    Attributes:
        antigen: The antigen.
        status: The series' forecast status.
        earliest: Earliest date of the next dose.
        recommended: Recommended date.
        past_due: Past-due date.
        latest: Latest date.
        dose_number: Forecast dose number.
        priority: Whether every interval of the next dose has CDSi interval priority.
        vaccines: Recommended vaccine codes.
        reason: Reason code of the forecast.
        decided_by: The rule that decided the date or the status.
    """

    antigen: str
    status: ForecastStatus
    earliest: dt.date | None
    recommended: dt.date | None
    past_due: dt.date | None
    latest: dt.date | None
    dose_number: int | None
    priority: bool
    vaccines: tuple[str, ...]
    reason: str | None
    decided_by: str


# One antigen dose's evaluation, before it becomes a public ``DoseEvaluation``: (index of
# the dose among the antigen's doses, status, first reason, deciding rule, target dose
# number or None once the series is complete, every reason). Plain tuples: one is made
# per antigen dose, and a tuple display costs a tenth of a named tuple's constructor.
Evaluation = tuple[int, EvaluationStatus, str | None, str, int | None, tuple[str, ...]]


# One antigen's result on the fast path: (the best series' forecast, empty when no series
# was selected; the series' forecast for ``SeriesOutcome``, None if not forecast; the
# antigen doses' evaluations in date order).
Outcome = tuple[tuple[BestForecast, ...], BestForecast | None, list[Evaluation]]
_new = tuple.__new__


# A compiled skip condition (CDSi 4.6 tables 6-6, 6-8, 6-9): (kind, begin age, end age,
# interval, start date, end date, vaccines counted, valid doses only, count, comparison),
# kind 0 for age, 1 for interval, 2 for a vaccine count.
_Cond = tuple[int, int, int, "_Shift | None", dt.date, dt.date, frozenset[str], bool, int, str]
# A condition set (table 6-10): (effective, cessation, all conditions, conditions).
_Set = tuple[dt.date | None, dt.date | None, bool, tuple[_Cond, ...]]
# A conditional skip (table 6-11): (in evaluation, in forecast, all sets, sets).
_Skip = tuple[bool, bool, bool, tuple[_Set, ...]]
# A compiled interval (CDSi 4.6 §6.5): (absolute minimum as days when it has no months,
# absolute minimum as a memoized shift, minimum as days, minimum, earliest recommended as
# days, earliest recommended, latest recommended as days, latest recommended, rule id,
# target dose number for a "target dose" reference else 0).
_Iv = tuple[
    dt.timedelta | None,
    "_Shift | None",
    dt.timedelta | None,
    "_Shift | None",
    dt.timedelta | None,
    "_Shift | None",
    dt.timedelta | None,
    "_Shift | None",
    str,
    int,
]
# A compiled age rule (CDSi 4.6 §6.4, §7.5): age-table positions of the absolute minimum,
# minimum, maximum, earliest and latest recommended ages (None where unset, except the
# absolute minimum), and the rule id.
_Age = tuple[int, int | None, int | None, int | None, int | None, str]
_Quick = tuple[
    int,
    int | None,
    int | None,
    tuple[
        tuple[dt.timedelta | None, "_Shift | None", dt.timedelta | None, "_Shift | None", int], ...
    ],
    frozenset[str],
    str,
]
_KINDS = {"age": 0, "interval": 1, "vaccine_count_by_age": 2, "vaccine_count_by_date": 2}


# The attributes of a compiled target dose (_layout reads them; mypyc classes have no
# __slots__ to read at run time).
_TARGET_FIELDS = (
    "age",
    "allowable",
    "any_age",
    "epoch_rules",
    "epochs",
    "inadvertent",
    "intervals",
    "number",
    "offered",
    "offered_always",
    "one_skip",
    "preferable",
    "priority",
    "quick",
    "rule_id",
    "season_start",
    "skips",
)


class _Target:
    """One compiled target dose (CDSi 4.6 §3.1): ages as age-table positions."""

    __slots__ = _TARGET_FIELDS

    def __init__(self) -> None:
        self.number = 0
        self.rule_id = ""
        self.age: _Age | None = None
        self.intervals: tuple[_Iv, ...] = ()
        # With dated age rules or intervals (CDSi 4.6 §3.3), the sorted dates where the
        # rules in effect change, and per period between them (bisect_right's index) the
        # age rule, intervals and interval priority in effect; else both empty.
        self.epochs: tuple[dt.date, ...] = ()
        self.epoch_rules: tuple[tuple[_Age | None, tuple[_Iv, ...], bool], ...] = ()
        self.season_start: dt.date | None = None
        # vaccine -> ((begin, end, mvx), ...) for preferable, (begin, end) for allowable.
        self.preferable: dict[str, tuple[tuple[int, int, str | None], ...]] = {}
        self.allowable: dict[str, tuple[tuple[int, int], ...]] = {}
        self.inadvertent: frozenset[str] = frozenset()
        # Vaccines with a preferable rule for any age and any manufacturer: always accepted.
        self.any_age: frozenset[str] = frozenset()
        self.skips: tuple[_Skip, ...] = ()
        # When the target has one skip with one condition set of one condition and no
        # effective dates: (in evaluation, in forecast, the condition); else None.
        self.one_skip: tuple[bool, bool, _Cond] | None = None
        # Recommended vaccines for forecasts (FORECASTRECVAC-1), when any has an age
        # window: (vaccine, begin, end); else empty, and all are in offered_always.
        self.offered: tuple[tuple[str, int, int], ...] = ()
        self.offered_always: tuple[str, ...] = ()
        # Whether every interval has CDSi interval priority (FORECASTPRIORITY-1).
        self.priority = False
        # For run()'s shortcut to a valid dose, when the target has an age rule and no
        # dated rules or inadvertent vaccines: (absolute minimum age, minimum age, maximum
        # age, intervals as (absolute minimum as days, absolute minimum, minimum as days,
        # minimum, target dose number or 0), vaccines accepted at any age, rule id).
        self.quick: _Quick | None = None


class AntigenPlan:
    """An antigen with one plain series, compiled for :func:`run`.

    Attributes:
        antigen: The antigen's name.
        series: The series.
        sexes: The sexes the series is for (none: the antigen has only risk series).
        targets: Its compiled target doses.
        conflicts: Live-virus conflicts (CDSi §6.7) by the later vaccine code, as
            ``(earlier vaccine, begin, min_end, end, rule_id)``.
        forecast_conflicts: Per target dose, conflicts that delay it (CALCDTCONFLICT-3)
            by the earlier vaccine code, as ``(end, rule_id)``.
        min_start: Age-table position of "minimum age to start", if set.
        max_start: Age-table position of "maximum age to start" (selection, table 8-3).
        skips: Whether any target dose has a conditional skip.
        delays: Whether a live vaccine can delay a target dose (so that the forecast
            reads the other antigens' doses).
        quicks: Per target dose, its ``quick`` tuple (run()'s shortcut) or None.
        complete: The best forecast of the series once every target dose is satisfied.
        seasonal: Whether any target dose has a season start (forecast dose numbers).
    """

    __slots__ = (
        "antigen",
        "complete",
        "conflicts",
        "delays",
        "forecast_conflicts",
        "max_start",
        "min_start",
        "quicks",
        "seasonal",
        "series",
        "sexes",
        "skips",
        "targets",
    )

    def __init__(
        self,
        antigen: str,
        series: Series,
        sexes: frozenset[str],
        targets: tuple[_Target, ...],
        conflicts: dict[str, tuple[tuple[str, Duration, Duration, Duration, str], ...]],
        forecast_conflicts: tuple[dict[str, tuple[tuple[Duration, str], ...]], ...],
        min_start: int | None,
        max_start: int | None,
    ) -> None:
        self.antigen = antigen
        self.series = series
        self.sexes = sexes
        self.targets = targets
        self.skips = any(t.skips for t in targets)
        self.seasonal = any(t.season_start is not None for t in targets)
        self.conflicts = conflicts
        self.forecast_conflicts = forecast_conflicts
        self.delays = any(forecast_conflicts)
        self.quicks = tuple(t.quick for t in targets)
        self.complete = (
            BestForecast(
                antigen,
                "complete",
                None,
                None,
                None,
                None,
                None,
                False,
                (),
                "series_complete",
                series.rule_id,
            ),
        )
        self.min_start = min_start
        self.max_start = max_start


class Compiled:
    """A schedule's fast-path plans and its shared per-birth-date table of age dates.

    Attributes:
        plans: Plans by antigen name, for the antigens the fast path can run.
        order: Every antigen's plan in schedule order, when every antigen has one (else
            empty): such a schedule forecasts without the general engine at all.
        antigens_of: The vaccine map: per vaccine code, ``(antigen, begin, end)`` with
            the association's age window as age-table positions (``0, 0``: no window).
        routes: When ``order`` is set, the vaccine map with positions in ``order``: the
            antigens of a vaccine code at any age, and those with an age window.
        groups: When ``order`` is set, per vaccine group in schedule order: its name,
            antigens, "administer full vaccine group" flag and antigen positions.
        group_codes: Per vaccine group, the vaccine codes of any of its antigens.
        shares: When ``order`` is set, per antigen position, a :class:`Share` with an
            earlier antigen whose plan is the same up to its name and rule ids (so that
            one run serves both when they get the same doses), else None.
        durations: The age durations the plans use; position ``i + 2`` in an age table.
    """

    def __init__(self) -> None:
        self.plans: dict[str, AntigenPlan] = {}
        self.antigens_of: dict[str, tuple[tuple[str, int, int], ...]] = {}
        self.order: tuple[tuple[str, AntigenPlan], ...] = ()
        # When ``order`` is set: the vaccine map by position in ``order``, and per vaccine
        # group (name, antigens, administer full group, positions of its antigens).
        self.routes: dict[str, tuple[tuple[int, ...], tuple[tuple[int, int, int], ...]]] = {}
        self.groups: tuple[tuple[str, tuple[str, ...], bool, tuple[int, ...]], ...] = ()
        self.group_codes: dict[str, frozenset[str]] = {}
        self.shares: tuple[Share | None, ...] = ()
        # Memos of the batch API (immreg.schedule.batch), emptied by clear(): the
        # outcome of an antigen without doses by (position, birth date, as-of date), and
        # the group forecasts with nothing due by (group position, status, reason, rule).
        self.unused: dict[tuple[int, dt.date, dt.date], Outcome] = {}
        self.settled: dict[tuple[int, str, str | None, str], VaccineGroupForecast] = {}
        self.durations: list[Duration] = []
        # Slots and shifts by duration value, so that equal ages and intervals of two
        # antigens are one slot and one shift (and their plans compare equal, see shares).
        self._slots: dict[Duration, int] = {}
        self._tables: dict[dt.date, list[dt.date]] = {}
        self._shifts: dict[Duration, _Shift] = {}
        # For ages(): the month counts of the durations, and per duration (index of its
        # month count in ``(0, *counts)``, its days as a timedelta or None).
        self._counts: tuple[int, ...] = ()
        self._layout: tuple[tuple[int, dt.timedelta | None], ...] = ()

    def shift(self, duration: Duration | None) -> _Shift | None:
        """The memoized shift of a duration (one per duration value; None when unset)."""
        if duration is None:
            return None
        found = self._shifts.get(duration)
        if found is None:
            found = self._shifts[duration] = _Shift(duration)
        return found

    def slot(self, duration: Duration | None, default: int) -> int:
        """The age-table position of an age (``default`` when it is unset)."""
        if duration is None:
            return default
        found = self._slots.get(duration)
        if found is None:
            self.durations.append(duration)
            found = self._slots[duration] = len(self.durations) + 1
        return found

    def ages(self, dob: dt.date) -> list[dt.date]:
        """The dates a child born on ``dob`` reaches each age, built once per birth date."""
        table = self._tables.get(dob)
        if table is None:
            if len(self._tables) >= _DOB_LIMIT:
                self._tables.clear()
            if len(self._layout) != len(self.durations):
                self._plan_layout()
            # Durations share few month counts: the calendar step (CALCDT-1, -2, -5) once
            # per count, then the days (CALCDT-3, -4).
            bases = [dob, *add_months(dob, self._counts)]
            table = [MIN_DATE, MAX_DATE]
            table += [bases[i] + delta if delta else bases[i] for i, delta in self._layout]
            self._tables[dob] = table
        return table

    def _plan_layout(self) -> None:
        counts = sorted({d.total_months for d in self.durations} - {0})
        where = {months: i + 1 for i, months in enumerate(counts)}
        where[0] = 0
        self._counts = tuple(counts)
        self._layout = tuple(
            (where[d.total_months], d.delta if d.days else None) for d in self.durations
        )

    def clear(self) -> None:
        """Forget the age tables and shifted dates (benchmarks measure a cold start)."""
        self._tables.clear()
        self.unused.clear()
        self.settled.clear()
        for found in self._shifts.values():
            found.clear()


def compile_schedule(schedule: Schedule) -> Compiled:
    """Compile every antigen the fast path can run; the others are left out.

    The test is on the schedule data only, never on its name: one non-risk series without
    a required sex and with default or unlimited start (so that best-series selection has
    nothing to decide), no evidence of immunity by birth date (observations send the whole
    patient to the general path), and target doses whose rules are all in
    :func:`_plain_target`.
    """
    compiled = Compiled()
    for antigen in schedule.antigens:
        plan = _compile_antigen(compiled, schedule, antigen)
        if plan is not None:
            compiled.plans[antigen.name] = plan
    if len(compiled.plans) == len(schedule.antigens):
        compiled.order = tuple((a.name, compiled.plans[a.name]) for a in schedule.antigens)
        where = {name: i for i, (name, _) in enumerate(compiled.order)}
        compiled.groups = tuple(
            (g.name, g.antigens, g.administer_full, tuple(where[a] for a in g.antigens))
            for g in schedule.vaccine_groups
        )
    # Per vaccine group, the vaccine codes associated with any of its antigens.
    associations = schedule.index().associations
    for g in schedule.vaccine_groups:
        compiled.group_codes[g.name] = frozenset(
            code
            for code, found in associations.items()
            if any(a.antigen in g.antigens for a in found)
        )
    # The vaccine map, with its age windows read from the same table (0: no window).
    for vaccine, found in schedule.index().associations.items():
        compiled.antigens_of[vaccine] = tuple(
            (a.antigen, 0, 0)
            if a.begin_age is None and a.end_age is None
            else (a.antigen, compiled.slot(a.begin_age, _LOW), compiled.slot(a.end_age, _HIGH))
            for a in found
        )
    if compiled.order:
        compiled.shares = _shares(compiled.order)
        where = {name: i for i, (name, _) in enumerate(compiled.order)}
        compiled.routes = {
            vaccine: (
                tuple(where[name] for name, begin, _ in found if not begin),
                tuple((where[name], begin, end) for name, begin, end in found if begin),
            )
            for vaccine, found in compiled.antigens_of.items()
        }
    return compiled


class Share(NamedTuple):
    """An antigen whose plan is an earlier antigen's up to the antigen name and rule ids.

    Both plans hold the same target doses, ages, intervals, skips, vaccines, live-virus
    conflicts and start ages (slots and shifts are per duration value, so equal rules are
    equal objects): :func:`run` on the same doses gives the same outcome but for the
    antigen name and the rule ids, which :func:`relabel` puts back. With ``prefix`` set,
    this plan's target doses are the first ``prefix`` of the earlier plan's, none of them
    with a conditional skip: the outcomes are the same while the earlier plan's walk
    stays within them (:func:`relabel` checks).

    Attributes:
        source: The earlier antigen's position in ``Compiled.order``.
        plan: This antigen's plan.
        rule_ids: The earlier plan's rule ids mapped to this plan's.
        complete: The earlier plan's shared "complete" forecast (returned as this plan's).
        prefix: 0 for the same target doses; else this plan's number of target doses.
    """

    source: int
    plan: AntigenPlan
    rule_ids: dict[str, str]
    complete: BestForecast
    prefix: int


def _shares(order: tuple[tuple[str, AntigenPlan], ...]) -> tuple[Share | None, ...]:
    """Per antigen, the first earlier antigen with the same plan up to labels, if any
    (else the first whose target doses begin with this plan's)."""
    out: list[Share | None] = []
    for i, (_, plan) in enumerate(order):
        found: Share | None = None
        n = len(plan.targets)
        for j in range(i):
            first = order[j][1]
            if out[j] is not None or len(first.targets) < n:
                continue  # a sharing antigen's own source is compared instead
            prefix = 0 if len(first.targets) == n else n
            if prefix and any(t.skips for t in first.targets[:n]):
                continue
            rule_ids = _same_plan(first, plan, n)
            if rule_ids is not None and (found is None or not prefix):
                found = Share(j, plan, rule_ids, first.complete[0], prefix)
                if not prefix:
                    break
        out.append(found)
    return tuple(out)


def _rule_ids(plan: AntigenPlan) -> frozenset[str]:
    """Every rule id :func:`run` can report for a plan."""
    ids = {plan.series.rule_id}
    for t in plan.targets:
        ids.add(t.rule_id)
        ages = [t.age, *(r[0] for r in t.epoch_rules)]
        ids.update(a[5] for a in ages if a is not None)
        intervals = [*t.intervals, *(iv for r in t.epoch_rules for iv in r[1])]
        ids.update(iv[8] for iv in intervals)
        if t.quick is not None:
            ids.add(t.quick[5])
    ids.update(c[4] for found in plan.conflicts.values() for c in found)
    ids.update(c[1] for by in plan.forecast_conflicts for found in by.values() for c in found)
    return frozenset(ids)


def _layout(plan: AntigenPlan, n: int) -> tuple[object, ...]:
    """What :func:`run` reads of a plan and its first ``n`` target doses, but for the
    antigen name (and fields derived from the others)."""
    return (
        plan.series.rule_id,
        plan.sexes,
        plan.min_start,
        plan.max_start,
        plan.conflicts,
        plan.forecast_conflicts[:n],
        tuple(tuple(getattr(t, name) for name in _TARGET_FIELDS) for t in plan.targets[:n]),
    )


def _same_plan(first: AntigenPlan, other: AntigenPlan, n: int) -> dict[str, str] | None:
    """The map from ``first``'s rule ids to ``other``'s when the two plans (with their
    first ``n`` target doses) are the same up to the antigen name and rule ids (each rule
    id always in the same place), else None."""
    rule_ids: dict[str, str] = {}
    if _same(_layout(first, n), _layout(other, n), _rule_ids(first), _rule_ids(other), rule_ids):
        return rule_ids
    return None


def _same(
    a: object, b: object, ids_a: frozenset[str], ids_b: frozenset[str], rule_ids: dict[str, str]
) -> bool:
    """Whether two plan parts are equal but for rule ids, recording the rule-id map."""
    if type(a) is not type(b):
        return False
    if isinstance(a, str):
        assert isinstance(b, str)
        if a in ids_a or b in ids_b:
            return a in ids_a and b in ids_b and rule_ids.setdefault(a, b) == b
        return a == b
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list)
        return len(a) == len(b) and all(
            _same(x, y, ids_a, ids_b, rule_ids) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(
            _same(v, b[k], ids_a, ids_b, rule_ids) for k, v in a.items()
        )
    if isinstance(a, _Shift):
        return a is b
    return a == b  # numbers, dates, frozensets of codes, None


def relabel(outcome: Outcome, share: Share, evaluations: bool) -> Outcome | None:
    """The outcome of a shared run as the sharing antigen's own: its name, its rule ids.

    With ``evaluations`` False the dose evaluations are left out (an empty list): the
    lean mode reads only the forecasts. For a prefix share, None when the earlier plan's
    walk went past this plan's target doses (a dose after the last one was satisfied):
    this plan must then run on its own.
    """
    best, fc, evals = outcome
    plan = share.plan
    mine: BestForecast | None
    if share.prefix:
        valid = 0
        for k, ev in enumerate(evals):
            if ev[1] == "valid":
                valid += 1
                if valid == share.prefix:
                    if k + 1 != len(evals):
                        return None
                    # Every target dose of this plan satisfied: its series is complete
                    # (unless table 8-3 selected no series, as for the earlier plan).
                    if fc is not None:
                        return (
                            plan.complete,
                            plan.complete[0],
                            _relabelled(evals, share, evaluations),
                        )
                    break
    if fc is None:
        mine = None
    elif fc is share.complete:
        mine = plan.complete[0]
    else:
        mine = _new(BestForecast, (plan.antigen, *fc[1:10], share.rule_ids[fc[10]]))
    return (
        (mine,) if best and mine is not None else (),
        mine,
        _relabelled(evals, share, evaluations),
    )


def _relabelled(evals: list[Evaluation], share: Share, evaluations: bool) -> list[Evaluation]:
    if not evaluations:
        return []
    rule_ids = share.rule_ids
    return [(p, st, r, rule_ids[rid], n, rs) for p, st, r, rid, n, rs in evals]


def _plain_series(antigen: Antigen) -> tuple[Series, frozenset[str]] | None:
    """The antigen's one series for patients without observations, and the sexes it is for.

    Without observations no risk series is relevant (CDSi 4.6 §5.1), so an antigen with
    only risk series has no series at all (empty sexes) and one with a single other series
    is plain if that series is.
    """
    if not antigen.series:
        return None
    if antigen.immunity is not None and antigen.immunity.birth_date_before is not None:
        return None
    relevant = [s for s in antigen.series if s.type != "risk"]
    if not relevant:
        return antigen.series[0], frozenset()
    if len(relevant) != 1:
        return None
    series = relevant[0]
    if series.type != "standard" or not all(_plain_target(t) for t in series.doses):
        return None
    return series, frozenset(series.required_sex or ("F", "M", "U"))


def _plain_target(target: SeriesDose) -> bool:
    """Whether a target dose uses only rules the fast path implements."""
    if target.recurring or target.season_end or target.allowable_intervals:
        return False
    for iv in target.intervals:
        if iv.reference not in ("previous", "target_dose"):
            return False
    return all(_plain_skip(s) for s in target.skips)


def _plain_skip(skip: ConditionalSkip) -> bool:
    return all(c.kind in _KINDS for cset in skip.sets for c in cset.conditions)


def _compile_antigen(
    compiled: Compiled, schedule: Schedule, antigen: Antigen
) -> AntigenPlan | None:
    plain = _plain_series(antigen)
    if plain is None:
        return None
    series, sexes = plain
    idx = schedule.index()
    slot = compiled.slot
    targets = []
    forecast_conflicts = []
    codes: set[str] = set()
    for t in series.doses:
        ct = _Target()
        ct.number = t.number
        ct.rule_id = t.rule_id
        rules = tuple(
            (
                slot(a.abs_min, _LOW),
                None if a.min is None else slot(a.min, _LOW),
                None if a.max is None else slot(a.max, _HIGH),
                None if a.earliest_rec is None else slot(a.earliest_rec, _LOW),
                None if a.latest_rec is None else slot(a.latest_rec, _LOW),
                a.rule_id,
            )
            for a in t.ages
        )
        ct.age = rules[0] if rules else None
        ct.intervals = tuple(_interval(compiled, iv) for iv in t.intervals)
        dated = [(a.effective, a.cessation) for a in t.ages]
        dated += [(iv.effective, iv.cessation) for iv in t.intervals]
        ct.epochs = tuple(sorted({d for pair in dated for d in pair if d is not None}))
        if ct.epochs:
            ct.epoch_rules = tuple(
                _rules_on(t, rules, ct.intervals, on)
                for on in (MIN_DATE, *ct.epochs)  # each period's first day
            )
        ct.season_start = t.season_start
        ct.preferable = _rules(compiled, t.preferable_vaccines)
        ct.any_age = frozenset(
            v.vaccine
            for v in t.preferable_vaccines
            if v.begin_age is None and v.end_age is None and not v.mvx
        )
        ct.allowable = {
            k: tuple((b, e) for b, e, _ in v)
            for k, v in _rules(compiled, t.allowable_vaccines).items()
        }
        codes.update(v.vaccine for v in (*t.preferable_vaccines, *t.allowable_vaccines))
        codes.update(t.inadvertent_vaccines)
        ct.inadvertent = frozenset(t.inadvertent_vaccines)
        ct.skips = tuple(
            (
                s.context in ("evaluation", "both"),
                s.context in ("forecast", "both"),
                s.logic == "and",
                tuple(
                    (
                        cset.effective,
                        cset.cessation,
                        cset.logic == "and",
                        tuple(
                            (
                                _KINDS[c.kind],
                                slot(c.begin_age, _LOW),
                                slot(c.end_age, _HIGH),
                                compiled.shift(c.interval),
                                c.start_date or MIN_DATE,
                                c.end_date or MAX_DATE,
                                frozenset(c.vaccines),
                                c.dose_type == "valid",
                                c.dose_count or 0,
                                c.count_logic,
                            )
                            for c in cset.conditions
                        ),
                    )
                    for cset in s.sets
                ),
            )
            for s in t.skips
            if s.sets
        )
        if len(ct.skips) == 1 and len(ct.skips[0][3]) == 1:
            in_eval, in_forecast, _, ((effective, cessation, _, conditions),) = ct.skips[0]
            if effective is None and cessation is None and len(conditions) == 1:
                ct.one_skip = (in_eval, in_forecast, conditions[0])
        ct.offered = tuple(
            (v.vaccine, slot(v.begin_age, _LOW), slot(v.end_age, _HIGH))
            for v in t.preferable_vaccines
            if v.forecast
        )
        if all(b == _LOW and e == _HIGH for _, b, e in ct.offered):
            ct.offered_always = tuple(dict.fromkeys(v for v, _, _ in ct.offered))
            ct.offered = ()
        ct.priority = bool(t.intervals) and all(iv.priority for iv in t.intervals)
        if ct.age is not None and not ct.epochs and not ct.inadvertent:
            a_abs, a_min, a_max, _, _, _ = ct.age
            ct.quick = (
                a_abs,
                a_min,
                a_max,
                tuple((iv[0], iv[1], iv[2], iv[3], iv[9]) for iv in ct.intervals),
                ct.any_age,
                ct.rule_id,
            )
        targets.append(ct)
        by_previous = idx.forecast_conflicts.get(id(t), {})
        forecast_conflicts.append(
            {k: tuple((c.end, c.rule_id) for c in v) for k, v in by_previous.items()}
        )
    for assoc in schedule.vaccines:
        if assoc.antigen == antigen.name:
            codes.add(assoc.vaccine)
    conflicts = {
        code: tuple((c.previous, c.begin, c.min_end, c.end, c.rule_id) for c in found)
        for code in codes
        if (found := idx.conflicts.get(code))
    }
    return AntigenPlan(
        antigen.name,
        series,
        sexes,
        tuple(targets),
        conflicts,
        tuple(forecast_conflicts),
        None if series.min_age_to_start is None else slot(series.min_age_to_start, _LOW),
        None if series.default else slot(series.max_age_to_start, _HIGH),
    )


def _interval(compiled: Compiled, iv: Interval) -> _Iv:
    target = (iv.target_dose or 1) if iv.reference == "target_dose" else 0
    shift = compiled.shift
    return (
        _days(iv.abs_min),
        shift(iv.abs_min),
        _days(iv.min),
        shift(iv.min),
        _days(iv.earliest_rec),
        shift(iv.earliest_rec),
        _days(iv.latest_rec),
        shift(iv.latest_rec),
        iv.rule_id,
        target,
    )


def _days(duration: Duration | None) -> dt.timedelta | None:
    # A duration without months or years is a plain number of days (CALCDT-3, CALCDT-4).
    if duration is None or duration.total_months:
        return None
    return duration.delta


def _rules(
    compiled: Compiled, rules: tuple[VaccineRule, ...]
) -> dict[str, tuple[tuple[int, int, str | None], ...]]:
    out: dict[str, list[tuple[int, int, str | None]]] = {}
    for r in rules:
        out.setdefault(r.vaccine, []).append(
            (compiled.slot(r.begin_age, _LOW), compiled.slot(r.end_age, _HIGH), r.mvx or None)
        )
    return {k: tuple(v) for k, v in out.items()}


_NOTHING: Outcome = ((), None, [])
_NO_AGE: _Age = (_LOW, None, None, None, None, "")


# --- running a plan -----------------------------------------------------------------------

# An antigen dose on the fast path: (date, vaccine, dose, position in date order).
Rec = tuple[dt.date, str, Dose, int]


def _skipped(
    target: _Target,
    evaluation: bool,
    ref: dt.date,
    recs: list[Rec],
    k: int,
    evals: list[Evaluation],
    ages: list[dt.date],
) -> bool:
    """CDSi 4.6 §6.2, tables 6-6 to 6-11: whether a conditional skip of a target applies.

    The doses before the reference are ``recs[:k]`` (every dose walked so far when
    evaluating, every dose when forecasting), with their evaluations ``evals[:k]``.
    """
    one = target.one_skip
    if one is not None:
        # One skip of one condition set of one condition, in effect at any date.
        in_eval, in_forecast, cond = one
        return (in_eval if evaluation else in_forecast) and _condition(
            cond, ref, recs, k, evals, ages
        )
    for in_eval, in_forecast, need_all, sets in target.skips:
        if not (in_eval if evaluation else in_forecast):
            continue
        for effective, cessation, all_conditions, conditions in sets:
            met = False
            if (effective is None or effective <= ref) and (cessation is None or ref < cessation):
                # Table 6-10: all conditions (AND) or any of them (OR).
                met = all_conditions
                for cond in conditions:
                    if _condition(cond, ref, recs, k, evals, ages) != all_conditions:
                        met = not all_conditions
                        break
            if met and not need_all:
                return True
            if not met and need_all:
                break
        else:
            if need_all:
                return True
    return False


def _condition(
    cond: _Cond,
    ref: dt.date,
    recs: list[Rec],
    k: int,
    evals: list[Evaluation],
    ages: list[dt.date],
) -> bool:
    kind, begin, end, interval, start, stop, vaccines, valid_only, target, logic = cond
    if kind == 0:
        # Table 6-6: begin age date <= reference date < end age date.
        return ages[begin] <= ref < ages[end]
    if kind == 1:
        # Table 6-8 with CALCDTSKIP-5: interval from the immediately previous dose.
        return k > 0 and interval is not None and ref >= interval[recs[k - 1][0]]
    # CONDSKIP-1: count doses of the listed vaccine types within the age and date windows.
    low = ages[begin]
    high = ages[end]
    count = 0
    for i in range(k):
        date, vaccine = recs[i][0], recs[i][1]
        if vaccines and vaccine not in vaccines:
            continue
        if not (low <= date < high and start <= date < stop):
            continue
        if valid_only and evals[i][1] != "valid":
            continue
        count += 1
    if logic == "greater":
        return count > target
    if logic == "less":
        return count < target
    return count == target


def run(
    plan: AntigenPlan,
    ages: list[dt.date],
    recs: list[Rec],
    as_of: dt.date,
    dob: dt.date,
    sex: str,
    doses: tuple[Dose, ...],
    by_vaccine: dict[str, list[Dose]] | None,
) -> Outcome:
    """Evaluate and forecast one antigen for one patient on the fast path.

    Args:
        plan: The antigen's plan.
        ages: The patient's age table (:meth:`Compiled.ages`).
        recs: The patient's doses of this antigen, in date order (CDSi §4.2).
        as_of: The assessment date.
        dob: The birth date.
        sex: The patient's sex.
        doses: All the patient's doses, in input order (live-virus conflicts).
        by_vaccine: The patient's doses by vaccine code (live-virus conflicts).

    Returns:
        The best series' forecast, the series' forecast and the dose evaluations (their
        ``position`` is the index in ``recs``).
    """
    if sex not in plan.sexes:
        # §5.1: no relevant series, so nothing is evaluated or forecast.
        return _NOTHING
    targets = plan.targets
    n = len(targets)
    conflicts = plan.conflicts if by_vaccine is not None else None
    evals: list[Evaluation] = []
    satisfied: list[tuple[dt.date, str]] = []  # (date, vaccine) of the valid doses
    sat_at: list[dt.date | None] = [None] * n  # the date each target dose was satisfied
    status_of: dict[int, str] = {}  # by id() of the Dose, for live-virus conflicts
    track = bool(conflicts)
    last_valid: dt.date | None = None
    t = 0
    last_ref: dt.date | None = None  # CALCDTINT-1: latest valid or not-valid dose
    last_counted: dt.date | None = None  # latest dose that is not extraneous
    # CDSi 4.6 §4.4, figure 4-6: walk target doses and antigen doses together.
    skips = plan.skips
    quicks = plan.quicks if not track else (None,) * n
    for pos, (date, vaccine, dose, _) in enumerate(recs):
        while (
            skips
            and t < n
            and targets[t].skips
            and _skipped(targets[t], True, date, recs, pos, evals, ages)
        ):
            t += 1
        if t >= n:
            # Step 6a: no target dose left; the dose is extraneous.
            evals.append(
                (pos, "extraneous", "series_already_complete", plan.series.rule_id, None, ())
            )
            continue
        quick = quicks[t]
        if quick is not None and date != last_valid and vaccine in quick[4] and not dose.condition:
            # The common case first: a dose that passes every check of the general path
            # below is valid at once; any failed check goes on to the general path.
            q_abs, q_min, q_max, q_intervals, _, q_rule = quick
            if date >= ages[q_abs] and (q_max is None or date < ages[q_max]):
                grace = q_min is not None and date < ages[q_min]
                for abs_td, abs_min, min_td, min_iv, ref_target in q_intervals:
                    ref = sat_at[ref_target - 1] if ref_target else last_ref
                    if ref is None:
                        continue
                    if abs_min is not None and date < (
                        ref + abs_td if abs_td is not None else abs_min[ref]
                    ):
                        break
                    if min_iv is not None and date < (
                        ref + min_td if min_td is not None else min_iv[ref]
                    ):
                        grace = True
                else:
                    evals.append(
                        (pos, "valid", "grace_period" if grace else None, q_rule, t + 1, ())
                    )
                    last_ref = last_counted = last_valid = sat_at[t] = date
                    satisfied.append((date, vaccine))
                    t += 1
                    continue
        target = targets[t]
        num = t + 1
        rule_id = target.rule_id
        ev: Evaluation | None = None
        if dose.condition:  # §6.1
            ev = (pos, "sub_standard", "dose_condition", rule_id, num, ())
        elif vaccine in target.inadvertent:  # §6.3; not a "previous dose" (CALCDTINT-1)
            status_of[id(dose)] = "not_valid"
            last_counted = date
            evals.append((pos, "not_valid", "inadvertent_vaccine", rule_id, num, ()))
            continue
        elif date == last_valid and (date, vaccine) in satisfied:
            # Not in CDSi 4.6: the same vaccine recorded twice on one day counts once (doses
            # come in date order, so only a valid dose of the same day can match).
            ev = (pos, "not_valid", "same_day_as_valid_dose", rule_id, num, ())
        else:
            # §6.4 to §6.9, every reason collected (§6.10); the first is reported.
            reasons: list[str] | None = None
            first_rule = ""
            grace = False
            # §3.3: the age rule (and intervals) in effect on the dose date.
            if target.epochs:
                age, intervals, _ = target.epoch_rules[bisect_right(target.epochs, date)]
            else:
                age, intervals = target.age, target.intervals
            if age is not None:
                a_abs, a_min, a_max, _, _, a_rule = age
                if a_max is not None and date >= ages[a_max]:
                    # Table 6-31: a dose at or after the maximum age is extraneous.
                    ev = (pos, "extraneous", "age_too_old", a_rule, num, ())
                elif date < ages[a_abs]:
                    reasons = ["age_too_young"]
                    first_rule = a_rule
                elif a_min is not None and date < ages[a_min]:
                    grace = True
            if ev is None:
                # §6.5: every preferable interval (no allowable ones here: a failure stands).
                for (
                    abs_td,
                    abs_min,
                    min_td,
                    min_iv,
                    _,
                    _,
                    _,
                    _,
                    iv_rule,
                    ref_target,
                ) in intervals:
                    # CALCDTINT-1 (previous dose) or CALCDTINT-4 (a target dose's dose).
                    ref = sat_at[ref_target - 1] if ref_target else last_ref
                    if ref is None:
                        continue
                    if abs_min is not None and date < (
                        ref + abs_td if abs_td is not None else abs_min[ref]
                    ):
                        if reasons is None:
                            reasons = []
                            first_rule = iv_rule
                        reasons.append("interval_too_soon")
                        break
                    if min_iv is not None and date < (
                        ref + min_td if min_td is not None else min_iv[ref]
                    ):
                        grace = True
                # §6.7: live-virus conflicts with earlier doses of any antigen.
                found = conflicts.get(vaccine) if conflicts else None
                if found and by_vaccine is not None:
                    c_rule = _conflict(found, by_vaccine, dose, date, status_of)
                    if c_rule is not None:
                        if reasons is None:
                            reasons = []
                            first_rule = c_rule
                        reasons.append("live_virus_conflict")
                # §6.8 and §6.9: preferable, else allowable vaccine.
                if vaccine not in target.any_age:
                    ok = False
                    for begin, end, mvx in target.preferable.get(vaccine, ()):
                        if ages[begin] <= date < ages[end] and not (
                            mvx and dose.mvx and mvx != dose.mvx
                        ):
                            ok = True
                            break
                    else:
                        for begin, end in target.allowable.get(vaccine, ()):
                            if ages[begin] <= date < ages[end]:
                                ok = True
                                break
                    if not ok:
                        if reasons is None:
                            reasons = []
                            first_rule = rule_id
                        reasons.append("not_preferable_or_allowable_vaccine")
                if reasons is None:
                    ev = (pos, "valid", "grace_period" if grace else None, rule_id, num, ())
                else:
                    ev = (pos, "not_valid", reasons[0], first_rule, num, tuple(reasons))
        assert ev is not None
        status = ev[1]
        evals.append(ev)
        if track:
            status_of[id(dose)] = status
        if status == "valid":
            last_ref = last_counted = last_valid = sat_at[t] = date
            satisfied.append((date, vaccine))
            t += 1
        elif status == "not_valid":
            last_ref = last_counted = date
        elif status != "extraneous":
            last_counted = date
    # "Minimum age to start" (CDSi 4.6 appendix A).
    if plan.min_start is not None and not satisfied and as_of < ages[plan.min_start]:
        return _NOTHING
    # Table 8-3 with one series: a default series is selected at once; another only if it
    # was started before its maximum age to start, or not started at all.
    if plan.max_start is not None:
        first_valid = next((d for d in sat_at if d is not None), None)
        if first_valid is not None and first_valid >= ages[plan.max_start]:
            return (), None, evals
    if t >= n and satisfied:
        # Chapter 7 with every target dose satisfied: the series is complete.
        return plan.complete, plan.complete[0], evals
    k = len(recs)  # every dose walked
    # Chapter 7: forecast the series (no immunity or contraindication on this path).
    name = plan.antigen
    series = plan.series
    valid = len(satisfied)
    reference = as_of
    priority = False
    vaccines: tuple[str, ...] = ()
    fc: BestForecast
    while True:
        # §7.1 (reference: assessment date) and §7.6 (reference: the earliest date).
        while (
            t < n
            and targets[t].skips
            and _skipped(targets[t], False, reference, recs, k, evals, ages)
        ):
            t += 1
        if t >= n:
            if valid:
                fc = _new(
                    BestForecast,
                    (
                        name,
                        "complete",
                        None,
                        None,
                        None,
                        None,
                        None,
                        priority,
                        vaccines,
                        "series_complete",
                        series.rule_id,
                    ),
                )
                break
            fc = _new(
                BestForecast,
                (
                    name,
                    "not_recommended",
                    None,
                    None,
                    None,
                    None,
                    None,
                    priority,
                    vaccines,
                    "not_needed",
                    series.rule_id,
                ),
            )
            break
        target = targets[t]
        # FORECASTDTCAN-1: the latest of the candidate earliest dates; the first listed
        # wins a tie (minimum age, intervals, conflicts, previous dose), as in the engine.
        earliest = None
        reason = "min_age"
        decided = target.rule_id
        # §3.3: the age rule and intervals in effect on the assessment date.
        if target.epochs:
            age, intervals, priority = target.epoch_rules[bisect_right(target.epochs, as_of)]
        else:
            age, intervals, priority = target.age, target.intervals, target.priority
        _, f_min, f_max, f_rec, f_late, f_rule = _NO_AGE if age is None else age
        if f_min is not None:
            earliest = ages[f_min]
            decided = f_rule
        rec_ints: dt.date | None = None
        late_ints: dt.date | None = None
        for (
            _,
            _,
            min_td,
            min_iv,
            rec_td,
            rec_iv,
            late_td,
            late_iv,
            iv_rule,
            ref_target,
        ) in intervals:
            ref = sat_at[ref_target - 1] if ref_target else last_ref
            if ref is None:
                continue
            if min_iv is not None:
                when = ref + min_td if min_td is not None else min_iv[ref]
                if earliest is None or when > earliest:
                    earliest, reason, decided = when, "min_interval", iv_rule
            if rec_iv is not None:
                when = ref + rec_td if rec_td is not None else rec_iv[ref]
                rec_ints = when if rec_ints is None or when > rec_ints else rec_ints
            if late_iv is not None:
                when = ref + late_td if late_td is not None else late_iv[ref]
                late_ints = when if late_ints is None or when > late_ints else late_ints
        # CALCDTCONFLICT-3: a live vaccine given earlier delays a conflicting next dose.
        delays = plan.forecast_conflicts[t]
        if delays:
            for d in doses:
                for d_end, d_rule in delays.get(d.vaccine, ()):
                    when = add(d.date, d_end)
                    if earliest is None or when > earliest:
                        earliest, reason, decided = when, "live_virus_conflict", d_rule
        season = target.season_start
        if season is not None and (earliest is None or season > earliest):
            earliest, reason, decided = season, "season_start", target.rule_id
        if last_counted is not None and (earliest is None or last_counted > earliest):
            earliest, reason, decided = last_counted, "previous_dose", target.rule_id
        if earliest is None:
            earliest, reason, decided = dob, "min_age", target.rule_id
        # Table 7-10: should the patient receive another target dose?
        if f_max is not None:
            max_age = ages[f_max]
            if as_of >= max_age:
                fc = _new(
                    BestForecast,
                    (
                        name,
                        "aged_out",
                        None,
                        None,
                        None,
                        None,
                        None,
                        priority,
                        vaccines,
                        "max_age_exceeded",
                        f_rule,
                    ),
                )
                break
            if earliest >= max_age:
                fc = _new(
                    BestForecast,
                    (
                        name,
                        "aged_out",
                        None,
                        None,
                        None,
                        None,
                        None,
                        priority,
                        vaccines,
                        "cannot_finish_before_max_age",
                        f_rule,
                    ),
                )
                break
            latest: dt.date | None = max_age - _ONE_DAY
        else:
            latest = None
        # §7.5, FORECASTDT-1..6.
        recommended = (ages[f_rec] if f_rec is not None else None) or rec_ints or earliest
        if recommended < earliest:
            recommended = earliest
        if f_late is not None:
            past_due: dt.date | None = max(ages[f_late] - _ONE_DAY, earliest)
        elif late_ints is not None:
            past_due = max(late_ints - _ONE_DAY, earliest)
        else:
            past_due = None
        vaccines = target.offered_always
        if target.offered:
            vaccines = tuple(
                dict.fromkeys(v for v, b, e in target.offered if ages[b] <= recommended < ages[e])
            )
        # §7.6: the forecast must still hold on its own earliest date.
        if (
            target.skips
            and reference != earliest
            and _skipped(target, False, earliest, recs, k, evals, ages)
        ):
            reference = earliest
            continue
        # FORECASTDN-1: satisfied target doses plus one.
        fc = _new(
            BestForecast,
            (
                name,
                "not_complete",
                earliest,
                recommended,
                past_due,
                latest,
                valid + 1 if not plan.seasonal else _dose_number(targets, sat_at),
                priority,
                vaccines,
                reason,
                decided,
            ),
        )
        break
    return (fc,), fc, evals


def _rules_on(
    target: SeriesDose, rules: tuple[_Age, ...], intervals: tuple[_Iv, ...], on: dt.date
) -> tuple[_Age | None, tuple[_Iv, ...], bool]:
    """CDSi 4.6 §3.3: the age rule (the first in effect, else the first), the intervals
    in effect, and whether they all have priority, on a date."""
    age = rules[0] if rules else None
    for rule, compiled_rule in zip(target.ages, rules, strict=True):
        if _effective(rule.effective, rule.cessation, on):
            age = compiled_rule
            break
    kept = [
        (iv, compiled_iv)
        for iv, compiled_iv in zip(target.intervals, intervals, strict=True)
        if _effective(iv.effective, iv.cessation, on)
    ]
    return (
        age,
        tuple(c for _, c in kept),
        bool(kept) and all(iv.priority for iv, _ in kept),
    )


def _effective(effective: dt.date | None, cessation: dt.date | None, on: dt.date) -> bool:
    return (effective is None or effective <= on) and (cessation is None or on < cessation)


def _dose_number(targets: tuple[_Target, ...], sat_at: list[dt.date | None]) -> int:
    """FORECASTDN-1: satisfied target doses plus one, where a dose given before a seasonal
    target dose's season starts counts for evaluation but not for this season's number."""
    count = 1
    for target, when in zip(targets, sat_at, strict=True):
        if when is not None and (target.season_start is None or when >= target.season_start):
            count += 1
    return count


def _conflict(
    found: tuple[tuple[str, Duration, Duration, Duration, str], ...],
    by_vaccine: dict[str, list[Dose]],
    dose: Dose,
    date: dt.date,
    status_of: dict[int, str],
) -> str | None:
    """CDSi 4.6 §6.7: the rule of the first live-virus conflict with an earlier dose."""
    for previous, c_begin, min_end, c_end, c_rule in found:
        for d in by_vaccine.get(previous, ()):
            if d is dose or d.date > date:
                continue
            # CALCDTCONFLICT-2: a valid (or unevaluated) earlier dose ends the conflict at
            # the minimum end; a not-valid one at the full end.
            status = status_of.get(id(d))
            stop = min_end if status is None or status == "valid" else c_end
            if add(d.date, c_begin) <= date < add(d.date, stop):
                return c_rule
    return None
