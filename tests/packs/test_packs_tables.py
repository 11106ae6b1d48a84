"""Every dose of every bundled pack, for a child who follows the schedule to the day.

Each table lists the visits of a child given every dose on its recommended date, and the
forecast expected on each visit day, before that day's doses, from the history so far.
Every date was computed by hand from the pack's rules with CDSi date arithmetic (add
years, then months, then days; a day that does not exist moves to the first of the next
month), and the working is written beside it. The children are born on 31 January 2025
(Vietnam) and 29 February 2024 (WHO), so month-ends and leap days are crossed throughout.
"""

from __future__ import annotations

import pytest
from packhelp import Visit, day, patient, run

from immreg.schedule import load_schedule
from immreg.schedule.timeliness import classify

VN_DOB = "2025-01-31"
# The visits; which ones apply depends on the pack (TD from 2024, ROTA from 2024, PCV 2026).
VN_VISITS: list[Visit] = [
    ("2025-01-31", ["HEPB-BD", "BCG"]),
    ("2025-03-31", ["PENTA-COMBE5", "BOPV", "ROTA-ROTAVIN", "PCV10"]),
    ("2025-05-01", ["PENTA-QUINVAXEM", "BOPV", "ROTA-ROTAVIN", "PCV10"]),
    ("2025-06-01", ["PENTA-COMBE5", "BOPV", "PCV10"]),
    ("2025-07-01", ["IPV"]),
    ("2025-10-31", ["MEASLES-MVVAC", "IPV"]),
    ("2026-01-31", ["JE-JEVAX"]),
    ("2026-02-07", ["JE-JEVAX"]),
    ("2026-07-31", ["DTP", "MR-MRVAC"]),
    ("2027-02-07", ["JE-JEVAX"]),
    ("2032-01-31", ["TD"]),
]
HEPB, BCG, DTP, HIB = "Viêm gan B", "Lao (BCG)", "Bạch hầu - Ho gà - Uốn ván", "Hib"
OPV, IPV, MEAS, RUB = "Bại liệt uống (bOPV)", "Bại liệt tiêm (IPV)", "Sởi", "Rubella"
JE, ROTA, PCV = "Viêm não Nhật Bản", "Rota", "Phế cầu"

# (as of, group, dose number, earliest, recommended, past due, latest, packs)
ALL, NEW, PCV_ONLY = ("2018", "2024", "2026"), ("2024", "2026"), ("2026",)
VN_FORECASTS = [
    # Birth: HepB within 24 h, late from 2 days (past due = 2 days - 1 = 02-01).
    ("2025-01-31", HEPB, 1, "2025-01-31", "2025-01-31", "2025-02-01", None, ALL),
    # BCG within a month: late from 1 month = 02-31 -> 03-01; past due 02-28.
    ("2025-01-31", BCG, 1, "2025-01-31", "2025-01-31", "2025-02-28", None, ALL),
    # 2 months = 03-31; late from 03-31 + 15 days = 04-15; past due 04-14.
    ("2025-03-31", HEPB, 2, "2025-03-31", "2025-03-31", "2025-04-14", None, ALL),
    ("2025-03-31", DTP, 1, "2025-03-31", "2025-03-31", "2025-04-14", None, ALL),
    ("2025-03-31", HIB, 1, "2025-03-31", "2025-03-31", "2025-04-14", None, ALL),
    ("2025-03-31", OPV, 1, "2025-03-31", "2025-03-31", "2025-04-14", None, ALL),
    # Rota dose 1 before 6 months - 28 days = 07-31 - 28 = 07-03; latest 07-02.
    ("2025-03-31", ROTA, 1, "2025-03-31", "2025-03-31", "2025-04-14", "2025-07-02", NEW),
    # PCV dose 1 before 12 months = 2026-01-31; latest 2026-01-30.
    ("2025-03-31", PCV, 1, "2025-03-31", "2025-03-31", "2025-04-14", "2026-01-30", PCV_ONLY),
    # Dose 2: 28 days after 03-31 = 04-28 (= 2 months + 28 days); recommended 03-31 + 1
    # month = 04-31 -> 05-01; late from 05-01 + 15 = 05-16, past due 05-15.
    ("2025-05-01", HEPB, 3, "2025-04-28", "2025-05-01", "2025-05-15", None, ALL),
    ("2025-05-01", DTP, 2, "2025-04-28", "2025-05-01", "2025-05-15", None, ALL),
    ("2025-05-01", HIB, 2, "2025-04-28", "2025-05-01", "2025-05-15", None, ALL),
    ("2025-05-01", OPV, 2, "2025-04-28", "2025-05-01", "2025-05-15", None, ALL),
    # Rota dose 2 before 6 months = 07-31; latest 07-30.
    ("2025-05-01", ROTA, 2, "2025-04-28", "2025-05-01", "2025-05-15", "2025-07-30", NEW),
    # PCV doses 2 and 3 before 2 years = 2027-01-31; latest 2027-01-30.
    ("2025-05-01", PCV, 2, "2025-04-28", "2025-05-01", "2025-05-15", "2027-01-30", PCV_ONLY),
    # Dose 3: 05-01 + 28 = 05-29 (later than 2 months + 56 days = 05-26); recommended
    # 05-01 + 1 month = 06-01; late from 06-16, past due 06-15.
    ("2025-06-01", HEPB, 4, "2025-05-29", "2025-06-01", "2025-06-15", None, ALL),
    ("2025-06-01", DTP, 3, "2025-05-29", "2025-06-01", "2025-06-15", None, ALL),
    ("2025-06-01", HIB, 3, "2025-05-29", "2025-06-01", "2025-06-15", None, ALL),
    ("2025-06-01", OPV, 3, "2025-05-29", "2025-06-01", "2025-06-15", None, ALL),
    ("2025-06-01", PCV, 3, "2025-05-29", "2025-06-01", "2025-06-15", "2027-01-30", PCV_ONLY),
    # IPV at 5 months = 06-31 -> 07-01; late from 07-16, past due 07-15.
    ("2025-07-01", IPV, 1, "2025-07-01", "2025-07-01", "2025-07-15", None, ALL),
    # Measles and IPV 2 at 9 months = 10-31 (IPV: 28 days after 07-01 = 07-29 is earlier).
    ("2025-10-31", MEAS, 1, "2025-10-31", "2025-10-31", "2025-11-14", None, ALL),
    ("2025-10-31", IPV, 2, "2025-10-31", "2025-10-31", "2025-11-14", None, ALL),
    # JE at 12 months = 2026-01-31; past due 02-14.
    ("2026-01-31", JE, 1, "2026-01-31", "2026-01-31", "2026-02-14", None, ALL),
    # JE 2: 7 days after 01-31 = 02-07; late from 01-31 + 15 days = 02-15, past due 02-14.
    ("2026-02-07", JE, 2, "2026-02-07", "2026-02-07", "2026-02-14", None, ALL),
    # 18 months = 2026-07-31 (DTP booster: 6 months after 2025-06-01 = 12-01 is earlier).
    ("2026-07-31", DTP, 4, "2026-07-31", "2026-07-31", "2026-08-14", None, ALL),
    ("2026-07-31", MEAS, 2, "2026-07-31", "2026-07-31", "2026-08-14", None, ALL),
    ("2026-07-31", RUB, 1, "2026-07-31", "2026-07-31", "2026-08-14", None, ALL),
    # JE 3: 1 year after 2026-02-07; late from 2027-02-22, past due 02-21.
    ("2027-02-07", JE, 3, "2027-02-07", "2027-02-07", "2027-02-21", None, ALL),
    # Td at 7 years = 2032-01-31 (pertussis is complete; diphtheria and tetanus dose 5).
    ("2032-01-31", DTP, 5, "2032-01-31", "2032-01-31", "2032-02-14", None, NEW),
]
VN_PACK_VISITS = {
    "2018": {"TD", "ROTA-ROTAVIN", "PCV10"},
    "2024": {"PCV10"},
    "2026": set(),
}


def _vn_visits(year: str) -> list[Visit]:
    drop = VN_PACK_VISITS[year]
    return [(w, [c for c in codes if c not in drop]) for w, codes in VN_VISITS]


@pytest.mark.parametrize(
    ("year", "as_of", "group", "number", "earliest", "recommended", "past_due", "latest"),
    [(y, *row[:7]) for row in VN_FORECASTS for y in row[7]],
)
def test_vn_every_dose_forecast(
    year: str,
    as_of: str,
    group: str,
    number: int,
    earliest: str,
    recommended: str,
    past_due: str,
    latest: str | None,
) -> None:
    a = run(f"vn-epi-{year}", patient(VN_DOB, _vn_visits(year), before=as_of), as_of)
    f = a.forecast_for(group)
    assert f is not None
    assert (f.status, f.forecast_dose_number) == ("not_complete", number)
    assert f.earliest == day(earliest)
    assert f.recommended == day(recommended)
    assert f.past_due == day(past_due)
    assert f.latest == (day(latest) if latest else None)
    # The rule that set the earliest date belongs to this pack's circular.
    assert f.rule_id.startswith(f"vn{year}/")


@pytest.mark.parametrize("year", ["2018", "2024", "2026"])
def test_vn_every_dose_given_on_time_is_valid_and_completes(year: str) -> None:
    pack = f"vn-epi-{year}"
    p = patient(VN_DOB, _vn_visits(year))
    a = run(pack, p, "2032-03-01")
    assert a.evaluations
    assert {e.status for e in a.evaluations} == {"valid"}
    timely = classify(load_schedule(pack), p, a)
    assert len(timely) == len(a.evaluations)
    assert {t.status for t in timely} == {"on_time"}
    statuses = {f.vaccine_group: f.status for f in a.forecasts}
    expected = dict.fromkeys(statuses, "complete")
    expected["Uốn ván (phụ nữ có thai)"] = "not_recommended"  # no pregnancy recorded
    assert statuses == expected
    # Diphtheria and tetanus have 5 target doses from 10/2024/TT-BYT, 4 before.
    n = 5 if year != "2018" else 4
    assert max(e.target_dose or 0 for e in a.evaluations if e.antigen == "Tetanus") == n


WHO_DOB = "2024-02-29"
WHO_VISITS: list[Visit] = [
    ("2024-02-29", ["19", "08"]),
    ("2024-04-11", ["102", "178", "119", "133"]),
    ("2024-05-09", ["102", "178", "119", "133"]),
    ("2024-06-06", ["102", "178", "133", "10"]),
    ("2024-08-29", ["134"]),
    ("2024-09-26", ["134"]),
    ("2024-10-06", ["10"]),
    ("2024-11-29", ["04"]),
    ("2025-03-01", ["01"]),
    ("2025-05-29", ["05"]),
    ("2028-02-29", ["139"]),
    ("2033-03-01", ["139", "165"]),
]
W_DTP, W_PCV = "DTP-containing", "Pneumococcal (conjugate)"
W_OPV, W_IPV = "Polio (bOPV)", "Polio (IPV)"
WHO_FORECASTS = [
    # BCG at birth, late from 15 days = 03-15 (past due 03-14); HepB birth dose within
    # 24 h, late from 2 days = 03-02 (past due 03-01).
    ("2024-02-29", "BCG", 1, "2024-02-29", "2024-02-29", "2024-03-14", None),
    ("2024-02-29", "HepB", 1, "2024-02-29", "2024-02-29", "2024-03-01", None),
    # 6 weeks = 02-29 + 42 days = 04-11; late from 6 weeks + 15 days = 04-26.
    ("2024-04-11", W_DTP, 1, "2024-04-11", "2024-04-11", "2024-04-25", None),
    ("2024-04-11", "HepB", 2, "2024-04-11", "2024-04-11", "2024-04-25", None),
    # Hib and PCV end at 5 years = 2029-02-29 -> 03-01; latest 02-28.
    ("2024-04-11", "Hib", 1, "2024-04-11", "2024-04-11", "2024-04-25", "2029-02-28"),
    ("2024-04-11", W_PCV, 1, "2024-04-11", "2024-04-11", "2024-04-25", "2029-02-28"),
    # Rotavirus ends at 24 months = 2026-02-29 -> 03-01; latest 02-28.
    ("2024-04-11", "Rotavirus", 1, "2024-04-11", "2024-04-11", "2024-04-25", "2026-02-28"),
    ("2024-04-11", W_OPV, 1, "2024-04-11", "2024-04-11", "2024-04-25", None),
    # DTP 2: 4 weeks after 04-11 = 05-09; late from 04-11 + 8 weeks + 1 day = 06-07.
    ("2024-05-09", W_DTP, 2, "2024-05-09", "2024-05-09", "2024-06-06", None),
    # HepB 3: 10 weeks = 05-09 and 04-11 + 4 weeks = 05-09; late from 04-11 + 4 weeks +
    # 15 days = 05-24.
    ("2024-05-09", "HepB", 3, "2024-05-09", "2024-05-09", "2024-05-23", None),
    ("2024-05-09", "Hib", 2, "2024-05-09", "2024-05-09", "2024-05-23", "2029-02-28"),
    ("2024-05-09", W_PCV, 2, "2024-05-09", "2024-05-09", "2024-05-23", "2029-02-28"),
    ("2024-05-09", "Rotavirus", 2, "2024-05-09", "2024-05-09", "2024-05-23", "2026-02-28"),
    ("2024-05-09", W_OPV, 2, "2024-05-09", "2024-05-09", "2024-05-23", None),
    # DTP 3: 05-09 + 4 weeks = 06-06; late from 05-09 + 57 days = 07-05.
    ("2024-06-06", W_DTP, 3, "2024-06-06", "2024-06-06", "2024-07-04", None),
    # HepB 4: 14 weeks = 02-29 + 98 days = 06-06; late from 05-09 + 43 days = 06-21.
    ("2024-06-06", "HepB", 4, "2024-06-06", "2024-06-06", "2024-06-20", None),
    ("2024-06-06", "Hib", 3, "2024-06-06", "2024-06-06", "2024-06-20", "2029-02-28"),
    ("2024-06-06", W_PCV, 3, "2024-06-06", "2024-06-06", "2024-06-20", "2029-02-28"),
    ("2024-06-06", W_OPV, 3, "2024-06-06", "2024-06-06", "2024-06-20", None),
    # IPV 1 at 14 weeks = 06-06; late from 14 weeks + 15 days = 06-21.
    ("2024-06-06", W_IPV, 1, "2024-06-06", "2024-06-06", "2024-06-20", None),
    # JE at 6 months = 08-29, late from 09-13; dose 2 4 weeks later = 09-26, late from
    # 08-29 + 43 days = 10-11.
    ("2024-08-29", "Japanese encephalitis", 1, "2024-08-29", "2024-08-29", "2024-09-12", None),
    ("2024-09-26", "Japanese encephalitis", 2, "2024-09-26", "2024-09-26", "2024-10-10", None),
    # IPV 2: 4 months after 06-06 = 10-06; late from 10-21.
    ("2024-10-06", W_IPV, 2, "2024-10-06", "2024-10-06", "2024-10-20", None),
    # Measles and rubella at 9 months = 11-29; late from 12-14.
    ("2024-11-29", "Measles", 1, "2024-11-29", "2024-11-29", "2024-12-13", None),
    ("2024-11-29", "Rubella", 1, "2024-11-29", "2024-11-29", "2024-12-13", None),
    # DTP booster at 12 months = 2025-02-29 -> 03-01; late from 24 months = 2026-02-29
    # -> 03-01, past due 2026-02-28.
    ("2025-03-01", W_DTP, 4, "2025-03-01", "2025-03-01", "2026-02-28", None),
    # Measles 2: earliest 9 months + 4 weeks = 12-27 (= 11-29 + 4 weeks); recommended 15
    # months = 2025-05-29; late from 19 months = 2025-09-29.
    ("2025-05-29", "Measles", 2, "2024-12-27", "2025-05-29", "2025-09-28", None),
    # Td at 4 years = 2028-02-29 (a leap year); late from 8 years = 2032-02-29.
    ("2028-02-29", W_DTP, 5, "2028-02-29", "2028-02-29", "2032-02-28", None),
    # Td at 9 years = 2033-02-29 -> 03-01; late from 16 years = 2040-02-29.
    ("2033-03-01", W_DTP, 6, "2033-03-01", "2033-03-01", "2040-02-28", None),
    # HPV at 9 years = 03-01; late from 15 years = 2039-02-29 -> 03-01; before 21 years
    # = 2045-02-29 -> 03-01, latest 2045-02-28.
    ("2033-03-01", "HPV", 1, "2033-03-01", "2033-03-01", "2039-02-28", "2045-02-28"),
]


@pytest.mark.parametrize(
    ("as_of", "group", "number", "earliest", "recommended", "past_due", "latest"),
    WHO_FORECASTS,
)
def test_who_every_dose_forecast(
    as_of: str,
    group: str,
    number: int,
    earliest: str,
    recommended: str,
    past_due: str,
    latest: str | None,
) -> None:
    a = run("who", patient(WHO_DOB, WHO_VISITS, before=as_of), as_of)
    f = a.forecast_for(group)
    assert f is not None
    assert (f.status, f.forecast_dose_number) == ("not_complete", number)
    assert (f.earliest, f.recommended, f.past_due) == (
        day(earliest),
        day(recommended),
        day(past_due),
    )
    assert f.latest == (day(latest) if latest else None)
    assert f.rule_id.startswith("who/")


def test_who_every_dose_given_on_time_is_valid_and_completes() -> None:
    p = patient(WHO_DOB, WHO_VISITS)
    a = run("who", p, "2034-01-01")
    assert {e.status for e in a.evaluations} == {"valid"}
    assert {t.status for t in classify(load_schedule("who"), p, a)} == {"on_time"}
    statuses = {f.vaccine_group: f.status for f in a.forecasts}
    assert statuses.pop("TT/Td in pregnancy") == "not_recommended"
    assert set(statuses.values()) == {"complete"}


@pytest.mark.parametrize(
    ("as_of", "group", "number", "earliest", "recommended", "past_due", "latest"),
    [row[:7] for row in VN_FORECASTS if "2024" in row[7]],
)
def test_vn_epi_follows_the_circular_in_force_on_each_visit(
    as_of: str,
    group: str,
    number: int,
    earliest: str,
    recommended: str,
    past_due: str,
    latest: str | None,
) -> None:
    # The same child under vn-epi: 10/2024 until 2026-02-14, 52/2025 from 2026-02-15
    # (no PCV given: the visits of the 10/2024 pack).
    a = run("vn-epi", patient(VN_DOB, _vn_visits("2024"), before=as_of), as_of)
    f = a.forecast_for(group)
    assert f is not None
    assert (f.status, f.forecast_dose_number) == ("not_complete", number)
    assert (f.earliest, f.recommended, f.past_due) == (
        day(earliest),
        day(recommended),
        day(past_due),
    )
    assert f.latest == (day(latest) if latest else None)
    assert f.rule_id.startswith("vn2026/" if as_of >= "2026-02-15" else "vn2024/")
