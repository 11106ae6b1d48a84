"""The registry feature's in-memory repositories: merges, verifications, AEFI, pregnancies.

Merge records live in a table of the backend's store and are written through an overlay
like every other memory table, so a rolled-back unit of work leaves no trace. Retiring a
subject and moving doses write through the subject and dose overlays of the same unit of
work.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import attrs

from immreg.errors import ConflictError, NotFoundError
from immreg.model import AdministeredDose
from immreg.registry.records import (
    AefiReport,
    DoseVerification,
    MergeRecord,
    PregnancyEpisode,
)

if TYPE_CHECKING:
    from immreg.backends.memory import MemoryUnitOfWork, _Overlay, _Table

__all__ = [
    "MemoryAefiRepository",
    "MemoryDoseVerificationRepository",
    "MemoryMergeRepository",
    "MemoryPregnancyRepository",
]

_Owned = TypeVar("_Owned", AefiReport, PregnancyEpisode)


class MemoryMergeRepository:
    """Merge records in memory (see :class:`immreg.ports.MergeRepository`).

    Args:
        uow: The unit of work it belongs to.
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        from immreg.backends.memory import _Overlay

        self._uow = uow
        self.rows: _Overlay[str, MergeRecord] = _Overlay(uow.store.merges)

    def _admits(self, record: MergeRecord) -> bool:
        return all(self._uow.scope_guard.admits(s) for s in record.subjects())

    def _check(self, record: MergeRecord) -> None:
        for s in record.subjects():
            self._uow.scope_guard.check(s)

    def add(self, record: MergeRecord) -> None:
        """Store a merge record."""
        self._check(record)
        if self.rows.get(record.id) is not None:
            raise ConflictError(f"merge {record.id!r} exists already")
        self.rows.put(record.id, record, expect=None)

    def find(self, merge_id: str) -> MergeRecord | None:
        """Return the merge record or ``None``."""
        r = self.rows.get(merge_id)
        if r is not None:
            self._check(r)
        return r

    def get(self, merge_id: str) -> MergeRecord:
        """Return the merge record or raise NotFoundError."""
        r = self.find(merge_id)
        if r is None:
            raise NotFoundError("merge", merge_id)
        return r

    def list_for_subject(self, subject_id: str) -> list[MergeRecord]:
        """Merges the subject took part in, oldest first (then by id)."""
        found = [
            r
            for r in self.rows.values()
            if subject_id in (r.survivor_id, r.absorbed_id) and self._admits(r)
        ]
        return sorted(found, key=lambda r: (r.at, r.id))

    def mark_undone(self, merge_id: str, *, at: dt.datetime, by: str) -> MergeRecord:
        """Record that the merge was undone; return the updated record."""
        old = self.get(merge_id)
        if old.undone:
            raise ConflictError(f"merge {merge_id!r} was undone already")
        new = attrs.evolve(old, undone_at=at, undone_by=by)
        self.rows.put(merge_id, new, expect=old)
        return new

    def retire_subject(self, subject_id: str) -> None:
        """Remove a subject that has no doses left."""
        subject = self._uow.subjects.get(subject_id)
        if self._uow.doses.list_for_subject(subject_id, include_voided=True):
            raise ConflictError(f"subject {subject_id!r} still has doses")
        self._uow.subjects._rows.delete(subject_id, expect=subject)

    def move_doses(self, dose_ids: list[str], *, to_subject_id: str) -> None:
        """Give doses to another subject, changing nothing else."""
        self._uow.subjects.get(to_subject_id)
        overlay: _Overlay[str, object] = self._uow.doses._rows  # type: ignore[assignment]
        for dose_id in dose_ids:
            dose = self._uow.doses.get(dose_id)
            overlay.put(dose_id, attrs.evolve(dose, subject_id=to_subject_id), expect=dose)


class MemoryDoseVerificationRepository:
    """Dose verifications in memory (see :class:`immreg.ports.DoseVerificationRepository`).

    Args:
        uow: The unit of work it belongs to.
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        from immreg.backends.memory import _Overlay

        self._uow = uow
        self.rows: _Overlay[str, DoseVerification] = _Overlay(uow.store.verifications)

    def put(self, verification: DoseVerification) -> None:
        """Store or replace the dose's verification status."""
        self._uow.doses.get(verification.dose_id)
        self.rows.put(
            verification.dose_id, verification, expect=self.rows.get(verification.dose_id)
        )

    def find(self, dose_id: str) -> DoseVerification | None:
        """The dose's verification status, or ``None``."""
        v = self.rows.get(dose_id)
        if v is not None:
            self._uow.doses.get(dose_id)
        return v

    def list_for_subject(self, subject_id: str) -> list[DoseVerification]:
        """Verifications of the subject's doses, by dose id."""
        doses = self._uow.doses.list_for_subject(subject_id, include_voided=True)
        found = [v for d in doses if (v := self.rows.get(d.id)) is not None]
        return sorted(found, key=lambda v: v.dose_id)


class _OwnedRecords(abc.ABC, Generic[_Owned]):
    """Storing, reading and replacing records that belong to one owning row.

    An AEFI report belongs to a dose and a pregnancy episode to a subject: a record may
    be stored or read only while its owner exists and lies inside the unit of work's
    scope (:meth:`_check_owner` asks the owner's repository, which checks both), and a
    replacement may not hand the record to another owner. Subclasses name the record
    kind for messages (:attr:`_kind`), say how a changed owner is reported
    (:attr:`_other_owner`) and which field holds the owner's id (:meth:`_owner_id`).

    Args:
        uow: The unit of work it belongs to.
        table: The store's committed table of these records.
    """

    _kind: ClassVar[str]
    _other_owner: ClassVar[str]

    def __init__(self, uow: MemoryUnitOfWork, table: _Table[str, _Owned]) -> None:
        from immreg.backends.memory import _Overlay

        self._uow = uow
        self.rows: _Overlay[str, _Owned] = _Overlay(table)

    @abc.abstractmethod
    def _owner_id(self, record: _Owned) -> str:
        """The id of the row the record belongs to."""

    @abc.abstractmethod
    def _check_owner(self, owner_id: str) -> None:
        """Raise unless the owner exists and is in scope."""

    def add(self, record: _Owned) -> None:
        """Store a new record."""
        self._check_owner(self._owner_id(record))
        if self.rows.get(record.id) is not None:
            raise ConflictError(f"{self._kind} {record.id!r} exists already")
        self.rows.put(record.id, record, expect=None)

    def get(self, record_id: str) -> _Owned:
        """Return a record."""
        r = self.rows.get(record_id)
        if r is None:
            raise NotFoundError(self._kind, record_id)
        self._check_owner(self._owner_id(r))
        return r

    def update(self, record: _Owned) -> None:
        """Replace a record (same id and owner)."""
        old = self.get(record.id)
        if self._owner_id(old) != self._owner_id(record):
            raise ConflictError(f"{self._kind} {record.id!r} {self._other_owner}")
        self.rows.put(record.id, record, expect=old)


class MemoryAefiRepository(_OwnedRecords[AefiReport]):
    """AEFI reports in memory (see :class:`immreg.ports.AefiRepository`).

    Args:
        uow: The unit of work it belongs to.
    """

    _kind = "AEFI report"
    _other_owner = "is about another dose"

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, uow.store.aefi)

    def _owner_id(self, record: AefiReport) -> str:
        return record.dose_id

    def _check_owner(self, owner_id: str) -> None:
        self._uow.doses.get(owner_id)

    def _listed(self, keep: Callable[[AdministeredDose], bool]) -> list[AefiReport]:
        doses = self._uow.doses._rows
        subjects = self._uow.subjects._rows
        found = []
        for r in self.rows.values():
            d = doses.get(r.dose_id)
            if d is None or not keep(d):
                continue
            s = subjects.get(d.subject_id)
            if s is not None and self._uow.scope_guard.admits(s):
                found.append(r)
        return sorted(found, key=lambda r: (r.onset, r.id))

    def list_for_lot(self, product_code: str, lot_number: str) -> list[AefiReport]:
        """Reports on doses of one lot, by onset then id."""
        return self._listed(lambda d: (d.product_code, d.lot_number) == (product_code, lot_number))

    def list_for_facility(self, facility_id: str) -> list[AefiReport]:
        """Reports on doses given at one facility, by onset then id."""
        return self._listed(lambda d: d.facility_id == facility_id)


class MemoryPregnancyRepository(_OwnedRecords[PregnancyEpisode]):
    """Pregnancy episodes in memory (see :class:`immreg.ports.PregnancyRepository`).

    Args:
        uow: The unit of work it belongs to.
    """

    _kind = "pregnancy"
    _other_owner = "is another woman's"

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, uow.store.pregnancies)

    def _owner_id(self, record: PregnancyEpisode) -> str:
        return record.subject_id

    def _check_owner(self, owner_id: str) -> None:
        self._uow.subjects.get(owner_id)

    def list_for_subject(self, subject_id: str) -> list[PregnancyEpisode]:
        """The woman's episodes, by start then id."""
        self._uow.subjects.get(subject_id)
        found = [e for e in self.rows.values() if e.subject_id == subject_id]
        return sorted(found, key=lambda e: (e.start, e.id))
