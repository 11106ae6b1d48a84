"""Timeliness against windows that the Vietnamese packs do not use: grace periods, no
latest recommended age (the 14-day default), and a custom default window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from immreg.schedule import Dose, Patient, Schedule, assess
from immreg.schedule.dates import parse_duration as d
from immreg.schedule.fileformat import load
from immreg.schedule.rules import (
    Antigen,
    CvxAssociation,
    Series,
    SeriesDose,
    SeriesDoseAge,
    VaccineGroup,
    VaccineRule,
)
from immreg.schedule.timeliness import DEFAULT_WINDOW_DAYS, classify

MINI = load(
    (Path(__file__).resolve().parents[1] / "schedule" / "data" / "mini-epi.json").read_text(
        encoding="utf-8"
    )
)
DOB = dt.date(2025, 1, 1)


def test_a_dose_in_the_grace_period_is_too_early() -> None:
    # HepB dose 2: minimum age 6 weeks (02-12), absolute minimum 6 weeks - 4 days (02-08).
    p = Patient(DOB, "F", (Dose("a", DOB, "HB"), Dose("b", dt.date(2025, 2, 10), "PENTA")))
    a = assess(MINI, p, as_of=dt.date(2025, 3, 1))
    t = {x.dose_id: x for x in classify(MINI, p, a)}
    assert (t["b"].status, t["b"].reason) == ("too_early", "grace_period")
    assert t["b"].rule_id == "HepB/birth+3/dose 2/age"


def _one_dose_schedule() -> Schedule:
    # One dose from 2 months, recommended at 2 months, no latest recommended age.
    age = SeriesDoseAge(
        abs_min=d("2 months"), min=d("2 months"), earliest_rec=d("2 months"), rule_id="X/age"
    )
    dose = SeriesDose(1, ages=(age,), preferable_vaccines=(VaccineRule("A"),), rule_id="X/1")
    series = Series("s", "X", "X", default=True, doses=(dose,), rule_id="X/s")
    return Schedule(
        "t",
        source="test",
        antigens=(Antigen("X", (series,)),),
        vaccine_groups=(VaccineGroup("X", ("X",)),),
        vaccines=(CvxAssociation("A", "X"),),
    )


def test_without_a_latest_recommended_age_the_window_is_14_days() -> None:
    # 2 months = 03-01; on time to 03-15; late from 03-16.
    s = _one_dose_schedule()
    assert DEFAULT_WINDOW_DAYS == 14
    for when, days, status in (
        ("2025-03-15", 14, "on_time"),
        ("2025-03-16", 14, "late"),
        ("2025-03-16", 15, "on_time"),
    ):
        p = Patient(DOB, "F", (Dose("a", dt.date.fromisoformat(when), "A"),))
        a = assess(s, p, as_of=dt.date(2025, 4, 1))
        (t,) = classify(s, p, a, window_days=days)
        assert t.status == status
        assert t.recommended == dt.date(2025, 3, 1)
        assert t.rule_id == "X/age"
