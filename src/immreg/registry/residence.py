"""Moves between communes: one record, its whole residence history kept.

A transfer closes the residence that holds on the day of the move and opens one in the new
org unit from that day, so :meth:`immreg.model.Subject.residence_on` answers where the
person lived on any date, and due lists and reports follow the person by date. The record,
its id, its national code and its doses do not change.

A unit of work scoped to the commune the person leaves may record the move (the person
stays in that scope through the past residence); one scoped to the receiving commune may
too when the person was already resident there earlier, otherwise the move is recorded at
a level that sees both.
"""

from __future__ import annotations

import datetime as dt

import attrs

from immreg.errors import FieldError, ValidationError
from immreg.model import AuditEntry, Residence, Subject
from immreg.ports import UnitOfWork
from immreg.serialization import dumps

__all__ = ["transfer"]


def transfer(
    uow: UnitOfWork,
    subject_id: str,
    to_org_unit_id: str,
    *,
    on: dt.date,
    as_of: dt.date,
    at: dt.datetime,
    by: str,
    reason: str | None = None,
) -> Subject:
    """Record that a person lives in ``to_org_unit_id`` from ``on``; return the new record.

    Args:
        uow: An open unit of work (not committed here).
        subject_id: The person who moves.
        to_org_unit_id: The org unit (commune or facility) moved to.
        on: First day of residence in the new org unit.
        as_of: The date the move is judged by (a move cannot be in the future).
        at: Instant for the audit entry.
        by: Who records it.
        reason: Why, when known.

    Raises:
        NotFoundError: No such subject.
        ScopeError: The subject is outside the unit of work's scope, or the move would take
            them out of it.
        ValidationError: Unknown org unit; ``on`` in the future, before birth, after death
            or not after the start of the residence it would end; already living there.
    """
    subject = uow.subjects.get(subject_id)
    errors: list[FieldError] = []
    if uow.org_units.find(to_org_unit_id) is None:
        errors.append(FieldError("to_org_unit_id", f"org unit {to_org_unit_id!r} does not exist"))
    if on > as_of:
        errors.append(FieldError("on", f"is after today ({as_of.isoformat()})"))
    if on < subject.birth_date:
        errors.append(FieldError("on", "is before the birth date"))
    if subject.deceased_on is not None and on > subject.deceased_on:
        errors.append(FieldError("on", "is after the date of death"))
    kept: list[Residence] = []
    for r in subject.residences:
        if r.start >= on:
            errors.append(
                FieldError("on", f"must be after the residence starting {r.start.isoformat()}")
            )
        elif r.covers(on):
            if r.org_unit_id == to_org_unit_id:
                errors.append(FieldError("to_org_unit_id", "the person already lives there"))
            kept.append(attrs.evolve(r, end=on))
        else:
            kept.append(r)
    if errors:
        raise ValidationError(errors=errors)
    moved = attrs.evolve(subject, residences=(*kept, Residence(to_org_unit_id, on)))
    uow.subjects.update(moved)
    uow.audit.append(
        AuditEntry(
            entity="subject",
            entity_id=subject_id,
            action="transfer",
            at=at,
            by=by,
            reason=reason,
            before=dumps(subject),
            after=dumps(moved),
        )
    )
    return moved
