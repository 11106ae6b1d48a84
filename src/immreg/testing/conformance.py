"""The backend contract as pytest classes: subclass them to prove a backend keeps its promises.

Every promise written in :mod:`immreg.ports` has a test here, and immreg's own backends
(memory, SQLite, PostgreSQL) run exactly these tests. A backend from another package proves
itself the same way: subclass the contracts in a test module and provide a ``backend``
fixture that yields an open, empty :class:`~immreg.ports.Backend`::

    import pytest
    from immreg.testing.conformance import BackendContract

    class TestMyStore(BackendContract):
        persistent = True
        supports_concurrent_units_of_work = True

        @pytest.fixture
        def backend(self, tmp_path):
            b = open_my_store(tmp_path / "store")
            b.create_schema()
            yield b
            b.close()

The classes are named ``*Contract`` so that pytest does not collect them until they are
subclassed as ``Test*``. What a backend cannot do by its nature is said with capability
flags (class attributes, see :class:`ContractBase`) rather than by skipping tests by name:
a flag that is off skips the tests that need it, and says so.

The contracts store a small fixed world (:class:`Seed`): a two-province org tree, two
vaccine products and a lot; tests that use hypothesis give each example ids of its own, so
one backend serves every example of a test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immreg.errors import (
    ConflictError,
    NotFoundError,
    ScopeError,
    ValidationError,
)
from immreg.model import (
    AdministeredDose,
    AuditEntry,
    Caregiver,
    Lot,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
)
from immreg.ports import Backend, BulkBatch, Clock, Message, MessageGateway, UnitOfWork
from immreg.serialization import structure
from immreg.services import FixedClock, RecordOutcome, Registry, bulk_load
from immreg.testing import strategies as ist

__all__ = [
    "AS_OF",
    "NOW",
    "SEED",
    "AuditRepositoryContract",
    "BackendContract",
    "BulkLoadContract",
    "CatalogueRepositoryContract",
    "ClockContract",
    "ContractBase",
    "DoseRepositoryContract",
    "LotRepositoryContract",
    "MessageGatewayContract",
    "OrgUnitRepositoryContract",
    "RoundTripContract",
    "ScopingContract",
    "Seed",
    "ServicesContract",
    "SubjectRepositoryContract",
    "UnitOfWorkContract",
    "dose",
    "entry",
    "namespaced",
    "subject",
]

T = TypeVar("T")

#: The date the contracts' registry is judged by.
AS_OF = dt.date(2026, 3, 15)
#: The instant the contracts' clock reads (09:00 in Hà Nội on :data:`AS_OF`).
NOW = dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
_SINCE = dt.date(2000, 1, 1)


def _unit(uid: str, name: str, level: OrgLevel, parent: str | None) -> OrgUnit:
    links = (ParentLink(parent, _SINCE),) if parent is not None else ()
    return OrgUnit(uid, name, level, parents=links, opened=_SINCE)


@attrs.frozen
class Seed:
    """The small fixed world every contract test starts from.

    Attributes:
        org_units: ``VN`` (nation) with provinces ``HN`` and ``HCM``, communes ``HN-BD``
            (under ``HN``) and ``HCM-Q1`` (under ``HCM``), and the site ``HN-BD-S1`` (under
            ``HN-BD``), listed parents first.
        products: ``BCG`` and ``PENTA``.
        lots: Lot ``L001`` of ``PENTA``, expiring 2027-12-31, and lot ``OLD1`` of
            ``PENTA``, expired on 2020-01-31.
    """

    org_units: tuple[OrgUnit, ...] = (
        _unit("VN", "Việt Nam", OrgLevel.NATION, None),
        _unit("HN", "Hà Nội", OrgLevel.PROVINCE, "VN"),
        _unit("HCM", "Thành phố Hồ Chí Minh", OrgLevel.PROVINCE, "VN"),
        _unit("HN-BD", "Phường Ba Đình", OrgLevel.COMMUNE, "HN"),
        _unit("HCM-Q1", "Phường Bến Nghé", OrgLevel.COMMUNE, "HCM"),
        _unit("HN-BD-S1", "Trạm Y tế phường Ba Đình", OrgLevel.SITE, "HN-BD"),
    )
    products: tuple[VaccineProduct, ...] = (
        VaccineProduct("BCG", "BCG", ("BCG",), cvx="19", doses_per_vial=20, live=True),
        VaccineProduct(
            "PENTA",
            "DPT-VGB-Hib (ComBE Five)",
            ("Diphtheria", "Tetanus", "Pertussis", "HepB", "Hib"),
            cvx="102",
            gtins=("08901234567890",),
        ),
    )
    lots: tuple[Lot, ...] = (
        Lot("PENTA", "L001", dt.date(2027, 12, 31), manufacturer="Biological E"),
        Lot("PENTA", "OLD1", dt.date(2020, 1, 31)),
    )

    def store(self, backend: Backend) -> None:
        """Store the world in ``backend`` (storing it again changes nothing)."""
        _store_reference(backend, self.org_units, self.products, self.lots)


def _store_reference(
    backend: Backend,
    org_units: Iterable[OrgUnit],
    products: Iterable[VaccineProduct],
    lots: Iterable[Lot],
) -> None:
    """Add org units, then products, then lots in one committed unit of work."""
    with backend.unit_of_work() as uow:
        for u in org_units:
            uow.org_units.add(u)
        for p in products:
            uow.catalogue.add_product(p)
        for lot in lots:
            uow.lots.add(lot)
        uow.commit()


SEED = Seed()


def subject(
    subject_id: str,
    *,
    unit: str = "HN-BD",
    born: dt.date = dt.date(2024, 2, 29),
    code: str | None = None,
    family_name: str = "Nguyễn",
    given_name: str = "Thị Lan",
) -> Subject:
    """A subject living in ``unit`` since birth (a helper for contract tests)."""
    return Subject(
        id=subject_id,
        family_name=family_name,
        given_name=given_name,
        birth_date=born,
        sex=Sex.FEMALE,
        national_code=code,
        residences=(Residence(unit, born),),
    )


def dose(
    dose_id: str,
    subject_id: str,
    *,
    day: dt.date = dt.date(2024, 3, 31),
    product: str = "BCG",
    facility: str = "HN-BD-S1",
    lot: str | None = None,
) -> AdministeredDose:
    """A fresh dose (version 1, not voided) (a helper for contract tests)."""
    return AdministeredDose(
        id=dose_id,
        subject_id=subject_id,
        product_code=product,
        date=day,
        facility_id=facility,
        lot_number=lot,
    )


def entry(entity_id: str, action: str = "record", *, minute: int = 0) -> AuditEntry:
    """An audit entry about a dose (a helper for contract tests)."""
    return AuditEntry(
        entity="dose",
        entity_id=entity_id,
        action=action,
        at=NOW + dt.timedelta(minutes=minute),
        by="nv.lan",
        reason=None,
        after=f'{{"id":"{entity_id}"}}',
    )


class ContractBase:
    """Capability flags and helpers shared by every contract.

    Set a flag to ``False`` in your subclass when your backend, by its nature, cannot do
    the thing; the tests that need it are then skipped with the flag named.

    Attributes:
        persistent: Committed data outlives the backend object: a second backend opened on
            ``backend.url`` (with :func:`immreg.open_backend`) sees it.
        supports_concurrent_units_of_work: Two units of work can be open at once, each
            isolated from the other's uncommitted writes (not so for one shared connection).
        supports_concurrent_writers: Two open units of work may both write the same record;
            the one that commits second gets a :class:`~immreg.errors.ConflictError`
            (rather than waiting for a lock the first holds).
        supports_scoping: Units of work opened with ``scope=`` enforce it.
        supports_bulk: ``load_batch`` and ``loaded_batches`` are implemented.
        hypothesis_max_examples: Examples per hypothesis-driven contract test.
    """

    persistent: ClassVar[bool] = True
    supports_concurrent_units_of_work: ClassVar[bool] = True
    supports_concurrent_writers: ClassVar[bool] = True
    supports_scoping: ClassVar[bool] = True
    supports_bulk: ClassVar[bool] = True
    hypothesis_max_examples: ClassVar[int] = 15

    def require(self, flag: str) -> None:
        """Skip the running test unless capability ``flag`` is on."""
        if not getattr(self, flag):
            pytest.skip(f"{type(self).__name__}.{flag} is False")

    def seed(self, backend: Backend) -> None:
        """Store :data:`SEED` in the backend."""
        SEED.store(backend)

    def add_subjects(self, backend: Backend, *subjects: Subject) -> None:
        """Store subjects in one committed unit of work."""
        with backend.unit_of_work() as uow:
            for s in subjects:
                uow.subjects.add(s)
            uow.commit()

    def add_doses(self, backend: Backend, *doses: AdministeredDose) -> None:
        """Store doses in one committed unit of work."""
        with backend.unit_of_work() as uow:
            for d in doses:
                uow.doses.add(d)
            uow.commit()

    def attempt(
        self, backend: Backend, change: Callable[[UnitOfWork], object], *, scope: str | None = None
    ) -> None:
        """Make ``change`` in a fresh unit of work and commit it (for changes that must fail)."""
        with backend.unit_of_work(scope=scope) as uow:
            change(uow)
            uow.commit()

    def read(
        self, backend: Backend, fn: Callable[[UnitOfWork], T], *, scope: str | None = None
    ) -> T:
        """Run ``fn`` in a fresh unit of work (rolled back) and return its result."""
        with backend.unit_of_work(scope=scope) as uow:
            return fn(uow)

    def registry(self, backend: Backend, *, scope: str | None = None) -> Registry:
        """A :class:`~immreg.services.Registry` whose clock reads :data:`NOW`."""
        return Registry(backend, clock=FixedClock(NOW), user="nv.lan", scope=scope)

    def check_examples(self, strategy: st.SearchStrategy[T], check: Callable[[T], None]) -> None:
        """Run ``check`` on ``hypothesis_max_examples`` values drawn from ``strategy``.

        The backend fixture is shared by the examples, so ``check`` must not depend on
        what earlier examples stored (give each example ids of its own).
        """

        @settings(
            max_examples=self.hypothesis_max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def run(value: T) -> None:
            check(value)

        run()


def _fields(e: ValidationError) -> set[str]:
    return {f.field for f in e.errors}


def _counts(backend: Backend) -> tuple[int, int]:
    with backend.unit_of_work() as uow:
        return uow.subjects.count(), uow.doses.count()


def _registration(change: dict[str, Any]) -> dict[str, Any]:
    """The registration form of subject ``s2`` (a boy born 2024-02-29) with ``change``."""
    return {
        "id": "s2",
        "family_name": "Lê",
        "given_name": "Văn Tám",
        "birth_date": "2024-02-29",
        "sex": "M",
        **change,
    }


# --- units of work --------------------------------------------------------------------------


class UnitOfWorkContract(ContractBase):
    """:class:`~immreg.ports.UnitOfWork`: atomic, isolated, rolled back unless committed."""

    def test_is_a_unit_of_work(self, backend: Backend) -> None:
        uow = backend.unit_of_work()
        assert isinstance(uow, UnitOfWork)
        with uow as entered:
            assert entered is uow
            assert uow.scope is None
        assert isinstance(backend.url, str)

    def test_nothing_is_kept_without_commit(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            uow.subjects.add(subject("s1"))
            assert uow.subjects.find("s1") == subject("s1")
        assert self.read(backend, lambda u: u.subjects.find("s1")) is None
        assert _counts(backend) == (0, 0)

    def test_commit_keeps_changes(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            uow.subjects.add(subject("s1"))
            uow.doses.add(dose("d1", "s1"))
            uow.audit.append(entry("d1"))
            uow.commit()
        assert self.read(backend, lambda u: u.subjects.get("s1")) == subject("s1")
        assert self.read(backend, lambda u: u.doses.get("d1")) == dose("d1", "s1")
        assert self.read(backend, lambda u: u.audit.list_for("dose", "d1")) == [entry("d1")]

    def test_exception_rolls_back_and_propagates(self, backend: Backend) -> None:
        self.seed(backend)

        class Boom(Exception):
            pass

        def work() -> None:
            with backend.unit_of_work() as uow:
                uow.subjects.add(subject("s1"))
                uow.doses.add(dose("d1", "s1"))
                uow.audit.append(entry("d1"))
                raise Boom

        with pytest.raises(Boom):
            work()
        assert _counts(backend) == (0, 0)
        assert self.read(backend, lambda u: u.audit.list_for("dose", "d1")) == []

    def test_exception_after_commit_keeps_only_the_committed_part(self, backend: Backend) -> None:
        self.seed(backend)

        def work() -> None:
            with backend.unit_of_work() as uow:
                uow.subjects.add(subject("s1"))
                uow.commit()
                uow.subjects.add(subject("s2"))
                raise RuntimeError("after the commit")

        with pytest.raises(RuntimeError):
            work()
        assert self.read(backend, lambda u: u.subjects.find("s1")) == subject("s1")
        assert self.read(backend, lambda u: u.subjects.find("s2")) is None

    def test_usable_again_after_commit(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            uow.subjects.add(subject("s1"))
            uow.commit()
            assert uow.subjects.get("s1") == subject("s1")
            uow.subjects.add(subject("s2"))
            uow.commit()
            uow.subjects.add(subject("s3"))
        with backend.unit_of_work() as uow:
            ids = [uow.subjects.find(i) for i in ("s1", "s2", "s3")]
        assert ids == [subject("s1"), subject("s2"), None]

    def test_rollback_discards_only_what_followed_the_last_commit(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            uow.subjects.add(subject("s1"))
            uow.commit()
            uow.subjects.add(subject("s2"))
            uow.rollback()
            assert uow.subjects.find("s1") == subject("s1")
            assert uow.subjects.find("s2") is None
            uow.subjects.add(subject("s3"))
            uow.commit()
        assert self.read(backend, lambda u: u.subjects.count()) == 2
        assert self.read(backend, lambda u: u.subjects.find("s2")) is None

    def test_rolled_back_unit_of_work_leaves_no_trace(self, backend: Backend) -> None:
        self.seed(backend)
        unit = _unit("HN-NEW", "Xã mới", OrgLevel.COMMUNE, "HN")
        product = VaccineProduct("MR", "Sởi - Rubella", ("Measles", "Rubella"))
        lot = Lot("MR", "MR-1", dt.date(2027, 1, 31))
        with backend.unit_of_work() as uow:
            uow.org_units.add(unit)
            uow.catalogue.add_product(product)
            uow.lots.add(lot)
            uow.subjects.add(subject("s1", code="VN-001", unit="HN-NEW"))
            uow.doses.add(dose("d1", "s1", product="MR", lot="MR-1"))
            uow.audit.append(entry("d1"))
            uow.rollback()
        assert _counts(backend) == (0, 0)
        with backend.unit_of_work() as uow:
            assert uow.org_units.find("HN-NEW") is None
            assert uow.catalogue.find_product("MR") is None
            assert uow.lots.find("MR", "MR-1") is None
            assert uow.subjects.find_by_code("VN-001") is None
            assert uow.audit.list_for("dose", "d1") == []
        # The same ids and national code are free again, with other content.
        other_unit = attrs.evolve(unit, name="Xã khác")
        with backend.unit_of_work() as uow:
            uow.org_units.add(other_unit)
            uow.catalogue.add_product(attrs.evolve(product, name="MR (khác)"))
            uow.lots.add(attrs.evolve(lot, expiry=dt.date(2028, 2, 29)))
            uow.subjects.add(subject("s1", code="VN-001", unit="HN-NEW", given_name="Văn An"))
            uow.doses.add(dose("d1", "s1", product="MR", day=dt.date(2024, 4, 1)))
            uow.commit()
        assert self.read(backend, lambda u: u.org_units.get("HN-NEW")) == other_unit
        assert self.read(backend, lambda u: u.doses.get("d1")).date == dt.date(2024, 4, 1)

    def test_own_uncommitted_writes_are_visible_inside(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            uow.subjects.add(subject("s1", code="C1"))
            uow.doses.add(dose("d1", "s1"))
            assert uow.subjects.get("s1") == subject("s1", code="C1")
            assert uow.subjects.find_by_code("C1") == subject("s1", code="C1")
            assert uow.subjects.count() == 1
            assert uow.doses.list_for_subject("s1") == [dose("d1", "s1")]
            assert uow.doses.count() == 1

    def test_uncommitted_changes_are_invisible_to_another_unit_of_work(
        self, backend: Backend
    ) -> None:
        self.require("supports_concurrent_units_of_work")
        self.seed(backend)
        self.add_subjects(backend, subject("s0"))
        with backend.unit_of_work() as writer:
            writer.subjects.add(subject("s1"))
            writer.doses.add(dose("d1", "s0"))
            with backend.unit_of_work() as reader:
                assert reader.subjects.find("s1") is None
                assert reader.doses.find("d1") is None
                assert reader.doses.list_for_subject("s0") == []
                assert reader.subjects.count() == 1
            writer.commit()
        assert self.read(backend, lambda u: u.doses.get("d1")) == dose("d1", "s0")

    def test_concurrent_replace_of_the_same_dose_conflicts(self, backend: Backend) -> None:
        self.require("supports_concurrent_units_of_work")
        self.require("supports_concurrent_writers")
        self.seed(backend)
        self.add_subjects(backend, subject("s1"))
        self.add_doses(backend, dose("d1", "s1"))
        first = attrs.evolve(dose("d1", "s1"), version=2, date=dt.date(2024, 4, 1))
        second = attrs.evolve(dose("d1", "s1"), version=2, date=dt.date(2024, 4, 2))
        with backend.unit_of_work() as a, backend.unit_of_work() as b:
            assert a.doses.get("d1").version == 1
            assert b.doses.get("d1").version == 1
            a.doses.replace(first, expected_version=1)
            a.commit()

            def write_second() -> None:
                b.subjects.add(subject("s-b"))
                b.doses.replace(second, expected_version=1)
                b.commit()

            with pytest.raises(ConflictError):
                write_second()
        assert self.read(backend, lambda u: u.doses.get("d1")) == first
        # Nothing of the losing unit of work was kept.
        assert self.read(backend, lambda u: u.subjects.find("s-b")) is None

    def test_committed_data_is_seen_by_a_backend_opened_on_the_same_url(
        self, backend: Backend
    ) -> None:
        self.require("persistent")
        from immreg.backends import open_backend

        self.seed(backend)
        self.add_subjects(backend, subject("s1", family_name="Đặng", given_name="Thị Ỷ"))
        other = open_backend(backend.url, create_schema=False)
        try:
            with other.unit_of_work() as uow:
                assert uow.subjects.get("s1") == subject(
                    "s1", family_name="Đặng", given_name="Thị Ỷ"
                )
                assert uow.org_units.get("HN-BD-S1") == SEED.org_units[-1]
        finally:
            other.close()


# --- repositories ---------------------------------------------------------------------------


class SubjectRepositoryContract(ContractBase):
    """:class:`~immreg.ports.SubjectRepository`."""

    def test_add_then_get_and_find(self, backend: Backend) -> None:
        self.seed(backend)
        s = subject("s1", code="VN-2024-0001")
        self.add_subjects(backend, s)
        assert self.read(backend, lambda u: u.subjects.get("s1")) == s
        assert self.read(backend, lambda u: u.subjects.find("s1")) == s
        assert self.read(backend, lambda u: u.subjects.find_by_code("VN-2024-0001")) == s

    def test_missing_subject(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            assert uow.subjects.find("nobody") is None
            assert uow.subjects.find_by_code("nobody") is None
            with pytest.raises(NotFoundError) as info:
                uow.subjects.get("nobody")
            assert isinstance(info.value, LookupError)

    def test_get_many_in_the_order_asked_once_each(self, backend: Backend) -> None:
        self.seed(backend)
        s1, s2 = subject("s1", code="VN-2024-0001"), subject("S2", unit="HCM-Q1")
        self.add_subjects(backend, s1, s2)
        with backend.unit_of_work() as uow:
            s3 = subject("s3", unit="HN-BD-S1")
            uow.subjects.add(s3)  # uncommitted writes are seen
            assert uow.subjects.get_many(["s3", "s1", "S2", "s1"]) == [s3, s1, s2]
            assert uow.subjects.get_many(iter(["S2"])) == [s2]
            assert uow.subjects.get_many([]) == []

    def test_get_many_names_the_first_missing_id(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1"))
        with backend.unit_of_work() as uow:
            with pytest.raises(NotFoundError) as info:
                uow.subjects.get_many(["s1", "nobody", "S1", "s1"])
            assert "'nobody'" in str(info.value)
            assert "'S1'" not in str(info.value)

    def test_same_id_conflicts_whatever_the_content(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1"))
        for again in (subject("s1"), subject("s1", given_name="Văn Hùng")):
            with pytest.raises(ConflictError):
                self.attempt(backend, lambda uow: uow.subjects.add(again))  # noqa: B023 (called at once)
        with backend.unit_of_work() as uow:
            uow.subjects.add(subject("s2"))
            with pytest.raises(ConflictError):
                uow.subjects.add(subject("s2"))
        assert self.read(backend, lambda u: u.subjects.get("s1")) == subject("s1")

    def test_same_national_code_conflicts(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1", code="C-1"))
        with pytest.raises(ConflictError):
            self.attempt(backend, lambda uow: uow.subjects.add(subject("s2", code="C-1")))
        assert self.read(backend, lambda u: u.subjects.find("s2")) is None

    def test_ids_differing_only_in_case_are_different_subjects(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("abc", code="x-1"), subject("ABC", code="X-1"))
        assert self.read(backend, lambda u: u.subjects.get("ABC")).national_code == "X-1"
        assert self.read(backend, lambda u: u.subjects.find_by_code("x-1")) == subject(
            "abc", code="x-1"
        )
        assert self.read(backend, lambda u: u.subjects.count()) == 2

    def test_update_replaces_content(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1", code="C-1"))
        moved = attrs.evolve(
            subject("s1", code="C-2", family_name="Trần"),
            caregivers=(Caregiver("Trần Văn Nam", "father", "0912 345 678"),),
            residences=(
                Residence("HN-BD", dt.date(2024, 2, 29), dt.date(2025, 7, 1)),
                Residence("HCM-Q1", dt.date(2025, 7, 1)),
            ),
        )
        with backend.unit_of_work() as uow:
            uow.subjects.update(moved)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.subjects.get("s1") == moved
            assert uow.subjects.find_by_code("C-2") == moved
            assert uow.subjects.find_by_code("C-1") is None
            # The code given up is free for someone else.
            uow.subjects.add(subject("s2", code="C-1"))
            uow.commit()
        assert self.read(backend, lambda u: u.subjects.find_by_code("C-1")) == subject(
            "s2", code="C-1"
        )

    def test_update_keeping_own_code_is_fine(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1", code="C-1"))
        renamed = subject("s1", code="C-1", given_name="Thị Hạnh")
        with backend.unit_of_work() as uow:
            uow.subjects.update(renamed)
            uow.commit()
        assert self.read(backend, lambda u: u.subjects.get("s1")) == renamed

    def test_codes_handed_over_inside_one_unit_of_work(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1", code="C-1"), subject("s2", code="C-2"))
        with backend.unit_of_work() as uow:
            # Swap the two codes through a temporary one, then give C-3 away and back.
            uow.subjects.update(subject("s1", code="TMP"))
            uow.subjects.update(subject("s2", code="C-1"))
            uow.subjects.update(subject("s1", code="C-2"))
            assert uow.subjects.find_by_code("C-1") == subject("s2", code="C-1")
            assert uow.subjects.find_by_code("C-2") == subject("s1", code="C-2")
            assert uow.subjects.find_by_code("TMP") is None
            uow.subjects.add(subject("s3", code="TMP"))
            with pytest.raises(ConflictError):
                uow.subjects.add(subject("s4", code="C-2"))
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.subjects.find_by_code("C-1") == subject("s2", code="C-1")
            assert uow.subjects.find_by_code("C-2") == subject("s1", code="C-2")
            assert uow.subjects.find_by_code("TMP") == subject("s3", code="TMP")
            assert uow.subjects.find("s4") is None

    def test_update_missing_subject_is_not_found(self, backend: Backend) -> None:
        self.seed(backend)
        with pytest.raises(NotFoundError):
            self.attempt(backend, lambda uow: uow.subjects.update(subject("nobody")))
        assert _counts(backend) == (0, 0)

    def test_update_to_a_code_of_another_subject_conflicts(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1", code="C-1"), subject("s2", code="C-2"))
        with pytest.raises(ConflictError):
            self.attempt(backend, lambda uow: uow.subjects.update(subject("s2", code="C-1")))
        assert self.read(backend, lambda u: u.subjects.get("s2")).national_code == "C-2"

    def test_list_resident_is_ordered_by_code_point_and_dated(self, backend: Backend) -> None:
        self.seed(backend)
        # Code-point order: digits < upper case < "_" < lower case; "-" and "." count.
        ids = ["b", "B", "a.2", "a-1", "A", "1z", "a_3", "Z"]
        self.add_subjects(backend, *(subject(i) for i in ids))
        mover = attrs.evolve(
            subject("mover"),
            residences=(
                Residence("HN-BD", dt.date(2024, 2, 29), dt.date(2025, 7, 1)),
                Residence("HCM-Q1", dt.date(2025, 7, 1)),
            ),
        )
        self.add_subjects(backend, mover, subject("south", unit="HCM-Q1"))
        on_before = dt.date(2025, 6, 30)
        on_after = dt.date(2025, 7, 1)
        listed = self.read(backend, lambda u: u.subjects.list_resident(["HN-BD"], on=on_before))
        assert [s.id for s in listed] == sorted([*ids, "mover"])
        listed = self.read(backend, lambda u: u.subjects.list_resident(["HN-BD"], on=on_after))
        assert [s.id for s in listed] == sorted(ids)
        listed = self.read(
            backend, lambda u: u.subjects.list_resident(["HCM-Q1", "HN"], on=on_after)
        )
        assert [s.id for s in listed] == ["mover", "south"]
        before_birth = dt.date(2024, 2, 28)
        assert (
            self.read(
                backend, lambda u: u.subjects.list_resident(["HN-BD", "HCM-Q1"], on=before_birth)
            )
            == []
        )
        assert self.read(backend, lambda u: u.subjects.list_resident([], on=on_after)) == []

    def test_list_resident_takes_a_whole_country_of_org_units(self, backend: Backend) -> None:
        # list_subjects passes a whole subtree: at the national level that is every
        # commune and vaccination site, tens of thousands of ids (more than the 65,535
        # parameters one PostgreSQL statement can carry).
        self.seed(backend)
        self.add_subjects(backend, subject("s1"), subject("s2", unit="HCM-Q1"))
        ids = [f"VN-{i:05d}" for i in range(70_000)] + ["HCM-Q1"]
        listed = self.read(
            backend, lambda u: u.subjects.list_resident(ids, on=dt.date(2025, 1, 1))
        )
        assert [s.id for s in listed] == ["s2"]

    def test_count(self, backend: Backend) -> None:
        self.seed(backend)
        assert self.read(backend, lambda u: u.subjects.count()) == 0
        self.add_subjects(backend, subject("s1"), subject("s2", unit="HCM-Q1"))
        assert self.read(backend, lambda u: u.subjects.count()) == 2


class DoseRepositoryContract(ContractBase):
    """:class:`~immreg.ports.DoseRepository`."""

    def _setup_doses(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1"), subject("s2"))

    def test_add_then_get_and_find(self, backend: Backend) -> None:
        self._setup_doses(backend)
        d = dose("d1", "s1", product="PENTA", lot="L001")
        self.add_doses(backend, d)
        assert self.read(backend, lambda u: u.doses.get("d1")) == d
        assert self.read(backend, lambda u: u.doses.find("d1")) == d

    def test_missing_dose(self, backend: Backend) -> None:
        self._setup_doses(backend)
        with backend.unit_of_work() as uow:
            assert uow.doses.find("nope") is None
            with pytest.raises(NotFoundError):
                uow.doses.get("nope")

    def test_same_id_conflicts_even_with_the_same_content(self, backend: Backend) -> None:
        self._setup_doses(backend)
        self.add_doses(backend, dose("d1", "s1"))
        for again in (dose("d1", "s1"), dose("d1", "s2", day=dt.date(2024, 5, 31))):
            with pytest.raises(ConflictError):
                self.attempt(backend, lambda uow: uow.doses.add(again))  # noqa: B023 (called at once)
        assert self.read(backend, lambda u: u.doses.count()) == 1

    def test_dose_of_a_missing_subject_is_not_found(self, backend: Backend) -> None:
        self._setup_doses(backend)
        with pytest.raises(NotFoundError):
            self.attempt(backend, lambda uow: uow.doses.add(dose("d1", "nobody")))
        assert self.read(backend, lambda u: u.doses.count()) == 0

    def test_replace_at_the_expected_version(self, backend: Backend) -> None:
        self._setup_doses(backend)
        self.add_doses(backend, dose("d1", "s1"))
        corrected = attrs.evolve(dose("d1", "s1", product="PENTA", lot="L001"), version=2)
        with backend.unit_of_work() as uow:
            uow.doses.replace(corrected, expected_version=1)
            uow.commit()
        assert self.read(backend, lambda u: u.doses.get("d1")) == corrected
        voided = attrs.evolve(corrected, version=3, voided=True, void_reason="nhập nhầm")
        with backend.unit_of_work() as uow:
            uow.doses.replace(voided, expected_version=2)
            uow.commit()
        assert self.read(backend, lambda u: u.doses.get("d1")) == voided

    def test_replace_with_a_stale_version_conflicts(self, backend: Backend) -> None:
        self._setup_doses(backend)
        self.add_doses(backend, dose("d1", "s1"))
        v2 = attrs.evolve(dose("d1", "s1", day=dt.date(2024, 4, 1)), version=2)
        with backend.unit_of_work() as uow:
            uow.doses.replace(v2, expected_version=1)
            uow.commit()
        stale = attrs.evolve(dose("d1", "s1", day=dt.date(2024, 4, 2)), version=2)
        for expected in (1, 3):
            with pytest.raises(ConflictError):
                self.attempt(
                    backend,
                    lambda uow: uow.doses.replace(stale, expected_version=expected),  # noqa: B023
                )
        assert self.read(backend, lambda u: u.doses.get("d1")) == v2

    def test_replace_missing_dose_is_not_found(self, backend: Backend) -> None:
        self._setup_doses(backend)
        with pytest.raises(NotFoundError):
            self.attempt(
                backend,
                lambda uow: uow.doses.replace(
                    attrs.evolve(dose("d9", "s1"), version=2), expected_version=1
                ),
            )
        assert self.read(backend, lambda u: u.doses.count()) == 0

    def test_replace_moving_the_dose_to_another_subject_conflicts(self, backend: Backend) -> None:
        self._setup_doses(backend)
        self.add_doses(backend, dose("d1", "s1"))
        with pytest.raises(ConflictError):
            self.attempt(
                backend,
                lambda uow: uow.doses.replace(
                    attrs.evolve(dose("d1", "s2"), version=2), expected_version=1
                ),
            )
        assert self.read(backend, lambda u: u.doses.get("d1")) == dose("d1", "s1")

    def test_list_for_subject_ordered_by_date_then_id(self, backend: Backend) -> None:
        self._setup_doses(backend)
        doses = [
            dose("d-b", "s1", day=dt.date(2024, 5, 31)),
            dose("d-a", "s1", day=dt.date(2024, 5, 31)),
            dose("D-c", "s1", day=dt.date(2024, 5, 31)),
            dose("z", "s1", day=dt.date(2024, 3, 1)),
            dose("a", "s1", day=dt.date(2025, 1, 31)),
            dose("other", "s2"),
        ]
        self.add_doses(backend, *doses)
        listed = self.read(backend, lambda u: u.doses.list_for_subject("s1"))
        assert [d.id for d in listed] == ["z", "D-c", "d-a", "d-b", "a"]
        assert self.read(backend, lambda u: u.doses.list_for_subject("s2")) == [doses[-1]]

    def test_voided_doses_are_kept_and_listed_on_request(self, backend: Backend) -> None:
        self._setup_doses(backend)
        self.add_doses(backend, dose("d1", "s1"), dose("d2", "s1", day=dt.date(2024, 6, 30)))
        voided = attrs.evolve(dose("d1", "s1"), version=2, voided=True, void_reason="trùng")
        with backend.unit_of_work() as uow:
            uow.doses.replace(voided, expected_version=1)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert [d.id for d in uow.doses.list_for_subject("s1")] == ["d2"]
            assert uow.doses.list_for_subject("s1", include_voided=True) == [
                voided,
                dose("d2", "s1", day=dt.date(2024, 6, 30)),
            ]
            assert uow.doses.get("d1") == voided
            assert uow.doses.count() == 2

    def test_list_for_subject_without_doses_is_empty(self, backend: Backend) -> None:
        self._setup_doses(backend)
        assert self.read(backend, lambda u: u.doses.list_for_subject("s2")) == []

    def test_list_for_subjects_is_list_for_subject_of_each(self, backend: Backend) -> None:
        self._setup_doses(backend)
        self.add_subjects(backend, subject("s3"))
        self.add_doses(
            backend,
            dose("d-b", "s1", day=dt.date(2024, 5, 31)),
            dose("d-a", "s1", day=dt.date(2024, 5, 31)),
            dose("D-c", "s1", day=dt.date(2024, 5, 31)),
            dose("z", "s1", day=dt.date(2024, 3, 1)),
            dose("a", "s3", day=dt.date(2025, 1, 31)),
            dose("b", "s3", day=dt.date(2024, 1, 31)),
        )
        voided = attrs.evolve(
            dose("a", "s3", day=dt.date(2025, 1, 31)), version=2, voided=True, void_reason="trùng"
        )
        with backend.unit_of_work() as uow:
            uow.doses.replace(voided, expected_version=1)
            uow.commit()
        with backend.unit_of_work() as uow:
            uow.doses.add(dose("new", "s2"))  # uncommitted writes are seen
            for include_voided in (False, True):
                listed = uow.doses.list_for_subjects(
                    ["s3", "s2", "s1", "s3"], include_voided=include_voided
                )
                assert list(listed) == ["s3", "s2", "s1"]
                assert listed == {
                    i: uow.doses.list_for_subject(i, include_voided=include_voided)
                    for i in ("s3", "s2", "s1")
                }
            assert [d.id for d in uow.doses.list_for_subjects(["s1"])["s1"]] == [
                "z",
                "D-c",
                "d-a",
                "d-b",
            ]
            assert [d.id for d in uow.doses.list_for_subjects(iter(["s3"]))["s3"]] == ["b"]
            assert uow.doses.list_for_subjects([]) == {}

    def test_list_for_subjects_names_the_first_missing_subject(self, backend: Backend) -> None:
        self._setup_doses(backend)
        with backend.unit_of_work() as uow:
            with pytest.raises(NotFoundError) as info:
                uow.doses.list_for_subjects(["s1", "nobody", "S1"])
            assert "'nobody'" in str(info.value)
            assert "'S1'" not in str(info.value)


class CatalogueRepositoryContract(ContractBase):
    """:class:`~immreg.ports.CatalogueRepository`."""

    def test_add_get_find_and_list_by_code(self, backend: Backend) -> None:
        self.seed(backend)
        extra = [
            VaccineProduct("bopv", "bOPV", ("Polio",), cvx="178", doses_per_vial=20),
            VaccineProduct("A-JE", "Viêm não Nhật Bản", ("JE",), manufacturer="VABIOTECH"),
        ]
        with backend.unit_of_work() as uow:
            for p in extra:
                uow.catalogue.add_product(p)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.catalogue.get_product("bopv") == extra[0]
            assert uow.catalogue.find_product("A-JE") == extra[1]
            assert uow.catalogue.find_product("BOPV") is None
            listed = uow.catalogue.list_products()
        assert [p.code for p in listed] == ["A-JE", "BCG", "PENTA", "bopv"]
        assert listed[1:3] == list(SEED.products)

    def test_missing_product(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            assert uow.catalogue.find_product("X") is None
            assert uow.catalogue.list_products() == []
            with pytest.raises(NotFoundError):
                uow.catalogue.get_product("X")

    def test_same_product_again_is_accepted_other_content_conflicts(
        self, backend: Backend
    ) -> None:
        self.seed(backend)
        self.seed(backend)
        assert self.read(backend, lambda u: u.catalogue.list_products()) == list(SEED.products)
        changed = attrs.evolve(SEED.products[0], doses_per_vial=10)
        with pytest.raises(ConflictError):
            self.attempt(backend, lambda uow: uow.catalogue.add_product(changed))
        assert self.read(backend, lambda u: u.catalogue.get_product("BCG")) == SEED.products[0]


#: A commune that moved from HN to HCM on 2025-07-01 (the 2025 reorganisation).
_MOVED = OrgUnit(
    "X-1",
    "Xã Tân Phú",
    OrgLevel.COMMUNE,
    parents=(
        ParentLink("HN", dt.date(2004, 2, 29), dt.date(2025, 7, 1)),
        ParentLink("HCM", dt.date(2025, 7, 1)),
    ),
    opened=dt.date(2004, 2, 29),
    closed=dt.date(2030, 12, 31),
)


class OrgUnitRepositoryContract(ContractBase):
    """:class:`~immreg.ports.OrgUnitRepository`."""

    def test_add_get_find_and_list_by_id(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            assert uow.org_units.get("HN-BD") == SEED.org_units[3]
            assert uow.org_units.find("hn-bd") is None
            listed = uow.org_units.list_all()
        assert [u.id for u in listed] == sorted(u.id for u in SEED.org_units)
        assert sorted(listed, key=lambda u: u.id) == sorted(SEED.org_units, key=lambda u: u.id)

    def test_list_all_is_in_code_point_order(self, backend: Backend) -> None:
        ids = ["b", "B", "a.2", "a-1", "A", "1z", "a_3", "Z", "a:4"]
        with backend.unit_of_work() as uow:
            for i in ids:
                uow.org_units.add(OrgUnit(i, f"Xã {i}", OrgLevel.COMMUNE))
            uow.commit()
        listed = self.read(backend, lambda u: u.org_units.list_all())
        assert [u.id for u in listed] == sorted(ids)

    def test_effective_dated_parents_survive(self, backend: Backend) -> None:
        self.seed(backend)
        moved = _MOVED
        with backend.unit_of_work() as uow:
            uow.org_units.add(moved)
            uow.commit()
        stored = self.read(backend, lambda u: u.org_units.get("X-1"))
        assert stored == moved
        assert stored.parent_on(dt.date(2025, 6, 30)) == "HN"
        assert stored.parent_on(dt.date(2025, 7, 1)) == "HCM"

    def test_subtree_ids_follow_the_links_of_the_day(self, backend: Backend) -> None:
        self.seed(backend)
        moved = _MOVED
        site = _unit("X-1-S", "Trạm Y tế", OrgLevel.SITE, "X-1")
        with backend.unit_of_work() as uow:
            uow.org_units.add(site)  # a child before its parent
            uow.org_units.add(moved)
            uow.commit()
        before, after = dt.date(2025, 6, 30), dt.date(2025, 7, 1)
        with backend.unit_of_work() as uow:
            assert uow.org_units.subtree_ids("HN", on=before) == {
                "HN", "HN-BD", "HN-BD-S1", "X-1", "X-1-S"
            }  # fmt: skip
            assert uow.org_units.subtree_ids("HN", on=after) == {"HN", "HN-BD", "HN-BD-S1"}
            assert uow.org_units.subtree_ids("HCM", on=after) == {
                "HCM", "HCM-Q1", "X-1", "X-1-S"
            }  # fmt: skip
            assert uow.org_units.subtree_ids("X-1-S", on=after) == {"X-1-S"}
            # Before its first link the commune is a root of its own tree.
            assert uow.org_units.subtree_ids("X-1", on=dt.date(2000, 1, 1)) == {"X-1", "X-1-S"}
            assert uow.org_units.subtree_ids("VN", on=after) == {u.id for u in SEED.org_units} | {
                "X-1", "X-1-S"
            }  # fmt: skip
            with pytest.raises(NotFoundError):
                uow.org_units.subtree_ids("nowhere", on=after)

    def test_missing_unit(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            assert uow.org_units.find("VN") is None
            assert uow.org_units.list_all() == []
            with pytest.raises(NotFoundError):
                uow.org_units.get("VN")

    def test_same_unit_again_is_accepted_other_content_conflicts(self, backend: Backend) -> None:
        self.seed(backend)
        self.seed(backend)
        assert len(self.read(backend, lambda u: u.org_units.list_all())) == len(SEED.org_units)
        with pytest.raises(ConflictError):
            self.attempt(
                backend,
                lambda uow: uow.org_units.add(
                    attrs.evolve(SEED.org_units[1], name="Thủ đô Hà Nội")
                ),
            )
        assert self.read(backend, lambda u: u.org_units.get("HN")) == SEED.org_units[1]


class LotRepositoryContract(ContractBase):
    """:class:`~immreg.ports.LotRepository`."""

    def test_add_and_find(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            assert uow.lots.find("PENTA", "L001") == SEED.lots[0]
            assert uow.lots.find("PENTA", "OLD1") == SEED.lots[1]
            assert uow.lots.find("BCG", "L001") is None
            assert uow.lots.find("PENTA", "l001") is None

    def test_same_number_under_two_products(self, backend: Backend) -> None:
        self.seed(backend)
        bcg = Lot("BCG", "L001", dt.date(2028, 2, 29))
        with backend.unit_of_work() as uow:
            uow.lots.add(bcg)
            uow.commit()
        assert self.read(backend, lambda u: u.lots.find("BCG", "L001")) == bcg
        assert self.read(backend, lambda u: u.lots.find("PENTA", "L001")) == SEED.lots[0]

    def test_same_lot_again_is_accepted_other_content_conflicts(self, backend: Backend) -> None:
        self.seed(backend)
        self.seed(backend)
        with pytest.raises(ConflictError):
            self.attempt(
                backend,
                lambda uow: uow.lots.add(attrs.evolve(SEED.lots[0], expiry=dt.date(2029, 1, 31))),
            )
        assert self.read(backend, lambda u: u.lots.find("PENTA", "L001")) == SEED.lots[0]


class AuditRepositoryContract(ContractBase):
    """:class:`~immreg.ports.AuditRepository`."""

    def test_entries_about_one_record_oldest_first(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            uow.audit.append(entry("d1", "record"))
            uow.audit.append(entry("d2", "record"))
            uow.commit()
        with backend.unit_of_work() as uow:
            uow.audit.append(entry("d1", "correct", minute=5))
            # Same instant as the previous entry: append order decides.
            uow.audit.append(entry("d1", "void", minute=5))
            uow.commit()
        listed = self.read(backend, lambda u: u.audit.list_for("dose", "d1"))
        assert [e.action for e in listed] == ["record", "correct", "void"]
        assert listed[0] == entry("d1", "record")
        assert self.read(backend, lambda u: u.audit.list_for("dose", "d2")) == [entry("d2")]
        assert self.read(backend, lambda u: u.audit.list_for("subject", "d1")) == []
        assert self.read(backend, lambda u: u.audit.list_for("dose", "D1")) == []

    def test_instants_and_optional_text_survive(self, backend: Backend) -> None:
        utc = dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC)
        e = AuditEntry(
            entity="subject",
            entity_id="s1",
            action="update",
            at=utc,
            by="Y tá Hương",
            reason="Sửa tên theo giấy khai sinh",
            before='{"given_name":"Thi Lan"}',
            after='{"given_name":"Thị Lan"}',
        )
        with backend.unit_of_work() as uow:
            uow.audit.append(e)
            uow.commit()
        [stored] = self.read(backend, lambda u: u.audit.list_for("subject", "s1"))
        assert stored == e
        assert stored.at.utcoffset() is not None


# --- scoping --------------------------------------------------------------------------------


class ScopingContract(ContractBase):
    """Units of work opened with ``scope=``: out-of-scope reads and writes are refused."""

    def _setup_scope(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self.seed(backend)
        self.add_subjects(
            backend, subject("north", code="N-1"), subject("south", unit="HCM-Q1", code="S-1")
        )
        self.add_doses(backend, dose("dn", "north"), dose("ds", "south", facility="HCM-Q1"))

    def test_in_scope_reads(self, backend: Backend) -> None:
        self._setup_scope(backend)
        for scope in ("VN", "HN", "HN-BD"):
            with backend.unit_of_work(scope=scope) as uow:
                assert uow.scope == scope
                assert uow.subjects.get("north").id == "north"
                assert uow.subjects.find_by_code("N-1") is not None
                assert uow.doses.get("dn").subject_id == "north"
                assert [d.id for d in uow.doses.list_for_subject("north")] == ["dn"]
                assert [s.id for s in uow.subjects.get_many(["north"])] == ["north"]
                assert list(uow.doses.list_for_subjects(["north"])) == ["north"]

    def test_out_of_scope_reads_raise(self, backend: Backend) -> None:
        self._setup_scope(backend)
        with backend.unit_of_work(scope="HN") as uow:
            reads: list[Callable[[], object]] = [
                lambda: uow.subjects.get("south"),
                lambda: uow.subjects.find("south"),
                lambda: uow.subjects.find_by_code("S-1"),
                lambda: uow.doses.get("ds"),
                lambda: uow.doses.find("ds"),
                lambda: uow.doses.list_for_subject("south"),
                lambda: uow.subjects.get_many(["north", "south"]),
                lambda: uow.doses.list_for_subjects(["north", "south"]),
                # The first refusal in the order asked, as get of each in turn:
                lambda: uow.subjects.get_many(["south", "nobody"]),
                lambda: uow.doses.list_for_subjects(["south", "nobody"]),
            ]
            for read in reads:
                with pytest.raises(ScopeError) as info:
                    read()
                assert isinstance(info.value, PermissionError)
            for read in (
                lambda: uow.subjects.get_many(["nobody", "south"]),
                lambda: uow.doses.list_for_subjects(["nobody", "south"]),
            ):
                with pytest.raises(NotFoundError):
                    read()

    def test_out_of_scope_writes_raise_and_write_nothing(self, backend: Backend) -> None:
        self._setup_scope(backend)
        with backend.unit_of_work(scope="HN") as uow:
            writes: list[Callable[[], object]] = [
                lambda: uow.subjects.add(subject("new-south", unit="HCM-Q1")),
                lambda: uow.subjects.update(subject("south", unit="HCM-Q1", given_name="X")),
                lambda: uow.doses.add(dose("ds2", "south")),
                lambda: uow.doses.replace(
                    attrs.evolve(dose("ds", "south", facility="HCM-Q1"), version=2),
                    expected_version=1,
                ),
            ]
            for write in writes:
                with pytest.raises(ScopeError):
                    write()
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.subjects.find("new-south") is None
            assert uow.subjects.get("south") == subject("south", unit="HCM-Q1", code="S-1")
            assert uow.doses.find("ds2") is None
            assert uow.doses.get("ds").version == 1

    def test_moving_a_subject_out_of_scope_is_refused(self, backend: Backend) -> None:
        self._setup_scope(backend)
        with pytest.raises(ScopeError):
            self.attempt(
                backend,
                lambda uow: uow.subjects.update(subject("north", unit="HCM-Q1", code="N-1")),
                scope="HN",
            )
        assert self.read(backend, lambda u: u.subjects.get("north")).residences[0].org_unit_id == (
            "HN-BD"
        )

    def test_listings_and_counts_leave_out_of_scope_data(self, backend: Backend) -> None:
        self._setup_scope(backend)
        on = dt.date(2025, 1, 1)
        with backend.unit_of_work(scope="HN") as uow:
            assert uow.subjects.count() == 1
            assert uow.doses.count() == 1
            listed = uow.subjects.list_resident(["HN-BD", "HCM-Q1"], on=on)
            assert [s.id for s in listed] == ["north"]
        with backend.unit_of_work(scope="HCM") as uow:
            assert uow.subjects.count() == 1
            assert [s.id for s in uow.subjects.list_resident(["HN-BD", "HCM-Q1"], on=on)] == [
                "south"
            ]
        with backend.unit_of_work(scope="VN") as uow:
            assert uow.subjects.count() == 2
            assert uow.doses.count() == 2
        with backend.unit_of_work() as uow:
            assert uow.scope is None
            assert uow.subjects.count() == 2

    def test_in_scope_writes_are_kept(self, backend: Backend) -> None:
        self._setup_scope(backend)
        with backend.unit_of_work(scope="HN") as uow:
            uow.subjects.add(subject("north-2", unit="HN-BD-S1"))
            uow.doses.add(dose("dn2", "north-2"))
            uow.commit()
        with backend.unit_of_work(scope="HN-BD") as uow:
            assert uow.doses.get("dn2") == dose("dn2", "north-2")
            assert uow.subjects.count() == 2

    def test_a_scope_covers_every_residence_and_parent_link_ever(self, backend: Backend) -> None:
        # The reference rule (immreg.backends.memory.subtree_ids): a person belongs to a
        # scope when any residence, past or present, is in the subtree, and the subtree
        # follows every parent link, ended ones included; a person without a residence
        # belongs to no scope.
        self.require("supports_scoping")
        self.seed(backend)
        moved_unit = OrgUnit(
            "X-1",
            "Xã Tân Phú",
            OrgLevel.COMMUNE,
            parents=(
                ParentLink("HN", dt.date(2000, 1, 1), dt.date(2025, 7, 1)),
                ParentLink("HCM", dt.date(2025, 7, 1)),
            ),
            opened=_SINCE,
        )
        with backend.unit_of_work() as uow:
            uow.org_units.add(moved_unit)
            uow.commit()
        mover = attrs.evolve(
            subject("mover"),
            residences=(
                Residence("HCM-Q1", dt.date(2024, 2, 29), dt.date(2025, 1, 31)),
                Residence("HN-BD", dt.date(2025, 1, 31)),
            ),
        )
        homeless = attrs.evolve(subject("homeless"), residences=())
        self.add_subjects(backend, mover, subject("x", unit="X-1"), homeless)
        for scope in ("HN", "HCM"):
            with backend.unit_of_work(scope=scope) as uow:
                assert uow.subjects.get("mover") == mover
                assert uow.subjects.get("x").id == "x"
                assert uow.subjects.count() == 2
                with pytest.raises(ScopeError):
                    uow.subjects.get("homeless")
        with backend.unit_of_work(scope="HN-BD") as uow:
            assert uow.subjects.count() == 1
            with pytest.raises(ScopeError):
                uow.subjects.get("x")

    def test_registry_with_a_scope(self, backend: Backend) -> None:
        self._setup_scope(backend)
        north = self.registry(backend, scope="HN")
        with pytest.raises(ScopeError):
            north.register_subject(subject("s-new", unit="HCM-Q1"))
        with pytest.raises(ScopeError):
            north.history("south")
        north.record_dose(dose("dn3", "north", day=dt.date(2024, 4, 30)))
        assert [d.id for d in north.history("north").doses] == ["dn", "dn3"]
        assert _counts(backend) == (2, 3)


# --- bulk loading ---------------------------------------------------------------------------


class BulkLoadContract(ContractBase):
    """``Backend.load_batch`` / ``loaded_batches`` and :func:`immreg.services.bulk_load`."""

    def _batch(self, load_id: str, batch_no: int, *ids: str) -> BulkBatch:
        people = [subject(i) for i in ids]
        doses = [dose(f"{i}-d{k}", i, day=dt.date(2024, 3 + k, 1)) for i in ids for k in (1, 2)]
        return BulkBatch(load_id, batch_no, people, doses)

    def test_load_batch_stores_everything_and_marks_it(self, backend: Backend) -> None:
        self.require("supports_bulk")
        self.seed(backend)
        assert backend.loaded_batches("load-1") == set()
        assert backend.load_batch(self._batch("load-1", 0, "a", "b")) is True
        assert backend.load_batch(self._batch("load-1", 1, "c")) is True
        assert backend.loaded_batches("load-1") == {0, 1}
        assert backend.loaded_batches("load-2") == set()
        assert _counts(backend) == (3, 6)
        assert [d.id for d in self.read(backend, lambda u: u.doses.list_for_subject("c"))] == [
            "c-d1",
            "c-d2",
        ]

    def test_same_batch_again_writes_nothing(self, backend: Backend) -> None:
        self.require("supports_bulk")
        self.seed(backend)
        assert backend.load_batch(self._batch("load-1", 0, "a")) is True
        assert backend.load_batch(self._batch("load-1", 0, "a")) is False
        # Even with other content: the mark decides, and nothing of it is written.
        assert backend.load_batch(self._batch("load-1", 0, "x", "y")) is False
        assert _counts(backend) == (1, 2)
        assert self.read(backend, lambda u: u.subjects.find("x")) is None
        # The same number in another load is another batch.
        assert backend.load_batch(self._batch("load-2", 0, "z")) is True
        assert backend.loaded_batches("load-1") == {0}
        assert backend.loaded_batches("load-2") == {0}

    def test_batch_is_atomic(self, backend: Backend) -> None:
        self.require("supports_bulk")
        self.seed(backend)
        self.add_subjects(backend, subject("taken"))
        with pytest.raises(ConflictError):
            backend.load_batch(self._batch("load-1", 0, "a", "taken", "b"))
        assert backend.loaded_batches("load-1") == set()
        assert _counts(backend) == (1, 0)
        self.add_doses(backend, dose("taken-d", "taken"))
        clash = BulkBatch("load-1", 0, [subject("a")], [dose("a-1", "a"), dose("taken-d", "a")])
        with pytest.raises(ConflictError):
            backend.load_batch(clash)
        assert backend.loaded_batches("load-1") == set()
        assert _counts(backend) == (1, 1)
        assert backend.load_batch(self._batch("load-1", 0, "a", "b")) is True
        assert _counts(backend) == (3, 5)

    def test_loaded_values_read_back_equal(self, backend: Backend) -> None:
        # Bulk paths may bypass the usual writes (COPY on PostgreSQL): the values they
        # store must read back exactly like those of ``subjects.add``/``doses.add``.
        self.require("supports_bulk")
        self.seed(backend)
        batches = itertools.count()
        units = st.sampled_from([u.id for u in SEED.org_units])
        people = st.lists(
            ist.subjects(org_unit_ids=units, mother_ids=st.none()),
            min_size=1,
            max_size=4,
            unique_by=(lambda s: s.id, lambda s: s.national_code or object()),
        )
        doses = ist.administered_doses(
            product_codes=st.sampled_from(["BCG", "PENTA"]),
            facility_ids=units,
        )

        def check(value: tuple[list[Subject], list[AdministeredDose]]) -> None:
            subjects, raw_doses = value
            n = next(batches)
            p = f"b{n}."
            subjects = [
                attrs.evolve(
                    s,
                    id=p + s.id,
                    national_code=None if s.national_code is None else p + s.national_code,
                )
                for s in subjects
            ]
            stored_doses = [
                attrs.evolve(d, id=f"{p}{k}.{d.id}", subject_id=subjects[k % len(subjects)].id)
                for k, d in enumerate(raw_doses)
            ]
            assert backend.load_batch(BulkBatch("rt", n, subjects, stored_doses)) is True
            with backend.unit_of_work() as uow:
                for s in subjects:
                    assert uow.subjects.get(s.id) == s
                    if s.national_code is not None:
                        assert uow.subjects.find_by_code(s.national_code) == s
                for d in stored_doses:
                    assert uow.doses.get(d.id) == d
                for s in subjects:
                    mine = [d for d in stored_doses if d.subject_id == s.id]
                    expected = sorted(mine, key=lambda d: (d.date, d.id))
                    assert uow.doses.list_for_subject(s.id, include_voided=True) == expected

        self.check_examples(st.tuples(people, st.lists(doses, max_size=6)), check)

    def test_bulk_load_of_a_consistent_world(self, backend: Backend) -> None:
        self.require("supports_bulk")
        counter = itertools.count()

        def check(world: ist.RegistryWorld) -> None:
            n = next(counter)
            w = namespaced(world, f"bw{n}.")
            _store_reference(backend, w.org_units, w.products, w.lots)
            records = [(s, w.doses_of(s.id)) for s in w.subjects]
            report = bulk_load(backend, records, load_id=f"w{n}", as_of=w.as_of, batch_size=4)
            assert (report.subjects, report.doses) == (len(w.subjects), len(w.doses))
            again = bulk_load(backend, records, load_id=f"w{n}", as_of=w.as_of, batch_size=4)
            assert (again.batches_loaded, again.subjects, again.doses) == (0, 0, 0)
            with backend.unit_of_work() as uow:
                for s in w.subjects:
                    assert uow.subjects.get(s.id) == s
                    assert uow.doses.list_for_subject(s.id, include_voided=True) == w.doses_of(
                        s.id
                    )

        self.check_examples(ist.registry_worlds(), check)

    def test_bulk_load_resumes_after_a_bad_record(self, backend: Backend) -> None:
        self.require("supports_bulk")
        self.seed(backend)
        records = [
            (subject(f"p{i}"), [dose(f"p{i}-d", f"p{i}", day=dt.date(2024, 12, 31))])
            for i in range(6)
        ]
        bad = list(records)
        bad[4] = (bad[4][0], [dose("p4-d", "p4", day=dt.date(2024, 1, 1))])  # before birth
        with pytest.raises(ValidationError) as info:
            bulk_load(backend, bad, load_id="L", as_of=AS_OF, batch_size=4)
        assert _fields(info.value) == {"records[4].doses[0].date"}
        assert backend.loaded_batches("L") == {0, 1}
        assert _counts(backend) == (4, 4)
        report = bulk_load(backend, records, load_id="L", as_of=AS_OF, batch_size=4)
        assert (report.batches_skipped, report.batches_loaded) == (2, 1)
        assert (report.subjects, report.doses) == (2, 2)
        assert _counts(backend) == (6, 6)
        again = bulk_load(backend, records, load_id="L", as_of=AS_OF, batch_size=4)
        assert (again.batches_loaded, again.batches_skipped, again.doses) == (0, 3, 0)
        assert _counts(backend) == (6, 6)


# --- services -------------------------------------------------------------------------------


class ServicesContract(ContractBase):
    """The use cases of :class:`immreg.services.Registry` on the backend."""

    def _setup_registry(self, backend: Backend) -> Registry:
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(subject("s1", born=dt.date(2024, 2, 29)))
        return reg

    def _nothing_written(self, backend: Backend, before: tuple[int, int]) -> None:
        assert _counts(backend) == before

    def test_record_dose_is_idempotent(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        d = dose("d1", "s1", product="PENTA", lot="L001")
        first = reg.record_dose(d)
        second = reg.record_dose(d)
        assert first.outcome is RecordOutcome.RECORDED
        assert second.outcome is RecordOutcome.ALREADY_RECORDED
        assert first.dose == second.dose == d
        assert reg.history("s1").doses == (d,)
        assert [e.action for e in reg.audit_trail("dose", "d1")] == ["record"]
        assert _counts(backend) == (1, 1)

    def test_racing_identical_records_store_one_dose(self, backend: Backend) -> None:
        # Clients retry: the same dose may arrive on several connections at once. Exactly
        # one copy and one audit entry are stored; the losers are told it was already
        # recorded, never ConflictError, BackendError or a duplicate.
        self.require("supports_concurrent_units_of_work")
        self.require("supports_concurrent_writers")
        self._setup_registry(backend)
        racers = 6
        barrier = threading.Barrier(racers)
        outcomes: list[object] = []
        lock = threading.Lock()

        def race() -> None:
            barrier.wait(timeout=30)
            try:
                result: object = self.registry(backend).record_dose(dose("d1", "s1")).outcome
            except ConflictError as e:
                result = type(e)
            except Exception as e:  # reported below, with its class
                result = e
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=race) for _ in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        allowed = (RecordOutcome.RECORDED, RecordOutcome.ALREADY_RECORDED)
        assert len(outcomes) == racers
        assert all(o in allowed for o in outcomes), outcomes
        assert outcomes.count(RecordOutcome.RECORDED) == 1
        assert _counts(backend) == (1, 1)
        assert len(self.registry(backend).audit_trail("dose", "d1")) == 1

    def test_racing_corrections_one_wins(self, backend: Backend) -> None:
        # Optimistic concurrency under real contention: of several corrections made at
        # the same expected version, exactly one is kept; the others conflict.
        self.require("supports_concurrent_units_of_work")
        self.require("supports_concurrent_writers")
        reg = self._setup_registry(backend)
        reg.record_dose(dose("d1", "s1"))
        racers = 6
        barrier = threading.Barrier(racers)
        won: list[AdministeredDose] = []
        lost: list[BaseException] = []
        lock = threading.Lock()

        def race(k: int) -> None:
            corrected = dose("d1", "s1", day=dt.date(2024, 4, 1) + dt.timedelta(days=k))
            barrier.wait(timeout=30)
            try:
                new = self.registry(backend).correct_dose(
                    corrected, expected_version=1, reason=f"sửa lần {k}"
                )
            except Exception as e:  # checked below, with its class
                with lock:
                    lost.append(e)
            else:
                with lock:
                    won.append(new)

        threads = [threading.Thread(target=race, args=(k,)) for k in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1, (won, lost)
        assert all(isinstance(e, ConflictError) for e in lost), lost
        assert len(lost) == racers - 1
        assert reg.history("s1").doses == (won[0],)
        assert won[0].version == 2
        assert [e.action for e in reg.audit_trail("dose", "d1")] == ["record", "correct"]

    def test_same_dose_id_with_other_content_conflicts(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        reg.record_dose(dose("d1", "s1"))
        with pytest.raises(ConflictError):
            reg.record_dose(dose("d1", "s1", day=dt.date(2024, 4, 1)))
        assert reg.history("s1").doses == (dose("d1", "s1"),)
        assert len(reg.audit_trail("dose", "d1")) == 1

    def test_correct_and_void_keep_an_audit_trail(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        reg.record_dose(dose("d1", "s1"))
        corrected = reg.correct_dose(
            dose("d1", "s1", product="PENTA", lot="L001"),
            expected_version=1,
            reason="Ghi nhầm vắc xin",
        )
        assert corrected.version == 2
        assert reg.history("s1").doses == (corrected,)
        with pytest.raises(ConflictError):
            reg.correct_dose(dose("d1", "s1"), expected_version=1, reason="stale")
        voided = reg.void_dose("d1", expected_version=2, reason="Nhập trùng")
        assert (voided.version, voided.voided, voided.void_reason) == (3, True, "Nhập trùng")
        assert reg.history("s1").doses == ()
        assert reg.history("s1", include_voided=True).doses == (voided,)
        with pytest.raises(ConflictError):
            reg.void_dose("d1", expected_version=3, reason="again")
        with pytest.raises(ConflictError):
            reg.correct_dose(dose("d1", "s1"), expected_version=3, reason="undo")
        with pytest.raises(ConflictError):
            reg.record_dose(dose("d1", "s1"))
        trail = reg.audit_trail("dose", "d1")
        assert [e.action for e in trail] == ["record", "correct", "void"]
        assert [e.reason for e in trail] == [None, "Ghi nhầm vắc xin", "Nhập trùng"]
        assert trail[1].before == trail[0].after
        assert trail[2].before == trail[1].after
        assert all(e.at == NOW and e.by == "nv.lan" for e in trail)
        assert [e.action for e in reg.audit_trail("subject", "s1")] == ["register"]

    def test_correct_or_void_a_missing_dose(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        with pytest.raises(NotFoundError):
            reg.correct_dose(dose("nope", "s1"), expected_version=1, reason="x")
        with pytest.raises(NotFoundError):
            reg.void_dose("nope", expected_version=1, reason="x")
        with pytest.raises(ValidationError) as info:
            reg.void_dose("nope", expected_version=1, reason="  ")
        assert _fields(info.value) == {"reason"}

    @pytest.mark.parametrize(
        ("bad", "field"),
        [
            (dose("d1", "s1", day=dt.date(2024, 2, 28)), "date"),  # the day before birth
            (dose("d1", "s1", day=AS_OF + dt.timedelta(days=1)), "date"),
            (dose("d1", "s1", product="NOPE"), "product_code"),
            (dose("d1", "s1", facility="NOWHERE"), "facility_id"),
            (dose("d1", "nobody"), "subject_id"),
            (dose("d1", "s1", product="PENTA", lot="OLD1"), "lot_number"),
        ],
    )
    def test_invalid_dose_names_the_field_and_writes_nothing(
        self, backend: Backend, bad: AdministeredDose, field: str
    ) -> None:
        reg = self._setup_registry(backend)
        before = _counts(backend)
        with pytest.raises(ValidationError) as info:
            reg.record_dose(bad)
        assert field in _fields(info.value)
        self._nothing_written(backend, before)
        assert reg.audit_trail("dose", "d1") == []

    def test_invalid_correction_names_the_field_and_changes_nothing(
        self, backend: Backend
    ) -> None:
        reg = self._setup_registry(backend)
        reg.record_dose(dose("d1", "s1"))
        with pytest.raises(ValidationError) as info:
            reg.correct_dose(
                dose("d1", "s1", day=dt.date(2023, 12, 31)), expected_version=1, reason="x"
            )
        assert _fields(info.value) == {"date"}
        assert reg.history("s1").doses == (dose("d1", "s1"),)
        assert len(reg.audit_trail("dose", "d1")) == 1

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"birth_date": "2026-03-16"}, "birth_date"),
            (
                {"residences": [{"org_unit_id": "NOWHERE", "start": "2024-03-01"}]},
                "residences[0].org_unit_id",
            ),
            (
                {"residences": [{"org_unit_id": "HN-BD", "start": "2024-02-28"}]},
                "residences[0].start",
            ),
            ({"mother_id": "nobody"}, "mother_id"),
        ],
    )
    def test_invalid_registration_names_the_field_and_writes_nothing(
        self, backend: Backend, change: dict[str, Any], field: str
    ) -> None:
        reg = self._setup_registry(backend)
        before = _counts(backend)
        with pytest.raises(ValidationError) as info:
            reg.register_subject(structure(_registration(change), Subject))
        assert field in _fields(info.value)
        self._nothing_written(backend, before)
        assert reg.audit_trail("subject", "s2") == []

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            (
                {"caregivers": [{"name": "Lê Thị Mai", "phone": "0212 345 678"}]},
                "caregivers[0].phone",
            ),
            ({"caregivers": [{"name": "Lê Thị Mai", "phone": "không có"}]}, "caregivers[0].phone"),
            ({"birth_date": "2023-02-29"}, "birth_date"),
            ({"birth_date": "2024-04-31"}, "birth_date"),
            ({"birth_date": "29/02/2024"}, "birth_date"),
            ({"family_name": ""}, "family_name"),
            ({"family_name": "   "}, "family_name"),
            ({"given_name": "Thị " + "Lan" * 33}, "given_name"),
            (
                {"residences": [{"org_unit_id": "HN-BD", "start": "2024-13-01"}]},
                "residences[0].start",
            ),
        ],
    )
    def test_malformed_input_is_refused_at_the_edge(
        self, backend: Backend, change: dict[str, Any], field: str
    ) -> None:
        self._setup_registry(backend)
        before = _counts(backend)
        with pytest.raises(ValidationError) as info:
            structure(_registration(change), Subject)
        assert field in _fields(info.value)
        self._nothing_written(backend, before)

    def test_registration_conflicts(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        reg.register_subject(subject("s2", code="VN-9"))
        with pytest.raises(ConflictError):
            reg.register_subject(subject("s2", given_name="Văn Khác"))
        with pytest.raises(ConflictError):
            reg.register_subject(subject("s3", code="VN-9"))
        assert _counts(backend) == (2, 0)
        assert len(reg.audit_trail("subject", "s2")) == 1

    def test_mother_and_child(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        mother = subject("m1", born=dt.date(1996, 12, 31), given_name="Thị Nguyệt")
        reg.register_subject(mother)
        child = attrs.evolve(subject("c1", born=dt.date(2025, 12, 31)), mother_id="m1")
        reg.register_subject(child)
        assert reg.history("c1").subject.mother_id == "m1"
        with pytest.raises(ValidationError) as info:
            reg.register_subject(
                attrs.evolve(subject("m2", born=dt.date(1990, 1, 31)), mother_id="c1")
            )
        assert _fields(info.value) == {"mother_id"}

    def test_subjects_in_follow_the_tree_on_the_day(self, backend: Backend) -> None:
        reg = self._setup_registry(backend)
        reg.register_subject(subject("s2", unit="HN-BD-S1"))
        reg.register_subject(subject("s3", unit="HCM-Q1"))
        on = dt.date(2025, 1, 1)
        assert [s.id for s in reg.subjects_in("HN", on=on)] == ["s1", "s2"]
        assert [s.id for s in reg.subjects_in("VN", on=on)] == ["s1", "s2", "s3"]
        assert [s.id for s in reg.subjects_in("HN-BD-S1", on=on)] == ["s2"]
        with pytest.raises(NotFoundError):
            reg.subjects_in("NOWHERE", on=on)

    def test_a_consistent_world_is_stored_and_read_back(self, backend: Backend) -> None:
        counter = itertools.count()

        def check(world: ist.RegistryWorld) -> None:
            w = namespaced(world, f"w{next(counter)}.")
            clock = FixedClock(
                dt.datetime.combine(
                    w.as_of, dt.time(12), tzinfo=dt.timezone(dt.timedelta(hours=7))
                )
            )
            reg = Registry(backend, clock=clock, user="kiểm thử")
            reg.add_org_units(w.org_units)
            _store_reference(backend, (), w.products, w.lots)
            for s in w.subjects:
                reg.register_subject(s)
            for d in w.doses:
                assert reg.record_dose(d).outcome is RecordOutcome.RECORDED
            for d in w.doses:
                assert reg.record_dose(d).outcome is RecordOutcome.ALREADY_RECORDED
            for s in w.subjects:
                h = reg.history(s.id)
                assert h.subject == s
                assert list(h.doses) == w.doses_of(s.id)
            with backend.unit_of_work() as uow:
                assert [p for p in uow.catalogue.list_products() if p in w.products] == list(
                    w.products
                )
                for u in w.org_units:
                    assert uow.org_units.get(u.id) == u

        self.check_examples(ist.registry_worlds(), check)


def namespaced(world: ist.RegistryWorld, prefix: str) -> ist.RegistryWorld:
    """The same world with ``prefix`` put before every id and code, so worlds do not clash."""

    def p(value: str) -> str:
        return prefix + value

    def opt(value: str | None) -> str | None:
        return None if value is None else prefix + value

    units = tuple(
        attrs.evolve(
            u,
            id=p(u.id),
            parents=tuple(attrs.evolve(link, parent_id=opt(link.parent_id)) for link in u.parents),
        )
        for u in world.org_units
    )
    people = tuple(
        attrs.evolve(
            s,
            id=p(s.id),
            national_code=opt(s.national_code),
            mother_id=opt(s.mother_id),
            residences=tuple(attrs.evolve(r, org_unit_id=p(r.org_unit_id)) for r in s.residences),
        )
        for s in world.subjects
    )
    return ist.RegistryWorld(
        as_of=world.as_of,
        org_units=units,
        products=tuple(attrs.evolve(x, code=p(x.code)) for x in world.products),
        lots=tuple(attrs.evolve(x, product_code=p(x.product_code)) for x in world.lots),
        subjects=people,
        doses=tuple(
            attrs.evolve(
                d,
                id=p(d.id),
                subject_id=p(d.subject_id),
                product_code=p(d.product_code),
                facility_id=p(d.facility_id),
            )
            for d in world.doses
        ),
    )


# --- round trips ----------------------------------------------------------------------------


class RoundTripContract(ContractBase):
    """Every model type stored and read back equal: diacritics, ``None`` fields, 29 February."""

    def _ids(self) -> Iterator[str]:
        return (f"rt{n}." for n in itertools.count())

    def test_subject_with_every_field(self, backend: Backend) -> None:
        self.seed(backend)
        mother = subject("m", born=dt.date(1992, 1, 31), family_name="Hoàng", given_name="Thị Ánh")
        full = Subject(
            id="s-2024.02.29_1",
            family_name="Nguyễn",
            given_name="Ngọc Quỳnh Thư",
            birth_date=dt.date(2024, 2, 29),
            sex=Sex.FEMALE,
            national_code="VN-79-2024-0000017",
            mother_id="m",
            caregivers=(
                Caregiver("Hoàng Thị Ánh", "mother", "0912 345 678", sms_opt_out=False),
                Caregiver("Nguyễn Văn Đức", "father", None, sms_opt_out=True),
                Caregiver("Bà ngoại Hoàng Thị Ỷ", "bà ngoại"),
            ),
            residences=(
                Residence("HN-BD", dt.date(2024, 2, 29), dt.date(2024, 12, 31)),
                Residence("HCM-Q1", dt.date(2024, 12, 31)),
            ),
            deceased_on=None,
        )
        decomposed = attrs.evolve(
            subject("nfd"), family_name="Nguye\u0302\u0303n", given_name="Thi\u0323 Lan"
        )
        longest = subject("long", family_name="Đ" * 100, given_name="Thị " + "Ỷ" * 96)
        died = attrs.evolve(
            subject("dead", born=dt.date(2023, 1, 31)), deceased_on=dt.date(2024, 2, 29)
        )
        self.add_subjects(backend, mother, full, decomposed, longest, died)
        for s in (mother, full, decomposed, longest, died):
            assert self.read(backend, lambda u: u.subjects.get(s.id)) == s  # noqa: B023
        stored = self.read(backend, lambda u: u.subjects.get("nfd"))
        assert stored.family_name == "Nguye\u0302\u0303n"
        assert stored.family_name != "Nguyễn"
        assert self.read(backend, lambda u: u.subjects.get(full.id)).caregivers[0].phone == (
            "+84912345678"
        )

    def test_extreme_dates_and_instants(self, backend: Backend) -> None:
        # "Never expires" and "since forever" are written as the largest and smallest date.
        self.seed(backend)
        lot = Lot("BCG", "FOREVER", dt.date.max)
        old = subject("old", born=dt.date(1, 1, 1))
        unit = OrgUnit("X", "Điểm tiêm", OrgLevel.SITE, opened=dt.date.min, closed=dt.date.max)
        last = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
        e = AuditEntry("dose", "d-max", "record", last, "x")
        with backend.unit_of_work() as uow:
            uow.lots.add(lot)
            uow.subjects.add(old)
            uow.org_units.add(unit)
            uow.audit.append(e)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.lots.find("BCG", "FOREVER") == lot
            assert uow.subjects.get("old") == old
            assert uow.org_units.get("X") == unit
            assert uow.audit.list_for("dose", "d-max") == [e]

    def test_generated_subjects(self, backend: Backend) -> None:
        self.seed(backend)
        ids = self._ids()
        units = st.sampled_from([u.id for u in SEED.org_units])

        def check(s: Subject) -> None:
            n = next(ids)
            s = attrs.evolve(
                s,
                id=n + s.id,
                national_code=None if s.national_code is None else n + s.national_code,
            )
            self.add_subjects(backend, s)
            assert self.read(backend, lambda u: u.subjects.get(s.id)) == s
            code = s.national_code
            if code is not None:
                assert self.read(backend, lambda u: u.subjects.find_by_code(code)) == s

        self.check_examples(ist.subjects(org_unit_ids=units, mother_ids=st.none()), check)

    def test_generated_doses(self, backend: Backend) -> None:
        self.seed(backend)
        ids = self._ids()

        def check(d: AdministeredDose) -> None:
            n = next(ids)
            s = subject(n + "s", born=dt.date(1920, 1, 1))
            d = attrs.evolve(d, id=n + d.id, subject_id=s.id)
            self.add_subjects(backend, s)
            self.add_doses(backend, d)
            assert self.read(backend, lambda u: u.doses.get(d.id)) == d
            listed = self.read(
                backend, lambda u: u.doses.list_for_subject(s.id, include_voided=True)
            )
            assert listed == [d]

        strategy = ist.administered_doses(
            product_codes=st.sampled_from(["BCG", "PENTA"]),
            facility_ids=st.sampled_from([u.id for u in SEED.org_units]),
        )
        self.check_examples(strategy, check)

    def test_generated_products_and_lots(self, backend: Backend) -> None:
        ids = self._ids()

        def check(p: VaccineProduct) -> None:
            n = next(ids)
            p = attrs.evolve(p, code=n + p.code)
            lot = Lot(p.code, "L-29.02", dt.date(2028, 2, 29), manufacturer=None)
            with backend.unit_of_work() as uow:
                uow.catalogue.add_product(p)
                uow.lots.add(lot)
                uow.commit()
            assert self.read(backend, lambda u: u.catalogue.get_product(p.code)) == p
            assert self.read(backend, lambda u: u.lots.find(p.code, "L-29.02")) == lot

        self.check_examples(ist.vaccine_products(), check)

    def test_generated_lots(self, backend: Backend) -> None:
        self.seed(backend)
        ids = self._ids()

        def check(lot: Lot) -> None:
            product = VaccineProduct(next(ids) + "P", "Sản phẩm", ("Measles",))
            lot = attrs.evolve(lot, product_code=product.code)
            with backend.unit_of_work() as uow:
                uow.catalogue.add_product(product)
                uow.lots.add(lot)
                uow.commit()
            assert (
                self.read(backend, lambda u: u.lots.find(lot.product_code, lot.lot_number)) == lot
            )

        self.check_examples(ist.lots(), check)

    def test_generated_org_units(self, backend: Backend) -> None:
        self.seed(backend)
        ids = self._ids()

        def check(unit: OrgUnit) -> None:
            unit = attrs.evolve(unit, id=next(ids) + unit.id)
            with backend.unit_of_work() as uow:
                uow.org_units.add(unit)
                uow.commit()
            assert self.read(backend, lambda u: u.org_units.get(unit.id)) == unit

        parents = st.sampled_from([u.id for u in SEED.org_units])
        self.check_examples(ist.org_units(parent_ids=parents), check)

    def test_generated_audit_entries(self, backend: Backend) -> None:
        ids = self._ids()

        def check(e: AuditEntry) -> None:
            e = attrs.evolve(e, entity_id=next(ids) + e.entity_id)
            with backend.unit_of_work() as uow:
                uow.audit.append(e)
                uow.commit()
            assert self.read(backend, lambda u: u.audit.list_for(e.entity, e.entity_id)) == [e]

        self.check_examples(ist.audit_entries(), check)


# --- the other ports -------------------------------------------------------------------------


class ClockContract:
    """:class:`~immreg.ports.Clock`: provide a ``clock`` fixture yielding the clock to prove."""

    def test_now_is_timezone_aware(self, clock: Clock) -> None:
        now = clock.now()
        assert isinstance(now, dt.datetime)
        assert now.utcoffset() is not None

    def test_today_is_a_date_and_the_date_of_now(self, clock: Clock) -> None:
        before = clock.now()
        today = clock.today()
        after = clock.now()
        assert isinstance(today, dt.date)
        assert not isinstance(today, dt.datetime)
        assert today in {before.date(), after.date()}

    def test_time_does_not_go_backwards(self, clock: Clock) -> None:
        first = clock.now()
        assert clock.now() >= first


class MessageGatewayContract:
    """:class:`~immreg.ports.MessageGateway`: one delivery per idempotency key.

    Provide a ``gateway`` fixture and implement :meth:`delivered`, which returns what the
    provider behind the gateway received (a test double's inbox, a sandbox API's log).
    """

    def delivered(self, gateway: MessageGateway) -> Sequence[Message]:
        """Messages the provider received through ``gateway``, in order."""
        raise NotImplementedError("subclasses say how to see what the provider received")

    def test_send_returns_a_receipt_for_the_message(self, gateway: MessageGateway) -> None:
        message = Message("reminder-s1-PENTA-2", "+84912345678", "Nhắc lịch tiêm: bé Lan")
        receipt = gateway.send(message)
        assert receipt.idempotency_key == message.idempotency_key
        assert receipt.provider_id
        assert receipt.accepted_at.utcoffset() is not None
        assert list(self.delivered(gateway)) == [message]

    def test_same_key_is_delivered_once(self, gateway: MessageGateway) -> None:
        message = Message("k-1", "+84912345678", "Lịch tiêm sởi ngày 31/05")
        first = gateway.send(message)
        second = gateway.send(message)
        assert first.idempotency_key == second.idempotency_key == "k-1"
        assert list(self.delivered(gateway)) == [message]

    def test_different_keys_are_different_messages(self, gateway: MessageGateway) -> None:
        messages = [Message(f"k-{i}", "+84987654321", f"Tin nhắn số {i}") for i in range(3)]
        for m in messages:
            gateway.send(m)
        assert list(self.delivered(gateway)) == messages


class BackendContract(
    UnitOfWorkContract,
    SubjectRepositoryContract,
    DoseRepositoryContract,
    CatalogueRepositoryContract,
    OrgUnitRepositoryContract,
    LotRepositoryContract,
    AuditRepositoryContract,
    ScopingContract,
    BulkLoadContract,
    ServicesContract,
    RoundTripContract,
):
    """Every contract in one class: subclass this to run the whole suite on a backend."""
