"""Tetanus for women: the five-dose TT/Td series and protection at birth per pregnancy."""

from __future__ import annotations

import datetime as dt

import pytest
from packhelp import day, patient, run

from immreg.schedule import Observation
from immreg.schedule.tetanus import (
    EDD,
    PREGNANT,
    PregnancyEpisode,
    episodes,
    protected_at_birth,
    protection_by_episode,
)

MAT = "Uốn ván (phụ nữ có thai)"
OBS = (
    Observation(PREGNANT, day("2015-01-05")),
    Observation(EDD, day("2015-07-20")),
    Observation(PREGNANT, day("2022-03-01")),
    Observation(EDD, day("2022-10-10")),
)
TT = [("2015-01-10", ["TT"]), ("2015-02-20", ["TT"]), ("2022-06-01", ["TD"])]


@pytest.mark.parametrize("pack", ["vn-epi-2018", "vn-epi-2026", "vn-epi", "who"])
def test_a_late_dose_continues_the_series(pack: str) -> None:
    codes = {"TT": "TT", "TD": "TD"} if pack != "who" else {"TT": "35", "TD": "139"}
    visits = [(w, [codes[c] for c in cs]) for w, cs in TT]
    a = run(pack, patient("1995-06-15", visits, observations=OBS), "2022-06-02")
    mine = [e for e in a.evaluations if e.antigen == "Tetanus (maternal)"]
    # Dose 3 seven years after dose 2 is valid as dose 3: the series never restarts.
    assert [(e.status, e.target_dose) for e in mine] == [("valid", 1), ("valid", 2), ("valid", 3)]
    group = MAT if pack != "who" else "TT/Td in pregnancy"
    f = a.forecast_for(group)
    assert f is not None
    # Dose 4 at least a year after dose 3.
    assert (f.forecast_dose_number, f.earliest, f.recommended) == (
        4,
        day("2023-06-01"),
        day("2023-06-01"),
    )


def test_dose_two_less_than_a_month_after_dose_one_is_too_soon() -> None:
    # 2015-01-10 + 28 days = 02-07; 02-06 is one day short.
    visits = [("2015-01-10", ["TT"]), ("2015-02-06", ["TT"])]
    a = run("vn-epi-2026", patient("1995-06-15", visits, observations=OBS), "2015-03-01")
    mine = [e for e in a.evaluations if e.antigen == "Tetanus (maternal)"]
    assert [(e.status, e.reason) for e in mine] == [
        ("valid", None),
        ("not_valid", "interval_too_soon"),
    ]
    f = a.forecast_for(MAT)
    assert f is not None
    # From the not-valid dose: 02-06 + 28 days = 03-06; recommended 02-06 + 1 month.
    assert (f.forecast_dose_number, f.earliest, f.recommended) == (
        2,
        day("2015-03-06"),
        day("2015-03-06"),
    )


def test_the_series_applies_to_pregnant_women_only() -> None:
    # Pregnant since 2015-01-05, no dose yet: dose 1 due (from 10 years, 2005-06-15).
    a = run("vn-epi-2026", patient("1995-06-15", [], observations=OBS[:1]), "2015-01-06")
    f = a.forecast_for(MAT)
    assert f is not None
    assert (f.status, f.forecast_dose_number, f.earliest) == ("not_complete", 1, day("2005-06-15"))
    # Not (yet) pregnant, or a man: no relevant series.
    for sex, obs in (("F", ()), ("M", OBS[:1])):
        a = run("vn-epi-2026", patient("1995-06-15", [], sex=sex, observations=obs), "2015-01-06")
        assert a.forecast_for(MAT).status == "not_recommended"  # type: ignore[union-attr]


def test_episodes_pair_each_pregnancy_with_its_expected_delivery() -> None:
    assert episodes(OBS) == (
        PregnancyEpisode(day("2015-01-05"), day("2015-07-20")),
        PregnancyEpisode(day("2022-03-01"), day("2022-10-10")),
    )
    assert episodes(OBS[:1]) == ()
    assert episodes((Observation(PREGNANT, None), Observation(EDD, day("2015-07-20")))) == ()


def ep(edd: str, delivery: str | None = None) -> PregnancyEpisode:
    return PregnancyEpisode(
        day(edd) - dt.timedelta(days=200), day(edd), day(delivery) if delivery else None
    )


@pytest.mark.parametrize(
    ("doses", "episode", "margin", "protected", "reason", "counted", "until"),
    [
        # Two doses in this pregnancy: protected for 3 years after dose 2.
        (
            ["2015-01-10", "2015-02-20"],
            ep("2015-07-20"),
            14,
            True,
            "two_doses_within_3_years",
            2,
            "2018-02-20",
        ),
        # Next pregnancy, a third dose: 5 years after it.
        (
            ["2015-01-10", "2015-02-20", "2022-06-01"],
            ep("2022-10-10"),
            14,
            True,
            "three_doses_within_5_years",
            3,
            "2027-06-01",
        ),
        # Next pregnancy without it: two doses, 3 years long over.
        (
            ["2015-01-10", "2015-02-20"],
            ep("2022-10-10"),
            14,
            False,
            "protection_expired",
            2,
            "2018-02-20",
        ),
        (["2015-01-10"], ep("2015-07-20"), 14, False, "too_few_doses", 1, None),
        # Dose 2 ten days before the expected delivery (07-10): not counted with WHO's 14
        # days (cut-off 07-06) ...
        (["2015-01-10", "2015-07-10"], ep("2015-07-20"), 14, False, "too_few_doses", 1, None),
        # ... counted 14 days before (07-06) ...
        (
            ["2015-01-10", "2015-07-06"],
            ep("2015-07-20"),
            14,
            True,
            "two_doses_within_3_years",
            2,
            "2018-07-06",
        ),
        # ... but not under Vietnam's month before delivery (cut-off 06-22).
        (["2015-01-10", "2015-07-06"], ep("2015-07-20"), 28, False, "too_few_doses", 1, None),
        # An early delivery moves the cut-off: born 07-01, cut-off 06-17.
        (
            ["2015-01-10", "2015-06-25"],
            ep("2015-07-20", "2015-07-01"),
            14,
            False,
            "too_few_doses",
            1,
            None,
        ),
        # Four doses protect for 10 years after the last: to 2022-01-01, not on it.
        (
            ["2005-01-01", "2005-02-01", "2006-01-01", "2012-01-01"],
            ep("2021-12-31"),
            14,
            True,
            "four_doses_within_10_years",
            4,
            "2022-01-01",
        ),
        (
            ["2005-01-01", "2005-02-01", "2006-01-01", "2012-01-01"],
            ep("2022-01-01"),
            14,
            False,
            "protection_expired",
            4,
            "2022-01-01",
        ),
        # Five doses: for the child-bearing years.
        (
            ["2000-01-01", "2000-02-01", "2001-01-01", "2002-01-01", "2003-01-01"],
            ep("2030-05-05"),
            14,
            True,
            "five_doses",
            5,
            None,
        ),
    ],
)
def test_protected_at_birth(
    doses: list[str],
    episode: PregnancyEpisode,
    margin: int,
    protected: bool,
    reason: str,
    counted: int,
    until: str | None,
) -> None:
    p = protected_at_birth([day(d) for d in doses], episode, min_days_before_birth=margin)
    assert (p.protected, p.reason, p.doses) == (protected, reason, counted)
    assert p.protected_until == (day(until) if until else None)
    assert "WHO" in p.source


def test_protection_for_each_pregnancy_from_an_assessment() -> None:
    p = patient("1995-06-15", TT, observations=OBS)
    a = run("vn-epi-2026", p, "2022-10-20")
    result = protection_by_episode(a, {d.id: d.date for d in p.doses}, OBS)
    assert [(r.protected, r.reason) for r in result] == [
        (True, "two_doses_within_3_years"),
        (True, "three_doses_within_5_years"),
    ]


@pytest.mark.parametrize(
    ("edd", "deadline"),
    [
        # 06-30 + 1 month = 07-30 is before 07-31; 07-01 + 1 month = 08-01 is not.
        ("2015-07-31", "2015-06-30"),
        # 02-28 + 1 month = 03-28; 03-01 + 1 month = 04-01.
        ("2015-03-31", "2015-02-28"),
        # A leap year: 02-29 + 1 month = 03-29 <= 03-30.
        ("2016-03-30", "2016-02-29"),
        ("2015-10-10", "2015-09-10"),
    ],
)
def test_dose_two_deadline_a_month_before_the_expected_delivery(edd: str, deadline: str) -> None:
    from immreg.schedule.tetanus import dose_two_deadline

    assert dose_two_deadline(PregnancyEpisode(day("2015-01-01"), day(edd))) == day(deadline)
