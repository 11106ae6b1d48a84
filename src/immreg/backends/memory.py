"""The in-memory reference backend: the contract's executable definition and the test fake.

It keeps committed data in dictionaries guarded by a lock. A unit of work writes into an
overlay of its own and reads through it, so uncommitted changes are invisible to others and
a rollback simply drops the overlay; ``commit()`` re-checks uniqueness and versions against
what others committed meanwhile and applies the overlay atomically.

It passes the same conformance suite (:mod:`immreg.testing.conformance`) as the SQL backend,
which is what lets tests of services use it in place of a database.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Hashable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

import attrs

from immreg.backends.memory_maternal import MemoryMaternalRepository
from immreg.backends.memory_messaging import (
    MemoryDueSummaryRepository,
    MemoryOutboxRepository,
    MessagingStore,
)
from immreg.backends.memory_registry import (
    MemoryAefiRepository,
    MemoryDoseVerificationRepository,
    MemoryMergeRepository,
    MemoryPregnancyRepository,
)
from immreg.backends.memory_reports import MemoryReportRepository
from immreg.backends.memory_stock import MemoryStockLedger, StockStore
from immreg.errors import ConflictError, NotFoundError, ScopeError, ValidationError
from immreg.model import AdministeredDose, AuditEntry, Lot, OrgUnit, Subject, VaccineProduct
from immreg.orgunits import OrgTree
from immreg.ports import BulkBatch
from immreg.registry.records import AefiReport, DoseVerification, MergeRecord, PregnancyEpisode

__all__ = [
    "MemoryAuditRepository",
    "MemoryBackend",
    "MemoryCatalogueRepository",
    "MemoryDoseRepository",
    "MemoryLotRepository",
    "MemoryOrgUnitRepository",
    "MemorySubjectRepository",
    "MemoryUnitOfWork",
    "open_memory_backend",
    "subtree_ids",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Table(Generic[K, V]):
    """Committed rows of one kind, keyed by primary key."""

    def __init__(self) -> None:
        self.rows: dict[K, V] = {}


class _Overlay(Generic[K, V]):
    """A unit of work's uncommitted writes over a committed table."""

    def __init__(self, table: _Table[K, V]) -> None:
        self.table = table
        self.writes: dict[K, V] = {}
        # Keys this unit of work read (with the value it saw) before writing, for the
        # optimistic checks at commit.
        self.expected: dict[K, object] = {}
        # Keys removed by this unit of work (only a merge retires a subject).
        self.deleted: set[K] = set()

    def get(self, key: K) -> V | None:
        if key in self.writes:
            return self.writes[key]
        if key in self.deleted:
            return None
        return self.table.rows.get(key)

    def put(self, key: K, value: V, *, expect: object) -> None:
        if key not in self.expected and key not in self.writes:
            self.expected[key] = expect
        self.writes[key] = value
        self.deleted.discard(key)

    def delete(self, key: K, *, expect: object) -> None:
        if key not in self.expected and key not in self.writes:
            self.expected[key] = expect
        self.writes.pop(key, None)
        self.deleted.add(key)

    def values(self) -> Iterator[V]:
        for key, value in self.table.rows.items():
            if key not in self.writes and key not in self.deleted:
                yield value
        yield from self.writes.values()


@attrs.define
class _Store:
    """Everything one memory backend has committed."""

    lock: threading.RLock = attrs.field(factory=threading.RLock)
    subjects: _Table[str, Subject] = attrs.field(factory=_Table)
    doses: _Table[str, AdministeredDose] = attrs.field(factory=_Table)
    products: _Table[str, VaccineProduct] = attrs.field(factory=_Table)
    org_units: _Table[str, OrgUnit] = attrs.field(factory=_Table)
    lots: _Table[tuple[str, str], Lot] = attrs.field(factory=_Table)
    audit: list[AuditEntry] = attrs.field(factory=list)
    batches: set[tuple[str, int]] = attrs.field(factory=set)
    stock: StockStore = attrs.field(factory=StockStore)
    messaging: MessagingStore = attrs.field(factory=MessagingStore)
    merges: _Table[str, MergeRecord] = attrs.field(factory=_Table)
    verifications: _Table[str, DoseVerification] = attrs.field(factory=_Table)
    aefi: _Table[str, AefiReport] = attrs.field(factory=_Table)
    pregnancies: _Table[str, PregnancyEpisode] = attrs.field(factory=_Table)
    # Secondary indexes kept on committed data only: subject id -> dose ids, and
    # national code -> subject id.
    doses_by_subject: dict[str, set[str]] = attrs.field(factory=dict)
    codes: dict[str, str] = attrs.field(factory=dict)


def subtree_ids(units: Sequence[OrgUnit], root: str) -> set[str]:
    """The root and every unit that has it as an ancestor through any parent link, ever.

    This is the scoping rule every backend follows (see :mod:`immreg.ports`).
    """
    children: dict[str, set[str]] = {}
    for u in units:
        for link in u.parents:
            if link.parent_id is not None:
                children.setdefault(link.parent_id, set()).add(u.id)
    seen = {root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


class _Scope:
    """Decides which subjects a scoped unit of work may see."""

    def __init__(self, scope: str | None, overlay: _Overlay[str, OrgUnit]) -> None:
        self.scope = scope
        self._overlay = overlay
        self._ids: set[str] | None = None
        self._seen_writes = -1

    def admits(self, subject: Subject) -> bool:
        if self.scope is None:
            return True
        # Org units are only ever added, so the subtree changes only when this unit of
        # work adds one: recompute then, so new units widen the scope at once.
        if self._ids is None or self._seen_writes != len(self._overlay.writes):
            self._ids = subtree_ids(list(self._overlay.values()), self.scope)
            self._seen_writes = len(self._overlay.writes)
        return any(r.org_unit_id in self._ids for r in subject.residences)

    def check(self, subject: Subject) -> None:
        if not self.admits(subject):
            raise ScopeError(
                f"subject {subject.id!r} is not resident in org unit {self.scope!r} or below"
            )


class MemorySubjectRepository:
    """Subjects in memory (see :class:`immreg.ports.SubjectRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._rows: _Overlay[str, Subject] = _Overlay(uow.store.subjects)

    def _code_owner(self, code: str) -> str | None:
        for s in self._rows.writes.values():
            if s.national_code == code:
                return s.id
        owner = self._uow.store.codes.get(code)
        if owner is not None and (owner in self._rows.writes or owner in self._rows.deleted):
            # Rewritten in this unit of work: the write above would have matched.
            return None
        return owner

    def add(self, subject: Subject) -> None:
        """Store a new subject."""
        self._uow.scope_guard.check(subject)
        if self._rows.get(subject.id) is not None:
            raise ConflictError(f"subject {subject.id!r} exists already")
        if subject.national_code is not None and self._code_owner(subject.national_code):
            raise ConflictError(f"national code {subject.national_code!r} is already in use")
        self._rows.put(subject.id, subject, expect=None)

    def find(self, subject_id: str) -> Subject | None:
        """Return the subject or ``None``."""
        s = self._rows.get(subject_id)
        if s is not None:
            self._uow.scope_guard.check(s)
        return s

    def get(self, subject_id: str) -> Subject:
        """Return the subject or raise NotFoundError."""
        s = self.find(subject_id)
        if s is None:
            raise NotFoundError("subject", subject_id)
        return s

    def get_many(self, subject_ids: Iterable[str]) -> list[Subject]:
        """:meth:`get` of each id, once each, in the order of first mention."""
        return [self.get(i) for i in dict.fromkeys(subject_ids)]

    def find_by_code(self, national_code: str) -> Subject | None:
        """Return the subject with this national code, or ``None``."""
        owner = self._code_owner(national_code)
        return self.find(owner) if owner is not None else None

    def update(self, subject: Subject) -> None:
        """Replace a stored subject."""
        old = self.get(subject.id)
        self._uow.scope_guard.check(subject)
        if subject.national_code is not None:
            owner = self._code_owner(subject.national_code)
            if owner is not None and owner != subject.id:
                raise ConflictError(f"national code {subject.national_code!r} is already in use")
        self._rows.put(subject.id, subject, expect=old)

    def list_resident(self, org_unit_ids: Sequence[str], *, on: dt.date) -> list[Subject]:
        """Subjects resident on ``on`` in one of ``org_unit_ids``, ordered by id."""
        wanted = set(org_unit_ids)
        found = [
            s
            for s in self._rows.values()
            if s.residence_on(on) in wanted and self._uow.scope_guard.admits(s)
        ]
        return sorted(found, key=lambda s: s.id)

    def count(self) -> int:
        """How many subjects are visible."""
        return sum(1 for s in self._rows.values() if self._uow.scope_guard.admits(s))


class MemoryDoseRepository:
    """Doses in memory (see :class:`immreg.ports.DoseRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._rows: _Overlay[str, AdministeredDose] = _Overlay(uow.store.doses)

    def _subject(self, subject_id: str) -> Subject:
        s = self._uow.subjects._rows.get(subject_id)
        if s is None:
            raise NotFoundError("subject", subject_id, field="subject_id")
        self._uow.scope_guard.check(s)
        return s

    def add(self, dose: AdministeredDose) -> None:
        """Store a new dose."""
        self._subject(dose.subject_id)
        if self._rows.get(dose.id) is not None:
            raise ConflictError(f"dose {dose.id!r} exists already")
        self._rows.put(dose.id, dose, expect=None)

    def find(self, dose_id: str) -> AdministeredDose | None:
        """Return the dose or ``None``."""
        d = self._rows.get(dose_id)
        if d is not None:
            self._subject(d.subject_id)
        return d

    def get(self, dose_id: str) -> AdministeredDose:
        """Return the dose or raise NotFoundError."""
        d = self.find(dose_id)
        if d is None:
            raise NotFoundError("dose", dose_id)
        return d

    def replace(self, dose: AdministeredDose, *, expected_version: int) -> None:
        """Replace a stored dose if its version is ``expected_version``."""
        old = self.get(dose.id)
        if old.subject_id != dose.subject_id:
            raise ConflictError(f"dose {dose.id!r} belongs to another subject")
        if old.version != expected_version:
            raise ConflictError(
                f"dose {dose.id!r} is at version {old.version}, not {expected_version}"
            )
        self._rows.put(dose.id, dose, expect=old)

    def list_for_subject(
        self, subject_id: str, *, include_voided: bool = False
    ) -> list[AdministeredDose]:
        """The subject's doses, ordered by date then id."""
        self._subject(subject_id)
        ids = set(self._uow.store.doses_by_subject.get(subject_id, ()))
        ids.update(k for k, d in self._rows.writes.items() if d.subject_id == subject_id)
        # The committed index may still list doses a merge moved to another subject.
        doses = [
            d for i in ids if (d := self._rows.get(i)) is not None and d.subject_id == subject_id
        ]
        if not include_voided:
            doses = [d for d in doses if not d.voided]
        return sorted(doses, key=lambda d: (d.date, d.id))

    def list_for_subjects(
        self, subject_ids: Iterable[str], *, include_voided: bool = False
    ) -> dict[str, list[AdministeredDose]]:
        """:meth:`list_for_subject` of each subject, keyed in the order of first mention."""
        return {
            i: self.list_for_subject(i, include_voided=include_voided)
            for i in dict.fromkeys(subject_ids)
        }

    def count(self) -> int:
        """How many dose records are visible, voided ones included."""
        if self._uow.scope is None:
            return sum(1 for _ in self._rows.values())
        subjects = self._uow.subjects._rows
        return sum(
            1
            for d in self._rows.values()
            if (s := subjects.get(d.subject_id)) is not None and self._uow.scope_guard.admits(s)
        )


class MemoryCatalogueRepository:
    """Vaccine products in memory (see :class:`immreg.ports.CatalogueRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._rows: _Overlay[str, VaccineProduct] = _Overlay(uow.store.products)

    def add_product(self, product: VaccineProduct) -> None:
        """Store a new product (the same content again is accepted)."""
        old = self._rows.get(product.code)
        if old is not None:
            if old == product:
                return
            raise ConflictError(f"product {product.code!r} exists with other content")
        self._rows.put(product.code, product, expect=None)

    def find_product(self, code: str) -> VaccineProduct | None:
        """Return the product or ``None``."""
        return self._rows.get(code)

    def get_product(self, code: str) -> VaccineProduct:
        """Return the product or raise NotFoundError."""
        p = self._rows.get(code)
        if p is None:
            raise NotFoundError("vaccine product", code)
        return p

    def list_products(self) -> list[VaccineProduct]:
        """All products, ordered by code."""
        return sorted(self._rows.values(), key=lambda p: p.code)


class MemoryOrgUnitRepository:
    """Org units in memory (see :class:`immreg.ports.OrgUnitRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._rows: _Overlay[str, OrgUnit] = _Overlay(uow.store.org_units)

    def add(self, unit: OrgUnit) -> None:
        """Store a new org unit (the same content again is accepted)."""
        old = self._rows.get(unit.id)
        if old is not None:
            if old == unit:
                return
            raise ConflictError(f"org unit {unit.id!r} exists with other content")
        self._rows.put(unit.id, unit, expect=None)

    def find(self, org_unit_id: str) -> OrgUnit | None:
        """Return the org unit or ``None``."""
        return self._rows.get(org_unit_id)

    def get(self, org_unit_id: str) -> OrgUnit:
        """Return the org unit or raise NotFoundError."""
        u = self._rows.get(org_unit_id)
        if u is None:
            raise NotFoundError("org unit", org_unit_id)
        return u

    def list_all(self) -> list[OrgUnit]:
        """Every org unit, ordered by id."""
        return sorted(self._rows.values(), key=lambda u: u.id)

    def subtree_ids(self, org_unit_id: str, *, on: dt.date) -> set[str]:
        """The unit and every unit below it on ``on``.

        Raises:
            NotFoundError: No such org unit.
        """
        return OrgTree(self._rows.values()).subtree(org_unit_id, on=on)


class MemoryLotRepository:
    """Lots in memory (see :class:`immreg.ports.LotRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._rows: _Overlay[tuple[str, str], Lot] = _Overlay(uow.store.lots)

    def add(self, lot: Lot) -> None:
        """Store a new lot (the same content again is accepted)."""
        key = (lot.product_code, lot.lot_number)
        old = self._rows.get(key)
        if old is not None:
            if old == lot:
                return
            raise ConflictError(f"lot {lot.lot_number!r} of {lot.product_code!r} differs")
        self._rows.put(key, lot, expect=None)

    def find(self, product_code: str, lot_number: str) -> Lot | None:
        """Return the lot or ``None``."""
        return self._rows.get((product_code, lot_number))


class MemoryAuditRepository:
    """The audit trail in memory (see :class:`immreg.ports.AuditRepository`)."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._store = uow.store
        self.pending: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        """Append an entry."""
        self.pending.append(entry)

    def list_for(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """Entries about one record, oldest first."""
        return [
            e
            for e in [*self._store.audit, *self.pending]
            if e.entity == entity and e.entity_id == entity_id
        ]


class MemoryUnitOfWork:
    """A unit of work over a :class:`MemoryBackend` (see :class:`immreg.ports.UnitOfWork`).

    Args:
        store: The backend's committed data.
        scope: Org-unit id whose subtree this unit of work is limited to.
    """

    subjects: MemorySubjectRepository
    doses: MemoryDoseRepository
    catalogue: MemoryCatalogueRepository
    org_units: MemoryOrgUnitRepository
    lots: MemoryLotRepository
    audit: MemoryAuditRepository
    stock: MemoryStockLedger
    due: MemoryDueSummaryRepository
    outbox: MemoryOutboxRepository
    merges: MemoryMergeRepository
    verifications: MemoryDoseVerificationRepository
    aefi: MemoryAefiRepository
    pregnancies: MemoryPregnancyRepository
    reports: MemoryReportRepository
    maternal: MemoryMaternalRepository

    def __init__(self, store: _Store, *, scope: str | None = None) -> None:
        self.store = store
        self.scope = scope
        self._reset()

    def _reset(self) -> None:
        self.subjects = MemorySubjectRepository(self)
        self.doses = MemoryDoseRepository(self)
        self.catalogue = MemoryCatalogueRepository(self)
        self.org_units = MemoryOrgUnitRepository(self)
        self.lots = MemoryLotRepository(self)
        self.audit = MemoryAuditRepository(self)
        self.stock = MemoryStockLedger(self.store.stock)
        self.due = MemoryDueSummaryRepository(self)
        self.outbox = MemoryOutboxRepository(self)
        self.merges = MemoryMergeRepository(self)
        self.verifications = MemoryDoseVerificationRepository(self)
        self.aefi = MemoryAefiRepository(self)
        self.pregnancies = MemoryPregnancyRepository(self)
        self.reports = MemoryReportRepository(self)
        self.maternal = MemoryMaternalRepository(self)
        self.scope_guard = _Scope(self.scope, self.org_units._rows)

    def __enter__(self) -> Self:
        """Begin: nothing is kept unless committed."""
        if self.scope is not None and self.org_units.find(self.scope) is None:
            raise NotFoundError("org unit", self.scope, field="scope")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        self.rollback()

    def rollback(self) -> None:
        """Discard every change since the last commit."""
        self._reset()

    def _overlays(self) -> list[_Overlay[object, object]]:
        return [
            self.subjects._rows,  # type: ignore[list-item]
            self.doses._rows,  # type: ignore[list-item]
            self.catalogue._rows,  # type: ignore[list-item]
            self.org_units._rows,  # type: ignore[list-item]
            self.lots._rows,  # type: ignore[list-item]
            self.merges.rows,  # type: ignore[list-item]
            self.verifications.rows,  # type: ignore[list-item]
            self.aefi.rows,  # type: ignore[list-item]
            self.pregnancies.rows,  # type: ignore[list-item]
        ]

    def commit(self) -> None:
        """Apply every change atomically, or raise ConflictError and keep nothing."""
        store = self.store
        with store.lock:
            for overlay in self._overlays():
                for key, expect in overlay.expected.items():
                    current = overlay.table.rows.get(key)
                    if current is not expect and current != expect:
                        self.rollback()
                        raise ConflictError(
                            f"{key!r} was changed by another unit of work; nothing was kept"
                        )
            written = self.subjects._rows.writes
            for s in written.values():
                owner = store.codes.get(s.national_code) if s.national_code else None
                if (
                    owner is not None
                    and owner != s.id
                    and owner not in self.subjects._rows.deleted
                    and (owner not in written or written[owner].national_code == s.national_code)
                ):
                    self.rollback()
                    raise ConflictError(
                        f"national code {s.national_code!r} is already in use; nothing was kept"
                    )
            try:
                self.stock.check()
                self.outbox.check()
            except BaseException:
                self.rollback()
                raise
            for sid in [*written, *self.subjects._rows.deleted]:
                old = store.subjects.rows.get(sid)
                if old is not None and old.national_code is not None:
                    store.codes.pop(old.national_code, None)
            for s in written.values():
                if s.national_code is not None:
                    store.codes[s.national_code] = s.id
            for overlay in self._overlays():
                overlay.table.rows.update(overlay.writes)
                for key in overlay.deleted:
                    overlay.table.rows.pop(key, None)
            for dose in self.doses._rows.writes.values():
                store.doses_by_subject.setdefault(dose.subject_id, set()).add(dose.id)
            store.audit.extend(self.audit.pending)
            self.stock.apply()
            self.due.apply()
            self.outbox.apply()
        self._reset()


class MemoryBackend:
    """The in-memory reference backend (see :class:`immreg.ports.Backend`).

    Data lives as long as the object; ``close()`` drops it.
    """

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._store = _Store()

    def unit_of_work(self, *, scope: str | None = None) -> MemoryUnitOfWork:
        """A new unit of work, optionally limited to an org-unit subtree."""
        return MemoryUnitOfWork(self._store, scope=scope)

    def create_schema(self) -> None:
        """Nothing to create in memory."""

    def loaded_batches(self, load_id: str) -> set[int]:
        """Numbers of the stored batches of ``load_id``."""
        with self._store.lock:
            return {n for (lid, n) in self._store.batches if lid == load_id}

    def load_batch(self, batch: BulkBatch) -> bool:
        """Store one bulk batch atomically; ``False`` if it was stored before."""
        with self._store.lock:
            key = (batch.load_id, batch.batch_no)
            if key in self._store.batches:
                return False
            with self.unit_of_work() as uow:
                for s in batch.subjects:
                    uow.subjects.add(s)
                for d in batch.doses:
                    uow.doses.add(d)
                uow.due.replace_many(batch.due)
                uow.commit()
            self._store.batches.add(key)
            return True

    def close(self) -> None:
        """Drop the data."""
        self._store = _Store()


def open_memory_backend(url: str) -> MemoryBackend:
    """Open a fresh in-memory backend for a ``memory://`` URL.

    Raises:
        ValidationError: The URL has a path or options (``memory://`` takes none).
    """
    if url.rstrip("/") != "memory:":
        raise ValidationError("url", "memory:// takes no path or options")
    return MemoryBackend(url)
