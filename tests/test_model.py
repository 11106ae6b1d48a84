"""The domain values validate themselves and name the offending field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immreg.errors import ValidationError
from immreg.model import (
    MAX_NAME_LENGTH,
    AdministeredDose,
    AuditEntry,
    Caregiver,
    DoseSource,
    Lot,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
    normalize_phone,
)
from immreg.testing import strategies as ist

D = dt.date
NOW = dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.UTC)

VALID: dict[type[Any], dict[str, Any]] = {
    Caregiver: {"name": "Nguyễn Thị Hoa", "relationship": "mother", "phone": "0912345678"},
    Residence: {"org_unit_id": "HN-BD", "start": D(2024, 2, 29), "end": D(2025, 7, 1)},
    Subject: {
        "id": "s1",
        "family_name": "Nguyễn",
        "given_name": "Thị Lan",
        "birth_date": D(2024, 2, 29),
        "sex": Sex.FEMALE,
    },
    AdministeredDose: {
        "id": "d1",
        "subject_id": "s1",
        "product_code": "BCG",
        "date": D(2024, 3, 31),
        "facility_id": "HN-BD",
    },
    VaccineProduct: {"code": "BCG", "name": "BCG", "antigens": ("BCG",)},
    Lot: {"product_code": "PENTA", "lot_number": "L001", "expiry": D(2027, 12, 31)},
    ParentLink: {"parent_id": "VN", "start": D(2000, 1, 1)},
    OrgUnit: {"id": "HN", "name": "Hà Nội", "level": OrgLevel.PROVINCE},
    AuditEntry: {
        "entity": "dose",
        "entity_id": "d1",
        "action": "record",
        "at": NOW,
        "by": "nv.lan",
    },
}

INVALID: list[tuple[type[Any], dict[str, Any], str]] = [
    (Caregiver, {"name": ""}, "name"),
    (Caregiver, {"name": "Lan\nHoa"}, "name"),
    (Caregiver, {"relationship": "  "}, "relationship"),
    (Caregiver, {"phone": "12345"}, "phone"),
    (Caregiver, {"phone": "0212 345 678"}, "phone"),
    (Caregiver, {"phone": "không có số"}, "phone"),
    (Caregiver, {"phone": 912345678}, "phone"),
    (Caregiver, {"sms_opt_out": 1}, "sms_opt_out"),
    (Residence, {"org_unit_id": ""}, "org_unit_id"),
    (Residence, {"start": "2024-02-29"}, "start"),
    (Residence, {"end": D(2024, 2, 29)}, "end"),
    (Residence, {"end": D(2024, 2, 28)}, "end"),
    (Subject, {"id": ""}, "id"),
    (Subject, {"id": "-s1"}, "id"),
    (Subject, {"id": "s 1"}, "id"),
    (Subject, {"id": "s" * 65}, "id"),
    (Subject, {"family_name": ""}, "family_name"),
    (Subject, {"family_name": "   "}, "family_name"),
    (Subject, {"given_name": "Thị " + "Lan" * 33}, "given_name"),
    (Subject, {"given_name": "Lan\tAnh"}, "given_name"),
    (Subject, {"birth_date": dt.datetime(2024, 2, 29, 8, 0)}, "birth_date"),
    (Subject, {"birth_date": "2024-02-29"}, "birth_date"),
    (Subject, {"sex": "F"}, "sex"),
    (Subject, {"national_code": ""}, "national_code"),
    (Subject, {"mother_id": "s1"}, "mother_id"),
    (Subject, {"deceased_on": D(2024, 2, 28)}, "deceased_on"),
    (Subject, {"caregivers": ["Nguyễn Thị Hoa"]}, "caregivers[0]"),
    (
        Subject,
        {"residences": [Residence("A", D(2024, 3, 1)), Residence("B", D(2024, 6, 1))]},
        "residences[1]",
    ),
    (
        Subject,
        {
            "residences": [
                Residence("A", D(2024, 3, 1), D(2024, 7, 1)),
                Residence("B", D(2024, 6, 1)),
            ]
        },
        "residences[1]",
    ),
    (
        Subject,
        {"residences": [Residence("A", D(2020, 1, 1), D(2024, 2, 29))]},
        "residences[0].end",
    ),
    (AdministeredDose, {"id": "d/1"}, "id"),
    (AdministeredDose, {"subject_id": ""}, "subject_id"),
    (AdministeredDose, {"product_code": None}, "product_code"),
    (AdministeredDose, {"facility_id": "x" * 65}, "facility_id"),
    (AdministeredDose, {"date": "2024-03-31"}, "date"),
    (AdministeredDose, {"lot_number": "L" * 21}, "lot_number"),
    (AdministeredDose, {"lot_number": "L 001"}, "lot_number"),
    (AdministeredDose, {"lot_number": "Lô1"}, "lot_number"),
    (AdministeredDose, {"source": "import"}, "source"),
    (AdministeredDose, {"recorded_by": ""}, "recorded_by"),
    (AdministeredDose, {"version": 0}, "version"),
    (AdministeredDose, {"version": True}, "version"),
    (AdministeredDose, {"version": 1.0}, "version"),
    (AdministeredDose, {"voided": "yes"}, "voided"),
    (AdministeredDose, {"void_reason": "nhầm"}, "void_reason"),
    (AdministeredDose, {"voided": True, "void_reason": ""}, "void_reason"),
    (VaccineProduct, {"code": ""}, "code"),
    (VaccineProduct, {"name": ""}, "name"),
    (VaccineProduct, {"antigens": ()}, "antigens"),
    (VaccineProduct, {"antigens": ("BCG", 1)}, "antigens[1]"),
    (VaccineProduct, {"antigens": "BCG"}, "antigens"),
    (VaccineProduct, {"cvx": "1234"}, "cvx"),
    (VaccineProduct, {"cvx": "A1"}, "cvx"),
    (VaccineProduct, {"cvx": 19}, "cvx"),
    (VaccineProduct, {"gtins": ("0890123456781", "123")}, "gtins[1]"),
    (VaccineProduct, {"gtins": ("08901234567897",)}, "gtins[0]"),  # check digit is 0
    (VaccineProduct, {"doses_per_vial": 0}, "doses_per_vial"),
    (VaccineProduct, {"open_vial_rule": "keep_28_days"}, "open_vial_rule"),
    (VaccineProduct, {"manufacturer": ""}, "manufacturer"),
    (VaccineProduct, {"live": None}, "live"),
    (Lot, {"lot_number": ""}, "lot_number"),
    (Lot, {"product_code": ""}, "product_code"),
    (Lot, {"expiry": None}, "expiry"),
    (ParentLink, {"parent_id": ""}, "parent_id"),
    (ParentLink, {"end": D(2000, 1, 1)}, "end"),
    (OrgUnit, {"id": ""}, "id"),
    (OrgUnit, {"level": "province"}, "level"),
    (OrgUnit, {"parents": [ParentLink("HN", D(2000, 1, 1))]}, "parents"),
    (
        OrgUnit,
        {"parents": [ParentLink("VN", D(2000, 1, 1)), ParentLink("MB", D(2010, 1, 1))]},
        "parents[1]",
    ),
    (OrgUnit, {"opened": None}, "opened"),
    (AuditEntry, {"at": dt.datetime(2026, 3, 15, 9, 0)}, "at"),
    (AuditEntry, {"entity_id": ""}, "entity_id"),
    (AuditEntry, {"by": ""}, "by"),
]


@pytest.mark.parametrize("cls", list(VALID))
def test_the_valid_examples_are_valid(cls: type[Any]) -> None:
    value = cls(**VALID[cls])
    assert attrs.asdict(value, recurse=False).keys() >= VALID[cls].keys()


@pytest.mark.parametrize(
    ("cls", "change", "field"),
    INVALID,
    ids=[f"{c.__name__}-{f}-{i}" for i, (c, _, f) in enumerate(INVALID)],
)
def test_an_invalid_field_names_itself(cls: type[Any], change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        cls(**{**VALID[cls], **change})
    assert info.value.field == field
    assert info.value.message
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


def test_every_model_class_has_invalid_cases() -> None:
    assert {c for c, _, _ in INVALID} == set(VALID)


@given(ist.vietnamese_mobile_numbers())
def test_vietnamese_mobile_numbers_normalize_to_e164(raw: str) -> None:
    e164 = normalize_phone(raw)
    assert e164.startswith("+84")
    assert len(e164) == 12
    assert normalize_phone(e164) == e164
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))
    assert Caregiver("Lê Thị Mai", phone=raw).phone == e164


@pytest.mark.parametrize(
    "raw", ["0912345678", "0912 345 678", "091.234.5678", "+84912345678", "+84 91 234 56 78"]
)
def test_the_ways_people_write_a_number(raw: str) -> None:
    assert normalize_phone(raw) == "+84912345678"


def test_normalize_phone_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_phone("", field="caregivers[0].phone")
    assert info.value.field == "caregivers[0].phone"
    with pytest.raises(ValidationError) as info:
        normalize_phone("+84 12", field="p")
    assert info.value.field == "p"


def test_a_number_of_another_region() -> None:
    assert normalize_phone("+1 650 253 0000") == "+16502530000"
    assert normalize_phone("(650) 253-0000", region="US") == "+16502530000"


@settings(deadline=None)
@given(ist.subjects())
def test_generated_subjects_keep_their_residences_in_order(subject: Subject) -> None:
    starts = [r.start for r in subject.residences]
    assert starts == sorted(starts)
    for r in subject.residences:
        assert r.covers(r.start)
        assert r.end is None or not r.covers(r.end)
    assert subject.full_name == f"{subject.family_name} {subject.given_name}"


def test_residences_are_sorted_whatever_the_order_given() -> None:
    early = Residence("A", D(2024, 2, 29), D(2024, 12, 31))
    late = Residence("B", D(2024, 12, 31))
    s = Subject("s1", "Trần", "Văn An", D(2024, 2, 29), Sex.MALE, residences=[late, early])
    assert s.residences == (early, late)
    assert s.residence_on(D(2024, 12, 30)) == "A"
    assert s.residence_on(D(2024, 12, 31)) == "B"
    assert s.residence_on(D(2024, 2, 28)) is None


def test_parent_links_are_effective_dated() -> None:
    unit = OrgUnit(
        "X",
        "Xã Tân Phú",
        OrgLevel.COMMUNE,
        parents=[
            ParentLink("OLD", D(2000, 1, 1), D(2025, 7, 1)),
            ParentLink("NEW", D(2025, 7, 1)),
        ],
    )
    assert unit.parent_on(D(2025, 6, 30)) == "OLD"
    assert unit.parent_on(D(2025, 7, 1)) == "NEW"
    assert unit.parent_on(D(1999, 12, 31)) is None


@settings(deadline=None)
@given(ist.administered_doses())
def test_same_content_ignores_version_and_void_state(dose: AdministeredDose) -> None:
    bumped = attrs.evolve(dose, version=dose.version + 1, voided=True, void_reason="nhầm")
    assert dose.same_content(bumped)
    assert not dose.same_content(attrs.evolve(dose, date=dose.date + dt.timedelta(days=1)))
    other = DoseSource.IMPORT if dose.source is not DoseSource.IMPORT else DoseSource.POINT_OF_CARE
    assert not dose.same_content(attrs.evolve(dose, source=other))


@given(st.sampled_from([Caregiver, Subject, AdministeredDose, VaccineProduct, OrgUnit]))
def test_values_are_frozen(cls: type[Any]) -> None:
    value = cls(**VALID[cls])
    name = attrs.fields(cls)[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(value, name, "x")


def test_longest_name_is_accepted() -> None:
    name = "Đ" * MAX_NAME_LENGTH
    assert Subject("s1", name, name, D(2024, 2, 29), Sex.UNKNOWN).family_name == name


@given(ist.dates())
def test_dates_strategy_stays_in_range(day: dt.date) -> None:
    assert D(1920, 1, 1) <= day <= D(2035, 12, 31)


def test_dates_strategy_reaches_the_edges() -> None:
    from hypothesis import find

    assert find(ist.dates(), lambda d: d.month == 2 and d.day == 29).day == 29
    assert find(ist.dates(), lambda d: d.day == 31).day == 31


@given(ist.gtins())
def test_gtins_have_a_correct_check_digit(gtin: str) -> None:
    body, check = gtin[:-1], int(gtin[-1])
    weights = [3 if i % 2 == 0 else 1 for i in range(len(body))]
    total = sum(int(c) * w for c, w in zip(reversed(body), weights, strict=True))
    assert (total + check) % 10 == 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ist.registry_worlds())
def test_registry_worlds_are_consistent(world: ist.RegistryWorld) -> None:
    units = {u.id for u in world.org_units}
    products = {p.code for p in world.products}
    people = {s.id: s for s in world.subjects}
    assert len(units) == len(world.org_units)
    assert len(people) == len(world.subjects)
    codes = [s.national_code for s in world.subjects if s.national_code is not None]
    assert len(codes) == len(set(codes))
    seen: set[str] = set()
    for u in world.org_units:
        assert all(p.parent_id in seen for p in u.parents)
        seen.add(u.id)
    registered: set[str] = set()
    for s in world.subjects:
        assert s.birth_date <= world.as_of
        assert all(r.org_unit_id in units and r.start >= s.birth_date for r in s.residences)
        if s.mother_id is not None:
            assert s.mother_id in registered
            assert people[s.mother_id].birth_date < s.birth_date
        registered.add(s.id)
    lots = {(lot.product_code, lot.lot_number): lot for lot in world.lots}
    assert len({d.id for d in world.doses}) == len(world.doses)
    for d in world.doses:
        s = people[d.subject_id]
        assert d.product_code in products
        assert d.facility_id in units
        assert s.birth_date <= d.date <= world.as_of
        assert s.deceased_on is None or d.date <= s.deceased_on
        if d.lot_number is not None:
            assert lots[(d.product_code, d.lot_number)].expiry >= d.date
