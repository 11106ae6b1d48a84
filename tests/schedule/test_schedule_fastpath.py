"""The engine's fast path (compiled plans) agrees with the general path, on random histories.

Each schedule is assessed twice per random history: through ``engine._assess`` with the
fast path (the default) and with every antigen forced onto the general path. Assessments,
and the forecasts of the lean mode, must be identical.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immreg.schedule import Dose, Observation, Patient, Schedule, load_schedule
from immreg.schedule.batch import assess_many, forecast_many
from immreg.schedule.dates import parse_duration
from immreg.schedule.engine import _assess, _compiled
from immreg.schedule.rules import Antigen

DATA = Path(__file__).parent / "data"
AS_OF = dt.date(2025, 11, 10)
# Usual visit ages in days: birth, 6 weeks, 2, 3, 4, 5, 9, 12, 18 months, 2, 4, 5, 11 years.
VISITS = (0, 1, 42, 61, 91, 122, 152, 274, 365, 379, 548, 730, 1461, 1826, 4018)
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _vn_like() -> Schedule:
    return load_schedule(str(DATA / "vn-epi-like.json"))


def _mini() -> Schedule:
    return load_schedule(str(DATA / "mini-epi.json"))


def _vn_2026() -> Schedule:
    return load_schedule("vn-epi-2026")


def _mini_windowed_priority() -> Schedule:
    # mini-epi with an association that holds only within an age window (MEAS counts for
    # measles from 9 months to 10 years) and measles intervals with CDSi interval
    # priority (the MR group's earliest date then waits for its latest dose, MULTIANTVG-1).
    base = _mini()

    def prioritised(antigen: Antigen) -> Antigen:
        if antigen.name != "Measles":
            return antigen
        return attrs.evolve(
            antigen,
            series=tuple(
                attrs.evolve(
                    series,
                    doses=tuple(
                        attrs.evolve(
                            t,
                            intervals=tuple(attrs.evolve(iv, priority=True) for iv in t.intervals),
                        )
                        for t in series.doses
                    ),
                )
                for series in antigen.series
            ),
        )

    vaccines = tuple(
        attrs.evolve(v, begin_age=parse_duration("9 months"), end_age=parse_duration("10 years"))
        if v.vaccine == "MEAS"
        else v
        for v in base.vaccines
    )
    return attrs.evolve(
        base, antigens=tuple(prioritised(a) for a in base.antigens), vaccines=vaccines
    )


@st.composite
def histories(draw: st.DrawFn, schedule: Schedule) -> tuple[Patient, dt.date]:
    codes = sorted(schedule.index().vaccines)
    age = draw(st.integers(0, 7 * 365) | st.integers(0, 40 * 365))
    dob = AS_OF - dt.timedelta(days=age)
    doses = []
    for i in range(draw(st.integers(0, 16))):
        # Ages anywhere, or near the usual visits (so that series progress), capped at as_of.
        days = draw(
            st.integers(0, age)
            | st.builds(
                lambda v, j: min(age, max(0, v + j)),
                st.sampled_from(VISITS),
                st.integers(-10, 40),
            )
        )
        when = dob + dt.timedelta(days=days)
        doses.append(
            Dose(
                f"d{i}",
                when,
                draw(st.sampled_from(codes)),
                mvx=draw(st.sampled_from((None, None, None, "AAA", "BBB"))),
                condition=draw(st.sampled_from((None,) * 15 + ("expired",))),
            )
        )
    if doses and draw(st.booleans()):
        doses.append(Dose("dup", doses[0].date, doses[0].vaccine))
    observations: tuple[Observation, ...] = ()
    if draw(st.integers(0, 9)) == 0:
        observations = (Observation("OBS", None),)
    sex = draw(st.sampled_from(("F", "M", "U")))
    # As-of dates on both sides of 2026-02-15, when the newest Vietnamese circular applies.
    as_of = AS_OF - dt.timedelta(days=draw(st.sampled_from((0, 0, 1, 30, -200))))
    as_of = max(as_of, max((d.date for d in doses), default=dob), dob)
    return Patient(dob, sex, tuple(doses), observations), as_of


def _agree(schedule: Schedule, item: tuple[Patient, dt.date]) -> None:
    patient, as_of = item
    general = _assess(schedule, patient, as_of, None, full=True, fast=False)
    fast = _assess(schedule, patient, as_of, None, full=True, fast=True)
    assert fast == general
    lean = _assess(schedule, patient, as_of, None, full=False, fast=True)
    assert isinstance(general, tuple) is False
    assert lean == general.forecasts  # type: ignore[union-attr]
    # The batch API's own loops (positions instead of names, chapter 9 inlined).
    assert list(forecast_many(schedule, [item])) == [lean]
    assert list(assess_many(schedule, [item])) == [general]


def test_the_fast_path_is_used() -> None:
    assert len(_compiled(_vn_like()).plans) == 12
    assert len(_compiled(_vn_2026()).plans) == len(_vn_2026().antigens)
    assert _compiled(_mini()).plans


@PROPERTY
@given(st.data())
def test_vn_like_fast_path_agrees(data: st.DataObject) -> None:
    schedule = _vn_like()
    _agree(schedule, data.draw(histories(schedule)))


@PROPERTY
@given(st.data())
def test_vn_epi_2026_fast_path_agrees(data: st.DataObject) -> None:
    schedule = _vn_2026()
    _agree(schedule, data.draw(histories(schedule)))


@PROPERTY
@given(st.data())
def test_vn_epi_composed_fast_path_agrees(data: st.DataObject) -> None:
    # The composed pack: effective-dated age rules and intervals, season starts, skips.
    schedule = load_schedule("vn-epi")
    _agree(schedule, data.draw(histories(schedule)))


@PROPERTY
@given(st.data())
def test_mini_epi_fast_path_agrees(data: st.DataObject) -> None:
    schedule = _mini()
    _agree(schedule, data.draw(histories(schedule)))


@PROPERTY
@given(st.data())
def test_windowed_associations_and_interval_priority_agree(data: st.DataObject) -> None:
    schedule = _mini_windowed_priority()
    compiled = _compiled(schedule)
    # Every antigen compiles, so the batch loops run; MEAS has an age window.
    assert compiled.order
    assert any(windowed for _, windowed in compiled.routes.values())
    _agree(schedule, data.draw(histories(schedule)))


@PROPERTY
@given(st.data())
def test_cdsi_fast_path_agrees(cdsi: Schedule, data: st.DataObject) -> None:
    _agree(cdsi, data.draw(histories(cdsi)))


def test_batch_modes_agree() -> None:
    schedule = _vn_like()
    dob = dt.date(2024, 1, 15)
    items = [
        (Patient(dob, "F", (Dose("a", dob, "VGB"), Dose("b", dob, "BCG"))), AS_OF),
        (Patient(dob, "M", (Dose("a", dt.date(2024, 3, 20), "DPT-VGB-Hib"),)), AS_OF),
    ]
    full = list(assess_many(schedule, items))
    lean = list(forecast_many(schedule, items))
    assert [a.forecasts for a in full] == lean


@pytest.mark.parametrize("spec", ["vn-epi-2026", "vn-epi", "who"])
def test_bundled_packs_compile(spec: str) -> None:
    schedule = load_schedule(spec)
    # Every antigen of these packs runs on the fast path (patients without observations),
    # except where best-series selection has a choice to make.
    plans = _compiled(schedule).plans
    assert plans
    assert all(len(a.series) > 1 for a in schedule.antigens if a.name not in plans)


@PROPERTY
@given(st.data())
def test_who_fast_path_agrees(data: st.DataObject) -> None:
    schedule = load_schedule("who")
    _agree(schedule, data.draw(histories(schedule)))


@pytest.mark.parametrize(
    ("doses", "field"),
    [
        (
            (Dose("a", dt.date(2024, 1, 1), "BCG"), Dose("b", dt.date(2023, 1, 1), "BCG")),
            "doses[1].date",
        ),
        (
            (Dose("a", dt.date(2026, 1, 1), "BCG"), Dose("b", dt.date(2023, 1, 1), "BCG")),
            "doses[0].date",
        ),
        (
            (Dose("a", dt.date(2024, 1, 1), "BCG"), Dose("b", dt.date(2024, 2, 1), "??")),
            "doses[1].vaccine",
        ),
    ],
)
def test_the_lean_mode_rejects_what_assess_rejects(doses: tuple[Dose, ...], field: str) -> None:
    from immreg.errors import ValidationError
    from immreg.schedule.engine import assess, forecast_only

    schedule = _vn_like()
    patient = Patient(dt.date(2023, 6, 1), "F", doses)
    for call in (assess, forecast_only):
        with pytest.raises(ValidationError) as raised:
            call(schedule, patient, as_of=dt.date(2025, 1, 1))
        assert raised.value.field == field


@st.composite
def same_day_cohorts(draw: st.DrawFn, schedule: Schedule) -> list[tuple[Patient, dt.date]]:
    # Children born the same day and assessed the same day, some with identical antigen
    # histories (doses copied from another child with new ids), as in a national batch.
    first, as_of = draw(histories(schedule))
    cohort = [(first, as_of)]
    for _ in range(draw(st.integers(1, 5))):
        other, _ = draw(histories(schedule))
        doses = tuple(d for d in other.doses if d.date >= first.birth_date and d.date <= as_of)
        if cohort and draw(st.booleans()):
            doses = (
                tuple(
                    Dose(f"c{len(cohort)}-{i}", d.date, d.vaccine, d.mvx, d.condition)
                    for i, d in enumerate(draw(st.sampled_from(cohort))[0].doses)
                )
                + doses[: draw(st.integers(0, 2))]
            )
        cohort.append((Patient(first.birth_date, other.sex, doses), as_of))
    return cohort


@PROPERTY
@given(st.data())
def test_same_day_cohorts_agree(data: st.DataObject) -> None:
    from immreg.schedule.batch import clear_caches

    for schedule in (_vn_2026(), _vn_like()):
        cohort = data.draw(same_day_cohorts(schedule))
        clear_caches(schedule)
        full = list(assess_many(schedule, cohort))
        lean = list(forecast_many(schedule, cohort))
        for (patient, as_of), got, forecasts in zip(cohort, full, lean, strict=True):
            general = _assess(schedule, patient, as_of, None, full=True, fast=False)
            assert got == general
            assert forecasts == got.forecasts


def _boundaries(schedule: Schedule) -> list[dt.date]:
    found: set[dt.date] = set()
    for antigen in schedule.antigens:
        for series in antigen.series:
            for t in series.doses:
                for rule in (*t.ages, *t.intervals):
                    found.update(d for d in (rule.effective, rule.cessation) if d)
                for skip in t.skips:
                    for cset in skip.sets:
                        found.update(d for d in (cset.effective, cset.cessation) if d)
                if t.season_start:
                    found.add(t.season_start)
    return sorted(found)


def test_doses_and_as_of_dates_on_rule_boundaries_agree() -> None:
    # Doses and assessments exactly on (and around) each effective, cessation and season
    # date of the composed pack: the rule in effect is picked the same way on both paths.
    schedule = load_schedule("vn-epi")
    codes = sorted(schedule.index().vaccines)
    for boundary in _boundaries(schedule):
        for shift in (-1, 0, 1):
            day = boundary + dt.timedelta(days=shift)
            for age_days in (0, 60, 150, 400, 600, 2600):
                dob = day - dt.timedelta(days=age_days)
                doses = tuple(
                    Dose(f"d{i}", max(dob, day - dt.timedelta(days=28 * k)), code)
                    for i, (k, code) in enumerate((k, c) for k in (2, 1, 0) for c in codes)
                )
                for as_of in (day, day + dt.timedelta(days=1)):
                    _agree(schedule, (Patient(dob, "F", doses), as_of))


def test_interval_priority_waits_for_the_groups_latest_dose() -> None:
    # Measles dose 1 (MEAS, at 10 months) is valid, rubella is still open from 9 months:
    # with interval priority the MR group is not due before its latest dose
    # (MULTIANTVG-1 with FORECASTPRIORITY-1), on every path.
    schedule = _mini_windowed_priority()
    dob = dt.date(2024, 1, 15)
    patient = Patient(dob, "F", (Dose("a", dt.date(2024, 11, 20), "MEAS"),))
    item = (patient, dt.date(2025, 1, 10))
    _agree(schedule, item)
    (forecasts,) = forecast_many(schedule, [item])
    mr = next(f for f in forecasts if f.vaccine_group == "MR")
    assert mr.status == "not_complete"
    assert mr.earliest == dt.date(2024, 11, 20)


def _with_interval(schedule: Schedule, antigen: str, number: int, minimum: str) -> Schedule:
    # The schedule with one interval of one antigen's target dose changed.
    def changed(a: Antigen) -> Antigen:
        if a.name != antigen:
            return a
        (series,) = a.series
        doses = tuple(
            attrs.evolve(
                t,
                intervals=tuple(
                    attrs.evolve(iv, min=parse_duration(minimum)) for iv in t.intervals
                ),
            )
            if t.number == number
            else t
            for t in series.doses
        )
        return attrs.evolve(a, series=(attrs.evolve(series, doses=doses),))

    return attrs.evolve(schedule, antigens=tuple(changed(a) for a in schedule.antigens))


def _shared(schedule: Schedule) -> dict[str, str]:
    compiled = _compiled(schedule)
    return {
        compiled.order[i][0]: compiled.order[share.source][0]
        for i, share in enumerate(compiled.shares)
        if share is not None
    }


@PROPERTY
@given(st.data())
def test_antigens_with_one_plan_share_a_run_and_keep_their_own_labels(
    data: st.DataObject,
) -> None:
    # In the stand-in pack the pentavalent vaccine's diphtheria, tetanus and pertussis
    # series are the same but for names and rule ids: one run serves the three, and each
    # keeps its own antigen name and rule ids, exactly as when each runs on its own.
    schedule = _vn_like()
    assert _shared(schedule) == {"Tetanus": "Diphtheria", "Pertussis": "Diphtheria"}
    item = data.draw(histories(schedule))
    compiled = _compiled(schedule)
    together_full = list(assess_many(schedule, [item]))
    together_lean = list(forecast_many(schedule, [item]))
    shares = compiled.shares
    try:
        compiled.shares = (None,) * len(shares)
        apart_full = list(assess_many(schedule, [item]))
        apart_lean = list(forecast_many(schedule, [item]))
    finally:
        compiled.shares = shares
    assert together_full == apart_full
    assert together_lean == apart_lean
    _agree(schedule, item)
    # The stand-in's rule ids of these series start with the antigen's name.
    dtp = ("Diphtheria", "Tetanus", "Pertussis")
    for e in together_full[0].evaluations:
        assert e.antigen not in dtp or e.rule_id.startswith(f"{e.antigen}/")
    for s in together_full[0].series:
        assert s.antigen not in dtp or s.rule_id_decided.startswith(f"{s.antigen}/")


def test_antigens_that_differ_by_one_interval_do_not_share() -> None:
    # Pertussis dose 2 one day further from dose 1 than diphtheria's: its own run.
    schedule = _with_interval(_vn_like(), "Pertussis", 2, "4 weeks + 1 day")
    assert _shared(schedule) == {"Tetanus": "Diphtheria"}
    dob = dt.date(2024, 1, 15)
    # Dose 2 exactly 4 weeks after dose 1: valid for diphtheria and tetanus, within the
    # grace period for pertussis only (as the general path says too).
    doses = (
        Dose("a", dt.date(2024, 3, 20), "DPT-VGB-Hib"),
        Dose("b", dt.date(2024, 4, 17), "DPT-VGB-Hib"),
    )
    item = (Patient(dob, "F", doses), AS_OF)
    _agree(schedule, item)
    (got,) = assess_many(schedule, [item])
    second = {e.antigen: e.reason for e in got.evaluations if e.dose_id == "b"}
    assert second["Pertussis"] == "grace_period"
    assert second["Diphtheria"] is None
    assert second["Tetanus"] is None


def test_a_plan_that_begins_another_shares_its_run_while_the_walk_stays_within_it() -> None:
    # vn-epi-2026: pertussis's four target doses are diphtheria's first four (diphtheria
    # has a school-age fifth), Hib's three the first three. Pertussis takes diphtheria's
    # run while no dose comes after its own fourth valid one; then it runs on its own.
    schedule = _vn_2026()
    compiled = _compiled(schedule)
    shares = {
        compiled.order[i][0]: (compiled.order[s.source][0], s.prefix)
        for i, s in enumerate(compiled.shares)
        if s is not None
    }
    assert shares == {
        "Tetanus": ("Diphtheria", 0),
        "Pertussis": ("Diphtheria", 4),
        "Hib": ("Diphtheria", 3),
    }
    dob = dt.date(2020, 1, 15)
    visits = [dt.date(2020, 3, 16), dt.date(2020, 4, 20), dt.date(2020, 5, 25)]
    penta = [Dose(f"p{i}", day, "PENTA-COMBE5") for i, day in enumerate(visits)]
    booster = Dose("b", dt.date(2021, 7, 20), "DTP")
    extra = Dose("x", dt.date(2022, 1, 20), "DTP")
    shares_on = compiled.shares
    for doses in (penta[:2], penta, [*penta, booster], [*penta, booster, extra]):
        item = (Patient(dob, "M", tuple(doses)), AS_OF)
        _agree(schedule, item)
        together = list(assess_many(schedule, [item]))
        try:
            compiled.shares = (None,) * len(shares_on)
            apart = list(assess_many(schedule, [item]))
        finally:
            compiled.shares = shares_on
        assert together == apart
    (got,) = assess_many(schedule, [(Patient(dob, "M", (*penta, booster, extra)), AS_OF)])
    last = {e.antigen: e.reason for e in got.evaluations if e.dose_id == "x"}
    assert last["Pertussis"] == "series_already_complete"
    assert last["Diphtheria"] != "series_already_complete"
