"""Merging two records of one person, and undoing the merge exactly.

Survivorship rules (:func:`merge_subjects`):

* The survivor keeps its id, names, birth date, sex and residence history; a national code,
  mother or date of death it lacks is taken from the absorbed record, and the absorbed
  record's caregivers are added to its own (the same name and phone once).
* Every dose of both records is kept, under the survivor. Where the survivor already has
  a dose of the same vaccine product on the same date, the absorbed record's copy is
  voided (kept, out of every count) with a reason naming the survivor's dose, so nothing
  is counted twice and nothing is lost.
* The absorbed record leaves the subjects (its id no longer resolves; the merge record
  says where it went), and both records get an audit entry.

Everything happens in the caller's unit of work, through the ports, so a merge is atomic
on every backend. :func:`unmerge` puts both records and every dose back exactly as they were
(versions and void states included), provided nothing the merge wrote has changed since.
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

from immreg.errors import ConflictError, ValidationError
from immreg.model import AdministeredDose, AuditEntry, Caregiver, Subject
from immreg.ports import UnitOfWork
from immreg.registry.names import fold
from immreg.registry.records import MergeRecord
from immreg.serialization import dumps

__all__ = ["merge_subjects", "merged_into", "survivorship", "unmerge"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")


def survivorship(survivor: Subject, absorbed: Subject) -> Subject:
    """The survivor as a merge leaves it (see the module's rules)."""
    seen = {(fold(c.name), c.phone) for c in survivor.caregivers}
    extra: list[Caregiver] = []
    for c in absorbed.caregivers:
        if (fold(c.name), c.phone) not in seen:
            seen.add((fold(c.name), c.phone))
            extra.append(c)
    mother = survivor.mother_id
    if mother is None and absorbed.mother_id not in (None, survivor.id):
        mother = absorbed.mother_id
    return attrs.evolve(
        survivor,
        national_code=survivor.national_code or absorbed.national_code,
        mother_id=mother,
        caregivers=(*survivor.caregivers, *extra),
        deceased_on=survivor.deceased_on or absorbed.deceased_on,
    )


def _audit(
    uow: UnitOfWork,
    subject_id: str,
    action: str,
    *,
    at: dt.datetime,
    by: str,
    reason: str | None,
    before: object,
    after: object,
) -> None:
    uow.audit.append(
        AuditEntry(
            entity="subject",
            entity_id=subject_id,
            action=action,
            at=at,
            by=by,
            reason=reason,
            before=None if before is None else dumps(before),
            after=None if after is None else dumps(after),
        )
    )


def merge_subjects(
    uow: UnitOfWork,
    survivor_id: str,
    absorbed_id: str,
    *,
    merge_id: str,
    at: dt.datetime,
    by: str,
    reason: str | None = None,
) -> MergeRecord:
    """Merge ``absorbed_id`` into ``survivor_id`` (not committed here).

    Args:
        uow: An open unit of work.
        survivor_id: The record that lives on.
        absorbed_id: The duplicate record merged into it.
        merge_id: The merge's id (an identifier, like a dose id).
        at: Instant for the record and the audit entries.
        by: Who merges.
        reason: Why, e.g. the duplicate candidate's score.

    Returns:
        The stored merge record.

    Raises:
        ValidationError: The same record twice, or a bad ``merge_id``.
        NotFoundError: A record does not exist (or was merged away).
        ScopeError: A record is outside the unit of work's scope.
        ConflictError: ``merge_id`` is taken.
    """
    if survivor_id == absorbed_id:
        raise ValidationError("absorbed_id", "a record cannot be merged into itself")
    if not isinstance(merge_id, str) or not _ID.match(merge_id):
        raise ValidationError("merge_id", "must be an identifier of letters, digits and . _ : -")
    if uow.merges.find(merge_id) is not None:
        raise ConflictError(f"merge {merge_id!r} exists already")
    survivor = uow.subjects.get(survivor_id)
    absorbed = uow.subjects.get(absorbed_id)
    kept = {
        (d.product_code, d.date): d
        for d in uow.doses.list_for_subject(survivor_id, include_voided=True)
        if not d.voided
    }
    before = uow.doses.list_for_subject(absorbed_id, include_voided=True)
    after: list[AdministeredDose] = []
    for d in before:
        moved = attrs.evolve(d, subject_id=survivor_id)
        twin = kept.get((d.product_code, d.date))
        if twin is not None and not d.voided:
            moved = attrs.evolve(
                moved,
                version=d.version + 1,
                voided=True,
                void_reason=f"merged: same as dose {twin.id}"[:100],
            )
        after.append(moved)
    uow.merges.move_doses([d.id for d in before], to_subject_id=survivor_id)
    for old, new in zip(before, after, strict=True):
        if new.voided != old.voided:
            uow.doses.replace(new, expected_version=old.version)
    uow.merges.retire_subject(absorbed_id)
    merged = survivorship(survivor, absorbed)
    uow.subjects.update(merged)
    record = MergeRecord(
        id=merge_id,
        survivor_id=survivor_id,
        absorbed_id=absorbed_id,
        at=at,
        by=by,
        reason=reason,
        survivor_before=survivor,
        survivor_after=merged,
        absorbed_before=absorbed,
        doses_before=before,
        doses_after=after,
    )
    uow.merges.add(record)
    _audit(uow, survivor_id, "merge", at=at, by=by, reason=reason, before=survivor, after=merged)
    _audit(
        uow, absorbed_id, "merged_into", at=at, by=by, reason=reason, before=absorbed, after=None
    )
    return record


def unmerge(
    uow: UnitOfWork, merge_id: str, *, at: dt.datetime, by: str, reason: str | None = None
) -> MergeRecord:
    """Undo a merge: both records and every dose back exactly as before (not committed here).

    Doses recorded for the survivor after the merge stay with the survivor.

    Returns:
        The merge record, marked undone.

    Raises:
        NotFoundError: No such merge.
        ScopeError: A record of the merge is outside the unit of work's scope.
        ConflictError: It was undone already, or the survivor or one of the moved doses
            changed since the merge (undo those changes first), or the absorbed record's
            id or national code has been taken meanwhile.
    """
    record = uow.merges.get(merge_id)
    if record.undone:
        raise ConflictError(f"merge {merge_id!r} was undone already")
    survivor = uow.subjects.get(record.survivor_id)
    if survivor != record.survivor_after:
        raise ConflictError(f"subject {record.survivor_id!r} changed since merge {merge_id!r}")
    for d in record.doses_after:
        if uow.doses.get(d.id) != d:
            raise ConflictError(f"dose {d.id!r} changed since merge {merge_id!r}")
    uow.subjects.update(record.survivor_before)
    uow.subjects.add(record.absorbed_before)
    uow.merges.move_doses([d.id for d in record.doses_before], to_subject_id=record.absorbed_id)
    for old, new in zip(record.doses_before, record.doses_after, strict=True):
        if new.voided != old.voided:
            # Moved back first, so subjects match; this writes the old version number too.
            uow.doses.replace(old, expected_version=new.version)
    done = uow.merges.mark_undone(merge_id, at=at, by=by)
    for sid, before, after in (
        (record.survivor_id, record.survivor_after, record.survivor_before),
        (record.absorbed_id, None, record.absorbed_before),
    ):
        _audit(uow, sid, "unmerge", at=at, by=by, reason=reason, before=before, after=after)
    return done


def merged_into(uow: UnitOfWork, subject_id: str) -> str | None:
    """The record a merged-away subject now lives on as (following chains), or ``None``."""
    seen = {subject_id}
    current = subject_id
    while True:
        active = [
            r
            for r in uow.merges.list_for_subject(current)
            if r.absorbed_id == current and not r.undone
        ]
        if not active:
            return None if current == subject_id else current
        current = active[-1].survivor_id
        if current in seen:
            raise ConflictError(f"merge records of {subject_id!r} form a cycle")
        seen.add(current)
