"""A birth cohort run through a schedule under a behaviour model, vectorised with numpy.

:func:`simulate_cohort` draws, for every child, a birth date, a death date (if any) and the
date of every planned dose (:mod:`immreg.simulate.behaviour`), then judges each dose the
way the engine does, from the schedule's own minimum ages, intervals and skips
(:mod:`immreg.simulate.plan`), all on arrays. :meth:`CohortResult.coverage` gives coverage
by age, :meth:`CohortResult.summary` fully immunized, dropout and timeliness, and
:func:`check_against_engine` runs a sample through :func:`immreg.schedule.batch.assess_many`
and compares coverage at every age.

Random draws come from ``numpy.random.Generator(PCG64(...))`` streams seeded from the seed
and the name of what is drawn (the births, each planned dose), so the same seed gives the
same cohort, and two scenarios of one seed share their children: a scenario that changes
one dose changes only what follows from it (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np

from immreg.errors import ValidationError
from immreg.schedule.dates import Duration
from immreg.schedule.rules import Schedule
from immreg.schedule.timeliness import DEFAULT_WINDOW_DAYS
from immreg.simulate.behaviour import VIETNAM, BehaviourModel
from immreg.simulate.plan import (
    BoolArray,
    IntArray,
    Plan,
    add_duration,
    day_number,
    from_day_number,
    months_until,
    plan_for,
)

__all__ = [
    "CohortResult",
    "EngineCheck",
    "check_against_engine",
    "resolve_schedule",
    "simulate_cohort",
]

# "No date" in day-number arrays.
_NONE = -1


def _stream(seed: int, name: str) -> np.random.Generator:
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))


class _Ages:
    """Birth dates plus durations, computed once per duration (they repeat a lot)."""

    def __init__(self, birth: IntArray) -> None:
        self.birth = birth
        self._cache: dict[tuple[int, int, int], IntArray] = {}

    def at(self, duration: Duration) -> IntArray:
        """Every birth date plus ``duration``."""
        key = (duration.years, duration.months, duration.days)
        got = self._cache.get(key)
        if got is None:
            got = add_duration(self.birth, duration)
            self._cache[key] = got
        return got


@attrs.frozen(eq=False)
class CohortResult:
    """A simulated cohort: who got which dose when, and which doses counted.

    Attributes:
        scenario: The scenario's name.
        plan: The plan simulated.
        seed: The seed.
        birth: Birth dates (day numbers), one per child.
        death: Death dates (day numbers), ``-1`` for children alive at the horizon.
        given: Per planned dose (``"VACCINE:N"``), the date given or ``-1``.
        due: Per planned dose, the date it was due (for timeliness), ``-1`` if never due.
        valid: Per ``(antigen, target dose)``, the date it was validly satisfied or ``-1``.
    """

    scenario: str
    plan: Plan
    seed: int
    birth: IntArray
    death: IntArray
    given: dict[str, IntArray]
    due: dict[str, IntArray]
    valid: dict[tuple[str, int], IntArray]

    @property
    def size(self) -> int:
        """Number of children."""
        return int(self.birth.shape[0])

    def _alive(self, ages: _Ages, months: int) -> BoolArray:
        on = ages.at(Duration(months=months))
        return (self.death < 0) | (self.death > on)

    def coverage(self, ages_months: list[int] | None = None) -> list[dict[str, Any]]:
        """Coverage by age: one row per vaccine group or antigen, dose and age.

        A child counts at age ``m`` months if alive on the day it turns ``m`` months and
        the dose was validly given by then. Group rows count a dose when every antigen of
        the group has it (``antigen`` is ``"*"``).

        Args:
            ages_months: Ages to report (default 0 to the plan's horizon).

        Returns:
            Rows with ``scenario``, ``vaccine_group``, ``antigen``, ``dose``,
            ``age_months``, ``vaccinated``, ``alive`` and ``coverage_pct`` (3 decimals).
        """
        months = list(range(self.plan.horizon_months + 1)) if ages_months is None else ages_months
        if any(isinstance(m, bool) or not isinstance(m, int) or m < 0 for m in months):
            raise ValidationError("ages_months", "must be whole numbers of months, 0 or more")
        top = max(months, default=0) + 1
        # Counting by age in whole months: a dose given on day w counts at every age
        # m >= months_until(birth, w), a child is alive at every age m < months_until(birth,
        # death); so the vaccinated living at m are those with m* <= m < d*, counted for
        # every age at once with two cumulative histograms (cost per child, not per age).
        dead_at = np.where(
            self.death >= 0, np.minimum(months_until(self.birth, self.death), top), top
        )
        alive_by_age = self.size - np.cumsum(np.bincount(dead_at, minlength=top + 1))
        rows: list[dict[str, Any]] = []
        for group, antigen, dose, when in self._series():
            got_at = np.where(
                when >= 0, np.minimum(months_until(self.birth, np.maximum(when, 0)), top), top
            )
            reached = np.cumsum(np.bincount(got_at, minlength=top + 1))
            lost = np.cumsum(np.bincount(np.maximum(got_at, dead_at), minlength=top + 1))
            for m in months:
                got = int(reached[m] - lost[m])
                n = int(alive_by_age[m])
                rows.append(
                    {
                        "scenario": self.scenario,
                        "vaccine_group": group,
                        "antigen": antigen,
                        "dose": dose,
                        "age_months": m,
                        "vaccinated": got,
                        "alive": n,
                        "coverage_pct": round(100.0 * got / n, 3) if n else 0.0,
                    }
                )
        return rows

    def _coverage_by_masks(self, months: list[int]) -> list[tuple[int, int]]:
        # The definition of coverage(), written out directly (slow): for tests.
        ages = _Ages(self.birth)
        out = []
        for _group, _antigen, _dose, when in self._series():
            for m in months:
                on = ages.at(Duration(months=m))
                alive = self._alive(ages, m)
                got = int(np.count_nonzero((when >= 0) & (when <= on) & alive))
                out.append((got, int(np.count_nonzero(alive))))
        return out

    def _series(self) -> Iterator[tuple[str, str, int, IntArray]]:
        groups: dict[str, list[str]] = {}
        for antigen in self.plan.targets:
            groups.setdefault(self.plan.vaccine_groups[antigen], []).append(antigen)
        for group, antigens in groups.items():
            if len(antigens) > 1:
                depth = min(len(self.plan.targets[a]) for a in antigens)
                for k in range(1, depth + 1):
                    dates = [self.valid[(a, k)] for a in antigens]
                    both = np.max(np.stack(dates), axis=0)
                    missing = np.any(np.stack(dates) < 0, axis=0)
                    yield group, "*", k, np.where(missing, _NONE, both)
            for a in antigens:
                for t in self.plan.targets[a]:
                    yield group, a, t.number, self.valid[(a, t.number)]

    def fully_immunized(self, months: int) -> BoolArray:
        """Per child: every target dose due (on time) before ``months`` valid by then."""
        ages = _Ages(self.birth)
        on = ages.at(Duration(months=months))
        limit = int(add_duration(np.array([0]), Duration(months=months))[0])
        ok = np.ones(self.birth.shape, dtype=bool)
        for e in self.plan.events:
            if e.nominal_days >= limit:
                continue
            for antigen, number in e.members:
                when = self.valid[(antigen, number)]
                ok &= (when >= 0) & (when <= on)
        return ok

    def summary(self) -> list[dict[str, Any]]:
        """Headline figures: fully immunized, dropout, timeliness, doses given.

        Rows have ``scenario``, ``metric``, ``key`` and ``value`` (3 decimals):

        * ``fic_pct`` at 12 and 24 months (``key``: the age), among children alive then;
        * ``dropout_pct`` from dose 1 to each later dose of each antigen, at the horizon:
          ``(dose 1 - dose k) / dose 1``;
        * ``on_time_pct``, ``early_pct``, ``late_pct`` per planned dose among the doses
          given: early is before the due date, on time up to the window's last day;
        * ``doses_given`` per planned dose.
        """
        rows: list[dict[str, Any]] = []

        def add(metric: str, key: str, value: float) -> None:
            rows.append(
                {
                    "scenario": self.scenario,
                    "metric": metric,
                    "key": key,
                    "value": round(float(value), 3),
                }
            )

        ages = _Ages(self.birth)
        for m in (12, 24):
            if m > self.plan.horizon_months:
                continue
            alive = self._alive(ages, m)
            fic = self.fully_immunized(m) & alive
            add("fic_pct", f"{m} months", 100.0 * fic.sum() / max(1, int(alive.sum())))
        end = self.plan.horizon_months
        alive = self._alive(ages, end)
        on = ages.at(Duration(months=end))
        for antigen, targets in self.plan.targets.items():
            first = self.valid[(antigen, 1)]
            n1 = int(np.count_nonzero((first >= 0) & (first <= on) & alive))
            for t in targets[1:]:
                when = self.valid[(antigen, t.number)]
                nk = int(np.count_nonzero((when >= 0) & (when <= on) & alive))
                add("dropout_pct", f"{antigen} 1-{t.number}", 100.0 * (n1 - nk) / max(1, n1))
        for e in self.plan.events:
            given = self.given[e.key]
            due = self.due[e.key]
            got = given >= 0
            n = int(got.sum())
            window = DEFAULT_WINDOW_DAYS
            early = got & (given < due)
            late = got & (given > due + window)
            add("doses_given", e.key, float(n))
            add("early_pct", e.key, 100.0 * early.sum() / max(1, n))
            add("on_time_pct", e.key, 100.0 * (n - early.sum() - late.sum()) / max(1, n))
            add("late_pct", e.key, 100.0 * late.sum() / max(1, n))
        return rows

    def histories(self, indices: IntArray) -> Iterator[tuple[dt.date, list[tuple[str, dt.date]]]]:
        """Birth date and ``(vaccine, date)`` doses of the children at ``indices``."""
        for i in indices.tolist():
            doses = [
                (e.vaccine, from_day_number(int(self.given[e.key][i])))
                for e in self.plan.events
                if self.given[e.key][i] >= 0
            ]
            doses.sort(key=lambda d: d[1])
            yield from_day_number(int(self.birth[i])), doses

    def subset(self, indices: IntArray) -> CohortResult:
        """The same result restricted to some children (in the given order)."""
        return CohortResult(
            scenario=self.scenario,
            plan=self.plan,
            seed=self.seed,
            birth=self.birth[indices],
            death=self.death[indices],
            given={k: v[indices] for k, v in self.given.items()},
            due={k: v[indices] for k, v in self.due.items()},
            valid={k: v[indices] for k, v in self.valid.items()},
        )


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, "must be a whole number")
    if not low <= value <= high:
        raise ValidationError(name, f"must be between {low:,} and {high:,}")
    return value


def resolve_schedule(schedule: Schedule | str) -> Schedule:
    """A schedule, or the one a spec names (``"vn-epi"``).

    Raises:
        ValidationError: ``schedule`` names no schedule (field ``schedule``).
    """
    if isinstance(schedule, Schedule):
        return schedule
    if not isinstance(schedule, str) or not schedule:
        raise ValidationError("schedule", "must be a Schedule or a pack name such as 'vn-epi'")
    from immreg.errors import NotFoundError
    from immreg.schedule import load_schedule

    try:
        return load_schedule(schedule)
    except NotFoundError as e:
        raise ValidationError("schedule", f"{schedule!r} names no schedule ({e})") from None


def simulate_cohort(
    schedule: Schedule | str,
    *,
    births: int,
    start: dt.date,
    seed: int,
    behaviour: BehaviourModel = VIETNAM,
    horizon_months: int = 24,
    scenario: str = "baseline",
    progress: Callable[[int, int, str], None] | None = None,
) -> CohortResult:
    """Simulate a birth cohort through a schedule.

    Children are born uniformly over the year from ``start`` and followed until they are
    ``horizon_months`` old (or die). Each planned dose is due on the date the schedule
    recommends given the child's earlier doses; whether and when it is given follows
    ``behaviour``. A dose is never given at or after its maximum age or skip age, nor
    before its season start (a programme does not give it then). Then each antigen's doses
    are judged against its target doses in order, as the engine does.

    Args:
        schedule: The schedule, or a spec for :func:`immreg.schedule.load_schedule`
            (``"vn-epi"``).
        births: Number of children (0 to 20,000,000).
        start: First birth date.
        seed: Seed of every random draw.
        behaviour: The behaviour model.
        horizon_months: Age children are followed to.
        scenario: Name carried into every table row.
        progress: Called as ``progress(done, total, what)`` after each planned dose.

    Returns:
        The simulated cohort.

    Raises:
        ValidationError: ``births``, ``seed`` or ``horizon_months`` out of range, or a
            schedule the fast path does not simulate (see :func:`plan_for`).
    """
    _check_int("births", births, 0, 20_000_000)
    _check_int("seed", seed, 0, 2**63 - 1)
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        raise ValidationError("start", "must be a date")
    if not dt.date(1970, 1, 1) <= start <= dt.date(2150, 12, 31):
        raise ValidationError("start", "must be between 1970-01-01 and 2150-12-31")
    if not isinstance(behaviour, BehaviourModel):
        raise ValidationError("behaviour", "must be a BehaviourModel")
    plan = plan_for(resolve_schedule(schedule), horizon_months=horizon_months)
    total = len(plan.events) * 2 + 1
    rng = _stream(seed, "births")
    first = day_number(start)
    year = day_number(dt.date(start.year + 1, start.month, min(start.day, 28))) - first
    birth = np.sort(first + rng.integers(0, year, size=births, dtype=np.int64))
    ages = _Ages(birth)
    end = ages.at(Duration(months=horizon_months))
    # Deaths: half of infant deaths in the first 28 days (neonatal; assumption after GSO
    # and UN IGME, where neonatal deaths are about half of infant deaths).
    u = rng.random(births)
    neonatal = rng.integers(0, 28, size=births)
    infant = rng.integers(0, 365, size=births)
    child = rng.integers(365, 365 * 5, size=births)
    im, cm = behaviour.infant_mortality, behaviour.child_mortality
    death = np.where(
        u < im / 2,
        birth + neonatal,
        np.where(u < im, birth + infant, np.where(u < im + cm, birth + child, _NONE)),
    )
    death = np.where(death > end, _NONE, death)
    if progress:
        progress(1, total, "births")
    given: dict[str, IntArray] = {}
    due_dates: dict[str, IntArray] = {}
    last: dict[str, IntArray] = {}  # per antigen, the date of its latest dose given
    course_prev: dict[str, IntArray] = {}
    for step, e in enumerate(plan.events):
        b = behaviour.for_event(e.key)
        draws = _stream(seed, f"dose {e.key}")
        take = draws.random(births) < b.uptake
        kind = draws.random(births)
        early_by = draws.integers(1, b.early_days + 1, size=births)
        on_time_by = draws.integers(0, b.window_days + 1, size=births)
        late_by = b.window_days + 1 + np.floor(draws.exponential(b.late_mean_days, births))
        delay = np.where(
            kind < b.early, -early_by, np.where(kind < b.early + b.on_time, on_time_by, late_by)
        ).astype(np.int64)
        due = birth.copy()
        latest_member = np.full(births, _NONE, dtype=np.int64)
        season = None
        for antigen, number in e.members:
            rules = plan.targets[antigen][number - 1]
            probe = ages.at(Duration(days=e.nominal_days))
            rec = rules.age_date(ages.at, probe, "recommended")
            due = np.maximum(due, rec)
            prev = last.get(antigen)
            if prev is not None:
                latest_member = np.maximum(latest_member, prev)
                # Effective-dated copies of one interval repeat its duration: add it once.
                steps = {iv.recommended or iv.minimum for iv in rules.intervals}
                for step_by in steps:
                    if step_by is not None:
                        due = np.where(
                            prev >= 0, np.maximum(due, add_duration(prev, step_by)), due
                        )
            if rules.season_start is not None:
                s = day_number(rules.season_start)
                season = s if season is None else max(season, s)
        if season is not None:
            due = np.maximum(due, season)
        when = np.maximum(due + delay, birth)
        when = np.where(latest_member >= 0, np.maximum(when, latest_member + 1), when)
        ok = take & (when <= end) & ((death < 0) | (when < death))
        if e.course_dose > 1:
            ok &= course_prev[e.vaccine] >= 0
        if season is not None:
            ok &= when >= season
        for antigen, number in e.members:
            rules = plan.targets[antigen][number - 1]
            limit = rules.age_date(ages.at, when, "maximum")
            ok &= (limit < 0) | (when < limit)
            ok &= ~rules.skipped(ages.at, when)
        dates = np.where(ok, when, _NONE)
        given[e.key] = dates
        due_dates[e.key] = due
        course_prev[e.vaccine] = dates
        for antigen, _ in e.members:
            prev = last.get(antigen)
            last[antigen] = dates if prev is None else np.where(ok, dates, prev)
        if progress:
            progress(step + 2, total, f"dose {e.key}")
    valid = _evaluate(plan, birth, given)
    if progress:
        progress(total, total, "evaluation")
    return CohortResult(scenario, plan, seed, birth, death, given, due_dates, valid)


def _evaluate(
    plan: Plan, birth: IntArray, given: dict[str, IntArray]
) -> dict[tuple[str, int], IntArray]:
    """Judge every antigen's doses against its target doses in date order (CDSi ch. 6)."""
    n = birth.shape[0]
    ages = _Ages(birth)
    out: dict[tuple[str, int], IntArray] = {}
    for antigen, targets in plan.targets.items():
        doses = [(e.vaccine, given[e.key]) for e in plan.events if antigen in dict(e.members)]
        # Events of one antigen are given in plan order (each after the previous one), so
        # plan order is date order for every child.
        nxt = np.zeros(n, dtype=np.int64)
        previous = np.full(n, _NONE, dtype=np.int64)
        valid = {t.number: np.full(n, _NONE, dtype=np.int64) for t in targets}
        for vaccine, dates in doses:
            has = dates >= 0
            sums: dict[Duration, IntArray] = {}
            for ti, t in enumerate(targets):
                # CDSi figure 4-6: skipped target doses are passed before the dose is judged.
                at = has & (nxt == ti)
                if at.any():
                    nxt = np.where(at & t.skipped(ages.at, dates), ti + 1, nxt)
            # Each dose is judged against one target dose: the one each child was at
            # before this dose (a dose that satisfies target k is not judged for k + 1).
            current = nxt.copy()
            for ti, t in enumerate(targets):
                at = has & (current == ti)
                if not at.any():
                    continue
                # At or after the maximum age a dose is extraneous (CDSi 4.6 §6.2): it
                # neither counts nor becomes the reference for the next interval.
                maximum = t.age_date(ages.at, dates, "maximum")
                at &= (maximum < 0) | (dates < maximum)
                minimum = t.age_date(ages.at, dates, "minimum")
                ok = (
                    at
                    & ((minimum < 0) | (dates >= minimum))
                    & t.interval_ok(previous, dates, sums)
                )
                if vaccine not in t.vaccines:
                    ok &= False
                valid[t.number] = np.where(ok, dates, valid[t.number])
                nxt = np.where(ok, ti + 1, nxt)
                # Only these children's reference changes; the cached sums of the others
                # (the next targets' children) stay right.
                previous = np.where(at, dates, previous)
        for number, dates in valid.items():
            out[(antigen, number)] = dates
    return out


@attrs.frozen
class EngineCheck:
    """The fast path compared with the engine on a sample.

    Attributes:
        children: Sample size.
        max_difference_pp: Largest coverage difference at any age, percentage points.
        mismatched_children: Children whose valid doses differ somewhere.
        rows: Coverage rows of both: ``fast_pct``, ``engine_pct``, ``difference_pp``.
    """

    children: int
    max_difference_pp: float
    mismatched_children: int
    rows: tuple[dict[str, Any], ...]


def check_against_engine(
    result: CohortResult, schedule: Schedule, *, sample: int = 10_000, seed: int = 0
) -> EngineCheck:
    """Run a sample of the cohort through the exact engine and compare coverage by age.

    Every sampled child's doses go to :func:`immreg.schedule.batch.assess_many` as of the
    day the child reaches the horizon; the engine's valid doses then give coverage at
    every age exactly as the fast path's do.

    Args:
        result: A simulated cohort.
        schedule: The schedule it was simulated with.
        sample: Children to check (all if the cohort is smaller).
        seed: Seed of the sample choice.

    Returns:
        The comparison.
    """
    from immreg.schedule.batch import assess_many
    from immreg.schedule.patient import Dose, Patient

    _check_int("sample", sample, 1, 10_000_000)
    rng = _stream(seed, "engine sample")
    n = min(sample, result.size)
    idx = np.sort(rng.choice(result.size, size=n, replace=False)) if n else np.arange(0)
    sub = result.subset(idx)
    months = Duration(months=result.plan.horizon_months)
    items = []
    for i, (born, doses) in enumerate(sub.histories(np.arange(n))):
        patient = Patient(
            born, "U", tuple(Dose(f"d{j}", day, code) for j, (code, day) in enumerate(doses))
        )
        items.append(
            (patient, from_day_number(int(add_duration(sub.birth[i : i + 1], months)[0])))
        )
    engine_valid = {k: np.full(n, _NONE, dtype=np.int64) for k in sub.valid}
    for i, assessment in enumerate(assess_many(schedule, items)):
        dates = {d.id: d.date for d in items[i][0].doses}
        for ev in assessment.evaluations:
            key = (ev.antigen, ev.target_dose or 0)
            if ev.status == "valid" and key in engine_valid:
                engine_valid[key][i] = day_number(dates[ev.dose_id])
    engine = attrs.evolve(sub, valid=engine_valid, scenario="engine")
    mismatch = np.zeros(n, dtype=bool)
    for k, v in sub.valid.items():
        mismatch |= v != engine_valid[k]
    rows = []
    worst = 0.0
    for fast_row, engine_row in zip(sub.coverage(), engine.coverage(), strict=True):
        diff = round(fast_row["coverage_pct"] - engine_row["coverage_pct"], 3)
        worst = max(worst, abs(diff))
        rows.append(
            {
                "vaccine_group": fast_row["vaccine_group"],
                "antigen": fast_row["antigen"],
                "dose": fast_row["dose"],
                "age_months": fast_row["age_months"],
                "fast_pct": fast_row["coverage_pct"],
                "engine_pct": engine_row["coverage_pct"],
                "difference_pp": diff,
            }
        )
    return EngineCheck(n, worst, int(mismatch.sum()), tuple(rows))
