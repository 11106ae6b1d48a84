"""``vn-epi``: each dose judged by the circular in force on its date, forecasts by as_of.

Thông tư 38/2017/TT-BYT is in force from 2018-01-01 (and stands for earlier dates),
10/2024/TT-BYT from 2024-08-01 (adds Td at 7 years and rotavirus), 52/2025/TT-BYT from
2026-02-15 (adds pneumococcal vaccine).
"""

from __future__ import annotations

import datetime as dt

import pytest
from packhelp import day, patient, run

from immreg.errors import NotFoundError, ValidationError
from immreg.schedule import load_schedule
from immreg.schedule.versioned import Version, compose, in_force, parse_versions

DTP = "Bạch hầu - Ho gà - Uốn ván"


def test_vn_epi_loads_as_one_schedule_with_every_group() -> None:
    s = load_schedule("vn-epi")
    assert s is load_schedule("vn-epi")
    assert [g.name for g in s.vaccine_groups] == [
        "Lao (BCG)",
        "Viêm gan B",
        DTP,
        "Hib",
        "Bại liệt uống (bOPV)",
        "Bại liệt tiêm (IPV)",
        "Sởi",
        "Rubella",
        "Viêm não Nhật Bản",
        "Rota",
        "Phế cầu",
        "Uốn ván (phụ nữ có thai)",
    ]


def test_a_2019_dose_is_judged_by_38_2017_and_a_2026_forecast_by_52_2025() -> None:
    # Born 2018-03-05. The first dose on 2018-05-04 is a day before 2 months (05-05):
    # not valid by the 38/2017 age rule. Doses 1-3 follow monthly, the booster at 18
    # months (2019-09-05, six months after 2018-08-05 too).
    visits = [
        ("2018-05-04", ["PENTA-COMBE5"]),
        ("2018-06-05", ["PENTA-COMBE5"]),
        ("2018-07-05", ["PENTA-COMBE5"]),
        ("2018-08-05", ["PENTA-COMBE5"]),
        ("2019-09-05", ["DTP"]),
    ]
    a = run("vn-epi", patient("2018-03-05", visits), "2026-03-01")
    d = {e.dose_id: e for e in a.evaluations if e.antigen == "Diphtheria"}
    assert (d["2018-05-04/PENTA-COMBE5"].reason, d["2018-05-04/PENTA-COMBE5"].rule_id) == (
        "age_too_young",
        "vn2018/Diphtheria/childhood/dose 1/age",
    )
    assert [(e.status, e.target_dose) for e in d.values()][1:] == [
        ("valid", 1),
        ("valid", 2),
        ("valid", 3),
        ("valid", 4),
    ]
    # In 2026 the 52/2025 rules forecast Td at 7 years = 2025-03-05; late from 03-20.
    f = a.forecast_for(DTP)
    assert f is not None
    assert (f.forecast_dose_number, f.earliest, f.past_due, f.rule_id) == (
        5,
        day("2025-03-05"),
        day("2025-03-19"),
        "vn2026/Diphtheria/childhood/dose 5/age",
    )
    # The same history in 2019: 38/2017 had no Td at 7, so the series is complete.
    a = run("vn-epi", patient("2018-03-05", visits), "2019-10-01")
    assert a.forecast_for(DTP).status == "complete"  # type: ignore[union-attr]


def test_a_td_dose_given_before_10_2024_is_credited_to_the_dose_it_brought_in() -> None:
    # Born 2012-05-10; Td on the 7th birthday in 2019, before 10/2024 made it a
    # programme dose: judged by the 10/2024 rule (the first that has it), it is valid.
    visits = [
        ("2012-07-10", ["PENTA-COMBE5"]),
        ("2012-08-10", ["PENTA-COMBE5"]),
        ("2012-09-10", ["PENTA-COMBE5"]),
        ("2013-11-10", ["DTP"]),
        ("2019-05-10", ["TD"]),
    ]
    a = run("vn-epi", patient("2012-05-10", visits), "2026-03-01")
    td = [e for e in a.evaluations if e.dose_id == "2019-05-10/TD" and e.antigen == "Tetanus"]
    assert [(e.status, e.target_dose) for e in td] == [("valid", 5)]
    assert a.forecast_for(DTP).status == "complete"  # type: ignore[union-attr]
    # Without it, the child (now 13) needs Td from the circular's date, 2024-08-01.
    a = run("vn-epi", patient("2012-05-10", visits[:4]), "2026-03-01")
    f = a.forecast_for(DTP)
    assert f is not None
    assert (f.forecast_dose_number, f.earliest, f.reason) == (5, day("2024-08-01"), "season_start")
    # And in 2023 it was not due at all.
    a = run("vn-epi", patient("2012-05-10", visits[:4]), "2023-03-01")
    assert a.forecast_for(DTP).status == "complete"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("dob", "as_of", "status", "earliest", "reason"),
    [
        # Before 52/2025 is in force: no pneumococcal vaccine.
        ("2025-12-20", "2026-02-10", "not_recommended", None, "not_needed"),
        # After: 2 months of 2025-12-20 = 2026-02-20.
        ("2025-12-20", "2026-03-01", "not_complete", "2026-02-20", "min_age"),
        # 2 months of 2025-12-01 = 2026-02-01 is before the circular: from 02-15.
        ("2025-12-01", "2026-02-16", "not_complete", "2026-02-15", "season_start"),
    ],
)
def test_pneumococcal_vaccine_from_52_2025(
    dob: str, as_of: str, status: str, earliest: str | None, reason: str
) -> None:
    f = run("vn-epi", patient(dob, []), as_of).forecast_for("Phế cầu")
    assert f is not None
    assert (f.status, f.reason) == (status, reason)
    assert f.earliest == (day(earliest) if earliest else None)


def test_a_pcv_dose_before_52_2025_is_judged_by_the_first_rule_that_has_it() -> None:
    # Born 2025-12-01, PCV at 2 months (2026-02-01), two weeks before 52/2025: valid.
    # Dose 2: 28 days after 02-01 and 2 months + 28 days both give 2026-03-01. The dose
    # number leaves out the dose given before the circular (documented limit).
    a = run("vn-epi", patient("2025-12-01", [("2026-02-01", ["PCV10"])]), "2026-03-01")
    (e,) = [e for e in a.evaluations if e.antigen == "Pneumococcal"]
    assert (e.status, e.target_dose) == ("valid", 1)
    f = a.forecast_for("Phế cầu")
    assert f is not None
    assert (f.earliest, f.forecast_dose_number) == (day("2026-03-01"), 1)


def test_rotavirus_only_from_10_2024() -> None:
    f = run("vn-epi", patient("2023-03-01", []), "2023-05-01").forecast_for("Rota")
    assert f is not None
    assert f.status == "not_recommended"
    f = run("vn-epi", patient("2024-09-01", []), "2024-11-01").forecast_for("Rota")
    assert f is not None
    # 2 months of 2024-09-01 = 11-01.
    assert (f.status, f.earliest) == ("not_complete", day("2024-11-01"))


def test_the_second_ipv_dose_from_2023_under_38_2017() -> None:
    # Born 2021-01-10, IPV at 5 months (2021-06-10). In December 2021 the second dose
    # was not yet in the programme; from 2023-01-01 it is due.
    visits = [("2021-06-10", ["IPV"])]
    f = run("vn-epi", patient("2021-01-10", visits), "2021-12-01").forecast_for(
        "Bại liệt tiêm (IPV)"
    )
    assert f is not None
    assert f.status == "complete"
    f = run("vn-epi", patient("2021-01-10", visits), "2023-01-05").forecast_for(
        "Bại liệt tiêm (IPV)"
    )
    assert f is not None
    assert (f.status, f.forecast_dose_number, f.earliest) == (
        "not_complete",
        2,
        day("2023-01-01"),
    )


def test_a_history_before_2018_is_read_with_the_first_circular() -> None:
    # 2015-03-01: 2 months of 2015-01-01; same rule ids as 38/2017.
    a = run("vn-epi", patient("2015-01-01", [("2015-02-28", ["BOPV"])]), "2015-04-01")
    (e,) = a.evaluations
    assert (e.reason, e.rule_id) == ("age_too_young", "vn2018/Polio-OPV/bOPV 3-dose/dose 1/age")


def test_in_force_picks_the_latest_started_version() -> None:
    versions = (
        Version(dt.date(2018, 1, 1), "a"),
        Version(dt.date(2024, 8, 1), "b"),
        Version(dt.date(2026, 2, 15), "c"),
    )
    assert [in_force(versions, day(d)).pack for d in ("2010-01-01", "2024-07-31")] == ["a", "a"]
    assert [in_force(versions, day(d)).pack for d in ("2024-08-01", "2026-02-15")] == ["b", "c"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("nope", "$"),
        ('{"format": "immreg-schedule", "version": 1}', "format"),
        ('{"format": "immreg-schedule-versions", "version": 2}', "version"),
        (
            '{"format": "immreg-schedule-versions", "version": 1, "name": "x", "versions": []}',
            "versions",
        ),
        (
            '{"format": "immreg-schedule-versions", "version": 1, "name": "x", "versions": '
            '[{"effective": "2020-01-01", "pack": "a"}, '
            '{"effective": "2019-01-01", "pack": "b"}]}',
            "versions[1].effective",
        ),
        (
            '{"format": "immreg-schedule-versions", "version": 1, "name": "x", "versions": '
            '[{"effective": "2020-13-01", "pack": "a"}]}',
            "versions[0].effective",
        ),
    ],
)
def test_bad_version_files_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_versions(text)
    assert info.value.field == field


def test_compose_needs_ascending_versions() -> None:
    s = load_schedule("vn-epi-2018")
    with pytest.raises(ValidationError):
        compose("x", [])
    with pytest.raises(ValidationError):
        compose("x", [(dt.date(2020, 1, 1), s), (dt.date(2019, 1, 1), s)])


def test_unknown_pack_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        load_schedule("vn-epi-1999")


def test_doses_before_52_2025_are_held_to_its_intervals_too() -> None:
    # Born 2025-10-01: PCV at 2 months (12-01), again 9 days later (12-10), both before
    # the circular: the second is 19 days short of the 28-day interval (and of the
    # minimum age of dose 2, 2 months + 28 days = 12-29).
    visits = [("2025-12-01", ["PCV10"]), ("2025-12-10", ["PCV10"])]
    a = run("vn-epi", patient("2025-10-01", visits), "2026-03-01")
    second = [e for e in a.evaluations if e.dose_id == "2025-12-10/PCV10"]
    assert [(e.status, e.reasons) for e in second] == [
        ("not_valid", ("age_too_young", "interval_too_soon"))
    ]
    assert second[0].rule_id == "vn2026/Pneumococcal/PCV 3-dose/dose 2/age"


def test_which_circular_was_in_force() -> None:
    from immreg.schedule.versioned import bundled

    vn = bundled("vn-epi")
    assert [v.pack for v in vn.versions] == ["vn-epi-2018", "vn-epi-2024", "vn-epi-2026"]
    assert vn.in_force(day("2019-06-01")).pack == "vn-epi-2018"
    assert vn.in_force(day("2024-08-01")).pack == "vn-epi-2024"
    assert vn.in_force(day("2026-02-15")).source.startswith("Thông tư 52/2025/TT-BYT")
    for name in ("who", "nope", "../x"):
        with pytest.raises(NotFoundError):
            bundled(name)
