"""The schedule rule model: what a schedule says, independent of where it came from.

One model carries both the CDC CDSi supporting data (loaded by :mod:`immreg.schedule.cdsi`)
and national schedules written by hand in immreg's own file format
(:mod:`immreg.schedule.fileformat`). The vocabulary follows CDSi 4.6 (chapter 3 and the
appendix glossary): a :class:`Schedule` holds :class:`Antigen` values; each antigen has
:class:`Series` (paths to immunity) made of ordered :class:`SeriesDose` values (target
doses) with ages, intervals, vaccines and conditional skips.

Every rule object carries a stable ``rule_id`` (for example
``"HepB/HepB 3-dose series/dose 2/age"``) that evaluation and forecast results quote, and a
``source`` citation for hand-written schedules (circular, WHO table, CDSi section).

All durations are parsed at load time (:class:`~immreg.schedule.dates.Duration`), and
:meth:`Schedule.index` builds the look-up tables the engine needs once per schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

import attrs

from immreg.schedule.dates import Duration

_T = TypeVar("_T")

__all__ = [
    "Antigen",
    "AntigenContraindication",
    "Condition",
    "ConditionSet",
    "ConditionalSkip",
    "CvxAssociation",
    "Immunity",
    "Indication",
    "Interval",
    "LiveVirusConflict",
    "Schedule",
    "ScheduleIndex",
    "Series",
    "SeriesDose",
    "SeriesDoseAge",
    "VaccineContraindication",
    "VaccineGroup",
    "VaccineRule",
    "with_unique_rule_ids",
]

SeriesType = Literal["standard", "risk", "evaluation_only"]
Sex = Literal["F", "M", "U"]
SkipContext = Literal["evaluation", "forecast", "both"]
Logic = Literal["and", "or"]
ConditionKind = Literal[
    "age", "interval", "vaccine_count_by_age", "vaccine_count_by_date", "completed_series"
]
DoseType = Literal["valid", "total"]
CountLogic = Literal["greater", "equal", "less"]


@attrs.frozen
class SeriesDoseAge:
    """The ages at which a target dose may and should be given (CDSi 4.6 §6.4, §7.5).

    A missing age means "no limit" (the CDSi assumed values: 01/01/1900 and 12/31/2999).

    Attributes:
        abs_min: Absolute minimum age; below it the dose is "too young". The gap to
            ``min`` is the grace period (usually 4 days).
        min: Minimum age; the earliest forecast date.
        earliest_rec: Earliest recommended age; the recommended forecast date.
        latest_rec: Latest recommended age; the day before is the past-due date.
        max: Maximum age; at or after it a dose is extraneous ("too old").
        effective: First day this age rule applies (by dose date), if limited.
        cessation: Day this age rule stops applying, if limited.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    abs_min: Duration | None = None
    min: Duration | None = None
    earliest_rec: Duration | None = None
    latest_rec: Duration | None = None
    max: Duration | None = None
    effective: dt.date | None = None
    cessation: dt.date | None = None
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class Interval:
    """A required interval before a target dose (CDSi 4.6 §6.5, §6.6, CALCDTINT-1..9).

    The reference point is one of: the immediately previous dose (``"previous"``), the
    dose that satisfied target dose ``target_dose`` (``"target_dose"``), the most recent
    dose of one of ``vaccines`` (``"most_recent"``), or the most recent active
    observation ``observation`` (``"observation"``).

    Attributes:
        reference: What the interval is measured from.
        target_dose: 1-based target dose number, for ``"target_dose"``.
        vaccines: Vaccine codes, for ``"most_recent"``.
        observation: Observation code, for ``"observation"``.
        abs_min: Absolute minimum interval (below it: "too soon").
        min: Minimum interval.
        earliest_rec: Earliest recommended interval.
        latest_rec: Latest recommended interval.
        priority: CDSi "interval priority" flag (FORECASTPRIORITY-1).
        effective: First dose date this interval applies to, if limited.
        cessation: Dose date from which this interval no longer applies, if limited.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    reference: Literal["previous", "target_dose", "most_recent", "observation"] = "previous"
    target_dose: int | None = None
    vaccines: tuple[str, ...] = ()
    observation: str | None = None
    abs_min: Duration | None = None
    min: Duration | None = None
    earliest_rec: Duration | None = None
    latest_rec: Duration | None = None
    priority: bool = False
    effective: dt.date | None = None
    cessation: dt.date | None = None
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class VaccineRule:
    """A vaccine that may count for a target dose within an age window (CDSi 4.6 §6.8, §6.9).

    Attributes:
        vaccine: Vaccine code (CVX for CDSi schedules, a local product code otherwise).
        name: Human-readable vaccine type.
        begin_age: Age from which the vaccine counts (inclusive), if limited.
        end_age: Age from which it no longer counts (exclusive), if limited.
        trade_name: Required trade name, when the rule names one.
        mvx: Required manufacturer (MVX) code, when the rule names one.
        volume: Expected volume in mL (informational; CDSi uses it for a reason only).
        forecast: Whether to recommend this vaccine in a forecast (FORECASTRECVAC-1).
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    vaccine: str
    name: str = ""
    begin_age: Duration | None = None
    end_age: Duration | None = None
    trade_name: str | None = None
    mvx: str | None = None
    volume: str | None = None
    forecast: bool = False
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class Condition:
    """One condition of a conditional skip set (CDSi 4.6 §6.2, tables 6-6 to 6-9).

    Attributes:
        kind: ``"age"``, ``"interval"``, ``"vaccine_count_by_age"``,
            ``"vaccine_count_by_date"`` or ``"completed_series"``.
        begin_age: Age window start (inclusive).
        end_age: Age window end (exclusive).
        start_date: Date window start (inclusive), for counts by date.
        end_date: Date window end (exclusive), for counts by date.
        interval: Interval from the previous dose, for ``"interval"``.
        dose_count: The count compared against.
        dose_type: Count ``"valid"`` doses only or ``"total"`` doses.
        count_logic: ``"greater"``, ``"equal"`` or ``"less"``.
        vaccines: Vaccine codes counted.
        series_groups: Series groups that must hold a complete series.
    """

    kind: ConditionKind
    begin_age: Duration | None = None
    end_age: Duration | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    interval: Duration | None = None
    dose_count: int | None = None
    dose_type: DoseType = "total"
    count_logic: CountLogic = "greater"
    vaccines: tuple[str, ...] = ()
    series_groups: tuple[str, ...] = ()


@attrs.frozen
class ConditionSet:
    """A set of conditions joined by AND or OR (CDSi 4.6 table 6-10).

    Attributes:
        set_id: Identifier within the skip.
        description: What the set means, in words.
        logic: How the conditions combine.
        conditions: The conditions.
        effective: First reference date the set applies to, if limited.
        cessation: Reference date from which it no longer applies, if limited.
    """

    set_id: str
    description: str = ""
    logic: Logic = "and"
    conditions: tuple[Condition, ...] = ()
    effective: dt.date | None = None
    cessation: dt.date | None = None


@attrs.frozen
class ConditionalSkip:
    """When a target dose need not be given (CDSi 4.6 §6.2, §7.1, §7.6).

    Attributes:
        context: Whether the skip applies when evaluating, forecasting, or both.
        logic: How the sets combine (table 6-11); a single set uses either.
        sets: The condition sets.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    context: SkipContext
    logic: Logic = "or"
    sets: tuple[ConditionSet, ...] = ()
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class SeriesDose:
    """One target dose of a series (CDSi 4.6 §3.1).

    Attributes:
        number: 1-based dose number within the series.
        ages: Age rules; several with effective/cessation dates may coexist.
        intervals: Preferable intervals; all must pass (§6.5).
        allowable_intervals: Allowable intervals, used when a preferable one fails (§6.6).
        preferable_vaccines: Preferable vaccines (§6.8).
        allowable_vaccines: Allowable vaccines (§6.9).
        inadvertent_vaccines: Vaccine codes that are an inadvertent administration (§6.3).
        skips: Conditional skips.
        recurring: Whether a satisfied dose is followed by a copy of itself (§4.4 step 5).
        season_start: Seasonal recommendation start date, if seasonal.
        season_end: Seasonal recommendation end date, if seasonal.
        rule_id: Stable identifier, e.g. ``"HepB/HepB 3-dose series/dose 2"``.
        source: Citation of the rule's source.
    """

    number: int
    ages: tuple[SeriesDoseAge, ...] = ()
    intervals: tuple[Interval, ...] = ()
    allowable_intervals: tuple[Interval, ...] = ()
    preferable_vaccines: tuple[VaccineRule, ...] = ()
    allowable_vaccines: tuple[VaccineRule, ...] = ()
    inadvertent_vaccines: tuple[str, ...] = ()
    skips: tuple[ConditionalSkip, ...] = ()
    recurring: bool = False
    season_start: dt.date | None = None
    season_end: dt.date | None = None
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class Indication:
    """An observation that makes a risk series relevant (CDSi 4.6 §5.1).

    Attributes:
        observation: Observation code.
        begin_age: Age from which the indication applies, if limited.
        end_age: Age from which it no longer applies, if limited.
        description: What the indication means.
        source: Citation of the rule's source.
    """

    observation: str
    begin_age: Duration | None = None
    end_age: Duration | None = None
    description: str = ""
    source: str = ""


@attrs.frozen
class Series:
    """One path to immunity for an antigen (CDSi 4.6 §3.1, §5, §8).

    Attributes:
        name: Series name, unique within the antigen.
        antigen: The antigen the series protects against.
        vaccine_group: The vaccine group the series is reported under.
        type: ``"standard"``, ``"risk"`` or ``"evaluation_only"``.
        series_group: Series group identifier (best series is chosen per group).
        group_name: Series group name.
        priority: Series priority ("A" highest).
        preference: Series preference (1 best), breaks score ties.
        default: Whether this is the group's default series.
        product_path: Whether this is a product-specific path.
        min_age_to_start: The series is only relevant from this age, if limited.
        max_age_to_start: A standard series must be started before this age to be scored.
        required_sex: The sexes this series applies to (empty: all).
        equivalent_series_groups: Series groups equivalent to this one (§8.8).
        indications: Observations that make a risk series relevant.
        doses: The target doses, in order.
        guidance: Administrative guidance text.
        rule_id: Stable identifier, e.g. ``"HepB/HepB 3-dose series"``.
        source: Citation of the rule's source.
    """

    name: str
    antigen: str
    vaccine_group: str
    type: SeriesType = "standard"
    series_group: str = "1"
    group_name: str = ""
    priority: str = "A"
    preference: int = 1
    default: bool = False
    product_path: bool = False
    min_age_to_start: Duration | None = None
    max_age_to_start: Duration | None = None
    required_sex: tuple[Sex, ...] = ()
    equivalent_series_groups: tuple[str, ...] = ()
    indications: tuple[Indication, ...] = ()
    doses: tuple[SeriesDose, ...] = ()
    guidance: str = ""
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class Immunity:
    """Evidence of immunity for an antigen (CDSi 4.6 §7.2).

    Attributes:
        observations: Observation codes that prove immunity (clinical history).
        birth_date_before: Born before this date proves immunity, if set.
        birth_country: The country the birth-date rule applies to (informational).
        exclusions: Observation codes that cancel the birth-date rule.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    observations: tuple[str, ...] = ()
    birth_date_before: dt.date | None = None
    birth_country: str = ""
    exclusions: tuple[str, ...] = ()
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class AntigenContraindication:
    """An observation that contraindicates every vaccine for an antigen (CDSi 4.6 §7.3).

    Attributes:
        observation: Observation code.
        begin_age: Age from which it applies, if limited.
        end_age: Age from which it no longer applies, if limited.
        text: What the contraindication says.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    observation: str
    begin_age: Duration | None = None
    end_age: Duration | None = None
    text: str = ""
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class VaccineContraindication:
    """An observation that contraindicates some vaccines only (CDSi 4.6 §7.3).

    Attributes:
        observation: Observation code.
        vaccines: Contraindicated vaccine codes.
        begin_age: Age from which it applies, if limited.
        end_age: Age from which it no longer applies, if limited.
        text: What the contraindication says.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    observation: str
    vaccines: tuple[str, ...] = ()
    begin_age: Duration | None = None
    end_age: Duration | None = None
    text: str = ""
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class Antigen:
    """An antigen with its series, immunity and contraindication rules.

    Attributes:
        name: Antigen name, e.g. ``"Measles"``.
        series: Its series.
        immunity: Evidence of immunity, if any.
        contraindications: Antigen-level contraindications.
        vaccine_contraindications: Vaccine-level contraindications.
    """

    name: str
    series: tuple[Series, ...] = ()
    immunity: Immunity | None = None
    contraindications: tuple[AntigenContraindication, ...] = ()
    vaccine_contraindications: tuple[VaccineContraindication, ...] = ()


@attrs.frozen
class LiveVirusConflict:
    """Two live vaccines given too close together (CDSi 4.6 §6.7, CALCDTCONFLICT-1..3).

    Attributes:
        previous: Vaccine code given first (the conflicting vaccine type).
        current: Vaccine code given later (the impacted vaccine type).
        begin: Conflict begins this long after the previous dose.
        min_end: Conflict ends this long after a valid previous dose (grace applied).
        end: Conflict ends this long after a not-valid previous dose, and in forecasts.
        rule_id: Stable identifier of this rule.
        source: Citation of the rule's source.
    """

    previous: str
    current: str
    begin: Duration
    min_end: Duration
    end: Duration
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class CvxAssociation:
    """A vaccine code counts for an antigen, possibly only within an age window.

    Attributes:
        vaccine: Vaccine code.
        antigen: Antigen name.
        begin_age: Age from which the association holds, if limited.
        end_age: Age from which it no longer holds, if limited.
        name: Short description of the vaccine.
        rule_id: Stable identifier, e.g. ``"vaccine 110/HepB"``.
        source: Citation of the rule's source (a product licence, a circular).
    """

    vaccine: str
    antigen: str
    begin_age: Duration | None = None
    end_age: Duration | None = None
    name: str = ""
    rule_id: str = ""
    source: str = ""


@attrs.frozen
class VaccineGroup:
    """Antigens reported together (CDSi 4.6 chapter 9).

    Attributes:
        name: Vaccine-group name, e.g. ``"DTaP/Tdap/Td"``.
        antigens: The antigens in the group.
        administer_full: Whether the whole group is given together ("administer full
            vaccine group"; FORECASTDN-2: minimum dose number if so, maximum otherwise).
        source: Citation of the grouping's source.
    """

    name: str
    antigens: tuple[str, ...] = ()
    administer_full: bool = False
    source: str = ""


@attrs.frozen
class ScheduleIndex:
    """Look-up tables derived from a schedule once (never serialised).

    Attributes:
        antigens: Antigen by name.
        associations: CVX associations by vaccine code.
        conflicts: Live-virus conflicts by current (impacted) vaccine code.
        groups: Vaccine group by name.
        group_of_antigen: The vaccine groups each antigen belongs to.
        vaccines: All known vaccine codes.
        external: Per antigen, the vaccine codes of *other* doses its rules read
            (live-virus conflicts, "most recent" intervals).
        plain_series: Per antigen and sex, the series that need no indication.
        forecast_conflicts: Per series dose (by ``id()``), the live-virus conflicts that can
            delay it, by the earlier (conflicting) vaccine code.
        vaccine_rules: Per series dose (by ``id()``), its preferable and allowable
            vaccine rules by vaccine code.
        rules: Every rule by ``rule_id``, filled on first use by
            :func:`immreg.schedule.explain.rule`.
        memo: The engine's cache of per-antigen outcomes (bounded; see the engine).
        compiled: The engine's fast-path plans (:mod:`immreg.schedule.compiled`), built on
            first use.
    """

    antigens: dict[str, Antigen]
    associations: dict[str, tuple[CvxAssociation, ...]]
    conflicts: dict[str, tuple[LiveVirusConflict, ...]]
    groups: dict[str, VaccineGroup]
    group_of_antigen: dict[str, tuple[str, ...]]
    vaccines: frozenset[str]
    external: dict[str, frozenset[str]]
    plain_series: dict[str, dict[str, tuple[Series, ...]]]
    forecast_conflicts: dict[int, dict[str, tuple[LiveVirusConflict, ...]]]
    vaccine_rules: dict[int, tuple[dict[str, tuple[VaccineRule, ...]], ...]]
    memo: dict[object, object] = attrs.field(factory=dict, eq=False, repr=False)
    rules: dict[str, object] = attrs.field(factory=dict, eq=False, repr=False)
    compiled: list[object] = attrs.field(factory=list, eq=False, repr=False)


@attrs.frozen
class Schedule:
    """A complete schedule: antigens, vaccine groups, vaccine map and conflicts.

    Attributes:
        name: Schedule name, e.g. ``"CDC CDSi"``.
        release: Release of the schedule's data, e.g. ``"4.64"`` or a circular's date.
        source: Citation of the whole schedule (circular, publication).
        antigens: Antigens with their series.
        vaccine_groups: Vaccine groups.
        vaccines: Vaccine code to antigen associations (CDSi ``cvxToAntigenMap``).
        conflicts: Live-virus conflicts.
        observations: Observation code to title, for readable output.
    """

    name: str
    release: str = ""
    source: str = ""
    antigens: tuple[Antigen, ...] = ()
    vaccine_groups: tuple[VaccineGroup, ...] = ()
    vaccines: tuple[CvxAssociation, ...] = ()
    conflicts: tuple[LiveVirusConflict, ...] = ()
    observations: tuple[tuple[str, str], ...] = ()
    _index: list[ScheduleIndex] = attrs.field(
        factory=list, init=False, eq=False, repr=False, hash=False
    )

    def __getstate__(self) -> dict[str, object]:
        # The index is keyed by object identity and holds a memo: it never travels (to a
        # worker process, say); the copy builds its own on first use.
        return {a.name: getattr(self, a.name) for a in attrs.fields(Schedule) if a.init}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_index", [])

    def index(self) -> ScheduleIndex:
        """Return the look-up tables for this schedule, built on first use."""
        if self._index:
            return self._index[0]
        associations = _grouped(self.vaccines, lambda a: a.vaccine)
        conflicts = _grouped(self.conflicts, lambda c: c.current)
        group_of: dict[str, list[str]] = {}
        for group in self.vaccine_groups:
            for member in group.antigens:
                group_of.setdefault(member, []).append(group.name)
        external: dict[str, frozenset[str]] = {}
        for antigen in self.antigens:
            codes: set[str] = set()
            for series in antigen.series:
                for dose in series.doses:
                    for rule in (*dose.preferable_vaccines, *dose.allowable_vaccines):
                        codes.update(c.previous for c in conflicts.get(rule.vaccine, ()))
                    for iv in (*dose.intervals, *dose.allowable_intervals):
                        codes.update(iv.vaccines)
            for assoc in self.vaccines:
                if assoc.antigen == antigen.name:
                    codes.update(c.previous for c in conflicts.get(assoc.vaccine, ()))
            external[antigen.name] = frozenset(codes)
        plain: dict[str, dict[str, tuple[Series, ...]]] = {}
        by_target: dict[int, dict[str, tuple[LiveVirusConflict, ...]]] = {}
        vaccine_rules: dict[int, tuple[dict[str, tuple[VaccineRule, ...]], ...]] = {}
        for antigen in self.antigens:
            plain[antigen.name] = {
                sex: tuple(
                    s
                    for s in antigen.series
                    if s.type != "risk" and (not s.required_sex or sex in s.required_sex)
                )
                for sex in ("F", "M", "U")
            }
            for series in antigen.series:
                for dose in series.doses:
                    vaccine_rules[id(dose)] = (
                        _grouped(dose.preferable_vaccines, _vaccine),
                        _grouped(dose.allowable_vaccines, _vaccine),
                    )
                    found: dict[str, list[LiveVirusConflict]] = {}
                    for rule in dose.preferable_vaccines:
                        for c in conflicts.get(rule.vaccine, ()):
                            if c not in found.setdefault(c.previous, []):
                                found[c.previous].append(c)
                    if found:
                        by_target[id(dose)] = {k: tuple(v) for k, v in found.items()}
        built = ScheduleIndex(
            antigens={a.name: a for a in self.antigens},
            associations=associations,
            conflicts=conflicts,
            groups={g.name: g for g in self.vaccine_groups},
            group_of_antigen={k: tuple(v) for k, v in group_of.items()},
            vaccines=frozenset(associations),
            external=external,
            plain_series=plain,
            forecast_conflicts=by_target,
            vaccine_rules=vaccine_rules,
        )
        self._index.append(built)
        return built


def _grouped(items: Iterable[_T], key: Callable[[_T], str]) -> dict[str, tuple[_T, ...]]:
    """``items`` grouped by ``key``, each group in the items' order."""
    out: dict[str, list[_T]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return {k: tuple(v) for k, v in out.items()}


def _vaccine(rule: VaccineRule) -> str:
    return rule.vaccine


def with_unique_rule_ids(schedule: Schedule) -> Schedule:
    """Return the schedule with every repeated ``rule_id`` made unique.

    Rules are visited in file order; the second rule with an id gets `` #2`` appended, the
    third `` #3``, and so on, so ids stay stable as long as the schedule's order does.
    """
    seen: dict[str, int] = {}

    def visit(value: object) -> object:
        if isinstance(value, tuple):
            items = tuple(visit(v) for v in value)
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if not attrs.has(type(value)):
            return value
        changes: dict[str, object] = {}
        rid = getattr(value, "rule_id", None)
        if isinstance(rid, str) and rid:
            n = seen.get(rid, 0) + 1
            seen[rid] = n
            if n > 1:
                changes["rule_id"] = f"{rid} #{n}"
        for a in attrs.fields(type(value)):  # type: ignore[arg-type]
            if not a.init or a.name == "rule_id":
                continue
            child = getattr(value, a.name)
            new = visit(child)
            if new is not child:
                changes[a.name] = new
        return attrs.evolve(value, **changes) if changes else value  # type: ignore[misc]

    result = visit(schedule)
    assert isinstance(result, Schedule)
    return result
