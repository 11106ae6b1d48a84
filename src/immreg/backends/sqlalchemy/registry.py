"""The SQL merge repository (see :class:`immreg.ports.MergeRepository`).

Merge records are stored whole as JSON (:mod:`immreg.serialization`) in
``registry_merges``; retiring a subject deletes its row and residences, and moving doses
is one ``UPDATE`` of their ``subject_id``, all on the unit of work's connection and
transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs
import sqlalchemy as sa

from immreg.backends.sqlalchemy.registry_tables import registry_merges
from immreg.backends.sqlalchemy.tables import doses, residences, subjects
from immreg.errors import ConflictError, NotFoundError
from immreg.registry.records import MergeRecord
from immreg.serialization import dumps, loads

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyMergeRepository"]

_select_merge = sa.select(registry_merges.c.record).where(
    registry_merges.c.id == sa.bindparam("id")
)
_select_for_subject = (
    sa.select(registry_merges.c.record)
    .where(
        sa.or_(
            registry_merges.c.survivor_id == sa.bindparam("subject_id"),
            registry_merges.c.absorbed_id == sa.bindparam("subject_id"),
        )
    )
    .order_by(registry_merges.c.at, registry_merges.c.id)
)
_update_merge = (
    sa.update(registry_merges)
    .where(registry_merges.c.id == sa.bindparam("b_id"), registry_merges.c.undone_at.is_(None))
    .values(undone_at=sa.bindparam("undone_at"), record=sa.bindparam("record"))
)
_count_doses = sa.select(sa.func.count()).where(doses.c.subject_id == sa.bindparam("id"))
_delete_residences = sa.delete(residences).where(residences.c.subject_id == sa.bindparam("id"))
_delete_subject = sa.delete(subjects).where(subjects.c.id == sa.bindparam("id"))
_move_doses = (
    sa.update(doses)
    .where(doses.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(subject_id=sa.bindparam("to"))
)


class SqlAlchemyMergeRepository:
    """Merge records in SQL (see :class:`immreg.ports.MergeRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def _check(self, record: MergeRecord) -> None:
        for s in record.subjects():
            self._uow.check_subject(s)

    def add(self, record: MergeRecord) -> None:
        """Store a merge record.

        Raises:
            ScopeError: One of its subjects is outside the scope.
            ConflictError: A merge with the same id exists.
        """
        self._check(record)
        row = {
            "id": record.id,
            "survivor_id": record.survivor_id,
            "absorbed_id": record.absorbed_id,
            "at": record.at,
            "by": record.by,
            "undone_at": record.undone_at,
            "record": dumps(record),
        }
        if self._uow.run(self._uow.insert_ignore(registry_merges), row).rowcount == 0:
            raise ConflictError(f"merge {record.id!r} exists already")

    def find(self, merge_id: str) -> MergeRecord | None:
        """Return the merge record, or ``None``.

        Raises:
            ScopeError: One of its subjects is outside the scope.
        """
        text = self._uow.run(_select_merge, {"id": merge_id}).scalar()
        if text is None:
            return None
        record = loads(text, MergeRecord)
        self._check(record)
        return record

    def get(self, merge_id: str) -> MergeRecord:
        """Return the merge record.

        Raises:
            NotFoundError: No such merge.
            ScopeError: One of its subjects is outside the scope.
        """
        r = self.find(merge_id)
        if r is None:
            raise NotFoundError("merge", merge_id)
        return r

    def list_for_subject(self, subject_id: str) -> list[MergeRecord]:
        """Merges the subject took part in, oldest first (out-of-scope ones left out)."""
        rows = self._uow.run(_select_for_subject, {"subject_id": subject_id}).scalars()
        records = [loads(t, MergeRecord) for t in rows]
        return [r for r in records if all(self._uow.admits(s) for s in r.subjects())]

    def mark_undone(self, merge_id: str, *, at: dt.datetime, by: str) -> MergeRecord:
        """Record that the merge was undone; return the updated record.

        Raises:
            NotFoundError: No such merge.
            ScopeError: One of its subjects is outside the scope.
            ConflictError: It was undone already.
        """
        new = attrs.evolve(self.get(merge_id), undone_at=at, undone_by=by)
        params = {"b_id": merge_id, "undone_at": at, "record": dumps(new)}
        if self._uow.run(_update_merge, params).rowcount != 1:
            raise ConflictError(f"merge {merge_id!r} was undone already")
        return new

    def retire_subject(self, subject_id: str) -> None:
        """Remove a subject that has no doses left.

        Raises:
            NotFoundError: No such subject.
            ScopeError: The subject is outside the scope.
            ConflictError: The subject still has doses.
        """
        self._uow.subjects.get(subject_id)
        if self._uow.run(_count_doses, {"id": subject_id}).scalar_one():
            raise ConflictError(f"subject {subject_id!r} still has doses")
        self._uow.run(_delete_residences, {"id": subject_id})
        self._uow.run(_delete_subject, {"id": subject_id})

    def move_doses(self, dose_ids: list[str], *, to_subject_id: str) -> None:
        """Give doses to another subject, changing nothing else.

        Raises:
            NotFoundError: A dose or the subject does not exist.
            ScopeError: The subject or a dose's subject is outside the scope.
        """
        self._uow.subjects.get(to_subject_id)
        for dose_id in dose_ids:
            self._uow.doses.get(dose_id)
        if dose_ids:
            self._uow.run(_move_doses, {"ids": list(dose_ids), "to": to_subject_id})
