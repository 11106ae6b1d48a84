"""Service logic on the memory backend: checks, bulk loading, clocks, the org tree on a day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from immreg.backends.memory import MemoryBackend
from immreg.errors import ConflictError, ValidationError
from immreg.model import AdministeredDose, Lot, OrgLevel, OrgUnit, ParentLink, Subject
from immreg.services import (
    LOCAL_TZ,
    FixedClock,
    RecordOutcome,
    Registry,
    SystemClock,
    bulk_load,
    correct_dose,
    record_dose,
    register_subject,
    validate_dose,
)
from immreg.testing import strategies as ist
from immreg.testing.conformance import AS_OF, NOW, SEED, dose, subject

Record = tuple[Subject, Sequence[AdministeredDose]]


@pytest.fixture
def backend() -> MemoryBackend:
    """A memory backend holding the contracts' seed world and one subject, ``s1``."""
    b = MemoryBackend()
    SEED.store(b)
    with b.unit_of_work() as uow:
        uow.subjects.add(subject("s1"))
        uow.commit()
    return b


def _fields(e: ValidationError) -> list[str]:
    return [f.field for f in e.errors]


def _counts(b: MemoryBackend) -> tuple[int, int]:
    with b.unit_of_work() as uow:
        return uow.subjects.count(), uow.doses.count()


# --- validate_dose ------------------------------------------------------------------------


def test_validate_dose_returns_the_subject(backend: MemoryBackend) -> None:
    with backend.unit_of_work() as uow:
        assert validate_dose(uow, dose("d1", "s1"), as_of=AS_OF) == subject("s1")


def test_validate_dose_lists_every_problem(backend: MemoryBackend) -> None:
    bad = dose("d1", "s1", product="NOPE", facility="NOWHERE", day=dt.date(2024, 2, 28))
    with backend.unit_of_work() as uow, pytest.raises(ValidationError) as info:
        validate_dose(uow, bad, as_of=AS_OF)
    assert _fields(info.value) == ["product_code", "facility_id", "date"]
    assert "2024-02-29" in info.value.errors[2].message


def test_dose_dates_on_the_edges(backend: MemoryBackend) -> None:
    born = subject("s1").birth_date
    with backend.unit_of_work() as uow:
        validate_dose(uow, dose("d1", "s1", day=born), as_of=AS_OF)
        validate_dose(uow, dose("d1", "s1", day=AS_OF), as_of=AS_OF)
        for day in (born - dt.timedelta(days=1), AS_OF + dt.timedelta(days=1)):
            with pytest.raises(ValidationError) as info:
                validate_dose(uow, dose("d1", "s1", day=day), as_of=AS_OF)
            assert _fields(info.value) == ["date"]


def test_a_dose_after_death_is_refused(backend: MemoryBackend) -> None:
    died = attrs.evolve(subject("s2"), deceased_on=dt.date(2024, 6, 30))
    with backend.unit_of_work() as uow:
        uow.subjects.add(died)
        validate_dose(uow, dose("d1", "s2", day=dt.date(2024, 6, 30)), as_of=AS_OF)
        with pytest.raises(ValidationError) as info:
            validate_dose(uow, dose("d1", "s2", day=dt.date(2024, 7, 1)), as_of=AS_OF)
        assert _fields(info.value) == ["date"]


def test_lot_expiry_is_checked_only_for_known_lots(backend: MemoryBackend) -> None:
    with backend.unit_of_work() as uow:
        uow.lots.add(Lot("BCG", "B-1", dt.date(2024, 3, 31)))
        validate_dose(uow, dose("d1", "s1", lot="B-1", day=dt.date(2024, 3, 31)), as_of=AS_OF)
        validate_dose(uow, dose("d1", "s1", lot="UNKNOWN", day=AS_OF), as_of=AS_OF)
        with pytest.raises(ValidationError) as info:
            validate_dose(uow, dose("d1", "s1", lot="B-1", day=dt.date(2024, 4, 1)), as_of=AS_OF)
        assert _fields(info.value) == ["lot_number"]


def test_record_dose_wants_a_fresh_dose(backend: MemoryBackend) -> None:
    for stale in (
        attrs.evolve(dose("d1", "s1"), version=2),
        attrs.evolve(dose("d1", "s1"), voided=True),
    ):
        with backend.unit_of_work() as uow, pytest.raises(ValidationError) as info:
            record_dose(uow, stale, as_of=AS_OF, at=NOW, by="x")
        assert _fields(info.value) == ["version"]
    assert _counts(backend) == (1, 0)


def test_use_cases_combine_in_one_unit_of_work(backend: MemoryBackend) -> None:
    with backend.unit_of_work() as uow:
        register_subject(uow, subject("s2"), as_of=AS_OF, at=NOW, by="x")
        result = record_dose(uow, dose("d1", "s2"), as_of=AS_OF, at=NOW, by="x")
        assert result.outcome is RecordOutcome.RECORDED
        again = record_dose(uow, dose("d1", "s2"), as_of=AS_OF, at=NOW, by="x")
        assert again.outcome is RecordOutcome.ALREADY_RECORDED
        # Nothing is committed by the use cases themselves.
    assert _counts(backend) == (1, 0)


def test_correct_dose_needs_a_reason_and_the_same_subject(backend: MemoryBackend) -> None:
    with backend.unit_of_work() as uow:
        uow.subjects.add(subject("s2"))
        record_dose(uow, dose("d1", "s1"), as_of=AS_OF, at=NOW, by="x")
        with pytest.raises(ValidationError) as info:
            correct_dose(
                uow, dose("d1", "s1"), expected_version=1, reason=" ", as_of=AS_OF, at=NOW, by="x"
            )
        assert _fields(info.value) == ["reason"]
        with pytest.raises(ConflictError):
            correct_dose(
                uow, dose("d1", "s2"), expected_version=1, reason="r", as_of=AS_OF, at=NOW, by="x"
            )


def test_register_subject_checks(backend: MemoryBackend) -> None:
    mother = subject("m", born=dt.date(2024, 3, 1))
    child = attrs.evolve(subject("c", born=dt.date(2024, 3, 1)), mother_id="m")
    with backend.unit_of_work() as uow:
        register_subject(uow, mother, as_of=AS_OF, at=NOW, by="x")
        with pytest.raises(ValidationError) as info:
            register_subject(uow, child, as_of=AS_OF, at=NOW, by="x")
        assert _fields(info.value) == ["mother_id"]
        late = attrs.evolve(
            subject("late"), birth_date=AS_OF + dt.timedelta(days=1), residences=()
        )
        with pytest.raises(ValidationError) as info:
            register_subject(uow, late, as_of=AS_OF, at=NOW, by="x")
        assert _fields(info.value) == ["birth_date"]


# --- the org tree on a day ----------------------------------------------------------------


def test_subjects_in_follow_a_commune_that_moved_province() -> None:
    backend = MemoryBackend()
    SEED.store(backend)
    moved = OrgUnit(
        "X-1",
        "Xã Tân Phú",
        OrgLevel.COMMUNE,
        parents=(
            ParentLink("HN", dt.date(2000, 1, 1), dt.date(2025, 7, 1)),
            ParentLink("HCM", dt.date(2025, 7, 1)),
        ),
    )
    reg = Registry(backend, clock=FixedClock(NOW))
    reg.add_org_units([moved])
    reg.register_subject(subject("s1", unit="X-1"))
    assert [s.id for s in reg.subjects_in("HN", on=dt.date(2025, 6, 30))] == ["s1"]
    assert reg.subjects_in("HCM", on=dt.date(2025, 6, 30)) == []
    assert [s.id for s in reg.subjects_in("HCM", on=dt.date(2025, 7, 1))] == ["s1"]
    assert [s.id for s in reg.subjects_in("HCM")] == ["s1"]  # the clock's today


# --- bulk loading -------------------------------------------------------------------------


def _records(n: int, *, doses_each: int = 1) -> list[Record]:
    return [
        (
            subject(f"p{i}"),
            [dose(f"p{i}-{k}", f"p{i}", day=dt.date(2024, 3 + k, 1)) for k in range(doses_each)],
        )
        for i in range(n)
    ]


def test_bulk_load_cuts_batches_by_rows(backend: MemoryBackend) -> None:
    # Each record is 1 subject + 2 doses = 3 rows; batches close at 6 rows or more.
    report = bulk_load(backend, _records(5, doses_each=2), load_id="L", as_of=AS_OF, batch_size=6)
    assert (report.batches_loaded, report.batches_skipped) == (3, 0)
    assert (report.subjects, report.doses) == (5, 10)
    assert backend.loaded_batches("L") == {0, 1, 2}
    assert _counts(backend) == (6, 10)


def test_bulk_load_reports_every_problem_by_record_path(backend: MemoryBackend) -> None:
    records = _records(3)
    records[1] = (
        attrs.evolve(subject("p1"), birth_date=AS_OF + dt.timedelta(days=1), residences=()),
        [],
    )
    records[2] = (
        attrs.evolve(
            subject("p2"),
            residences=(attrs.evolve(subject("p2").residences[0], org_unit_id="NOWHERE"),),
        ),
        [
            dose("p2-0", "p1"),
            dose("p2-1", "p2", product="NOPE", facility="NOWHERE", day=dt.date(2024, 1, 1)),
            dose("p2-2", "p2", day=AS_OF + dt.timedelta(days=1)),
        ],
    )
    with pytest.raises(ValidationError) as info:
        bulk_load(backend, records, load_id="L", as_of=AS_OF)
    assert _fields(info.value) == [
        "records[1].subject.birth_date",
        "records[2].subject.residences[0].org_unit_id",
        "records[2].doses[0].subject_id",
        "records[2].doses[1].product_code",
        "records[2].doses[1].facility_id",
        "records[2].doses[1].date",
        "records[2].doses[2].date",
    ]
    assert _counts(backend) == (1, 0)
    assert backend.loaded_batches("L") == set()


def test_bulk_load_checks_what_registration_and_recording_check(backend: MemoryBackend) -> None:
    born = subject("p0").birth_date
    records = _records(3)
    records[0] = (
        attrs.evolve(subject("p0"), deceased_on=born),
        [dose("p0-0", "p0", day=born + dt.timedelta(days=1))],
    )
    records[1] = (
        attrs.evolve(
            subject("p1"),
            mother_id="nobody",
            residences=(
                attrs.evolve(subject("p1").residences[0], start=born - dt.timedelta(days=1)),
            ),
        ),
        [attrs.evolve(dose("p1-0", "p1"), version=2)],
    )
    # A mother in the same batch is known.
    records[2] = (attrs.evolve(subject("p2"), mother_id="s1"), [])
    with pytest.raises(ValidationError) as info:
        bulk_load(backend, records, load_id="L", as_of=AS_OF)
    assert _fields(info.value) == [
        "records[0].doses[0].date",
        "records[1].subject.mother_id",
        "records[1].subject.residences[0].start",
        "records[1].doses[0].version",
    ]
    assert _counts(backend) == (1, 0)


def test_void_and_correct_reasons_are_checked_as_reason(backend: MemoryBackend) -> None:
    reg = Registry(backend, clock=FixedClock(NOW))
    reg.record_dose(dose("d1", "s1"))
    for bad in ["", "   ", "x" * 101, "bad\nreason"]:
        with pytest.raises(ValidationError) as info:
            reg.void_dose("d1", expected_version=1, reason=bad)
        assert _fields(info.value) == ["reason"]
        with pytest.raises(ValidationError) as info:
            reg.correct_dose(dose("d1", "s1"), expected_version=1, reason=bad)
        assert _fields(info.value) == ["reason"]
    long_reason = "y" * 100
    assert reg.void_dose("d1", expected_version=1, reason=long_reason).void_reason == long_reason


def test_bulk_load_resumes_where_it_stopped(backend: MemoryBackend) -> None:
    good = _records(6)
    bad = list(good)
    bad[3] = (good[3][0], [dose("p3-0", "p3", product="NOPE")])
    with pytest.raises(ValidationError):
        bulk_load(backend, bad, load_id="L", as_of=AS_OF, batch_size=2)
    assert backend.loaded_batches("L") == {0, 1, 2}
    report = bulk_load(backend, good, load_id="L", as_of=AS_OF, batch_size=2)
    assert (report.batches_skipped, report.batches_loaded, report.subjects) == (3, 3, 3)
    assert _counts(backend) == (7, 6)
    with backend.unit_of_work() as uow:
        assert uow.doses.get("p3-0").product_code == "BCG"


def test_bulk_load_conflicts_with_rows_outside_the_load(backend: MemoryBackend) -> None:
    records = [*_records(2), (subject("s1"), [])]
    with pytest.raises(ConflictError):
        bulk_load(backend, records, load_id="L", as_of=AS_OF, batch_size=100)
    assert _counts(backend) == (1, 0)


def test_bulk_load_batch_size_must_be_positive(backend: MemoryBackend) -> None:
    with pytest.raises(ValidationError) as info:
        bulk_load(backend, _records(1), load_id="L", as_of=AS_OF, batch_size=0)
    assert _fields(info.value) == ["batch_size"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ist.registry_worlds())
def test_bulk_load_of_a_world_equals_recording_it(world: ist.RegistryWorld) -> None:
    def fresh() -> MemoryBackend:
        b = MemoryBackend()
        with b.unit_of_work() as uow:
            for u in world.org_units:
                uow.org_units.add(u)
            for p in world.products:
                uow.catalogue.add_product(p)
            for lot in world.lots:
                uow.lots.add(lot)
            uow.commit()
        return b

    bulk, one_by_one = fresh(), fresh()
    records = [(s, world.doses_of(s.id)) for s in world.subjects]
    report = bulk_load(bulk, records, load_id="w", as_of=world.as_of, batch_size=3)
    assert report.subjects == len(world.subjects)
    assert report.doses == len(world.doses)
    clock = FixedClock(dt.datetime.combine(world.as_of, dt.time(10), tzinfo=LOCAL_TZ))
    reg = Registry(one_by_one, clock=clock)
    for s in world.subjects:
        reg.register_subject(s)
    for d in world.doses:
        reg.record_dose(d)
    for s in world.subjects:
        assert Registry(bulk).history(s.id) == reg.history(s.id)


# --- clocks -------------------------------------------------------------------------------


def test_fixed_clock() -> None:
    at = dt.datetime(2024, 2, 29, 23, 30, tzinfo=LOCAL_TZ)
    clock = FixedClock(at)
    assert clock.now() == at
    assert clock.today() == dt.date(2024, 2, 29)
    with pytest.raises(ValidationError) as info:
        FixedClock(dt.datetime(2024, 2, 29, 23, 30))
    assert info.value.field == "at"


def test_fixed_clock_today_is_the_date_where_the_instant_was_given() -> None:
    # 23:30 on 29 Feb in Hà Nội is 16:30 UTC: the same day; 01:00 on 1 Mar is 29 Feb UTC.
    early = dt.datetime(2024, 3, 1, 1, 0, tzinfo=LOCAL_TZ)
    assert FixedClock(early).today() == dt.date(2024, 3, 1)
    assert FixedClock(early.astimezone(dt.UTC)).today() == dt.date(2024, 2, 29)


def test_system_clock_is_aware_and_local() -> None:
    before = dt.datetime.now(LOCAL_TZ).date()
    clock = SystemClock()
    now = clock.now()
    today = clock.today()
    after = dt.datetime.now(LOCAL_TZ).date()
    assert now.tzinfo is not None
    assert now.utcoffset() == dt.timedelta(hours=7)
    assert before <= today <= after
    assert SystemClock(tz=ZoneInfo("UTC")).now().utcoffset() == dt.timedelta(0)


def test_registry_uses_its_clock_for_as_of_and_audit() -> None:
    backend = MemoryBackend()
    SEED.store(backend)
    reg = Registry(backend, clock=FixedClock(NOW), user="nv.lan")
    reg.register_subject(subject("s1"))
    with pytest.raises(ValidationError):
        reg.record_dose(dose("d1", "s1", day=NOW.date() + dt.timedelta(days=1)))
    reg.record_dose(dose("d1", "s1", day=NOW.date()))
    [entry] = reg.audit_trail("dose", "d1")
    assert (entry.at, entry.by, entry.action) == (NOW, "nv.lan", "record")
