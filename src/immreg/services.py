"""Use cases: what an application does with a registry, each one a unit of work.

Two layers, so that applications can choose:

* Functions such as :func:`record_dose` do one use case inside a unit of work the caller
  opened, checking everything first and writing only when all is well; they never commit,
  so several can be combined atomically.
* :class:`Registry` is the composition root most applications want: it holds a backend and
  a :class:`~immreg.ports.Clock`, and each method opens a unit of work, runs the use case
  and commits.

Every function takes the dates it judges by (``as_of``) and the instant it stamps audit
entries with (``at``) from its caller; only :class:`SystemClock` reads the real clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import attrs

from immreg.errors import ConflictError, FieldError, ValidationError
from immreg.model import MAX_NAME_LENGTH, AdministeredDose, AuditEntry, OrgUnit, Subject
from immreg.ports import Backend, BulkBatch, Clock, UnitOfWork
from immreg.serialization import dumps
from immreg.stock import ledger as stock_ledger

if TYPE_CHECKING:
    from immreg.duelist import DueList, DueSummary, ReminderPolicy
    from immreg.messaging import DispatchReport, QuietHours, RetryPolicy
    from immreg.outreach import PlanReport
    from immreg.ports import MessageGateway
    from immreg.registry.desk import RegistryDesk
    from immreg.schedule import Schedule
    from immreg.stock.desk import StockDesk

__all__ = [
    "LOCAL_TZ",
    "BulkLoadReport",
    "FixedClock",
    "History",
    "RecordOutcome",
    "RecordResult",
    "Registry",
    "SystemClock",
    "bulk_load",
    "correct_dose",
    "list_subjects",
    "record_dose",
    "register_subject",
    "subject_history",
    "validate_dose",
    "void_dose",
]

#: The time zone local rules (dates of doses, quiet hours) are judged in.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@attrs.frozen
class SystemClock:
    """The real clock, in the registry's time zone (Asia/Ho_Chi_Minh by default)."""

    tz: dt.tzinfo = LOCAL_TZ

    def today(self) -> dt.date:
        """Today's local date."""
        return self.now().date()

    def now(self) -> dt.datetime:
        """The current instant, in the clock's time zone."""
        return dt.datetime.now(self.tz)


@attrs.frozen
class FixedClock:
    """A clock that always says the same instant: for tests, replays and simulations."""

    at: dt.datetime = attrs.field()

    @at.validator
    def _aware(self, _: attrs.Attribute[dt.datetime], value: dt.datetime) -> None:
        if value.tzinfo is None:
            raise ValidationError("at", "must be a timezone-aware date and time")

    def today(self) -> dt.date:
        """The fixed instant's date."""
        return self.at.date()

    def now(self) -> dt.datetime:
        """The fixed instant."""
        return self.at


class RecordOutcome(enum.Enum):
    """What :func:`record_dose` did."""

    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"


@attrs.frozen
class RecordResult:
    """The stored dose and whether this call stored it or found it already there."""

    dose: AdministeredDose
    outcome: RecordOutcome


@attrs.frozen
class History:
    """A subject and their doses, ordered by date."""

    subject: Subject
    doses: tuple[AdministeredDose, ...]


# --- checks -----------------------------------------------------------------------------


def _check_subject_refs(uow: UnitOfWork, subject: Subject, *, as_of: dt.date) -> None:
    errors: list[FieldError] = []
    if subject.birth_date > as_of:
        errors.append(FieldError("birth_date", f"is after today ({as_of.isoformat()})"))
    for i, r in enumerate(subject.residences):
        if uow.org_units.find(r.org_unit_id) is None:
            errors.append(
                FieldError(
                    f"residences[{i}].org_unit_id", f"org unit {r.org_unit_id!r} does not exist"
                )
            )
        if r.start < subject.birth_date:
            errors.append(FieldError(f"residences[{i}].start", "is before the birth date"))
    if subject.mother_id is not None:
        mother = uow.subjects.find(subject.mother_id)
        if mother is None:
            errors.append(FieldError("mother_id", f"no subject {subject.mother_id!r}"))
        elif mother.birth_date >= subject.birth_date:
            errors.append(FieldError("mother_id", "the mother is not older than the child"))
    if errors:
        raise ValidationError(errors=errors)


def validate_dose(
    uow: UnitOfWork, dose: AdministeredDose, *, as_of: dt.date, subject: Subject | None = None
) -> Subject:
    """Check a dose against the rest of the registry; return its subject.

    Checks: the subject exists (and is visible in the unit of work's scope), the vaccine is
    in the catalogue, the facility is a known org unit, the date is neither before birth
    nor after ``as_of`` nor after death, and a known lot belongs to the product and had not
    expired on the date.

    Raises:
        ValidationError: Listing every problem by field.
        ScopeError: The subject is outside the unit of work's scope.
    """
    errors: list[FieldError] = []
    if subject is None:
        subject = uow.subjects.find(dose.subject_id)
    if subject is None:
        errors.append(FieldError("subject_id", f"no subject {dose.subject_id!r}"))
    if uow.catalogue.find_product(dose.product_code) is None:
        errors.append(
            FieldError("product_code", f"{dose.product_code!r} is not a vaccine in the catalogue")
        )
    if uow.org_units.find(dose.facility_id) is None:
        errors.append(FieldError("facility_id", f"org unit {dose.facility_id!r} does not exist"))
    if dose.date > as_of:
        errors.append(FieldError("date", f"is after today ({as_of.isoformat()})"))
    if subject is not None:
        if dose.date < subject.birth_date:
            errors.append(
                FieldError("date", f"is before the birth date ({subject.birth_date.isoformat()})")
            )
        if subject.deceased_on is not None and dose.date > subject.deceased_on:
            errors.append(FieldError("date", "is after the date of death"))
    if dose.lot_number is not None:
        lot = uow.lots.find(dose.product_code, dose.lot_number)
        if lot is not None and lot.expiry < dose.date:
            errors.append(
                FieldError(
                    "lot_number", f"lot {dose.lot_number} expired on {lot.expiry.isoformat()}"
                )
            )
    if errors:
        raise ValidationError(errors=errors)
    assert subject is not None
    return subject


def _check_reason(reason: object, missing: str) -> None:
    # The reason is stored on the dose and shown to health workers: same rules as a name.
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason", missing)
    if len(reason) > MAX_NAME_LENGTH:
        raise ValidationError("reason", f"is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 32 for c in reason):
        raise ValidationError("reason", "must not contain control characters")


def _audit(
    uow: UnitOfWork,
    entity: str,
    entity_id: str,
    action: str,
    *,
    at: dt.datetime,
    by: str,
    before: object = None,
    after: object = None,
    reason: str | None = None,
) -> None:
    uow.audit.append(
        AuditEntry(
            entity=entity,
            entity_id=entity_id,
            action=action,
            at=at,
            by=by,
            reason=reason,
            before=None if before is None else dumps(before),
            after=None if after is None else dumps(after),
        )
    )


# --- use cases inside a caller's unit of work -------------------------------------------


def register_subject(
    uow: UnitOfWork, subject: Subject, *, as_of: dt.date, at: dt.datetime, by: str
) -> Subject:
    """Register a new person.

    Raises:
        ValidationError: Birth date after ``as_of``, unknown residence org unit, residence
            before birth, unknown or impossible mother.
        ConflictError: The id or national code is taken.
    """
    _check_subject_refs(uow, subject, as_of=as_of)
    uow.subjects.add(subject)
    _audit(uow, "subject", subject.id, "register", at=at, by=by, after=subject)
    return subject


def record_dose(
    uow: UnitOfWork, dose: AdministeredDose, *, as_of: dt.date, at: dt.datetime, by: str
) -> RecordResult:
    """Record an administered dose; recording the same dose again stores it once.

    Args:
        uow: An open unit of work (not committed here).
        dose: The dose, with the client's id, ``version`` 1 and not voided.
        as_of: The date the record is judged by (a dose cannot be in the future).
        at: Instant for the audit entry.
        by: Who records it.

    Returns:
        The stored dose, and whether it was recorded now or was already there.

    Raises:
        ValidationError: The dose does not fit the registry (see :func:`validate_dose`), or
            it is not a fresh dose (version 1, not voided).
        ConflictError: A dose with the same id but different content exists.
        StockError: The facility keeps a stock ledger for the product and has none of the
            dose's lot on hand (see :func:`immreg.stock.ledger.dose_administered`).
    """
    if dose.version != 1 or dose.voided:
        raise ValidationError("version", "a new dose has version 1 and is not voided")
    existing = uow.doses.find(dose.id)
    if existing is not None:
        if existing.same_content(dose) and not existing.voided and existing.version == 1:
            return RecordResult(existing, RecordOutcome.ALREADY_RECORDED)
        raise ConflictError(f"dose {dose.id!r} was recorded before with different content")
    validate_dose(uow, dose, as_of=as_of)
    # Same transaction: a dose from a tracked lot decrements it (immreg.stock.ledger). The
    # stock first: a StockError then leaves nothing of the dose in the unit of work, even
    # for a caller that catches it and goes on.
    stock_ledger.dose_administered(uow, dose, by=by)
    uow.doses.add(dose)
    _audit(uow, "dose", dose.id, "record", at=at, by=by, after=dose)
    return RecordResult(dose, RecordOutcome.RECORDED)


def correct_dose(
    uow: UnitOfWork,
    corrected: AdministeredDose,
    *,
    expected_version: int,
    reason: str,
    as_of: dt.date,
    at: dt.datetime,
    by: str,
) -> AdministeredDose:
    """Replace a recorded dose's content, keeping the old content in the audit trail.

    ``corrected`` carries the dose's id and its new content; its ``version`` is ignored
    and set to the stored version plus one.

    Raises:
        NotFoundError: No such dose.
        ValidationError: The new content does not fit the registry, or no reason was given.
        ConflictError: The dose was voided, belongs to another subject, or is not at
            ``expected_version`` any more.
    """
    _check_reason(reason, "a correction needs a reason")
    old = uow.doses.get(corrected.id)
    if old.voided:
        raise ConflictError(f"dose {old.id!r} is voided and cannot be corrected")
    if old.subject_id != corrected.subject_id:
        raise ConflictError(f"dose {old.id!r} belongs to another subject")
    new = attrs.evolve(corrected, version=old.version + 1, voided=False, void_reason=None)
    validate_dose(uow, new, as_of=as_of)
    uow.doses.replace(new, expected_version=expected_version)
    stock_ledger.dose_corrected(uow, old, new, date=as_of, by=by)
    _audit(uow, "dose", new.id, "correct", at=at, by=by, before=old, after=new, reason=reason)
    return new


def void_dose(
    uow: UnitOfWork,
    dose_id: str,
    *,
    expected_version: int,
    reason: str,
    at: dt.datetime,
    by: str,
) -> AdministeredDose:
    """Mark a dose as entered in error; it stays stored, out of every count.

    Raises:
        NotFoundError: No such dose.
        ValidationError: No reason was given.
        ConflictError: Already voided, or not at ``expected_version`` any more.
    """
    _check_reason(reason, "voiding a dose needs a reason")
    old = uow.doses.get(dose_id)
    if old.voided:
        raise ConflictError(f"dose {dose_id!r} is voided already")
    new = attrs.evolve(old, version=old.version + 1, voided=True, void_reason=reason)
    uow.doses.replace(new, expected_version=expected_version)
    stock_ledger.dose_voided(uow, old, date=at.date(), by=by)
    _audit(uow, "dose", dose_id, "void", at=at, by=by, before=old, after=new, reason=reason)
    return new


def subject_history(uow: UnitOfWork, subject_id: str, *, include_voided: bool = False) -> History:
    """A subject and their doses.

    Raises:
        NotFoundError: No such subject.
    """
    subject = uow.subjects.get(subject_id)
    doses = uow.doses.list_for_subject(subject_id, include_voided=include_voided)
    return History(subject, tuple(doses))


def list_subjects(uow: UnitOfWork, org_unit_id: str, *, on: dt.date) -> list[Subject]:
    """People resident on ``on`` in the org unit or any unit below it on that date.

    Raises:
        NotFoundError: No such org unit.
    """
    units = uow.org_units.subtree_ids(org_unit_id, on=on)
    return uow.subjects.list_resident(sorted(units), on=on)


# --- bulk loading -----------------------------------------------------------------------


@attrs.frozen
class BulkLoadReport:
    """What :func:`bulk_load` did.

    Attributes:
        load_id: The load's name.
        batches_loaded: Batches stored by this run.
        batches_skipped: Batches found already stored by an earlier run.
        subjects: Subjects stored by this run.
        doses: Doses stored by this run.
    """

    load_id: str
    batches_loaded: int
    batches_skipped: int
    subjects: int
    doses: int


def _batches(
    records: Iterable[tuple[Subject, Sequence[AdministeredDose]]], batch_doses: int
) -> Iterator[list[tuple[int, Subject, Sequence[AdministeredDose]]]]:
    batch: list[tuple[int, Subject, Sequence[AdministeredDose]]] = []
    size = 0
    for i, (subject, doses) in enumerate(records):
        batch.append((i, subject, doses))
        size += len(doses) + 1
        if size >= batch_doses:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def bulk_load(
    backend: Backend,
    records: Iterable[tuple[Subject, Sequence[AdministeredDose]]],
    *,
    load_id: str,
    as_of: dt.date,
    batch_size: int = 20_000,
    schedule: Schedule | None = None,
) -> BulkLoadReport:
    """Load people with their historical doses in large atomic batches, resumably.

    Records are cut into batches of about ``batch_size`` rows, in input order. Each batch
    is validated completely, then stored in one transaction together with a mark naming
    ``(load_id, batch number)``. Running the same load again (same ``load_id``, same
    records in the same order) skips the batches already stored, so a load killed midway
    and started again ends with exactly one copy of every row.

    Each record is checked as :func:`register_subject` and :func:`validate_dose` would
    (birth date not in the future, residences in known org units and not before birth, a
    mother stored or in the same batch, doses of the record's subject, of catalogue
    products, at known facilities, between birth and ``as_of`` and not after death),
    against the catalogue and org units read once at the start; the one check left out is
    a known lot's expiry, which historical records often predate. A bad record stops the
    load before its
    batch is written, with an error naming it (``records[i].doses[j].date``); the batches
    before it stay stored, and a rerun after fixing the record resumes there.

    With a ``schedule``, the due summaries of each batch's people (all new, their doses
    all in the batch) are forecast from the batch and stored in its transaction
    (:func:`immreg.outreach.summaries_of`), so a due list never misses a loaded person.

    Raises:
        ValidationError: A record is invalid; nothing of its batch was written.
        ConflictError: A subject or dose id exists already outside this load.
    """
    if batch_size < 1:
        raise ValidationError("batch_size", "must be at least 1")
    done = backend.loaded_batches(load_id)
    with backend.unit_of_work() as uow:
        products = {p.code for p in uow.catalogue.list_products()}
        units = {u.id for u in uow.org_units.list_all()}
    loaded = skipped = n_subjects = n_doses = 0
    for batch_no, batch in enumerate(_batches(records, batch_size)):
        if batch_no in done:
            skipped += 1
            continue
        in_batch = {s.id: s for _, s, _ in batch}

        def mother_known(mother_id: str, in_batch: dict[str, Subject] = in_batch) -> bool:
            if mother_id in in_batch:
                return True
            with backend.unit_of_work() as uow:
                return uow.subjects.find(mother_id) is not None

        errors: list[FieldError] = []
        for i, subject, doses in batch:
            errors.extend(_bulk_problems(i, subject, doses, products, units, as_of, mother_known))
        if errors:
            raise ValidationError(errors=errors)
        subjects = [s for _, s, _ in batch]
        all_doses = [d for _, _, ds in batch for d in ds]
        due = _batch_due(batch, schedule, as_of)
        if backend.load_batch(BulkBatch(load_id, batch_no, subjects, all_doses, due)):
            loaded += 1
            n_subjects += len(subjects)
            n_doses += len(all_doses)
        else:
            skipped += 1
    return BulkLoadReport(load_id, loaded, skipped, n_subjects, n_doses)


def _batch_due(
    batch: Sequence[tuple[int, Subject, Sequence[AdministeredDose]]],
    schedule: Schedule | None,
    as_of: dt.date,
) -> dict[str, tuple[DueSummary, ...]]:
    # The due summaries of a bulk batch's new people, from the batch alone.
    if schedule is None:
        return {}
    from immreg.outreach import summaries_of

    return summaries_of(((s, ds) for _, s, ds in batch), schedule=schedule, as_of=as_of)


def _bulk_problems(
    i: int,
    subject: Subject,
    doses: Sequence[AdministeredDose],
    products: set[str],
    units: set[str],
    as_of: dt.date,
    mother_known: Callable[[str], bool],
) -> list[FieldError]:
    where = f"records[{i}]"
    out: list[FieldError] = []
    if subject.birth_date > as_of:
        out.append(FieldError(f"{where}.subject.birth_date", "is in the future"))
    if subject.mother_id is not None and not mother_known(subject.mother_id):
        out.append(FieldError(f"{where}.subject.mother_id", f"no subject {subject.mother_id!r}"))
    for k, r in enumerate(subject.residences):
        if r.start < subject.birth_date:
            out.append(
                FieldError(f"{where}.subject.residences[{k}].start", "is before the birth date")
            )
        if r.org_unit_id not in units:
            out.append(
                FieldError(
                    f"{where}.subject.residences[{k}].org_unit_id",
                    f"org unit {r.org_unit_id!r} does not exist",
                )
            )
    for j, d in enumerate(doses):
        at = f"{where}.doses[{j}]"
        if d.subject_id != subject.id:
            out.append(FieldError(f"{at}.subject_id", "is not the record's subject"))
        if d.product_code not in products:
            out.append(
                FieldError(
                    f"{at}.product_code", f"{d.product_code!r} is not a vaccine in the catalogue"
                )
            )
        if d.facility_id not in units:
            out.append(
                FieldError(f"{at}.facility_id", f"org unit {d.facility_id!r} does not exist")
            )
        if d.date < subject.birth_date:
            out.append(FieldError(f"{at}.date", "is before the birth date"))
        if d.date > as_of:
            out.append(FieldError(f"{at}.date", "is in the future"))
        if subject.deceased_on is not None and d.date > subject.deceased_on:
            out.append(FieldError(f"{at}.date", "is after the date of death"))
        if d.version != 1 or d.voided:
            out.append(
                FieldError(f"{at}.version", "a loaded dose has version 1 and is not voided")
            )
    return out


# --- the composition root ---------------------------------------------------------------


class Registry:
    """A registry over one backend: each method is one committed unit of work.

    Args:
        backend: Where data lives (see :func:`immreg.open_backend`).
        clock: Where "today" comes from; :class:`SystemClock` by default.
        user: Who is recorded as making the changes.
        scope: Limit every unit of work to this org unit's subtree.
        schedule: A schedule (or the spec of one, e.g. ``"vn-epi"``): when given, every
            registration and dose change refreshes the person's due summaries in the same
            unit of work (:func:`immreg.outreach.refresh_due`), which due lists and
            reminders read.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Clock | None = None,
        user: str = "system",
        scope: str | None = None,
        schedule: Schedule | str | None = None,
    ) -> None:
        self.backend = backend
        self.clock: Clock = clock or SystemClock()
        self.user = user
        self.scope = scope
        if isinstance(schedule, str):
            from immreg.schedule import load_schedule

            schedule = load_schedule(schedule)
        self.schedule: Schedule | None = schedule

    def _uow(self) -> UnitOfWork:
        return self.backend.unit_of_work(scope=self.scope)

    @property
    def stock(self) -> StockDesk:
        """Stock use cases, each a committed unit of work (:mod:`immreg.stock.desk`)."""
        from immreg.stock.desk import StockDesk

        return StockDesk(self)

    @property
    def registry(self) -> RegistryDesk:
        """Merges, moves, historical doses, AEFI, duplicates (:mod:`immreg.registry.desk`)."""
        from immreg.registry.desk import RegistryDesk

        return RegistryDesk(self)

    def add_org_units(self, units: Iterable[OrgUnit]) -> None:
        """Store org units (the same unit again is accepted)."""
        with self._uow() as uow:
            for u in units:
                uow.org_units.add(u)
            uow.commit()

    def register_subject(self, subject: Subject) -> Subject:
        """Register a person (see :func:`register_subject`)."""
        with self._uow() as uow:
            register_subject(
                uow, subject, as_of=self.clock.today(), at=self.clock.now(), by=self.user
            )
            self._refresh_due(uow, subject.id)
            uow.commit()
        return subject

    def record_dose(self, dose: AdministeredDose) -> RecordResult:
        """Record a dose (see :func:`record_dose`).

        When two identical recordings race (a client retrying while its first request is
        still being committed), the one that loses finds the winner's dose and reports
        ``ALREADY_RECORDED``, as it would have a moment later; a dose with the same id
        but other content is still a :class:`~immreg.errors.ConflictError`.
        """
        try:
            with self._uow() as uow:
                result = record_dose(
                    uow, dose, as_of=self.clock.today(), at=self.clock.now(), by=self.user
                )
                self._refresh_due(uow, dose.subject_id)
                uow.commit()
            return result
        except ConflictError:
            with self._uow() as uow:
                stored = uow.doses.find(dose.id)
            if stored is not None and stored.same_content(dose) and stored.version == 1:
                return RecordResult(stored, RecordOutcome.ALREADY_RECORDED)
            raise

    def correct_dose(
        self, corrected: AdministeredDose, *, expected_version: int, reason: str
    ) -> AdministeredDose:
        """Correct a dose (see :func:`correct_dose`)."""
        with self._uow() as uow:
            new = correct_dose(
                uow,
                corrected,
                expected_version=expected_version,
                reason=reason,
                as_of=self.clock.today(),
                at=self.clock.now(),
                by=self.user,
            )
            self._refresh_due(uow, new.subject_id)
            uow.commit()
        return new

    def void_dose(self, dose_id: str, *, expected_version: int, reason: str) -> AdministeredDose:
        """Void a dose (see :func:`void_dose`)."""
        with self._uow() as uow:
            new = void_dose(
                uow,
                dose_id,
                expected_version=expected_version,
                reason=reason,
                at=self.clock.now(),
                by=self.user,
            )
            self._refresh_due(uow, new.subject_id)
            uow.commit()
        return new

    def history(self, subject_id: str, *, include_voided: bool = False) -> History:
        """A subject's record (see :func:`subject_history`)."""
        with self._uow() as uow:
            return subject_history(uow, subject_id, include_voided=include_voided)

    def subjects_in(self, org_unit_id: str, *, on: dt.date | None = None) -> list[Subject]:
        """People resident in an org unit's subtree (see :func:`list_subjects`)."""
        with self._uow() as uow:
            return list_subjects(uow, org_unit_id, on=on or self.clock.today())

    def audit_trail(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """The audit entries about one record, oldest first."""
        with self._uow() as uow:
            return uow.audit.list_for(entity, entity_id)

    def bulk_load(
        self,
        records: Iterable[tuple[Subject, Sequence[AdministeredDose]]],
        *,
        load_id: str,
        batch_size: int = 20_000,
    ) -> BulkLoadReport:
        """Bulk-load people and historical doses (see :func:`bulk_load`); with the
        registry's schedule, their due summaries are stored with them."""
        return bulk_load(
            self.backend,
            records,
            load_id=load_id,
            as_of=self.clock.today(),
            batch_size=batch_size,
            schedule=self.schedule,
        )

    # --- due lists and reminders (immreg.outreach, immreg.messaging) ------------------------

    def _refresh_due(self, uow: UnitOfWork, subject_id: str) -> None:
        if self.schedule is not None:
            from immreg.outreach import refresh_due

            refresh_due(uow, subject_id, schedule=self.schedule, as_of=self.clock.today())

    def refresh_due(self, subject_ids: Iterable[str]) -> None:
        """Recompute people's due summaries (after a schedule change, or to fill them in for
        people recorded before the registry had a schedule); see
        :func:`immreg.outreach.refresh_due_many`.

        Raises:
            ValidationError: The registry has no schedule.
        """
        from immreg.outreach import refresh_due_many

        if self.schedule is None:
            raise ValidationError("schedule", "the registry was opened without a schedule")
        with self._uow() as uow:
            refresh_due_many(uow, subject_ids, schedule=self.schedule, as_of=self.clock.today())
            uow.commit()

    def due_list(
        self,
        org_unit_id: str,
        *,
        session_date: dt.date | None = None,
        window_days: int = 0,
        defaulter_days: int = 28,
    ) -> DueList:
        """A session's due list (see :func:`immreg.outreach.due_list`); today by default."""
        from immreg.outreach import due_list

        with self._uow() as uow:
            return due_list(
                uow,
                org_unit_id,
                session_date=session_date or self.clock.today(),
                window_days=window_days,
                defaulter_days=defaulter_days,
            )

    def plan_reminders(
        self,
        org_unit_id: str,
        *,
        policy: ReminderPolicy | None = None,
        session_date: dt.date | None = None,
    ) -> PlanReport:
        """Plan today's reminders into the outbox, one transaction per window of org units
        (see :func:`immreg.outreach.plan_reminders_in_batches`)."""
        from immreg.outreach import plan_reminders_in_batches

        return plan_reminders_in_batches(
            self.backend,
            org_unit_id,
            as_of=self.clock.today(),
            at=self.clock.now(),
            policy=policy,
            session_date=session_date,
            scope=self.scope,
        )

    def dispatch_reminders(
        self,
        gateway: MessageGateway,
        *,
        retry: RetryPolicy | None = None,
        quiet_hours: QuietHours | None = None,
        limit: int = 1000,
    ) -> DispatchReport:
        """Send the outbox's due messages (see :func:`immreg.messaging.dispatch`)."""
        from immreg.messaging import dispatch

        return dispatch(
            self.backend,
            gateway,
            clock=self.clock,
            retry=retry,
            quiet_hours=quiet_hours,
            limit=limit,
        )
