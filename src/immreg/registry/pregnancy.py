"""Pregnant women and newborns: pregnancy episodes, and newborns registered with the mother.

An episode (:class:`~immreg.registry.records.PregnancyEpisode`) is opened with its expected
delivery date and closed with an outcome; a newborn is registered with ``mother_id`` set to
the mother's record, which closes her ongoing episode as a live birth in the same unit of
work.
"""

from __future__ import annotations

import datetime as dt

import attrs

from immreg.errors import ConflictError, FieldError, ValidationError
from immreg.model import Sex, Subject
from immreg.ports import UnitOfWork
from immreg.registry.records import PregnancyEpisode, PregnancyOutcome
from immreg.services import register_subject

__all__ = ["end_pregnancy", "register_newborn", "start_pregnancy"]

#: Youngest age (years) at which a pregnancy is accepted without question.
MIN_AGE_YEARS = 10


def _years_after(day: dt.date, years: int) -> dt.date:
    # CDSi date arithmetic: a date that does not exist (29 February) moves to 1 March.
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def start_pregnancy(uow: UnitOfWork, episode: PregnancyEpisode, *, as_of: dt.date) -> None:
    """Open a pregnancy episode (not committed here).

    Raises:
        NotFoundError: No such woman.
        ScopeError: She is outside the scope.
        ValidationError: Not female, younger than 10 at the start, start in the future, an
            episode already open, or an ended episode given.
        ConflictError: The episode id is taken.
    """
    woman = uow.subjects.get(episode.subject_id)
    errors: list[FieldError] = []
    if woman.sex is not Sex.FEMALE:
        errors.append(FieldError("subject_id", "only a woman can have a pregnancy episode"))
    if episode.start < _years_after(woman.birth_date, MIN_AGE_YEARS):
        errors.append(FieldError("start", f"she is younger than {MIN_AGE_YEARS} years"))
    if episode.start > as_of:
        errors.append(FieldError("start", f"is after today ({as_of.isoformat()})"))
    if episode.ended_on is not None:
        errors.append(FieldError("ended_on", "a new episode is ongoing"))
    if any(e.ended_on is None for e in uow.pregnancies.list_for_subject(woman.id)):
        errors.append(FieldError("subject_id", "she has an ongoing pregnancy episode"))
    if errors:
        raise ValidationError(errors=errors)
    uow.pregnancies.add(episode)


def end_pregnancy(
    uow: UnitOfWork,
    episode_id: str,
    outcome: PregnancyOutcome,
    *,
    on: dt.date,
    as_of: dt.date,
) -> PregnancyEpisode:
    """Close an episode with its outcome (not committed here).

    Raises:
        NotFoundError: No such episode.
        ScopeError: The woman is outside the scope.
        ValidationError: ``on`` before the start or after ``as_of``.
        ConflictError: The episode ended already.
    """
    old = uow.pregnancies.get(episode_id)
    if old.ended_on is not None:
        raise ConflictError(f"pregnancy {episode_id!r} ended on {old.ended_on.isoformat()}")
    if on > as_of:
        raise ValidationError("on", f"is after today ({as_of.isoformat()})")
    new = attrs.evolve(old, ended_on=on, outcome=outcome)  # validates on >= start
    uow.pregnancies.update(new)
    return new


def register_newborn(
    uow: UnitOfWork, child: Subject, *, mother_id: str, as_of: dt.date, at: dt.datetime, by: str
) -> Subject:
    """Register a newborn linked to the mother; close her ongoing episode as a live birth.

    Raises:
        ValidationError: As :func:`immreg.services.register_subject` (unknown mother, mother
            not older...).
        ScopeError: The child or the mother is outside the scope.
        ConflictError: The child's id or national code is taken.
    """
    linked = attrs.evolve(child, mother_id=mother_id)
    register_subject(uow, linked, as_of=as_of, at=at, by=by)
    for e in uow.pregnancies.list_for_subject(mother_id):
        if e.ended_on is None and e.start <= child.birth_date:
            end_pregnancy(uow, e.id, PregnancyOutcome.LIVE_BIRTH, on=child.birth_date, as_of=as_of)
    return linked
