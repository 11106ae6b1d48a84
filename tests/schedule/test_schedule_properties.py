"""Properties of the engine over random child histories on the CDSi schedule."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from immreg.schedule import Assessment, Dose, Patient, Schedule, assess

# Common childhood vaccines (CVX), combination vaccines included.
VACCINES = (
    "08",
    "20",
    "106",
    "110",
    "120",
    "49",
    "17",
    "10",
    "133",
    "215",
    "116",
    "119",
    "03",
    "21",
    "94",
    "83",
    "141",
    "150",
    "62",
    "165",
    "114",
    "115",
    "187",
)
AS_OF = dt.date(2025, 11, 10)


@pytest.fixture(scope="module")
def schedule(cdsi: Schedule) -> Schedule:
    return cdsi


@st.composite
def histories(draw: st.DrawFn) -> tuple[Patient, dt.date]:
    age = draw(st.integers(0, 18 * 365) | st.integers(0, 90 * 365))
    dob = AS_OF - dt.timedelta(days=age)
    n = draw(st.integers(0, 12))
    doses = []
    for i in range(n):
        when = dob + dt.timedelta(days=draw(st.integers(0, age)))
        doses.append(Dose(f"d{i}", when, draw(st.sampled_from(VACCINES))))
    return Patient(dob, draw(st.sampled_from(("F", "M", "U"))), tuple(doses)), AS_OF


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(histories())
def test_forecast_dates_are_ordered(schedule: Schedule, item: tuple[Patient, dt.date]) -> None:
    patient, as_of = item
    for f in assess(schedule, patient, as_of=as_of).forecasts:
        if f.status != "not_complete":
            assert (f.earliest, f.recommended, f.past_due, f.forecast_dose_number) == (
                None,
                None,
                None,
                None,
            )
            continue
        assert f.earliest is not None
        assert f.recommended is not None
        assert f.earliest <= f.recommended
        if f.past_due is not None:
            assert f.earliest <= f.recommended <= f.past_due
        if f.latest is not None:
            assert f.earliest <= f.latest


def _summary(a: Assessment) -> tuple[object, ...]:
    return (
        sorted((e.dose_id, e.antigen, e.status, e.reason, e.rule_id) for e in a.evaluations),
        a.forecasts,
    )


@PROPERTY
@given(histories(), st.randoms(use_true_random=False))
def test_order_of_doses_does_not_matter(
    schedule: Schedule, item: tuple[Patient, dt.date], rnd: object
) -> None:
    patient, as_of = item
    shuffled = list(patient.doses)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    other = Patient(patient.birth_date, patient.sex, tuple(reversed(shuffled)))
    assert _summary(assess(schedule, patient, as_of=as_of)) == _summary(
        assess(schedule, other, as_of=as_of)
    )


GROUP_VACCINE = {"HepB": "08", "Polio": "10", "Hib": "17", "Pneumococcal": "215", "MMR": "03"}


@settings(PROPERTY, suppress_health_check=list(HealthCheck))
@given(histories(), st.sampled_from(sorted(GROUP_VACCINE)))
def test_a_valid_dose_never_lowers_the_dose_number(
    schedule: Schedule, item: tuple[Patient, dt.date], group: str
) -> None:
    patient, as_of = item
    before = assess(schedule, patient, as_of=as_of).forecast_for(group)
    assert before is not None
    assume(before.status == "not_complete" and before.earliest is not None)
    assert before.earliest is not None
    # Give the next dose on its earliest date (or today, if that is later).
    when = max(before.earliest, as_of)
    dose = Dose("new", when, GROUP_VACCINE[group])
    grown = Patient(patient.birth_date, patient.sex, (*patient.doses, dose))
    after_all = assess(schedule, grown, as_of=when)
    status = after_all.group_status("new", group)
    assume(status is not None and status.status == "valid")
    after = after_all.forecast_for(group)
    assert after is not None
    if after.status == "not_complete":
        assert before.forecast_dose_number is not None
        assert after.forecast_dose_number is not None
        assert after.forecast_dose_number >= before.forecast_dose_number


@PROPERTY
@given(histories(), st.sampled_from(VACCINES), st.integers(0, 6 * 365))
def test_the_same_vaccine_twice_in_one_day_counts_once(
    schedule: Schedule, item: tuple[Patient, dt.date], vaccine: str, age: int
) -> None:
    patient, as_of = item
    when = min(patient.birth_date + dt.timedelta(days=age), as_of)
    twice = (Dose("twin-a", when, vaccine), Dose("twin-b", when, vaccine))
    p = Patient(patient.birth_date, patient.sex, (*patient.doses, *twice))
    valid = Counter(
        e.antigen
        for e in assess(schedule, p, as_of=as_of).evaluations
        if e.dose_id.startswith("twin") and e.status == "valid"
    )
    assert all(n <= 1 for n in valid.values()), valid


MINI = Path(__file__).parent / "data" / "mini-epi.json"
MINI_PRODUCTS = {"HepB": ("HB", "PENTA"), "Measles": ("MEAS", "MR"), "Varicella": ("VAR",)}


@PROPERTY
@given(
    st.integers(0, 6 * 365),
    st.sampled_from(sorted(MINI_PRODUCTS)),
    st.lists(st.integers(0, 6 * 365), max_size=6),
    st.data(),
)
def test_two_doses_of_one_antigen_on_one_day_never_both_count(
    age: int, antigen: str, others: list[int], data: st.DataObject
) -> None:
    # On a schedule whose intervals are never zero days (tests/schedule/data/mini-epi.json),
    # whatever the products. (CDSi itself lets two *different* products count on one day
    # where its data allows a zero-day interval: CDC case 2018-0009, ZVL and RZV.)
    from immreg.schedule import load_schedule

    schedule = load_schedule(str(MINI))
    dob = dt.date(2019, 1, 1)
    as_of = dob + dt.timedelta(days=6 * 365)
    products = MINI_PRODUCTS[antigen]
    doses = [
        Dose(f"o{i}", dob + dt.timedelta(days=d), data.draw(st.sampled_from(products)))
        for i, d in enumerate(others)
    ]
    when = dob + dt.timedelta(days=age)
    doses += [
        Dose("twin-a", when, data.draw(st.sampled_from(products))),
        Dose("twin-b", when, data.draw(st.sampled_from(products))),
    ]
    a = assess(schedule, Patient(dob, "F", tuple(doses)), as_of=as_of)
    valid = Counter(
        e.antigen for e in a.evaluations if e.dose_id.startswith("twin") and e.status == "valid"
    )
    assert all(n <= 1 for n in valid.values()), a.evaluations
