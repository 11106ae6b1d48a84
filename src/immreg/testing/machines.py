"""A hypothesis state machine that checks two backends against each other and a model.

:class:`RegistryAgreementMachine` applies the same random sequence of operations (register
a person, record a dose: new, repeated or conflicting, correct it, void it, update a
person's record, bulk-load a batch, a unit of work that does several things and then rolls
back or raises, reads, scoped ones included) to two backends and to a plain-Python model
of the registry, and after every step asserts that both backends hold
exactly what the model holds and raised the same class of error. It follows hypothesis' own
``tests/nocover/test_database_agreement.py``.

Build one for any two backends with :func:`agreement_machine` and let pytest run its
``TestCase``::

    from hypothesis import settings
    from immreg.testing.machines import agreement_machine

    Machine = agreement_machine("memory://", open_my_store, names=("memory", "mine"))
    TestMemoryAgreesWithMine = Machine.TestCase
    TestMemoryAgreesWithMine.settings = settings(max_examples=200, stateful_step_count=15,
                                                 deadline=None)

A backend is given either as a URL that opens an empty store every time
(``memory://``, ``sqlite://``) or as a factory: a callable returning an open, empty
backend with its schema created. The machine calls it once per example and closes the
backend after the example, so the factory is the place to give every example a fresh
database (a temporary file, a new PostgreSQL schema) and ``close()`` the place to drop it.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import attrs
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from immreg.backends import open_backend
from immreg.errors import ConflictError, NotFoundError, ValidationError
from immreg.model import AdministeredDose, Residence, Sex, Subject
from immreg.ports import Backend, BulkBatch, UnitOfWork
from immreg.services import (
    FixedClock,
    RecordOutcome,
    RecordResult,
    Registry,
    record_dose,
    register_subject,
    void_dose,
)
from immreg.testing import strategies as ist
from immreg.testing.conformance import AS_OF, NOW, SEED

__all__ = [
    "BackendFactory",
    "BackendSource",
    "RegistryAgreementMachine",
    "RegistryModel",
    "agreement_machine",
]

#: A callable returning an open, empty backend with its schema created.
BackendFactory = Callable[[], Backend]
#: A backend URL that opens an empty store each time, or a :data:`BackendFactory`.
BackendSource = str | BackendFactory

# Small pools of ids and codes, so that random operations keep hitting the same records:
# repeats, conflicts and missing records are then common, not rare.
SUBJECT_IDS = ("s1", "s2", "S1", "s-3")
DOSE_IDS = ("d1", "d2", "d3", "D1", "d.4", "d5")
CODES = ("VN-1", "VN-2", "vn-1")
PRODUCTS = ("BCG", "PENTA", "NOPE")
UNITS = (*(u.id for u in SEED.org_units), "NOWHERE")
LOTS = (None, "L001", "OLD1", "X9")
REASONS = ("Nhập nhầm", "Ghi trùng", "wrong date", "Sai lô", "", "   ")
_KNOWN_UNITS = {u.id for u in SEED.org_units}
# The seed tree's subtrees (its parent links never end, so they hold on every day).
_SUBTREE = {
    "VN": _KNOWN_UNITS,
    "HN": {"HN", "HN-BD", "HN-BD-S1"},
    "HN-BD": {"HN-BD", "HN-BD-S1"},
    "HCM": {"HCM", "HCM-Q1"},
}
_KNOWN_PRODUCTS = {p.code for p in SEED.products}
_LOT_EXPIRY = {(lot.product_code, lot.lot_number): lot.expiry for lot in SEED.lots}


class _Boom(Exception):
    """Raised inside a unit of work to check that an exception rolls it back."""


@attrs.frozen
class _Outcome:
    """What one operation did on one backend (or in the model): a value or an error class.

    Attributes:
        value: The returned value when there was no error.
        error: The class of the :mod:`immreg.errors` exception raised, if any.
        detail: The error message, for the failure report.
    """

    value: Any = None
    error: type[BaseException] | None = None
    detail: str = ""


def _run(fn: Callable[[], Any]) -> _Outcome:
    try:
        return _Outcome(value=fn())
    except (ValidationError, ConflictError, NotFoundError) as e:
        return _Outcome(error=type(e), detail=str(e))


def _by_date(doses: Sequence[AdministeredDose]) -> list[AdministeredDose]:
    return sorted(doses, key=lambda d: (d.date, d.id))


@attrs.define
class RegistryModel:
    """What the registry should hold, kept with plain dictionaries.

    Each method mirrors a service of :mod:`immreg.services`, checking in the same order, and
    returns the error class the service must raise (``None`` on success).

    Attributes:
        subjects: Stored subjects by id.
        doses: Stored doses by id, voided ones included.
        audit: Audit actions per ``(entity, id)``, oldest first.
        batches: Numbers of the bulk batches stored, per load id.
    """

    subjects: dict[str, Subject] = attrs.field(factory=dict)
    doses: dict[str, AdministeredDose] = attrs.field(factory=dict)
    audit: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)
    batches: dict[str, set[int]] = attrs.field(factory=dict)

    def _log(self, entity: str, entity_id: str, action: str) -> None:
        self.audit.setdefault((entity, entity_id), []).append(action)

    def code_owner(self, code: str) -> Subject | None:
        """The stored subject with this national code, if any."""
        return next((s for s in self.subjects.values() if s.national_code == code), None)

    def register(self, s: Subject) -> type[Exception] | None:
        """Mirror :func:`immreg.services.register_subject`."""
        bad = s.birth_date > AS_OF or any(r.org_unit_id not in _KNOWN_UNITS for r in s.residences)
        bad = bad or any(r.start < s.birth_date for r in s.residences)
        if s.mother_id is not None:
            mother = self.subjects.get(s.mother_id)
            bad = bad or mother is None or mother.birth_date >= s.birth_date
        if bad:
            return ValidationError
        if s.id in self.subjects:
            return ConflictError
        if s.national_code is not None and self.code_owner(s.national_code) is not None:
            return ConflictError
        self.subjects[s.id] = s
        self._log("subject", s.id, "register")
        return None

    def update(self, s: Subject) -> type[Exception] | None:
        """Mirror :meth:`immreg.ports.SubjectRepository.update`."""
        if s.id not in self.subjects:
            return NotFoundError
        owner = None if s.national_code is None else self.code_owner(s.national_code)
        if owner is not None and owner.id != s.id:
            return ConflictError
        self.subjects[s.id] = s
        return None

    def load(
        self,
        load_id: str,
        batch_no: int,
        people: Sequence[Subject],
        doses: Sequence[AdministeredDose],
    ) -> type[Exception] | bool:
        """Mirror :meth:`immreg.ports.Backend.load_batch`: ``False``, ``True`` or an error."""
        if batch_no in self.batches.get(load_id, set()):
            return False
        codes = [s.national_code for s in people if s.national_code is not None]
        if (
            any(s.id in self.subjects for s in people)
            or len(codes) != len(set(codes))
            or any(self.code_owner(c) is not None for c in codes)
            or any(d.id in self.doses for d in doses)
        ):
            return ConflictError
        self.subjects.update((s.id, s) for s in people)
        self.doses.update((d.id, d) for d in doses)
        self.batches.setdefault(load_id, set()).add(batch_no)
        return True

    def _invalid(self, d: AdministeredDose) -> bool:
        subject = self.subjects.get(d.subject_id)
        if subject is None or d.product_code not in _KNOWN_PRODUCTS:
            return True
        if d.facility_id not in _KNOWN_UNITS or d.date > AS_OF or d.date < subject.birth_date:
            return True
        if subject.deceased_on is not None and d.date > subject.deceased_on:
            return True
        expiry = _LOT_EXPIRY.get((d.product_code, d.lot_number or ""))
        return expiry is not None and expiry < d.date

    def record(self, d: AdministeredDose) -> type[Exception] | None:
        """Mirror :func:`immreg.services.record_dose` (``d`` is fresh)."""
        old = self.doses.get(d.id)
        if old is not None:
            if old.same_content(d) and not old.voided and old.version == 1:
                return None
            return ConflictError
        if self._invalid(d):
            return ValidationError
        self.doses[d.id] = d
        self._log("dose", d.id, "record")
        return None

    def correct(self, d: AdministeredDose, expected: int, reason: str) -> type[Exception] | None:
        """Mirror :func:`immreg.services.correct_dose`."""
        if not reason.strip():
            return ValidationError
        old = self.doses.get(d.id)
        if old is None:
            return NotFoundError
        if old.voided or old.subject_id != d.subject_id:
            return ConflictError
        new = attrs.evolve(d, version=old.version + 1, voided=False, void_reason=None)
        if self._invalid(new):
            return ValidationError
        if old.version != expected:
            return ConflictError
        self.doses[d.id] = new
        self._log("dose", d.id, "correct")
        return None

    def void(self, dose_id: str, expected: int, reason: str) -> type[Exception] | None:
        """Mirror :func:`immreg.services.void_dose`."""
        if not reason.strip():
            return ValidationError
        old = self.doses.get(dose_id)
        if old is None:
            return NotFoundError
        if old.voided or old.version != expected:
            return ConflictError
        self.doses[dose_id] = attrs.evolve(
            old, version=old.version + 1, voided=True, void_reason=reason[:100]
        )
        self._log("dose", dose_id, "void")
        return None

    def doses_of(self, subject_id: str, *, include_voided: bool) -> list[AdministeredDose]:
        """The subject's doses in the repositories' order."""
        return _by_date(
            [
                d
                for d in self.doses.values()
                if d.subject_id == subject_id and (include_voided or not d.voided)
            ]
        )


def _fresh_dose(
    dose_id: str, subject_id: str, product: str, facility: str, day: dt.date, lot: str | None
) -> AdministeredDose:
    return AdministeredDose(
        id=dose_id,
        subject_id=subject_id,
        product_code=product,
        date=day,
        facility_id=facility,
        lot_number=lot,
    )


_dates = ist.dates(dt.date(2019, 1, 1), AS_OF + dt.timedelta(days=5))
_subjects = ist.subjects(
    ids=st.sampled_from(SUBJECT_IDS),
    org_unit_ids=st.sampled_from(UNITS),
    min_birth=dt.date(1985, 1, 1),
    max_birth=AS_OF + dt.timedelta(days=3),
    national_codes=st.none() | st.sampled_from(CODES),
    mother_ids=st.sampled_from((None,) * 8 + SUBJECT_IDS),
)
_valid_subjects = ist.subjects(
    ids=st.sampled_from(SUBJECT_IDS),
    org_unit_ids=st.sampled_from(UNITS[:-1]),
    min_birth=dt.date(1985, 1, 1),
    max_birth=AS_OF,
    national_codes=st.none() | st.sampled_from(CODES),
    mother_ids=st.none(),
)


class RegistryAgreementMachine(RuleBasedStateMachine):
    """Two backends and a :class:`RegistryModel`, driven by the same random operations.

    Do not run this class itself: :func:`agreement_machine` makes a subclass bound to two
    backends. Each example opens both backends afresh (from ``factories``), stores the
    contracts' seed world in them (:data:`immreg.testing.conformance.SEED`), and closes them
    in :meth:`teardown`.

    Attributes:
        factories: Callables that open the backends, set by :func:`agreement_machine`.
        names: Labels for the backends in failure messages.
    """

    factories: ClassVar[tuple[BackendFactory, ...]] = ()
    names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        if len(self.factories) < 2:
            raise TypeError("build the machine with agreement_machine(first, second)")
        self.model = RegistryModel()
        self.backends: list[Backend] = []
        for factory in self.factories:
            backend = factory()
            self.backends.append(backend)
            SEED.store(backend)
        self.registries = [
            Registry(b, clock=FixedClock(NOW), user="máy kiểm thử") for b in self.backends
        ]
        self._temp = itertools.count()

    def teardown(self) -> None:
        """Close every backend opened for this example."""
        for b in self.backends:
            b.close()

    # --- helpers ------------------------------------------------------------------------

    def _all(
        self, op: Callable[[Registry], Any], expected: type[Exception] | None, label: str
    ) -> list[Any]:
        """Run ``op`` on every backend; assert each raised ``expected`` (or nothing)."""
        event(f"{label}: {expected.__name__ if expected else 'ok'}")
        outcomes = [_run(functools.partial(op, r)) for r in self.registries]
        for name, o in zip(self.names, outcomes, strict=True):
            assert o.error is expected, (
                f"{name}: expected {expected.__name__ if expected else 'success'}, "
                f"got {o.error.__name__ if o.error else 'success'} {o.detail}"
            )
        return [o.value for o in outcomes]

    # --- rules --------------------------------------------------------------------------

    @initialize(s=_valid_subjects)
    def register_first_subject(self, s: Subject) -> None:
        """Start every example with one registered person, so doses can follow."""
        assert self.model.register(s) is None
        self._all(lambda r: r.register_subject(s), None, "register")

    @rule(s=_subjects)
    def register_subject(self, s: Subject) -> None:
        """Register a person (often a taken id or code, a future birth, a missing mother)."""
        expected = self.model.register(s)
        self._all(lambda r: r.register_subject(s), expected, "register")

    @rule(
        dose_id=st.sampled_from(DOSE_IDS),
        subject_id=st.sampled_from(SUBJECT_IDS),
        product=st.sampled_from(PRODUCTS),
        facility=st.sampled_from(UNITS),
        day=_dates,
        lot=st.sampled_from(LOTS),
    )
    def record_dose(
        self,
        dose_id: str,
        subject_id: str,
        product: str,
        facility: str,
        day: dt.date,
        lot: str | None,
    ) -> None:
        """Record a dose with random content (new, repeated, conflicting or invalid)."""
        d = _fresh_dose(dose_id, subject_id, product, facility, day, lot)
        self._record(d)

    def _record(self, d: AdministeredDose) -> None:
        already = d.id in self.model.doses
        expected = self.model.record(d)
        results: list[RecordResult] = self._all(lambda r: r.record_dose(d), expected, "record")
        if expected is None:
            want = RecordOutcome.ALREADY_RECORDED if already else RecordOutcome.RECORDED
            assert [x.outcome for x in results] == [want] * len(results)
            assert [x.dose for x in results] == [self.model.doses[d.id]] * len(results)

    @precondition(lambda self: bool(self.model.doses))
    @rule(data=st.data())
    def record_same_dose_again(self, data: st.DataObject) -> None:
        """Record a stored dose again, as first recorded: stored once, or a conflict."""
        old = data.draw(st.sampled_from(sorted(self.model.doses.values(), key=lambda d: d.id)))
        self._record(attrs.evolve(old, version=1, voided=False, void_reason=None))

    @precondition(lambda self: bool(self.model.doses))
    @rule(data=st.data(), shift=st.integers(1, 40))
    def record_conflicting_dose(self, data: st.DataObject, shift: int) -> None:
        """Record a stored dose's id with another date: always a conflict."""
        old = data.draw(st.sampled_from(sorted(self.model.doses.values(), key=lambda d: d.id)))
        changed = attrs.evolve(
            old, version=1, voided=False, void_reason=None, date=old.date - dt.timedelta(shift)
        )
        self._record(changed)

    @rule(data=st.data(), load_id=st.sampled_from(("L1", "L2")), batch_no=st.integers(0, 2))
    def load_batch(self, data: st.DataObject, load_id: str, batch_no: int) -> None:
        """Bulk-load a batch: new, already loaded (nothing written) or conflicting."""
        people = data.draw(st.lists(_valid_subjects, max_size=2, unique_by=lambda s: s.id))
        owners = sorted({s.id for s in people} | set(self.model.subjects))
        doses: list[AdministeredDose] = []
        if owners:
            one = st.builds(
                _fresh_dose,
                st.sampled_from(DOSE_IDS),
                st.sampled_from(owners),
                st.sampled_from(PRODUCTS[:2]),
                st.sampled_from(UNITS[:-1]),
                _dates,
                st.sampled_from(LOTS[:2]),
            )
            doses = data.draw(st.lists(one, max_size=3, unique_by=lambda d: d.id))
        expected = self.model.load(load_id, batch_no, people, doses)
        batch = BulkBatch(load_id, batch_no, people, doses)
        event(f"load_batch: {expected if isinstance(expected, bool) else expected.__name__}")
        for name, backend in zip(self.names, self.backends, strict=True):
            outcome = _run(functools.partial(backend.load_batch, batch))
            if isinstance(expected, bool):
                assert (outcome.error, outcome.value) == (None, expected), f"{name}: {outcome}"
            else:
                assert outcome.error is expected, f"{name}: {outcome}"
            assert backend.loaded_batches(load_id) == self.model.batches.get(load_id, set())

    @rule(s=_valid_subjects)
    def update_subject(self, s: Subject) -> None:
        """Replace a person's record (new names, residences, national code) in a unit of work."""
        expected = self.model.update(s)
        for name, backend in zip(self.names, self.backends, strict=True):

            def update(uow: UnitOfWork) -> None:
                uow.subjects.update(s)
                uow.commit()

            with backend.unit_of_work() as uow:
                outcome = _run(functools.partial(update, uow))
            assert outcome.error is expected, f"{name}: {outcome.error} {outcome.detail}"

    @precondition(lambda self: bool(self.model.subjects))
    @rule(
        data=st.data(),
        dose_id=st.sampled_from(DOSE_IDS),
        product=st.sampled_from(PRODUCTS[:2]),
        facility=st.sampled_from(UNITS[:-1]),
        lot=st.sampled_from(LOTS[:2]),
    )
    def record_valid_dose(
        self, data: st.DataObject, dose_id: str, product: str, facility: str, lot: str | None
    ) -> None:
        """Record a dose that fits a stored subject (new unless the id is taken)."""
        subject = self._pick_subject(data)
        last = min(AS_OF, subject.deceased_on or AS_OF)
        day = data.draw(ist.dates(subject.birth_date, last))
        self._record(_fresh_dose(dose_id, subject.id, product, facility, day, lot))

    def _pick_subject(self, data: st.DataObject) -> Subject:
        return data.draw(st.sampled_from(sorted(self.model.subjects.values(), key=lambda s: s.id)))

    def _pick_dose(self, data: st.DataObject) -> AdministeredDose:
        return data.draw(st.sampled_from(sorted(self.model.doses.values(), key=lambda d: d.id)))

    @precondition(lambda self: bool(self.model.doses))
    @rule(
        data=st.data(),
        product=st.sampled_from(PRODUCTS[:2]),
        facility=st.sampled_from(UNITS[:-1]),
        version_offset=st.sampled_from((0, 0, 0, -1)),
        reason=st.sampled_from(REASONS),
    )
    def correct_stored_dose(
        self,
        data: st.DataObject,
        product: str,
        facility: str,
        version_offset: int,
        reason: str,
    ) -> None:
        """Correct a stored dose with valid content, usually at its current version."""
        old = self._pick_dose(data)
        subject = self.model.subjects[old.subject_id]
        last = min(AS_OF, subject.deceased_on or AS_OF)
        day = data.draw(ist.dates(subject.birth_date, last))
        d = _fresh_dose(old.id, old.subject_id, product, facility, day, None)
        self._correct(d, old.version + version_offset, reason)

    @precondition(lambda self: bool(self.model.doses))
    @rule(
        data=st.data(),
        version_offset=st.sampled_from((0, 0, 0, -1)),
        reason=st.sampled_from(REASONS),
    )
    def void_stored_dose(self, data: st.DataObject, version_offset: int, reason: str) -> None:
        """Void a stored dose, usually at its current version."""
        old = self._pick_dose(data)
        self._void(old.id, old.version + version_offset, reason)

    @rule(
        dose_id=st.sampled_from(DOSE_IDS),
        product=st.sampled_from(PRODUCTS),
        facility=st.sampled_from(UNITS),
        day=_dates,
        lot=st.sampled_from(LOTS),
        version_offset=st.sampled_from((0, 0, 0, -1, 1)),
        other_subject=st.none() | st.sampled_from(SUBJECT_IDS),
        reason=st.sampled_from(REASONS),
    )
    def correct_dose(
        self,
        dose_id: str,
        product: str,
        facility: str,
        day: dt.date,
        lot: str | None,
        version_offset: int,
        other_subject: str | None,
        reason: str,
    ) -> None:
        """Correct a dose, usually at its current version, sometimes stale or invalid."""
        old = self.model.doses.get(dose_id)
        subject_id = other_subject or (old.subject_id if old is not None else SUBJECT_IDS[0])
        d = _fresh_dose(dose_id, subject_id, product, facility, day, lot)
        self._correct(d, (old.version if old is not None else 1) + version_offset, reason)

    def _correct(self, d: AdministeredDose, expected_version: int, reason: str) -> None:
        expected = self.model.correct(d, expected_version, reason)
        results = self._all(
            lambda r: r.correct_dose(d, expected_version=expected_version, reason=reason),
            expected,
            "correct",
        )
        if expected is None:
            assert results == [self.model.doses[d.id]] * len(results)

    @rule(
        dose_id=st.sampled_from(DOSE_IDS),
        version_offset=st.sampled_from((0, 0, 0, -1, 1)),
        reason=st.sampled_from(REASONS),
    )
    def void_dose(self, dose_id: str, version_offset: int, reason: str) -> None:
        """Void a dose, usually at its current version, sometimes stale or without reason."""
        old = self.model.doses.get(dose_id)
        self._void(dose_id, (old.version if old is not None else 1) + version_offset, reason)

    def _void(self, dose_id: str, expected_version: int, reason: str) -> None:
        expected = self.model.void(dose_id, expected_version, reason)
        results = self._all(
            lambda r: r.void_dose(dose_id, expected_version=expected_version, reason=reason),
            expected,
            "void",
        )
        if expected is None:
            assert results == [self.model.doses[dose_id]] * len(results)

    @rule(
        how=st.sampled_from(("rollback", "no commit", "exception")),
        day=_dates,
        void=st.booleans(),
    )
    def abandoned_unit_of_work(self, how: str, day: dt.date, void: bool) -> None:
        """Register, record and void inside one unit of work, then roll it all back."""
        n = next(self._temp)
        temp = Subject(
            id=f"tmp-{n}",
            family_name="Tạm",
            given_name="Thị Thử",
            birth_date=dt.date(2019, 1, 1),
            sex=Sex.FEMALE,
            national_code=f"TMP-{n}",
            residences=(Residence("HN-BD", dt.date(2019, 1, 1)),),
        )
        day = min(max(day, temp.birth_date), AS_OF)
        live = [d for d in sorted(self.model.doses.values(), key=lambda d: d.id) if not d.voided]
        for backend in self.backends:
            try:
                with backend.unit_of_work() as uow:
                    register_subject(uow, temp, as_of=AS_OF, at=NOW, by="tạm")
                    record_dose(
                        uow,
                        _fresh_dose(f"tmp-d{n}", temp.id, "BCG", "HN-BD-S1", day, None),
                        as_of=AS_OF,
                        at=NOW,
                        by="tạm",
                    )
                    if void and live:
                        void_dose(
                            uow,
                            live[0].id,
                            expected_version=live[0].version,
                            reason="tạm",
                            at=NOW,
                            by="tạm",
                        )
                    assert uow.subjects.find(temp.id) == temp
                    if how == "rollback":
                        uow.rollback()
                        assert uow.subjects.find(temp.id) is None
                    elif how == "exception":
                        raise _Boom
            except _Boom:
                pass
            with backend.unit_of_work() as uow:
                assert uow.subjects.find(temp.id) is None
                assert uow.subjects.find_by_code(temp.national_code or "") is None
                assert uow.doses.find(f"tmp-d{n}") is None
                assert uow.audit.list_for("subject", temp.id) == []

    @rule(scope=st.sampled_from(sorted(_SUBTREE)))
    def read_in_scope(self, scope: str) -> None:
        """Count and list through a scoped unit of work: out-of-scope people are left out."""
        units = _SUBTREE[scope]
        visible = {
            s.id
            for s in self.model.subjects.values()
            if any(r.org_unit_id in units for r in s.residences)
        }
        doses = sum(1 for d in self.model.doses.values() if d.subject_id in visible)
        residents = sorted(
            i for i in visible if self.model.subjects[i].residence_on(AS_OF) in _KNOWN_UNITS
        )
        for name, backend in zip(self.names, self.backends, strict=True):
            with backend.unit_of_work(scope=scope) as uow:
                got = (
                    uow.subjects.count(),
                    uow.doses.count(),
                    [s.id for s in uow.subjects.list_resident(sorted(_KNOWN_UNITS), on=AS_OF)],
                )
            assert got == (len(visible), doses, residents), f"{name} in scope {scope}"

    @rule(data=st.data(), include_voided=st.booleans())
    def read_history(self, data: st.DataObject, include_voided: bool) -> None:
        """Read a subject's history through the registry (stored or not)."""
        stored = sorted(self.model.subjects)
        pool = st.sampled_from(SUBJECT_IDS)
        subject_id = data.draw(st.sampled_from(stored) | pool if stored else pool)
        subject = self.model.subjects.get(subject_id)
        results = self._all(
            lambda r: r.history(subject_id, include_voided=include_voided),
            None if subject is not None else NotFoundError,
            "history",
        )
        if subject is not None:
            want = self.model.doses_of(subject_id, include_voided=include_voided)
            for h in results:
                assert h.subject == subject
                assert list(h.doses) == want

    # --- invariants ---------------------------------------------------------------------

    def _snapshot(self, backend: Backend) -> dict[str, Any]:
        with backend.unit_of_work() as uow:
            return {
                "subject count": uow.subjects.count(),
                "dose count": uow.doses.count(),
                "subjects": {i: uow.subjects.find(i) for i in SUBJECT_IDS},
                "codes": {c: uow.subjects.find_by_code(c) for c in CODES},
                "doses": {i: uow.doses.find(i) for i in DOSE_IDS},
                "histories": {
                    i: uow.doses.list_for_subject(i, include_voided=True)
                    for i in SUBJECT_IDS
                    if i in self.model.subjects
                },
                "residents": [
                    s.id for s in uow.subjects.list_resident(sorted(_KNOWN_UNITS), on=AS_OF)
                ],
                "audit": {
                    (e, i): uow.audit.list_for(e, i)
                    for e, ids in (("subject", SUBJECT_IDS), ("dose", DOSE_IDS))
                    for i in ids
                },
            }

    def _expected(self) -> dict[str, Any]:
        m = self.model
        return {
            "subject count": len(m.subjects),
            "dose count": len(m.doses),
            "subjects": {i: m.subjects.get(i) for i in SUBJECT_IDS},
            "codes": {c: m.code_owner(c) for c in CODES},
            "doses": {i: m.doses.get(i) for i in DOSE_IDS},
            "histories": {
                i: m.doses_of(i, include_voided=True) for i in SUBJECT_IDS if i in m.subjects
            },
            "residents": sorted(
                s.id for s in m.subjects.values() if s.residence_on(AS_OF) in _KNOWN_UNITS
            ),
        }

    @invariant()
    def backends_agree_with_each_other_and_the_model(self) -> None:
        """Every backend holds what the model holds; audit trails are identical."""
        snapshots = [self._snapshot(b) for b in self.backends]
        first = snapshots[0]
        for name, snap in zip(self.names[1:], snapshots[1:], strict=True):
            for key in first:
                assert snap[key] == first[key], f"{self.names[0]} and {name} disagree on {key}"
        want = self._expected()
        for name, snap in zip(self.names, snapshots, strict=True):
            for key, value in want.items():
                assert snap[key] == value, f"{name} disagrees with the model on {key}"
            actions = {k: [e.action for e in v] for k, v in snap["audit"].items() if v}
            assert actions == self.model.audit, f"{name} disagrees with the model on audit"


def _factory(source: BackendSource) -> BackendFactory:
    if isinstance(source, str):
        url = source
        return lambda: open_backend(url)
    return source


def agreement_machine(
    first: BackendSource,
    second: BackendSource,
    *,
    names: tuple[str, str] | None = None,
) -> type[RegistryAgreementMachine]:
    """Build a :class:`RegistryAgreementMachine` for two backends.

    Args:
        first: URL or factory of the first backend (typically ``"memory://"``, the
            reference).
        second: URL or factory of the backend under test.
        names: Labels in failure messages; the URLs or factory names by default.

    Returns:
        A machine class; run ``Machine.TestCase`` with pytest (or unittest), setting
        ``Machine.TestCase.settings`` to choose ``max_examples`` and
        ``stateful_step_count``.
    """
    sources = (first, second)
    labels = names or tuple(
        s if isinstance(s, str) else getattr(s, "__name__", repr(s)) for s in sources
    )

    class Machine(RegistryAgreementMachine):
        factories = tuple(_factory(s) for s in sources)
        names = labels

    Machine.__name__ = Machine.__qualname__ = "AgreementOf_" + "_".join(
        "".join(c if c.isalnum() else "_" for c in label)[:20] for label in labels
    )
    return Machine
