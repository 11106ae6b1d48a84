"""The registry feature's SQL repositories: merges, verifications, AEFI, pregnancies.

Merge records are stored whole as JSON (:mod:`immreg.serialization`) in
``registry_merges``; retiring a subject deletes its row and residences, and moving doses
is one ``UPDATE`` of their ``subject_id``, all on the unit of work's connection and
transaction.
"""

from __future__ import annotations

import abc
import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import attrs
import sqlalchemy as sa

from immreg.backends.sqlalchemy.queries import subject_in_scope, update_by_id
from immreg.backends.sqlalchemy.registry_tables import (
    registry_aefi,
    registry_merges,
    registry_pregnancies,
    registry_verifications,
)
from immreg.backends.sqlalchemy.tables import doses, residences, subjects
from immreg.errors import ConflictError, NotFoundError
from immreg.registry.records import (
    AefiReport,
    DoseVerification,
    MergeRecord,
    Outcome,
    PregnancyEpisode,
    PregnancyOutcome,
    Severity,
    VerificationStatus,
)
from immreg.serialization import dumps, loads

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = [
    "SqlAlchemyAefiRepository",
    "SqlAlchemyDoseVerificationRepository",
    "SqlAlchemyMergeRepository",
    "SqlAlchemyPregnancyRepository",
    "pregnancy_from_row",
]

_Owned = TypeVar("_Owned", AefiReport, PregnancyEpisode)

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


_v = registry_verifications
_select_verification = sa.select(_v).where(_v.c.dose_id == sa.bindparam("dose_id"))
_select_verifications_for_subject = (
    sa.select(_v)
    .join(doses, doses.c.id == _v.c.dose_id)
    .where(doses.c.subject_id == sa.bindparam("subject_id"))
    .order_by(_v.c.dose_id)
)
_delete_verification = sa.delete(_v).where(_v.c.dose_id == sa.bindparam("dose_id"))


def _verification(row: sa.Row[Any]) -> DoseVerification:
    return DoseVerification(
        dose_id=row.dose_id,
        status=VerificationStatus(row.status),
        evidence=row.evidence,
        by=row.by,
        at=row.at,
    )


class SqlAlchemyDoseVerificationRepository:
    """Dose verifications in SQL (see :class:`immreg.ports.DoseVerificationRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def put(self, verification: DoseVerification) -> None:
        """Store or replace the dose's verification status.

        Raises:
            NotFoundError: No such dose.
            ScopeError: The dose's subject is outside the scope.
        """
        self._uow.doses.get(verification.dose_id)
        self._uow.run(_delete_verification, {"dose_id": verification.dose_id})
        self._uow.run(
            sa.insert(_v),
            {
                "dose_id": verification.dose_id,
                "status": verification.status.value,
                "evidence": verification.evidence,
                "by": verification.by,
                "at": verification.at,
            },
        )

    def find(self, dose_id: str) -> DoseVerification | None:
        """The dose's verification status, or ``None``.

        Raises:
            ScopeError: The dose's subject is outside the scope.
        """
        row = self._uow.run(_select_verification, {"dose_id": dose_id}).first()
        if row is None:
            return None
        self._uow.doses.get(dose_id)
        return _verification(row)

    def list_for_subject(self, subject_id: str) -> list[DoseVerification]:
        """Verifications of the subject's doses, by dose id.

        Raises:
            ScopeError: The subject is outside the scope.
        """
        self._uow.doses.list_for_subject(subject_id)
        rows = self._uow.run(_select_verifications_for_subject, {"subject_id": subject_id})
        return [_verification(r) for r in rows]


class _OwnedRows(abc.ABC, Generic[_Owned]):
    """Storing, reading and replacing rows that belong to one owning row.

    An AEFI report belongs to a dose and a pregnancy episode to a subject: a row may be
    stored or read only while its owner exists and lies inside the unit of work's scope
    (:meth:`_check_owner` asks the owner's repository, which checks both), and a
    replacement rewrites every column but the id and the owner, which it may not change.
    Subclasses give the table, the owner's column (:attr:`_owner`), the record kind for
    messages (:attr:`_kind`), how a changed owner is reported (:attr:`_other_owner`) and
    the conversions between record and row.

    Args:
        uow: The unit of work whose connection it uses.
    """

    _table: ClassVar[sa.Table]
    _owner: ClassVar[str]
    _kind: ClassVar[str]
    _other_owner: ClassVar[str]
    _select: ClassVar[sa.Select[Any]]
    _update: ClassVar[sa.Update]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        t = cls._table
        cls._select = sa.select(t).where(t.c.id == sa.bindparam("id"))
        cls._update = update_by_id(t, cls._owner)

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    @staticmethod
    @abc.abstractmethod
    def _row(record: _Owned, /) -> dict[str, Any]:
        """The record as the table's row."""

    @staticmethod
    @abc.abstractmethod
    def _record(row: sa.Row[Any], /) -> _Owned:
        """The record a table row holds."""

    @abc.abstractmethod
    def _check_owner(self, owner_id: str) -> None:
        """Raise unless the owner exists and is in scope."""

    def add(self, record: _Owned) -> None:
        """Store a new record.

        Raises:
            NotFoundError: Its owner does not exist.
            ScopeError: Its owner is outside the scope.
            ConflictError: A record with the same id exists.
        """
        row = self._row(record)
        self._check_owner(row[self._owner])
        if self._uow.run(self._uow.insert_ignore(self._table), row).rowcount == 0:
            raise ConflictError(f"{self._kind} {record.id!r} exists already")

    def get(self, record_id: str) -> _Owned:
        """Return a record.

        Raises:
            NotFoundError: No such record.
            ScopeError: Its owner is outside the scope.
        """
        row = self._uow.run(self._select, {"id": record_id}).first()
        if row is None:
            raise NotFoundError(self._kind, record_id)
        self._check_owner(row._mapping[self._owner])
        return self._record(row)

    def update(self, record: _Owned) -> None:
        """Replace a record (same id and owner).

        Raises:
            NotFoundError: No such record.
            ScopeError: Its owner is outside the scope.
            ConflictError: The owner differs.
        """
        old = self._row(self.get(record.id))
        row = self._row(record)
        if old[self._owner] != row[self._owner]:
            raise ConflictError(f"{self._kind} {record.id!r} {self._other_owner}")
        row["b_id"] = row.pop("id")
        del row[self._owner]
        self._uow.run(self._update, row)


_a = registry_aefi
_aefi_with_dose = sa.select(_a).join(doses, doses.c.id == _a.c.dose_id)
_aefi_order = (_a.c.onset, _a.c.id)
_aefi_for_lot = _aefi_with_dose.where(
    doses.c.product_code == sa.bindparam("product_code"),
    doses.c.lot_number == sa.bindparam("lot_number"),
)
_aefi_for_facility = _aefi_with_dose.where(doses.c.facility_id == sa.bindparam("facility_id"))


def _aefi_row(report: AefiReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "dose_id": report.dose_id,
        "onset": report.onset,
        "severity": report.severity.value,
        "outcome": report.outcome.value,
        "description": report.description,
        "reported_by": report.reported_by,
    }


def _aefi(row: sa.Row[Any]) -> AefiReport:
    return AefiReport(
        id=row.id,
        dose_id=row.dose_id,
        onset=row.onset,
        severity=Severity(row.severity),
        outcome=Outcome(row.outcome),
        description=row.description,
        reported_by=row.reported_by,
    )


class SqlAlchemyAefiRepository(_OwnedRows[AefiReport]):
    """AEFI reports in SQL (see :class:`immreg.ports.AefiRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    _table = registry_aefi
    _owner = "dose_id"
    _kind = "AEFI report"
    _other_owner = "is about another dose"
    _row = staticmethod(_aefi_row)
    _record = staticmethod(_aefi)

    def _check_owner(self, owner_id: str) -> None:
        self._uow.doses.get(owner_id)

    def _list(self, stmt: sa.Select[Any], params: dict[str, Any]) -> list[AefiReport]:
        if self._uow.scope is not None:
            stmt = stmt.where(subject_in_scope(doses.c.subject_id))
            params = {**params, "scope": self._uow.scope}
        return [_aefi(r) for r in self._uow.run(stmt.order_by(*_aefi_order), params)]

    def list_for_lot(self, product_code: str, lot_number: str) -> list[AefiReport]:
        """Reports on doses of one lot, by onset then id (out-of-scope ones left out)."""
        return self._list(_aefi_for_lot, {"product_code": product_code, "lot_number": lot_number})

    def list_for_facility(self, facility_id: str) -> list[AefiReport]:
        """Reports on doses given at one facility, by onset then id (out of scope left out)."""
        return self._list(_aefi_for_facility, {"facility_id": facility_id})


_p = registry_pregnancies
_select_pregnancies = (
    sa.select(_p)
    .where(_p.c.subject_id == sa.bindparam("subject_id"))
    .order_by(_p.c.start, _p.c.id)
)


def _pregnancy_row(e: PregnancyEpisode) -> dict[str, Any]:
    return {
        "id": e.id,
        "subject_id": e.subject_id,
        "start": e.start,
        "expected_delivery": e.expected_delivery,
        "ended_on": e.ended_on,
        "outcome": None if e.outcome is None else e.outcome.value,
    }


def pregnancy_from_row(row: sa.Row[Any]) -> PregnancyEpisode:
    """The pregnancy episode of a ``pregnancies`` row (shared with the maternal reports)."""
    return PregnancyEpisode(
        id=row.id,
        subject_id=row.subject_id,
        start=row.start,
        expected_delivery=row.expected_delivery,
        ended_on=row.ended_on,
        outcome=None if row.outcome is None else PregnancyOutcome(row.outcome),
    )


class SqlAlchemyPregnancyRepository(_OwnedRows[PregnancyEpisode]):
    """Pregnancy episodes in SQL (see :class:`immreg.ports.PregnancyRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    _table = registry_pregnancies
    _owner = "subject_id"
    _kind = "pregnancy"
    _other_owner = "is another woman's"
    _row = staticmethod(_pregnancy_row)
    _record = staticmethod(pregnancy_from_row)

    def _check_owner(self, owner_id: str) -> None:
        self._uow.subjects.get(owner_id)

    def list_for_subject(self, subject_id: str) -> list[PregnancyEpisode]:
        """The woman's episodes, by start then id.

        Raises:
            NotFoundError: No such subject.
            ScopeError: She is outside the scope.
        """
        self._uow.subjects.get(subject_id)
        rows = self._uow.run(_select_pregnancies, {"subject_id": subject_id})
        return [pregnancy_from_row(r) for r in rows]
