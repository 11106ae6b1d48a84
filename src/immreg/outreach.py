"""Use cases of due lists and reminders, each inside a unit of work the caller opened.

* :func:`refresh_due` recomputes one person's stored due summaries from their history (the
  schedule engine's lean forecast) and cancels their pending reminders that the change made
  moot. :class:`immreg.services.Registry` calls it in the same unit of work as every dose
  recorded, corrected or voided and every registration, when it is given a schedule; so
  the summaries, and the outbox, never lag behind the record.
* :func:`due_list` answers a session's due list from the stored summaries: one query for
  the residents' summaries, one for the catalogue.
* :func:`plan_reminders` plans a facility's reminders of a day into the outbox; planning
  again plans nothing new (idempotency keys). :func:`plan_reminders_in_batches` does the
  same for a province or a country, one transaction per window of org units.
* :func:`summaries_of` forecasts the summaries of people whose doses are at hand (a bulk
  load's batch), with no reads.

Sending is :func:`immreg.messaging.dispatch`. No function here reads the clock: ``as_of``
and ``at`` come from the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import attrs

from immreg.duelist import (
    DueList,
    DueSummary,
    ReminderPlanner,
    ReminderPolicy,
    build_due_list,
    parse_episode,
    summarize,
)
from immreg.errors import ValidationError
from immreg.messaging import OutboxStatus
from immreg.model import AdministeredDose, Subject
from immreg.ports import Backend, UnitOfWork
from immreg.schedule import Dose, Patient, Schedule
from immreg.schedule.batch import forecast_many

__all__ = [
    "PlanReport",
    "due_list",
    "plan_reminders",
    "plan_reminders_in_batches",
    "refresh_due",
    "refresh_due_many",
    "summaries_of",
]


def refresh_due(
    uow: UnitOfWork, subject_id: str, *, schedule: Schedule, as_of: dt.date
) -> tuple[DueSummary, ...]:
    """Recompute and store one person's due summaries; cancel reminders made moot.

    A pending reminder is cancelled when one of the due items it names is no longer due
    (the dose was recorded, or the schedule now says otherwise), and all of a person's are
    when the person has died.

    Returns:
        The new summaries.

    Raises:
        NotFoundError: No such subject.
        ValidationError: A dose's product is not in the schedule (``history.doses[i]...``).
    """
    return refresh_due_many(uow, [subject_id], schedule=schedule, as_of=as_of)[subject_id]


def refresh_due_many(
    uow: UnitOfWork, subject_ids: Iterable[str], *, schedule: Schedule, as_of: dt.date
) -> dict[str, tuple[DueSummary, ...]]:
    """:func:`refresh_due` for several people, forecast in one batch.

    Raises:
        NotFoundError: A subject does not exist.
        ValidationError: A dose's product is not in the schedule.
    """
    # A few bulk reads for the whole lot, not three round trips a person.
    subjects = uow.subjects.get_many(subject_ids)
    ids = [s.id for s in subjects]
    history = uow.doses.list_for_subjects(ids)
    items = [
        (
            Patient(
                s.birth_date,
                s.sex.value,
                tuple(Dose(d.id, d.date, d.product_code) for d in history[s.id]),
            ),
            as_of,
        )
        for s in subjects
    ]
    try:
        forecasts = list(forecast_many(schedule, items))
    except ValidationError as e:
        raise e.prefixed("history") from e
    out = {
        s.id: () if _dead(s, as_of) else summarize(s.id, fs)
        for s, fs in zip(subjects, forecasts, strict=True)
    }
    uow.due.replace_many(out)
    current = {
        i: {(x.vaccine_group, x.dose_number) for x in summaries} for i, summaries in out.items()
    }
    for m in uow.outbox.list_for_subjects(ids, status=OutboxStatus.PENDING):
        if m.subject_id is not None and not parse_episode(m.episode) <= current[m.subject_id]:
            uow.outbox.update(
                attrs.evolve(
                    m,
                    status=OutboxStatus.CANCELLED,
                    last_error="no longer due (dose recorded or record changed)",
                )
            )
    return out


def _dead(subject: Subject, as_of: dt.date) -> bool:
    return subject.deceased_on is not None and subject.deceased_on <= as_of


def summaries_of(
    records: Iterable[tuple[Subject, Sequence[AdministeredDose]]],
    *,
    schedule: Schedule,
    as_of: dt.date,
) -> dict[str, tuple[DueSummary, ...]]:
    """The due summaries of people whose whole history is at hand, forecast in one batch.

    What :func:`refresh_due_many` stores, without reading anything: a bulk load passes each
    batch's new people and their doses, and stores the result in the batch's transaction.

    Raises:
        ValidationError: A dose's product is not in the schedule (``history...``).
    """
    people = list(records)
    items = [
        (
            Patient(
                s.birth_date,
                s.sex.value,
                tuple(
                    Dose(d.id, d.date, d.product_code)
                    for d in sorted(doses, key=lambda d: (d.date, d.id))
                    if not d.voided
                ),
            ),
            as_of,
        )
        for s, doses in people
    ]
    try:
        forecasts = forecast_many(schedule, items)
        return {
            s.id: () if _dead(s, as_of) else summarize(s.id, fs)
            for (s, _), fs in zip(people, forecasts, strict=True)
        }
    except ValidationError as e:
        raise e.prefixed("history") from e


def _units(uow: UnitOfWork, org_unit_id: str, on: dt.date) -> list[str]:
    return sorted(uow.org_units.subtree_ids(org_unit_id, on=on))


def due_list(
    uow: UnitOfWork,
    org_unit_id: str,
    *,
    session_date: dt.date,
    window_days: int = 0,
    defaulter_days: int = 28,
) -> DueList:
    """The due list of a session for the residents of an org unit's subtree.

    See :func:`immreg.duelist.build_due_list` for who is listed. People who moved out
    before the session day or died by it are not (the query takes residence on the
    session day).

    Raises:
        NotFoundError: No such org unit.
        ValidationError: A negative window or threshold.
    """
    if window_days < 0:
        raise ValidationError("window_days", "must be a whole number of days, 0 or more")
    units = _units(uow, org_unit_id, session_date)
    until = session_date + dt.timedelta(days=window_days)
    rows = uow.due.list_due(units, on=session_date, until=until)
    products = {p.code: p for p in uow.catalogue.list_products()}
    return build_due_list(
        rows,
        org_unit_id=org_unit_id,
        session_date=session_date,
        window_days=window_days,
        defaulter_days=defaulter_days,
        products=products,
    )


@attrs.frozen
class PlanReport:
    """What :func:`plan_reminders` did.

    Attributes:
        people: People with something due who were considered.
        planned: Messages added to the outbox.
        already_planned: Messages whose key was in the outbox already (not added again).
    """

    people: int
    planned: int
    already_planned: int


def plan_reminders(
    uow: UnitOfWork,
    org_unit_id: str,
    *,
    as_of: dt.date,
    at: dt.datetime,
    policy: ReminderPolicy | None = None,
    session_date: dt.date | None = None,
) -> PlanReport:
    """Plan the day's reminders for the residents of an org unit's subtree into the outbox.

    One read of the residents' summaries that can get a reminder today (with the phone
    each goes to), the planning in Python, one bulk write of the outbox (a message whose
    key is stored already is not stored again). For a province or a country, where one
    transaction would be too large, see :func:`plan_reminders_in_batches`.

    Args:
        uow: An open unit of work (not committed here).
        org_unit_id: The facility or commune.
        as_of: The planning day.
        at: The planning instant (messages planned in quiet hours wait for their end).
        policy: Timing, language, quiet hours.
        session_date: The facility's next session day, if known.

    Raises:
        NotFoundError: No such org unit.
    """
    place = uow.org_units.get(org_unit_id).name
    units = _units(uow, org_unit_id, as_of)
    planner = ReminderPlanner(
        as_of=as_of, at=at, place=place, policy=policy, session_date=session_date
    )
    return _plan_units(uow, units, planner)


def _plan_units(uow: UnitOfWork, units: Sequence[str], planner: ReminderPlanner) -> PlanReport:
    targets = uow.due.list_targets(
        units, on=planner.as_of, since=planner.earliest_day, until=planner.latest_day
    )
    messages = [m for t in targets for m in planner.plan_target(t)]
    planned = uow.outbox.add_many(messages) if messages else 0
    return PlanReport(len(targets), planned, len(messages) - planned)


def plan_reminders_in_batches(
    backend: Backend,
    org_unit_id: str,
    *,
    as_of: dt.date,
    at: dt.datetime,
    policy: ReminderPolicy | None = None,
    session_date: dt.date | None = None,
    units_per_batch: int = 20,
    scope: str | None = None,
) -> PlanReport:
    """:func:`plan_reminders` for a large subtree (a province, a country), one transaction
    per window of ``units_per_batch`` org units of the subtree.

    Each window reads its residents' summaries in one query, plans them, writes its
    messages in bulk and commits; a run stopped midway and started again plans only what
    the first did not (idempotency keys), so nothing is planned twice. Messages name the
    org unit they were planned from (``org_unit_id``'s name) as the place. ``scope``
    limits every unit of work to an org-unit subtree (see ``Backend.unit_of_work``).

    Raises:
        NotFoundError: No such org unit.
        ValidationError: ``units_per_batch`` below 1.
    """
    if not isinstance(units_per_batch, int) or units_per_batch < 1:
        raise ValidationError("units_per_batch", "must be a whole number, 1 or more")
    with backend.unit_of_work(scope=scope) as uow:
        place = uow.org_units.get(org_unit_id).name
        units = _units(uow, org_unit_id, as_of)
    planner = ReminderPlanner(
        as_of=as_of, at=at, place=place, policy=policy, session_date=session_date
    )
    people = planned = already = 0
    for i in range(0, len(units), units_per_batch):
        with backend.unit_of_work(scope=scope) as uow:
            report = _plan_units(uow, units[i : i + units_per_batch], planner)
            uow.commit()
        people += report.people
        planned += report.planned
        already += report.already_planned
    return PlanReport(people, planned, already)
