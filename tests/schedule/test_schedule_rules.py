"""Rule kinds a hand-written schedule may use, each on a tiny schedule built in Python.

The CDC test cases exercise most rules through the CDSi data; these tests pin down the
ones a national pack is likely to lean on in simpler shapes: recurring boosters, seasons,
intervals from a given dose, from a vaccine type and from an observation, conditional
skips by age, by dose count and by a completed series, allowable intervals and vaccines,
manufacturers, vaccine contraindications and immunity by birth date.
"""

from __future__ import annotations

import datetime as dt

from immreg.schedule import Dose, Observation, Patient, Schedule, assess
from immreg.schedule.dates import parse_duration as d
from immreg.schedule.rules import (
    Antigen,
    Condition,
    ConditionalSkip,
    ConditionSet,
    CvxAssociation,
    Immunity,
    Interval,
    Series,
    SeriesDose,
    SeriesDoseAge,
    VaccineContraindication,
    VaccineGroup,
    VaccineRule,
)

DOB = dt.date(2020, 1, 1)


def one_antigen(
    *doses: SeriesDose, vaccines: tuple[str, ...] = ("A",), **antigen: object
) -> Schedule:
    series = Series(
        name="s", antigen="X", vaccine_group="X", default=True, doses=doses, rule_id="X/s"
    )
    return Schedule(
        name="t",
        source="test",
        antigens=(Antigen(name="X", series=(series,), **antigen),),  # type: ignore[arg-type]
        vaccine_groups=(VaccineGroup("X", ("X",)),),
        vaccines=tuple(CvxAssociation(v, "X") for v in vaccines),
    )


def dose(n: int, *, min_age: str = "0 days", **kw: object) -> SeriesDose:
    kw.setdefault("preferable_vaccines", (VaccineRule("A", forecast=True),))
    return SeriesDose(
        number=n,
        ages=(SeriesDoseAge(abs_min=d(min_age), min=d(min_age), rule_id=f"X/s/dose {n}/age"),),
        rule_id=f"X/s/dose {n}",
        **kw,  # type: ignore[arg-type]
    )


def run(
    schedule: Schedule, *doses: tuple[str, str], as_of: str, obs: tuple[Observation, ...] = ()
):  # type: ignore[no-untyped-def]
    p = Patient(
        DOB,
        "F",
        tuple(Dose(f"d{i}", dt.date.fromisoformat(when), v) for i, (when, v) in enumerate(doses)),
        obs,
    )
    return assess(schedule, p, as_of=dt.date.fromisoformat(as_of))


def test_recurring_booster_repeats_after_every_valid_dose() -> None:
    ten_years = Interval(min=d("10 years"), abs_min=d("10 years"), rule_id="X/s/dose 2/interval")
    s = one_antigen(dose(1), dose(2, intervals=(ten_years,), recurring=True))
    a = run(s, ("2020-01-01", "A"), ("2030-01-01", "A"), ("2040-01-02", "A"), as_of="2041-01-01")
    assert [e.status for e in a.evaluations] == ["valid", "valid", "valid"]
    assert [e.target_dose for e in a.evaluations] == [1, 2, 3]
    fc = a.forecast_for("X")
    assert fc is not None
    assert fc.status == "not_complete"
    assert fc.forecast_dose_number == 4
    assert fc.earliest == dt.date(2050, 1, 2)


def test_season_start_end_and_seasonal_dose_number() -> None:
    seasonal = dose(
        1,
        recurring=True,
        season_start=dt.date(2025, 9, 1),
        season_end=dt.date(2026, 6, 30),
    )
    s = one_antigen(seasonal)
    before = run(s, ("2024-10-01", "A"), as_of="2025-08-01").forecast_for("X")
    assert before is not None
    assert before.earliest == dt.date(2025, 9, 1)
    assert before.reason == "season_start"
    # Last season's dose does not count toward this season's dose number (FORECASTDN-1).
    assert before.forecast_dose_number == 1
    after = run(s, ("2024-10-01", "A"), as_of="2026-07-01").forecast_for("X")
    assert after is not None
    assert after.status == "not_recommended"
    assert after.reason == "past_seasonal_end"


def test_interval_from_a_given_target_dose() -> None:
    from_first = Interval(
        reference="target_dose",
        target_dose=1,
        abs_min=d("6 months"),
        min=d("6 months"),
        rule_id="X/s/dose 3/interval",
    )
    s = one_antigen(dose(1), dose(2), dose(3, intervals=(from_first,)))
    a = run(s, ("2020-01-01", "A"), ("2020-02-01", "A"), ("2020-05-01", "A"), as_of="2020-05-02")
    assert a.evaluations[2].status == "not_valid"
    assert a.evaluations[2].reason == "interval_too_soon"
    fc = a.forecast_for("X")
    assert fc is not None
    assert fc.earliest == dt.date(2020, 7, 1)


def test_interval_from_most_recent_vaccine_type_and_observation() -> None:
    after_b = Interval(
        reference="most_recent",
        vaccines=("B",),
        abs_min=d("4 weeks"),
        min=d("4 weeks"),
        rule_id="X/s/dose 1/interval",
    )
    after_obs = Interval(
        reference="observation",
        observation="TRANSPLANT",
        abs_min=d("6 months"),
        min=d("6 months"),
        rule_id="X/s/dose 1/interval 2",
    )
    s = one_antigen(dose(1, intervals=(after_b, after_obs)), vaccines=("A", "B"))
    fc = run(s, ("2021-01-10", "B"), as_of="2021-01-20").forecast_for("X")
    assert fc is not None
    # "B" counts for X too: it is the first dose... of a product that is not preferable.
    assert fc.forecast_dose_number == 1
    assert fc.earliest == dt.date(2021, 2, 7)
    obs = (Observation("TRANSPLANT", dt.date(2021, 1, 5)),)
    fc = run(s, as_of="2021-01-20", obs=obs).forecast_for("X")
    assert fc is not None
    assert fc.earliest == dt.date(2021, 7, 5)


def test_skip_by_age_and_by_dose_count() -> None:
    old_enough = ConditionalSkip(
        context="both",
        sets=(ConditionSet("1", conditions=(Condition("age", begin_age=d("15 months")),)),),
        rule_id="X/s/dose 3/skip age",
    )
    two_before_one = ConditionalSkip(
        context="evaluation",
        sets=(
            ConditionSet(
                "1",
                conditions=(
                    Condition(
                        "vaccine_count_by_age",
                        end_age=d("12 months"),
                        dose_count=1,
                        count_logic="greater",
                        dose_type="valid",
                    ),
                ),
            ),
        ),
        rule_id="X/s/dose 3/skip count",
    )
    s = one_antigen(
        dose(1), dose(2), dose(3, skips=(old_enough,)), dose(4, skips=(two_before_one,))
    )
    # Two valid doses before 12 months: dose 3 is due; dose 4 is skipped when evaluating.
    a = run(
        s,
        ("2020-02-01", "A"),
        ("2020-04-01", "A"),
        ("2020-06-01", "A"),
        ("2020-08-01", "A"),
        as_of="2020-09-01",
    )
    assert [e.status for e in a.evaluations] == ["valid", "valid", "valid", "extraneous"]
    assert a.forecast_for("X").status == "complete"  # type: ignore[union-attr]
    # At 16 months with two doses: target dose 3 is skipped at forecast time and target
    # dose 4 is due at once (no age or interval of its own); it is the third dose given.
    a = run(s, ("2020-02-01", "A"), ("2020-03-01", "A"), as_of="2021-05-01")
    fc = a.forecast_for("X")
    assert fc is not None
    assert fc.status == "not_complete"
    assert fc.forecast_dose_number == 3
    assert fc.earliest == dt.date(2020, 3, 1)
    assert (fc.reason, fc.rule_id) == ("previous_dose", "X/s/dose 4")
    # Before 15 months, target dose 3 is not skipped and is the one forecast.
    a = run(s, ("2020-02-01", "A"), ("2020-03-01", "A"), as_of="2021-03-01")
    assert a.forecast_for("X").rule_id == "X/s/dose 3"  # type: ignore[union-attr]
    # With one dose only, no skip applies to target dose 2.
    a = run(s, ("2020-02-01", "A"), as_of="2021-05-01")
    assert a.forecast_for("X").forecast_dose_number == 2  # type: ignore[union-attr]


def test_allowable_interval_and_allowable_vaccine() -> None:
    strict = Interval(abs_min=d("8 weeks"), min=d("8 weeks"), rule_id="X/s/dose 2/interval")
    loose = Interval(abs_min=d("4 weeks"), rule_id="X/s/dose 2/allowable interval")
    s = one_antigen(
        dose(1, allowable_vaccines=(VaccineRule("OLD"),)),
        dose(2, intervals=(strict,), allowable_intervals=(loose,)),
        vaccines=("A", "OLD"),
    )
    a = run(s, ("2020-01-01", "OLD"), ("2020-02-05", "A"), as_of="2020-03-01")
    assert [e.status for e in a.evaluations] == ["valid", "valid"]
    a = run(s, ("2020-01-01", "OLD"), ("2020-01-20", "A"), as_of="2020-03-01")
    assert a.evaluations[1].reason == "interval_too_soon"


def test_manufacturer_and_vaccine_contraindication() -> None:
    s = one_antigen(
        dose(
            1,
            preferable_vaccines=(
                VaccineRule("A", mvx="GSK", forecast=True),
                VaccineRule("C", forecast=True),
            ),
        ),
        vaccines=("A", "C"),
        vaccine_contraindications=(VaccineContraindication("ALLERGY-A", ("A",)),),
    )
    p = Patient(DOB, "F", (Dose("d", dt.date(2020, 2, 1), "A", mvx="MSD"),))
    assert assess(s, p, as_of=dt.date(2020, 3, 1)).evaluations[0].status == "not_valid"
    p = Patient(DOB, "F", (Dose("d", dt.date(2020, 2, 1), "A", mvx=None),))
    assert assess(s, p, as_of=dt.date(2020, 3, 1)).evaluations[0].status == "valid"
    fc = run(s, as_of="2020-03-01").forecast_for("X")
    assert fc is not None
    assert fc.vaccines == ("A", "C")
    fc = run(s, as_of="2020-03-01", obs=(Observation("ALLERGY-A"),)).forecast_for("X")
    assert fc is not None
    assert fc.vaccines == ("C",)


def test_immunity_by_birth_date_unless_excluded() -> None:
    s = one_antigen(
        dose(1),
        immunity=Immunity(
            birth_date_before=dt.date(2021, 1, 1), exclusions=("HCW",), rule_id="X/immunity"
        ),
    )
    assert run(s, as_of="2025-01-01").forecast_for("X").status == "immune"  # type: ignore[union-attr]
    fc = run(s, as_of="2025-01-01", obs=(Observation("HCW"),)).forecast_for("X")
    assert fc is not None
    assert fc.status == "not_complete"


def test_skip_when_another_series_group_is_complete() -> None:
    primary = Series(
        name="primary",
        antigen="X",
        vaccine_group="X",
        default=True,
        series_group="1",
        doses=(dose(1),),
        rule_id="X/primary",
    )
    done_elsewhere = ConditionalSkip(
        context="both",
        sets=(
            ConditionSet("1", conditions=(Condition("completed_series", series_groups=("1",)),)),
        ),
        rule_id="X/catch-up/dose 1/skip",
    )
    catch_up = Series(
        name="catch-up",
        antigen="X",
        vaccine_group="X",
        default=True,
        series_group="2",
        doses=(
            SeriesDose(
                number=1,
                ages=(SeriesDoseAge(min=d("5 years"), rule_id="X/catch-up/dose 1/age"),),
                preferable_vaccines=(VaccineRule("A"),),
                skips=(done_elsewhere,),
                rule_id="X/catch-up/dose 1",
            ),
        ),
        rule_id="X/catch-up",
    )
    s = Schedule(
        name="t",
        source="test",
        antigens=(Antigen("X", (primary, catch_up)),),
        vaccine_groups=(VaccineGroup("X", ("X",)),),
        vaccines=(CvxAssociation("A", "X"),),
    )
    none = run(s, as_of="2021-01-01")
    assert [(o.series, o.status) for o in none.series] == [
        ("primary", "not_complete"),
        ("catch-up", "not_complete"),
    ]
    given = run(s, ("2020-06-01", "A"), as_of="2021-01-01")
    statuses = {o.series: o.status for o in given.series}
    # The catch-up dose is skipped because series group 1 is complete: nothing is due.
    assert statuses["catch-up"] == "not_recommended"
    assert given.forecast_for("X").status == "complete"  # type: ignore[union-attr]
