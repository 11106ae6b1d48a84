"""Evaluation and forecast on a small hand-written schedule (tests/schedule/data/mini-epi.json).

Each test states a history, runs the engine and checks the status, the reason code and the
rule that decided it, so that a wrong rule or a wrong date fails.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from immreg.errors import ValidationError
from immreg.schedule import (
    Dose,
    Observation,
    Patient,
    Schedule,
    assess,
    evaluate,
    forecast,
    load_schedule,
)

MINI = Path(__file__).parent / "data" / "mini-epi.json"
DOB = dt.date(2024, 1, 15)


@pytest.fixture(scope="module")
def mini() -> Schedule:
    return load_schedule(str(MINI))


def days(n: int) -> dt.date:
    return DOB + dt.timedelta(days=n)


def patient(*doses: tuple[int, str], obs: tuple[str, ...] = ()) -> Patient:
    return Patient(
        DOB,
        "F",
        tuple(Dose(f"d{i}", days(age), vaccine) for i, (age, vaccine) in enumerate(doses)),
        tuple(Observation(code) for code in obs),
    )


def test_newborn_is_due_the_birth_dose(mini: Schedule) -> None:
    fc = {f.vaccine_group: f for f in forecast(mini, patient(), as_of=DOB)}
    hepb = fc["HepB"]
    assert hepb.status == "not_complete"
    assert hepb.forecast_dose_number == 1
    assert hepb.earliest == DOB
    assert hepb.recommended == DOB
    assert hepb.past_due == DOB + dt.timedelta(days=1)  # latest recommended age - 1 day
    assert hepb.vaccines == ("HB",)


def test_birth_dose_is_skipped_after_seven_days(mini: Schedule) -> None:
    hepb = assess(mini, patient(), as_of=days(30)).forecast_for("HepB")
    assert hepb is not None
    # The forecast skips target dose 1 and forecasts dose 2 at 6 weeks of age.
    assert hepb.earliest == days(42)
    assert hepb.recommended == dt.date(2024, 3, 15)
    assert hepb.rule_id == "HepB/birth+3/dose 2/age"
    assert hepb.reason == "min_age"


def test_dose_too_young_is_not_valid(mini: Schedule) -> None:
    (birth, early) = evaluate(mini, patient((0, "HB"), (30, "PENTA")), as_of=days(40))
    assert birth.status == "valid"
    assert early.status == "not_valid"
    assert early.reason == "age_too_young"
    assert early.rule_id == "HepB/birth+3/dose 2/age"


def test_grace_period_counts(mini: Schedule) -> None:
    # 6 weeks - 2 days: after the absolute minimum age, before the minimum age.
    ev = evaluate(mini, patient((0, "HB"), (40, "PENTA")), as_of=days(40))
    assert [e.status for e in ev] == ["valid", "valid"]
    assert ev[1].reason == "grace_period"
    assert ev[1].target_dose == 2


def test_interval_too_soon_and_forecast_from_invalid_dose(mini: Schedule) -> None:
    a = assess(mini, patient((0, "HB"), (60, "PENTA"), (75, "PENTA")), as_of=days(80))
    third = a.evaluations[2]
    assert third.status == "not_valid"
    assert third.reason == "interval_too_soon"
    assert third.rule_id == "HepB/birth+3/dose 3/interval"
    hepb = a.forecast_for("HepB")
    assert hepb is not None
    assert hepb.forecast_dose_number == 3
    # Four weeks after the not-valid dose (CALCDTINT-1: the previous dose, valid or not).
    assert hepb.earliest == days(75 + 28)


def test_inadvertent_vaccine(mini: Schedule) -> None:
    ev = evaluate(mini, patient((0, "HB"), (60, "PENTA"), (100, "HB")), as_of=days(100))
    assert ev[2].status == "not_valid"
    assert ev[2].reason == "inadvertent_vaccine"


def test_complete_series_and_extraneous_dose(mini: Schedule) -> None:
    a = assess(
        mini,
        patient((0, "HB"), (60, "PENTA"), (100, "PENTA"), (140, "PENTA")),
        as_of=days(150),
    )
    assert [e.status for e in a.evaluations] == ["valid", "valid", "valid", "extraneous"]
    assert a.evaluations[3].reason == "series_already_complete"
    hepb = a.forecast_for("HepB")
    assert hepb is not None
    assert hepb.status == "complete"
    assert hepb.forecast_dose_number is None
    assert hepb.earliest is None


def test_dose_after_maximum_age_is_extraneous_and_series_ages_out(mini: Schedule) -> None:
    late = 365 * 5 + 30
    a = assess(mini, patient((0, "HB"), (60, "PENTA"), (late, "PENTA")), as_of=days(late))
    assert a.evaluations[2].status == "extraneous"
    assert a.evaluations[2].reason == "age_too_old"
    hepb = a.forecast_for("HepB")
    assert hepb is not None
    assert hepb.status == "aged_out"
    assert hepb.reason == "max_age_exceeded"


def test_live_virus_conflict(mini: Schedule) -> None:
    a = assess(mini, patient((366, "MR"), (376, "VAR")), as_of=days(380))
    var = next(e for e in a.evaluations if e.antigen == "Varicella")
    assert var.status == "not_valid"
    assert var.reason == "live_virus_conflict"
    assert var.rule_id == "live virus MR->VAR"
    fc = a.forecast_for("Varicella")
    assert fc is not None
    # The not-valid dose is itself live: the next dose waits 28 days after the MR dose
    # and is not earlier than the last varicella dose.
    assert fc.earliest == days(366 + 28)


def test_multi_antigen_group_needs_every_antigen(mini: Schedule) -> None:
    # A measles-only dose at 9 months: measles dose 1 done, rubella still open.
    a = assess(mini, patient((274, "MEAS")), as_of=days(300))
    mr = a.forecast_for("MR")
    assert mr is not None
    assert mr.status == "not_complete"
    # administer_full: the smallest dose number of the antigens (FORECASTDN-2).
    assert mr.forecast_dose_number == 1
    # The earliest is the latest of the antigens' earliest dates (MULTIANTVG-1).
    assert mr.earliest == max(days(274 + 28), dt.date(2025, 7, 15))


def test_immunity_and_contraindication_observations(mini: Schedule) -> None:
    immune = forecast(mini, patient(obs=("HBV-IMMUNE",)), as_of=DOB)
    assert immune[0].status == "immune"
    assert immune[0].reason == "evidence_of_immunity"
    contra = forecast(mini, patient(obs=("HBV-ALLERGY",)), as_of=DOB)
    assert contra[0].status == "contraindicated"
    assert contra[0].rule_id == "HepB/contraindication allergy"


def test_risk_series_needs_its_indication(mini: Schedule) -> None:
    history = ((366, "VAR"),)
    plain = assess(mini, patient(*history), as_of=days(400))
    risk = assess(mini, patient(*history, obs=("HOUSEHOLD-IMMUNOCOMPROMISED",)), as_of=days(400))
    assert plain.forecast_for("Varicella").status == "complete"  # type: ignore[union-attr]
    fc = risk.forecast_for("Varicella")
    assert fc is not None
    assert fc.status == "not_complete"
    assert fc.forecast_dose_number == 2
    # 15 months of age and 3 months after the first dose fall on the same day.
    assert fc.earliest == dt.date(2025, 4, 15)
    assert any(s.best and s.series == "Varicella risk 2-dose" for s in risk.series)


def test_same_vaccine_twice_on_one_day_counts_once(mini: Schedule) -> None:
    ev = evaluate(mini, patient((366, "VAR"), (366, "VAR")), as_of=days(366))
    assert sorted(e.status for e in ev) == ["extraneous", "valid"]


@pytest.mark.parametrize(
    ("dose", "field"),
    [
        (Dose("x", DOB - dt.timedelta(days=1), "HB"), "doses[0].date"),
        (Dose("x", days(100), "HB"), "doses[0].date"),
        (Dose("x", days(1), "NOPE"), "doses[0].vaccine"),
    ],
)
def test_bad_histories_are_rejected(mini: Schedule, dose: Dose, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        assess(mini, Patient(DOB, "F", (dose,)), as_of=days(50))
    assert info.value.field == field


def test_no_clock_is_read(mini: Schedule) -> None:
    # The same input on two assessment dates gives two answers: only as_of matters.
    a = forecast(mini, patient(), as_of=DOB)[0]
    b = forecast(mini, patient(), as_of=days(30))[0]
    assert a.forecast_dose_number == 1
    assert b.earliest != a.earliest


def test_why_names_the_deciding_rule_and_its_source(mini: Schedule) -> None:
    from immreg.schedule.explain import rule, why

    a = assess(mini, patient((0, "HB"), (60, "PENTA"), (75, "PENTA")), as_of=days(80))
    lines = why(mini, a, "HepB")
    assert lines[0] == "HepB: dose 3 is next."
    assert "earliest 2024-04-27 (min_interval): HepB/birth+3/dose 3/interval" in lines[1]
    assert "at least 4 weeks (absolute 4 weeks - 4 days) after the previous dose" in lines[1]
    assert "source: test" in lines[1]
    assert any("dose d2 for HepB: not_valid (interval_too_soon)" in line for line in lines)
    assert rule(mini, "HepB/birth+3/dose 3/interval") is not None
    assert rule(mini, "no such rule") is None
    assert why(mini, a, "Nope") == ["Nope: not in this schedule"]


def test_a_pickled_schedule_builds_its_own_index(mini: Schedule) -> None:
    import pickle

    p = patient((0, "HB"), (60, "PENTA"))
    expected = assess(mini, p, as_of=days(90))
    copy = pickle.loads(pickle.dumps(mini))
    assert copy == mini
    assert copy.index() is not mini.index()
    assert not copy.index().memo
    assert assess(copy, p, as_of=days(90)) == expected
