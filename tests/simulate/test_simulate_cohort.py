"""The vectorised cohort simulation: reproducible, checked against the exact engine."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from immreg.errors import ValidationError
from immreg.schedule import load_schedule
from immreg.schedule.dates import add, parse_duration
from immreg.simulate import (
    VIETNAM,
    BehaviourModel,
    DoseBehaviour,
    check_against_engine,
    move_vaccine,
    plan_for,
    simulate_cohort,
)
from immreg.simulate.plan import add_duration, day_number, from_day_number

START = dt.date(2027, 1, 1)


def test_array_date_arithmetic_is_the_engines() -> None:
    rnd = random.Random(4)
    days = [day_number(dt.date(1990, 1, 1)) + rnd.randint(0, 60_000) for _ in range(3_000)]
    days += [day_number(dt.date(2024, 1, 31)), day_number(dt.date(2023, 12, 31))]
    for text in ("1 month", "2 months + 28 days", "6 months - 28 days", "1 year", "7 days"):
        d = parse_duration(text)
        got = add_duration(np.array(days, dtype=np.int64), d).tolist()
        assert got == [day_number(add(from_day_number(x), d)) for x in days], text


def test_the_plan_is_read_from_the_schedule() -> None:
    schedule = load_schedule("vn-epi")
    plan = plan_for(schedule)
    penta = plan.event("PENTA-COMBE5:1")
    assert {a for a, _ in penta.members} == {"HepB", "Diphtheria", "Pertussis", "Tetanus", "Hib"}
    assert ("HepB", 2) in penta.members  # the birth dose is HepB dose 1
    mr = plan.event("MR-MRVAC:1")
    moved = plan_for(move_vaccine(schedule, "MR-MRVAC", "15 months")).event("MR-MRVAC:1")
    assert moved.nominal_days < mr.nominal_days
    # Nothing past the horizon: Td at 7 years is not in a 24-month plan.
    assert all(e.nominal_days <= 731 for e in plan.events)
    assert "TD:1" not in {e.key for e in plan.events}
    assert "TD:1" in {e.key for e in plan_for(schedule, horizon_months=96).events}


def _early_behaviour() -> BehaviourModel:
    # Many early doses, so that doses too young or too soon occur and must be judged.
    model = VIETNAM
    for key in ("PENTA-COMBE5", "BOPV", "MEASLES-MVVAC", "MR-MRVAC", "ROTA-ROTAVIN", "DTP"):
        model = model.with_dose(key, early=0.25, early_days=10)
    return model


@pytest.mark.parametrize("moved", [False, True])
def test_coverage_at_every_age_matches_the_engine(moved: bool) -> None:
    schedule = load_schedule("vn-epi")
    if moved:
        schedule = move_vaccine(schedule, "MR-MRVAC", "12 months")
    result = simulate_cohort(
        schedule, births=1_500, start=START, seed=11, behaviour=_early_behaviour()
    )
    # The early doses made some doses invalid: the check below is not trivially true.
    given = sum(int(np.count_nonzero(result.given[f"PENTA-COMBE5:{n}"] >= 0)) for n in (1, 2, 3))
    valid = sum(int(np.count_nonzero(result.valid[("Diphtheria", n)] >= 0)) for n in (1, 2, 3))
    assert valid < given - 50
    check = check_against_engine(result, schedule, sample=700, seed=3)
    assert check.children == 700
    assert check.mismatched_children == 0
    assert check.max_difference_pp == 0.0
    assert len(check.rows) == len(result.subset(np.arange(10)).coverage())


def test_the_same_seed_gives_the_same_cohort_and_another_seed_another() -> None:
    a = simulate_cohort("vn-epi", births=3_000, start=START, seed=5)
    b = simulate_cohort("vn-epi", births=3_000, start=START, seed=5)
    c = simulate_cohort("vn-epi", births=3_000, start=START, seed=6)
    assert np.array_equal(a.birth, b.birth)
    assert all(np.array_equal(a.given[k], b.given[k]) for k in a.given)
    assert a.coverage() == b.coverage()
    assert a.summary() == b.summary()
    assert not np.array_equal(a.given["BCG:1"], c.given["BCG:1"])


def test_scenarios_share_their_children_and_change_what_they_change() -> None:
    base = simulate_cohort("vn-epi", births=20_000, start=START, seed=2)
    more = simulate_cohort(
        "vn-epi",
        births=20_000,
        start=START,
        seed=2,
        behaviour=VIETNAM.with_extra_dropout("PENTA-COMBE5", 0.10, doses=3),
        scenario="+10% DTP1-3 dropout",
    )
    assert np.array_equal(base.given["BCG:1"], more.given["BCG:1"])

    def dropout(result: object) -> float:
        rows = result.summary()  # type: ignore[attr-defined]
        (value,) = [
            r["value"]
            for r in rows
            if r["metric"] == "dropout_pct" and r["key"] == "Diphtheria 1-3"
        ]
        return float(value)

    assert 8.0 < dropout(more) - dropout(base) < 12.0

    moved = simulate_cohort(
        move_vaccine(load_schedule("vn-epi"), "MR-MRVAC", "15 months"),
        births=20_000,
        start=START,
        seed=2,
        scenario="MR at 15 months",
    )

    def rubella(result: object, months: int) -> float:
        rows = result.coverage([months])  # type: ignore[attr-defined]
        (value,) = [r["coverage_pct"] for r in rows if r["antigen"] == "Rubella"]
        return float(value)

    assert rubella(base, 16) < 5.0 < 40.0 < rubella(moved, 16)


def test_coverage_rows_are_counts_over_the_living() -> None:
    result = simulate_cohort("vn-epi", births=5_000, start=START, seed=9)
    rows = result.coverage([0, 12, 24])
    assert {r["age_months"] for r in rows} == {0, 12, 24}
    for r in rows:
        assert 0 <= r["vaccinated"] <= r["alive"] <= 5_000
        assert r["coverage_pct"] == round(100 * r["vaccinated"] / r["alive"], 3)
    alive = {r["age_months"]: r["alive"] for r in rows}
    assert alive[24] < alive[0]  # some children died (1.6% by default)
    dtp3 = [r for r in rows if r["vaccine_group"].startswith("Bạch hầu") and r["antigen"] == "*"]
    assert [r["dose"] for r in dtp3 if r["age_months"] == 12] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"births": -1}, "births"),
        ({"births": 1.5}, "births"),
        ({"seed": -3}, "seed"),
        ({"horizon_months": 0}, "horizon_months"),
        ({"schedule": "no-such-pack"}, "schedule"),
        ({"start": dt.datetime(2027, 1, 1)}, "start"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"schedule": "vn-epi", "births": 10, "start": START, "seed": 1}
    args.update(kwargs)
    with pytest.raises(ValidationError) as e:
        simulate_cohort(**args)  # type: ignore[arg-type]
    assert e.value.field == field


def test_bad_probabilities_name_the_field() -> None:
    with pytest.raises(ValidationError) as e:
        DoseBehaviour(1.2)
    assert e.value.field == "uptake"
    with pytest.raises(ValidationError) as e:
        VIETNAM.with_dose("BCG", on_time=-0.1)
    assert e.value.field == "doses['BCG'].on_time"
    with pytest.raises(ValidationError) as e:
        BehaviourModel(infant_mortality=float("nan"))
    assert e.value.field == "infant_mortality"
    with pytest.raises(ValidationError) as e:
        VIETNAM.with_extra_dropout("PENTA-COMBE5", 0.99, doses=3)
    assert e.value.field == "extra"


def test_a_schedule_with_rules_the_fast_path_does_not_simulate_is_refused() -> None:
    import attrs

    from immreg.schedule.rules import LiveVirusConflict

    schedule = load_schedule("vn-epi")
    conflict = LiveVirusConflict("MR-MRVAC", "JE-JEVAX", *(parse_duration("0 days"),) * 3)
    with pytest.raises(ValidationError) as e:
        plan_for(attrs.evolve(schedule, conflicts=(conflict,)))
    assert e.value.field == "schedule"


def test_months_until_is_the_first_age_that_reaches_the_day() -> None:
    from immreg.simulate.plan import months_until

    starts, days = [], []
    for month in range(1, 13):
        for dom in (1, 28, 29, 30, 31):
            try:
                born = dt.date(2028, month, dom)  # a leap year, so 29 February is there
            except ValueError:
                continue
            for offset in range(0, 800, 3):
                starts.append(day_number(born))
                days.append(day_number(born) + offset)
    start, day = np.array(starts), np.array(days)
    reached = np.stack([add_duration(start, parse_duration(f"{m} months")) for m in range(28)])
    assert months_until(start, day).tolist() == (reached < day).sum(axis=0).tolist()


def test_coverage_counts_follow_their_definition() -> None:
    result = simulate_cohort("vn-epi", births=4_000, start=dt.date(2027, 1, 31), seed=8)
    months = [0, 1, 2, 3, 6, 12, 13, 18, 24]
    rows = result.coverage(months)
    assert [(r["vaccinated"], r["alive"]) for r in rows] == result._coverage_by_masks(months)


@pytest.mark.parametrize("pack", ["vn-epi-2018", "vn-epi-2024", "vn-epi-2026"])
def test_each_circulars_pack_matches_the_engine(pack: str) -> None:
    schedule = load_schedule(pack)
    result = simulate_cohort(
        schedule, births=600, start=START, seed=4, behaviour=_early_behaviour()
    )
    check = check_against_engine(result, schedule, sample=300)
    assert check.mismatched_children == 0
    assert check.max_difference_pp == 0.0


def test_a_vaccine_that_counts_for_antigens_planned_otherwise_is_refused() -> None:
    # In the WHO baseline the first preferable vaccine of HepB dose 2 is DTP-HepB-Hib
    # while DTP is planned as DTP: the fast path would miss what the engine counts.
    with pytest.raises(ValidationError) as e:
        plan_for(load_schedule("who"))
    assert e.value.field == "schedule"
    assert "'102' planned for HepB also counts for Diphtheria" in e.value.message
