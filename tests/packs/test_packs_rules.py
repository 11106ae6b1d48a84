"""The rule edge cases of the Vietnamese packs, each with hand-computed dates.

Minimum ages and intervals have no grace period in these packs ("at least 1 month" is 28
days), so one day short is not valid; a not-valid dose still starts the interval clock
(CDSi 4.6 CALCDTINT-1); a late dose continues the series, never restarts it.
"""

from __future__ import annotations

import pytest
from packhelp import day, patient, run

from immreg.schedule import load_schedule
from immreg.schedule.timeliness import classify

DTP = "Bạch hầu - Ho gà - Uốn ván"


def evals(a, dose_id):  # type: ignore[no-untyped-def]
    return {e.antigen: e for e in a.evaluations if e.dose_id == dose_id}


@pytest.mark.parametrize("year", ["2018", "2024", "2026"])
def test_one_day_before_the_minimum_age_is_too_young(year: str) -> None:
    # Born 2025-01-31: 2 months = 03-31; a dose on 03-30 is one day early.
    p = patient("2025-01-31", [("2025-03-30", ["PENTA-COMBE5"])])
    a = run(f"vn-epi-{year}", p, "2025-04-10")
    for antigen in ("Diphtheria", "Pertussis", "Tetanus", "Hib"):
        e = evals(a, "2025-03-30/PENTA-COMBE5")[antigen]
        assert (e.status, e.reason) == ("not_valid", "age_too_young")
        assert e.rule_id.startswith(f"vn{year}/")
        assert e.rule_id.endswith("/dose 1/age")
    t = [t for t in classify(load_schedule(f"vn-epi-{year}"), p, a) if t.antigen == "Hib"]
    assert (t[0].status, t[0].reason) == ("too_early", "age_too_young")
    # Dose 1 is still due: at 2 months, or 28 days after the not-valid dose? Dose 1 has
    # no interval, so from 03-31.
    f = a.forecast_for(DTP)
    assert f is not None
    assert (f.forecast_dose_number, f.earliest) == (1, day("2025-03-31"))


def test_one_day_before_the_minimum_interval_is_too_soon() -> None:
    # Dose 1 on 2025-04-10; 28 days later is 05-08; 05-07 is one day short (the minimum
    # age of dose 2, 2 months + 28 days = 04-28, is met).
    p = patient("2025-01-31", [("2025-04-10", ["PENTA-COMBE5"]), ("2025-05-07", ["PENTA-COMBE5"])])
    a = run("vn-epi-2026", p, "2025-05-10")
    e = evals(a, "2025-05-07/PENTA-COMBE5")["Diphtheria"]
    assert (e.status, e.reason, e.target_dose) == ("not_valid", "interval_too_soon", 2)
    assert e.rule_id == "vn2026/Diphtheria/childhood/dose 2/interval"
    f = a.forecast_for(DTP)
    assert f is not None
    # The not-valid dose starts the clock: 05-07 + 28 days = 06-04; recommended 05-07 + 1
    # month = 06-07; late from 06-22, so past due 06-21.
    assert (f.forecast_dose_number, f.earliest, f.recommended, f.past_due) == (
        2,
        day("2025-06-04"),
        day("2025-06-07"),
        day("2025-06-21"),
    )
    t = {x.antigen: x for x in classify(load_schedule("vn-epi-2026"), p, a) if x.target_dose == 2}
    assert (t["Hib"].status, t["Hib"].reason) == ("too_early", "interval_too_soon")


def test_one_day_short_of_both_age_and_interval_reports_both() -> None:
    # 03-31 then 04-27: 27 days, and 2 months + 28 days = 04-28 not reached either.
    p = patient("2025-01-31", [("2025-03-31", ["PENTA-COMBE5"]), ("2025-04-27", ["PENTA-COMBE5"])])
    e = evals(run("vn-epi-2026", p, "2025-05-01"), "2025-04-27/PENTA-COMBE5")["Diphtheria"]
    assert (e.reason, e.reasons) == ("age_too_young", ("age_too_young", "interval_too_soon"))


def test_exactly_the_minimum_interval_is_valid_and_on_time_before_the_recommended_date() -> None:
    # 04-28 is 28 days after 03-31: valid; recommended is 05-01 (one calendar month).
    p = patient("2025-01-31", [("2025-03-31", ["PENTA-COMBE5"]), ("2025-04-28", ["PENTA-COMBE5"])])
    a = run("vn-epi-2026", p, "2025-05-01")
    assert evals(a, "2025-04-28/PENTA-COMBE5")["Diphtheria"].status == "valid"
    t = [x for x in classify(load_schedule("vn-epi-2026"), p, a) if x.antigen == "Diphtheria"]
    assert [(x.status, x.reason) for x in t] == [
        ("on_time", "within_window"),
        ("on_time", "before_recommended"),
    ]
    assert t[1].recommended == day("2025-05-01")
    assert t[1].late_from == day("2025-05-16")


def test_late_from_the_fifteenth_day_after_the_recommended_date() -> None:
    # Recommended 2 months = 03-31; 04-14 is the 14th day after (on time); 04-15 is late.
    for when, status in (("2025-04-14", "on_time"), ("2025-04-15", "late")):
        p = patient("2025-01-31", [(when, ["BOPV"])])
        a = run("vn-epi-2026", p, "2025-05-01")
        (t,) = classify(load_schedule("vn-epi-2026"), p, a)
        assert (t.status, t.late_from) == (status, day("2025-04-15"))
        assert t.rule_id == "vn2026/Polio-OPV/bOPV 3-dose/dose 1/age"


def test_two_doses_of_the_same_vaccine_on_one_day_count_once() -> None:
    p = patient("2025-01-31", [("2025-03-31", ["PENTA-COMBE5"])])
    p = type(p)(
        p.birth_date,
        p.sex,
        (*p.doses, type(p.doses[0])("again", day("2025-03-31"), "PENTA-COMBE5")),
    )
    a = run("vn-epi-2026", p, "2025-04-10")
    again = evals(a, "again")
    assert {e.status for e in again.values()} == {"not_valid"}
    assert {e.reason for e in again.values()} == {"same_day_as_valid_dose"}
    assert a.forecast_for(DTP).forecast_dose_number == 2  # type: ignore[union-attr]


def test_two_pentavalent_brands_on_one_day_the_second_is_too_soon() -> None:
    p = patient("2025-01-31", [("2025-03-31", ["PENTA-COMBE5", "PENTA-QUINVAXEM"])])
    a = run("vn-epi-2026", p, "2025-04-10")
    first = evals(a, "2025-03-31/PENTA-COMBE5")
    second = evals(a, "2025-03-31/PENTA-QUINVAXEM")
    assert {e.status for e in first.values()} == {"valid"}
    # Zero days apart, and the next dose's minimum age (2 months + 28 days) not reached.
    assert {(e.status, e.reasons) for e in second.values()} == {
        ("not_valid", ("age_too_young", "interval_too_soon"))
    }
    assert second["Diphtheria"].target_dose == 2


def test_a_pentavalent_dose_counts_for_diphtheria_pertussis_tetanus_hepb_and_hib() -> None:
    p = patient("2025-01-31", [("2025-01-31", ["HEPB-BD"]), ("2025-03-31", ["PENTA-QUINVAXEM"])])
    a = run("vn-epi-2026", p, "2025-04-10")
    e = evals(a, "2025-03-31/PENTA-QUINVAXEM")
    assert {k: (v.status, v.target_dose) for k, v in e.items()} == {
        "Diphtheria": ("valid", 1),
        "Pertussis": ("valid", 1),
        "Tetanus": ("valid", 1),
        "HepB": ("valid", 2),
        "Hib": ("valid", 1),
    }
    assert {e.vaccine_group for e in e.values()} == {DTP, "Viêm gan B", "Hib"}


def test_catch_up_after_a_long_gap_resumes_the_series() -> None:
    # Dose 1 at 2 months, dose 2 a year later: valid as dose 2, dose 3 due 28 days after
    # it (2026-03-31 + 28 = 04-28), recommended one month after (04-31 -> 05-01).
    p = patient("2025-01-31", [("2025-03-31", ["PENTA-COMBE5"]), ("2026-03-31", ["PENTA-COMBE5"])])
    a = run("vn-epi-2026", p, "2026-04-02")
    e = evals(a, "2026-03-31/PENTA-COMBE5")["Diphtheria"]
    assert (e.status, e.target_dose) == ("valid", 2)
    f = a.forecast_for(DTP)
    assert f is not None
    assert (f.forecast_dose_number, f.earliest, f.recommended) == (
        3,
        day("2026-04-28"),
        day("2026-05-01"),
    )
    t = [x for x in classify(load_schedule("vn-epi-2026"), p, a) if x.antigen == "Hib"]
    assert [x.status for x in t] == ["on_time", "late"]


@pytest.mark.parametrize(
    ("doses", "as_of", "status", "latest"),
    [
        # Born 2025-08-30: 6 months = 2026-02-30 -> 03-01. Dose 1 must come before 6
        # months - 28 days = 03-01 - 28 days = 02-01 (latest 01-31).
        ([], "2026-01-31", "not_complete", "2026-01-31"),
        ([], "2026-02-01", "aged_out", None),
        # One dose at 2 months (10-30): dose 2 before 03-01 (latest 02-28).
        ([("2025-10-30", ["ROTA-ROTAVIN"])], "2026-02-28", "not_complete", "2026-02-28"),
        ([("2025-10-30", ["ROTA-ROTAVIN"])], "2026-03-01", "aged_out", None),
    ],
)
def test_rotavirus_ages_out_at_six_months(doses, as_of, status, latest) -> None:  # type: ignore[no-untyped-def]
    a = run("vn-epi-2026", patient("2025-08-30", doses), as_of)
    f = a.forecast_for("Rota")
    assert f is not None
    assert f.status == status
    assert f.latest == (day(latest) if latest else None)


def test_a_rotavirus_dose_at_six_months_is_too_old() -> None:
    p = patient("2025-08-30", [("2025-10-30", ["ROTA-ROTAVIN"]), ("2026-03-01", ["ROTA-ROTAVIN"])])
    a = run("vn-epi-2026", p, "2026-03-02")
    e = evals(a, "2026-03-01/ROTA-ROTAVIN")["Rotavirus"]
    assert (e.status, e.reason) == ("extraneous", "age_too_old")


def test_rotavin_is_not_given_after_a_course_begun_with_another_rotavirus_vaccine() -> None:
    p = patient("2025-08-30", [("2025-10-30", ["ROTA-ROTARIX"])])
    a = run("vn-epi-2026", p, "2025-12-01")
    f = a.forecast_for("Rota")
    assert f is not None
    assert (f.status, f.reason) == ("not_recommended", "not_needed")
    assert evals(a, "2025-10-30/ROTA-ROTARIX")["Rotavirus"].reason == (
        "not_preferable_or_allowable_vaccine"
    )


@pytest.mark.parametrize(
    ("dob", "group", "earliest"),
    [
        # 29 February: 9 months = 2024-11-29; 12 months = 2025-02-29 -> 03-01; 18 months
        # = 2025-08-29; 7 years = 2031-02-29 -> 03-01.
        ("2024-02-29", "Sởi", "2024-11-29"),
        ("2024-02-29", "Viêm não Nhật Bản", "2025-03-01"),
        ("2024-02-29", "Rubella", "2025-08-29"),
        # 30th: 5 months of 2025-09-30 = 2026-02-30 -> 03-01.
        ("2025-09-30", "Bại liệt tiêm (IPV)", "2026-03-01"),
        # 29th in a common year: 2 months of 2025-12-29 = 2026-02-29 -> 03-01.
        ("2025-12-29", "Bại liệt uống (bOPV)", "2026-03-01"),
        # 31st: 9 months of 2025-05-31 = 2026-02-31 -> 03-01.
        ("2025-05-31", "Sởi", "2026-03-01"),
    ],
)
def test_month_end_and_leap_day_birthdays(dob: str, group: str, earliest: str) -> None:
    a = run("vn-epi-2026", patient(dob, []), "2026-03-01")
    f = a.forecast_for(group)
    assert f is not None
    assert f.earliest == day(earliest)


def test_td_at_seven_for_a_leap_day_birthday() -> None:
    # 7 years of 2024-02-29 = 2031-02-29 -> 2031-03-01; late from 03-16 (past due 03-15).
    doses = [
        ("2024-04-29", ["PENTA-COMBE5"]),
        ("2024-05-29", ["PENTA-COMBE5"]),
        ("2024-06-29", ["PENTA-COMBE5"]),
        ("2025-08-29", ["DTP"]),
    ]
    a = run("vn-epi-2026", patient("2024-02-29", doses), "2031-01-01")
    f = a.forecast_for(DTP)
    assert f is not None
    assert (f.forecast_dose_number, f.earliest, f.past_due) == (
        5,
        day("2031-03-01"),
        day("2031-03-15"),
    )


def test_a_missed_birth_dose_is_not_forecast_after_seven_days() -> None:
    # Born 2025-01-31: 7 days = 02-07. On 02-06 the birth dose is still due; on 02-07 the
    # forecast moves to the first combination dose at 2 months (03-31).
    a = run("vn-epi-2026", patient("2025-01-31", []), "2025-02-06")
    assert a.forecast_for("Viêm gan B").earliest == day("2025-01-31")  # type: ignore[union-attr]
    a = run("vn-epi-2026", patient("2025-01-31", []), "2025-02-07")
    assert a.forecast_for("Viêm gan B").earliest == day("2025-03-31")  # type: ignore[union-attr]
