"""The registry's own stored values: merge records.

A :class:`MergeRecord` is everything needed to undo a merge exactly: both subjects and the
absorbed subject's doses as they were before, and what the merge made of them. It is stored
through :class:`immreg.ports.MergeRepository` in the same unit of work as the merge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from immreg.errors import ValidationError
from immreg.model import AdministeredDose, Subject

__all__ = ["MergeRecord"]


def _doses(value: Iterable[AdministeredDose]) -> tuple[AdministeredDose, ...]:
    return tuple(value)


def _aware(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
        raise ValidationError(attribute.name, "must be a timezone-aware date and time")


@attrs.frozen
class MergeRecord:
    """One merge of two records of the same person, and whether it was undone.

    Attributes:
        id: The merge's id (client-chosen, like dose ids).
        survivor_id: The record that lives on.
        absorbed_id: The record merged into it (removed from the subjects while merged).
        at: When the merge was made.
        by: Who made it.
        reason: Why (e.g. the duplicate candidate's score).
        survivor_before: The surviving subject as it was before.
        survivor_after: The surviving subject as the merge left it.
        absorbed_before: The absorbed subject as it was.
        doses_before: The absorbed subject's doses (voided ones included) as they were.
        doses_after: The same doses as the merge left them: moved to the survivor, and
            voided where the survivor already had the same vaccine on the same date.
        undone_at: When the merge was undone, or ``None``.
        undone_by: Who undid it.
    """

    id: str
    survivor_id: str
    absorbed_id: str
    at: dt.datetime = attrs.field(validator=_aware)
    by: str
    survivor_before: Subject
    survivor_after: Subject
    absorbed_before: Subject
    doses_before: tuple[AdministeredDose, ...] = attrs.field(converter=_doses)
    doses_after: tuple[AdministeredDose, ...] = attrs.field(converter=_doses)
    reason: str | None = None
    undone_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    undone_by: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.survivor_id == self.absorbed_id:
            raise ValidationError("absorbed_id", "a record cannot be merged into itself")
        if self.survivor_before.id != self.survivor_id or self.survivor_after.id != (
            self.survivor_id
        ):
            raise ValidationError("survivor_before", "is not the survivor's record")
        if self.absorbed_before.id != self.absorbed_id:
            raise ValidationError("absorbed_before", "is not the absorbed record")
        if [d.id for d in self.doses_before] != [d.id for d in self.doses_after]:
            raise ValidationError("doses_after", "must list the same doses as doses_before")

    @property
    def undone(self) -> bool:
        """Whether the merge was undone."""
        return self.undone_at is not None

    def subjects(self) -> tuple[Subject, ...]:
        """Every version of a subject the record holds (for scoping)."""
        return (self.survivor_before, self.survivor_after, self.absorbed_before)
