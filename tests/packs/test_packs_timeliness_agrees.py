"""Timeliness agrees with the forecast: a dose on the recommended date is on time, on the
past-due date still on time, and on the day after late (CDSi FORECASTDT-5 with the packs'
``latest_rec`` = recommended + 15 days)."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from immreg.schedule import Dose, Patient, assess, load_schedule
from immreg.schedule.timeliness import classify

CODES = ["HEPB-BD", "BCG", "PENTA-COMBE5", "BOPV", "IPV", "MEASLES-MVVAC", "MR-MRVAC",
         "DTP", "JE-JEVAX", "ROTA-ROTAVIN", "PCV10", "TD"]  # fmt: skip
SINGLE = ["Lao (BCG)", "Viêm gan B", "Hib", "Bại liệt uống (bOPV)", "Bại liệt tiêm (IPV)",
          "Sởi", "Rubella", "Viêm não Nhật Bản", "Rota", "Phế cầu"]  # fmt: skip


@st.composite
def history(draw: st.DrawFn) -> tuple[Patient, dt.date]:
    dob = draw(st.dates(dt.date(2024, 1, 1), dt.date(2027, 12, 31)))
    as_of = draw(st.dates(dob, dob + dt.timedelta(days=3 * 365)))
    doses = tuple(
        Dose(f"d{i}", draw(st.dates(dob, as_of)), draw(st.sampled_from(CODES)))
        for i in range(draw(st.integers(0, 8)))
    )
    return Patient(dob, "F", doses), as_of


@settings(max_examples=300, deadline=None)
@given(history(), st.sampled_from(SINGLE))
def test_the_forecast_window_is_the_timeliness_window(
    case: tuple[Patient, dt.date], group: str
) -> None:
    pack = "vn-epi-2026"
    s = load_schedule(pack)
    patient, as_of = case
    f = assess(s, patient, as_of=as_of).forecast_for(group)
    assert f is not None
    assume(f.status == "not_complete" and f.past_due is not None and f.vaccines)
    assert f.recommended is not None
    assert f.earliest is not None
    assume(f.past_due > f.earliest)
    checks = [(f.recommended, "on_time"), (f.past_due, "on_time")]
    checks.append((f.past_due + dt.timedelta(days=1), "late"))
    last = max((d.date for d in patient.doses), default=patient.birth_date)
    for when, expected in checks:
        if when < last:
            continue  # the new dose must come after the history the forecast was made on
        new = Dose("new", when, f.vaccines[0])
        p = Patient(patient.birth_date, patient.sex, (*patient.doses, new))
        a = assess(s, p, as_of=when)
        mine = [e for e in a.evaluations if e.dose_id == "new" and e.vaccine_group == group]
        if not mine or mine[0].status != "valid" or mine[0].target_dose != f.forecast_dose_number:
            continue  # e.g. a same-day duplicate of a recorded dose
        found = [t for t in classify(s, p, a) if t.dose_id == "new" and t.vaccine_group == group]
        assert [t.status for t in found] == [expected] * len(found), (when, found)
