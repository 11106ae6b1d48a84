"""The edge converter: every model type round-trips, and every problem names its field path."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immreg.errors import ValidationError
from immreg.model import (
    AdministeredDose,
    AuditEntry,
    Caregiver,
    DoseSource,
    Lot,
    OrgUnit,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
)
from immreg.serialization import dumps, loads, parse_date, structure, unstructure
from immreg.testing.strategies import model_strategies

STRATEGIES = model_strategies()

SUBJECT: dict[str, Any] = {
    "id": "s1",
    "family_name": "Nguyễn",
    "given_name": "Thị Lan",
    "birth_date": "2024-02-29",
    "sex": "F",
}


def _fields(e: ValidationError) -> list[str]:
    return [f.field for f in e.errors]


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda c: c.__name__)
def test_round_trip_of_every_model_type(cls: type[Any]) -> None:
    @settings(max_examples=50, deadline=None)
    @given(STRATEGIES[cls])
    def check(value: Any) -> None:
        assert structure(unstructure(value), cls) == value
        assert loads(dumps(value), cls) == value
        # The JSON is plain data: a second trip changes nothing.
        assert dumps(loads(dumps(value), cls)) == dumps(value)

    check()


def test_model_strategies_cover_every_model_class() -> None:
    import immreg.model as model

    classes = {
        getattr(model, n)
        for n in model.__all__
        if isinstance(getattr(model, n), type) and n != "MAX_NAME_LENGTH"
    }
    assert classes == set(STRATEGIES)


@settings(deadline=None)
@given(st.sampled_from(list(STRATEGIES)).flatmap(lambda c: STRATEGIES[c]))
def test_dumps_is_stable_json_with_sorted_keys_and_real_letters(value: Any) -> None:
    text = dumps(value)
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def test_vietnamese_text_stays_readable() -> None:
    text = dumps(structure(SUBJECT, Subject))
    assert "Nguyễn" in text
    assert "Thị Lan" in text
    assert '"birth_date":"2024-02-29"' in text


def test_dates_and_enums_by_value() -> None:
    dose = AdministeredDose(
        "d1", "s1", "BCG", dt.date(2024, 2, 29), "HN", source=DoseSource.IMPORT
    )
    data = unstructure(dose)
    assert data["date"] == "2024-02-29"
    assert data["source"] == "import"
    at = dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    entry = AuditEntry("dose", "d1", "record", at, "nv.lan")
    assert unstructure(entry)["at"] == "2026-03-15T09:00:00+07:00"


@pytest.mark.parametrize(
    ("data", "cls", "paths"),
    [
        (
            {**SUBJECT, "caregivers": [{"name": "Lê Thị Mai", "phone": "12"}]},
            Subject,
            ["caregivers[0].phone"],
        ),
        (
            {
                **SUBJECT,
                "caregivers": [
                    {"name": "Lê Thị Mai", "phone": "0912345678"},
                    {"name": "", "phone": "0912345678"},
                ],
                "residences": [{"org_unit_id": "HN", "start": "2024-02-30"}],
            },
            Subject,
            ["caregivers[1].name", "residences[0].start"],
        ),
        (
            {
                **SUBJECT,
                "residences": [
                    {"org_unit_id": "HN", "start": "2024-02-29"},
                    {"org_unit_id": "HN", "start": "2024-02-30"},
                ],
            },
            Subject,
            ["residences[1].start"],
        ),
        ({**SUBJECT, "birth_date": "2023-02-29"}, Subject, ["birth_date"]),
        ({**SUBJECT, "birth_date": "2024-04-31"}, Subject, ["birth_date"]),
        ({**SUBJECT, "birth_date": "29/02/2024"}, Subject, ["birth_date"]),
        ({**SUBJECT, "birth_date": "2024-2-29"}, Subject, ["birth_date"]),
        ({**SUBJECT, "birth_date": 20240229}, Subject, ["birth_date"]),
        ({**SUBJECT, "sex": "X"}, Subject, ["sex"]),
        ({**SUBJECT, "id": 7}, Subject, ["id"]),
        ({**SUBJECT, "family_name": ""}, Subject, ["family_name"]),
        ({**SUBJECT, "given_name": "x" * 101}, Subject, ["given_name"]),
        ({**SUBJECT, "nickname": "Bé"}, Subject, ["nickname"]),
        ({k: v for k, v in SUBJECT.items() if k != "birth_date"}, Subject, ["birth_date"]),
        # Every field of the wrong form is reported at once; the class's own rules (such
        # as a non-empty name) run once the forms are right.
        (
            {**SUBJECT, "birth_date": "2024-13-01", "sex": "?", "id": 1, "family_name": ""},
            Subject,
            ["birth_date", "id", "sex"],
        ),
        ({"name": "Lê Thị Mai", "sms_opt_out": "yes"}, Caregiver, ["sms_opt_out"]),
        ({"org_unit_id": "HN", "start": "2024-03-01", "end": "2024-03-01"}, Residence, ["end"]),
        (
            {"code": "P", "name": "P", "antigens": ["Hib"], "gtins": ["12345670", "1"]},
            VaccineProduct,
            ["gtins[1]"],
        ),
        (
            {"code": "P", "name": "P", "antigens": [], "doses_per_vial": 10},
            VaccineProduct,
            ["antigens"],
        ),
        (
            {"code": "P", "name": "P", "antigens": ["x"], "doses_per_vial": 1.5},
            VaccineProduct,
            ["doses_per_vial"],
        ),
        ({"product_code": "P", "lot_number": "L 1", "expiry": "2027-01-31"}, Lot, ["lot_number"]),
        (
            {
                "id": "X",
                "name": "Xã",
                "level": "commune",
                "parents": [{"parent_id": "A", "start": "2000-01-01", "end": "1999-01-01"}],
            },
            OrgUnit,
            ["parents[0].end"],
        ),
        (
            {
                "entity": "dose",
                "entity_id": "d1",
                "action": "record",
                "at": "2026-03-15T09:00:00",
                "by": "x",
            },
            AuditEntry,
            ["at"],
        ),
        ("not an object", Subject, ["$"]),
    ],
)
def test_errors_name_the_path_of_every_bad_field(
    data: Any, cls: type[Any], paths: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        structure(data, cls)
    assert sorted(_fields(info.value)) == sorted(paths)
    assert all(f.message for f in info.value.errors)


def test_dose_field_errors() -> None:
    data = {
        "id": "d1",
        "subject_id": "s1",
        "product_code": "BCG",
        "date": "2024-03-31",
        "facility_id": "HN",
        "version": True,
    }
    with pytest.raises(ValidationError) as info:
        structure(data, AdministeredDose)
    assert _fields(info.value) == ["version"]
    with pytest.raises(ValidationError) as info:
        structure({**data, "version": 1, "source": "fax"}, AdministeredDose)
    assert _fields(info.value) == ["source"]


def test_field_prefix_for_records_inside_a_larger_input() -> None:
    with pytest.raises(ValidationError) as info:
        structure({**SUBJECT, "birth_date": "2024-02-30"}, Subject, field="records[3].subject")
    assert _fields(info.value) == ["records[3].subject.birth_date"]
    with pytest.raises(ValidationError) as info:
        structure([], Subject, field="records[3].subject")
    assert _fields(info.value) == ["records[3].subject"]


def test_missing_and_unknown_fields_are_explained() -> None:
    with pytest.raises(ValidationError) as info:
        structure({"id": "s1", "extra": 1}, Subject)
    by_field = {f.field: f.message for f in info.value.errors}
    assert by_field["extra"] == "is not a known field"
    assert {"family_name", "given_name", "birth_date", "sex"} <= set(by_field)
    assert all(by_field[f] == "is required" for f in ("family_name", "birth_date"))


def test_loads_reports_bad_json() -> None:
    with pytest.raises(ValidationError) as info:
        loads('{"id": "s1",', Subject)
    assert _fields(info.value) == ["$"]
    assert "JSON" in info.value.message


def test_a_phone_number_is_kept_in_e164() -> None:
    c = structure({"name": "Lê Thị Mai", "phone": "091 234 5678"}, Caregiver)
    assert c.phone == "+84912345678"
    assert unstructure(c)["phone"] == "+84912345678"


@pytest.mark.parametrize("text", ["2024-02-30", "2023-02-29", "2024-00-10", "24-02-29", "", None])
def test_parse_date_names_the_field(text: Any) -> None:
    with pytest.raises(ValidationError) as info:
        parse_date(text, field="doses[2].date")
    assert _fields(info.value) == ["doses[2].date"]


@given(st.dates())
def test_parse_date_reads_iso_dates(day: dt.date) -> None:
    if day.year >= 1000:
        assert parse_date(day.isoformat()) == day
    assert parse_date(day) == day


def test_parse_date_refuses_a_datetime() -> None:
    with pytest.raises(ValidationError):
        parse_date(dt.datetime(2024, 2, 29, 0, 0))


def test_sex_enum_round_trips() -> None:
    for sex in Sex:
        assert structure(unstructure(sex), Sex) is sex
