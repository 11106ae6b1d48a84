"""The registry's own stored values: merges, dose verifications, AEFI, pregnancies.

A :class:`MergeRecord` is everything needed to undo a merge exactly: both subjects and the
absorbed subject's doses as they were before, and what the merge made of them. It is stored
through :class:`immreg.ports.MergeRepository` in the same unit of work as the merge.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

import attrs

from immreg.errors import ValidationError
from immreg.model import AdministeredDose, Subject

__all__ = [
    "AefiReport",
    "DoseVerification",
    "MergeRecord",
    "Outcome",
    "PregnancyEpisode",
    "PregnancyOutcome",
    "Severity",
    "VerificationStatus",
]


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


class VerificationStatus(enum.Enum):
    """Whether a historical dose was checked against its evidence (card, register)."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"


@attrs.frozen
class DoseVerification:
    """The verification status of a historical dose (one per dose, replaced when it changes).

    Attributes:
        dose_id: The dose.
        status: Verified against its evidence or not.
        evidence: What it was taken from ("thẻ tiêm chủng", "sổ tiêm chủng xã 2015"...).
        by: Who set the status.
        at: When.
    """

    dose_id: str
    status: VerificationStatus = attrs.field(
        validator=attrs.validators.instance_of(VerificationStatus)
    )
    evidence: str | None
    by: str
    at: dt.datetime = attrs.field(validator=_aware)


class Severity(enum.Enum):
    """AEFI severity: WHO's "serious" is death, life-threatening, hospitalisation,
    disability, congenital anomaly or cluster (Global manual on surveillance of AEFI, 2016)."""

    MILD = "mild"
    MODERATE = "moderate"
    SERIOUS = "serious"


class Outcome(enum.Enum):
    """The outcome of an adverse event, as known at the last report."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    SEQUELAE = "recovered_with_sequelae"
    DIED = "died"
    UNKNOWN = "unknown"


@attrs.frozen
class AefiReport:
    """An adverse event following immunization, linked to the dose (and so to its lot).

    Attributes:
        id: Client-chosen report id.
        dose_id: The dose the event followed.
        onset: When the symptoms began (timezone-aware).
        severity: How severe.
        outcome: The outcome known so far.
        description: What happened, in the reporter's words (up to 500 characters).
        reported_by: Who reported it.
    """

    id: str
    dose_id: str
    onset: dt.datetime = attrs.field(validator=_aware)
    severity: Severity = attrs.field(validator=attrs.validators.instance_of(Severity))
    outcome: Outcome = attrs.field(validator=attrs.validators.instance_of(Outcome))
    description: str
    reported_by: str

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValidationError("description", "must say what happened")
        if len(self.description) > 500:
            raise ValidationError("description", "is longer than 500 characters")


class PregnancyOutcome(enum.Enum):
    """How a pregnancy ended."""

    LIVE_BIRTH = "live_birth"
    STILLBIRTH = "stillbirth"
    MISCARRIAGE = "miscarriage"
    TERMINATION = "termination"


@attrs.frozen
class PregnancyEpisode:
    """One pregnancy of a woman in the registry (tetanus-diphtheria doses depend on it).

    Episodes live in their own repository rather than on :class:`~immreg.model.Subject`:
    they are added and closed over a woman's life independently of her record, and most
    subjects (children, men) never have one, so keeping them off the subject keeps every
    subject read, update and bulk row as it is.

    Attributes:
        id: Client-chosen episode id.
        subject_id: The pregnant woman.
        start: First day of the pregnancy as known (last menstrual period, or the day it
            was registered).
        expected_delivery: Expected date of delivery.
        ended_on: The day it ended, or ``None`` while ongoing.
        outcome: How it ended, or ``None`` while ongoing.
    """

    id: str
    subject_id: str
    start: dt.date
    expected_delivery: dt.date
    ended_on: dt.date | None = None
    outcome: PregnancyOutcome | None = None

    def __attrs_post_init__(self) -> None:
        if self.expected_delivery <= self.start:
            raise ValidationError("expected_delivery", "must be after the start")
        if self.expected_delivery > self.start + dt.timedelta(days=310):
            raise ValidationError("expected_delivery", "is more than 44 weeks after the start")
        if (self.ended_on is None) != (self.outcome is None):
            raise ValidationError(
                "outcome", "an ended pregnancy has both an end date and an outcome"
            )
        if self.ended_on is not None and self.ended_on < self.start:
            raise ValidationError("ended_on", "is before the start")

    def ongoing_on(self, day: dt.date) -> bool:
        """Whether the woman was pregnant on ``day``."""
        return self.start <= day and (self.ended_on is None or day < self.ended_on)
