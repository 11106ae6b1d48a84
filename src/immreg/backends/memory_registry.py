"""The in-memory merge repository (see :class:`immreg.ports.MergeRepository`).

Merge records live in a table of the backend's store and are written through an overlay
like every other memory table, so a rolled-back unit of work leaves no trace. Retiring a
subject and moving doses write through the subject and dose overlays of the same unit of
work.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from immreg.errors import ConflictError, NotFoundError
from immreg.registry.records import MergeRecord

if TYPE_CHECKING:
    from immreg.backends.memory import MemoryUnitOfWork, _Overlay

__all__ = ["MemoryMergeRepository"]


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
