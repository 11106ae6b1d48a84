"""The synthetic country: its tree, its people, and loading it through the bulk path."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from immreg.errors import ValidationError
from immreg.model import DoseSource, OrgLevel
from immreg.ports import Backend
from immreg.schedule import load_schedule
from immreg.schedule.catalogue import PRODUCTS
from immreg.simulate import load_country, synthetic_country

AS_OF = dt.date(2027, 9, 1)
START = dt.date(2026, 3, 1)


def _levels(country: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for u in country.org_units:  # type: ignore[attr-defined]
        out[u.level.value] = out.get(u.level.value, 0) + 1
    return out


def test_the_default_tree_is_vietnam_after_2025_and_before_it_on_request() -> None:
    after = synthetic_country(seed=1, births=0)
    assert _levels(after) == {"nation": 1, "province": 34, "commune": 3_321}
    before = synthetic_country(seed=1, births=0, layout="2024")
    levels = _levels(before)
    assert levels["province"] == 63
    assert levels["commune"] == 10_600
    assert 650 <= levels["district"] <= 760
    commune = next(u for u in before.org_units if u.level is OrgLevel.COMMUNE)
    assert commune.parent_on(dt.date(2024, 1, 1)).startswith("D")  # type: ignore[union-attr]
    assert commune.parent_on(dt.date(2025, 7, 1)) is None  # districts were abolished


def test_people_are_vietnamese_reachable_and_reproducible() -> None:
    schedule = load_schedule("vn-epi")
    country = synthetic_country(seed=7, births=2_000, start=START, scale=0.01)
    records = list(country.records(schedule, as_of=AS_OF))
    again = list(
        synthetic_country(seed=7, births=2_000, start=START, scale=0.01).records(
            schedule, as_of=AS_OF
        )
    )
    assert records == again
    subjects = [s for s, _ in records]
    doses = [d for _, ds in records for d in ds]
    accents = re.compile("[^\x00-\x7f]")
    assert sum(bool(accents.search(s.full_name)) for s in subjects) > 0.5 * len(subjects)
    phones = [c.phone for s in subjects for c in s.caregivers if c.phone]
    assert len(phones) > 0.9 * len(subjects)
    assert all(re.fullmatch(r"\+84[35789]\d{8}", p) for p in phones)
    assert any(len(s.residences) == 2 for s in subjects)  # moves
    assert any(s.deceased_on is not None for s in subjects)
    twins = [s for s in subjects if s.id.endswith("-dup")]
    assert twins
    assert all(not re.search("[^\x00-\x7f]", s.family_name) for s in twins)
    sources = {d.source for d in doses}
    assert sources == {DoseSource.POINT_OF_CARE, DoseSource.HISTORICAL_CARD}
    codes = {p.code for p in PRODUCTS}
    assert {d.product_code for d in doses} <= codes
    lots = {(lot.product_code, lot.lot_number) for lot in country.lots(schedule)}
    assert {(d.product_code, d.lot_number) for d in doses} <= lots
    for s, ds in records:
        for d in ds:
            assert s.birth_date <= d.date <= AS_OF
            assert s.deceased_on is None or d.date <= s.deceased_on
            assert s.residence_on(d.date) == d.facility_id


def test_bad_country_parameters_name_the_field() -> None:
    for kwargs, field in (
        ({"births": -5}, "births"),
        ({"scale": 0}, "scale"),
        ({"layout": "1999"}, "layout"),
        ({"seed": -1}, "seed"),
    ):
        args: dict[str, object] = {"seed": 1, **kwargs}
        with pytest.raises(ValidationError) as e:
            synthetic_country(**args)  # type: ignore[arg-type]
        assert e.value.field == field


def test_a_small_country_loads_through_the_bulk_path(backend: Backend) -> None:
    schedule = load_schedule("vn-epi")
    country = synthetic_country(seed=3, births=150, start=START, scale=0.003)
    expected = list(country.records(schedule, as_of=AS_OF))
    report = load_country(backend, country, schedule, as_of=AS_OF, batch_size=500)
    assert report.subjects == len(expected)
    assert report.doses == sum(len(ds) for _, ds in expected)
    again = load_country(backend, country, schedule, as_of=AS_OF, batch_size=500)
    assert again.doses == 0
    assert again.batches_skipped == report.batches_loaded
    with backend.unit_of_work() as uow:
        subject, doses = expected[0]
        assert uow.subjects.get(subject.id) == subject
        assert {d.id for d in uow.doses.list_for_subject(subject.id)} == {d.id for d in doses}


def test_supply_covers_every_dose_given_with_its_wastage() -> None:
    from immreg.simulate.country import supply, wastage_rate

    schedule = load_schedule("vn-epi")
    country = synthetic_country(seed=5, births=800, start=START, scale=0.005)
    doses = [d for _, ds in country.records(schedule, as_of=AS_OF) for d in ds]
    lines = supply(country, schedule, doses)
    assert sum(line.administered for line in lines) == len(doses)
    by_code = {p.code: p for p in PRODUCTS}
    for line in lines:
        item = by_code[line.product_code]
        assert line.wastage_rate == wastage_rate(item)
        assert line.supplied == line.vials * item.doses_per_vial
        # Enough for what was given, plus wastage, and not a vial more.
        assert line.supplied * (1 - line.wastage_rate) >= line.administered
        assert (line.supplied - item.doses_per_vial) * (1 - line.wastage_rate) < line.administered
    assert wastage_rate(by_code["BCG"]) == 0.5  # 20-dose vials, discarded after 6 hours
    assert wastage_rate(by_code["PENTA-COMBE5"]) == 0.05  # single-dose vials
