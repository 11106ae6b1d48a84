"""CDSi date arithmetic (CDSi 4.6 §3.4, CALCDT-1 to CALCDT-6)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from immreg.errors import ValidationError
from immreg.schedule.dates import Duration, add, add_months, parse_date, parse_duration

D = dt.date


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # The examples of table 3-6.
        (D(2000, 1, 1), "3 years", D(2003, 1, 1)),
        (D(2000, 1, 1), "6 months", D(2000, 7, 1)),
        (D(2000, 11, 1), "6 months", D(2001, 5, 1)),
        (D(2000, 1, 1), "3 days", D(2000, 1, 4)),
        (D(2000, 1, 1), "3 weeks", D(2000, 1, 22)),
        (D(2000, 2, 1), "5 weeks", D(2000, 3, 7)),
        (D(2001, 2, 1), "5 weeks", D(2001, 3, 8)),
        (D(2000, 1, 15), "0 days - 4 days", D(2000, 1, 11)),
        (D(2000, 3, 31), "6 months", D(2000, 10, 1)),
        (D(2000, 8, 31), "6 months", D(2001, 3, 1)),
        (D(2000, 1, 31), "6 months - 4 days", D(2000, 7, 27)),
        # 31st of the month into shorter months.
        (D(2023, 1, 31), "1 month", D(2023, 3, 1)),
        (D(2024, 1, 31), "1 month", D(2024, 3, 1)),
        (D(2023, 5, 31), "1 month", D(2023, 7, 1)),
        (D(2023, 12, 31), "2 months", D(2024, 3, 1)),
        # 29 February and leap years.
        (D(2024, 2, 29), "1 year", D(2025, 3, 1)),
        (D(2024, 2, 29), "4 years", D(2028, 2, 29)),
        (D(2023, 1, 29), "1 month", D(2023, 3, 1)),
        (D(2024, 1, 29), "1 month", D(2024, 2, 29)),
        (D(2024, 2, 29), "12 months - 4 days", D(2025, 2, 25)),
        # The grace period and mixed terms.
        (D(2025, 1, 1), "6 weeks - 4 days", D(2025, 2, 8)),
        (D(2024, 2, 1), "13 months - 4 days", D(2025, 2, 25)),
        (D(2020, 1, 1), "7 years + 4 weeks", D(2027, 1, 29)),
        (D(2020, 1, 1), "0 days", D(2020, 1, 1)),
        (D(2020, 1, 1), "1 year - 6 months", D(2020, 7, 1)),
    ],
)
def test_add_follows_calcdt(start: dt.date, duration: str, expected: dt.date) -> None:
    assert add(start, parse_duration(duration)) == expected


def test_13_months_minus_4_days_from_31_january() -> None:
    # 2024-01-31 + 1 year = 2025-01-31, + 1 month = 2025-02-31 -> 2025-03-01, - 4 days.
    assert add(D(2024, 1, 31), parse_duration("13 months - 4 days")) == D(2025, 2, 25)


@pytest.mark.parametrize(
    ("text", "years", "months", "days"),
    [
        ("6 weeks - 4 days", 0, 0, 38),
        ("13 months - 4 days", 0, 13, -4),
        ("7 years + 4 weeks", 7, 0, 28),
        ("0 days", 0, 0, 0),
        ("1 year", 1, 0, 0),
        ("1 day", 0, 0, 1),
        ("  24 months   -   4 days ", 0, 24, -4),
        ("16 years - 4 months", 16, -4, 0),
    ],
)
def test_parse_duration(text: str, years: int, months: int, days: int) -> None:
    d = parse_duration(text)
    assert (d.years, d.months, d.days) == (years, months, days)
    assert d.text == " ".join(text.split())


@pytest.mark.parametrize(
    "text", ["", "6", "six weeks", "6 wekks", "6 weeks 4 days", "+", "4 days -"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_duration(text, field="ages[0].min")
    assert info.value.field == "ages[0].min"


def test_duration_equality_ignores_wording() -> None:
    assert parse_duration("4 weeks") == parse_duration("28 days")
    assert str(parse_duration("4 weeks")) == "4 weeks"
    assert str(Duration(1, 2, -4)) == "1 years + 2 months - 4 days"


@pytest.mark.parametrize("text", ["2025-11-10", "20251110", "11/10/2025"])
def test_parse_date_forms(text: str) -> None:
    assert parse_date(text) == D(2025, 11, 10)


@pytest.mark.parametrize("text", ["2025-02-30", "10/11", "tomorrow", ""])
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_date(text)


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31)),
    st.integers(0, 30),
    st.integers(0, 40),
    st.integers(0, 400),
)
def test_add_is_monotone_and_days_last(start: dt.date, y: int, m: int, days: int) -> None:
    base = add(start, Duration(y, m, 0))
    assert base >= start
    # Days are added last (CALCDT-6), whatever their sign.
    assert add(start, Duration(y, m, days)) == base + dt.timedelta(days=days)
    assert add(start, Duration(y, m, -days)) == base - dt.timedelta(days=days)
    # A non-existent date moves forward to the first of the next month (CALCDT-5).
    if base.day != start.day:
        assert base.day == 1


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31)),
    st.lists(st.integers(-40, 400), max_size=6),
)
def test_add_months_is_add_for_each_count(start: dt.date, counts: list[int]) -> None:
    # The age tables' one-pass month step gives what add() gives for each count.
    assert add_months(start, counts) == [add(start, Duration(0, m, 0)) for m in counts]


def test_add_months_from_the_31st() -> None:
    # 31 January + 1 month: 31 February does not exist, so 1 March (CALCDT-5); leap years.
    assert add_months(D(2023, 1, 31), [1, 13, 0]) == [D(2023, 3, 1), D(2024, 3, 1), D(2023, 1, 31)]
    assert add_months(D(2024, 1, 29), [1, 13]) == [D(2024, 2, 29), D(2025, 3, 1)]
