"""The interfaces the services depend on, as :class:`typing.Protocol` classes.

A backend implements these; :mod:`immreg.testing.conformance` proves that it keeps every
promise written here, and the reference in-memory backend passes the same suite.

Rules for every repository method:

* It takes and returns domain values from :mod:`immreg.model`, never rows or driver objects.
* It raises only :mod:`immreg.errors` exceptions; driver errors become
  :class:`~immreg.errors.BackendError` (or a more precise subclass) at the adapter.
* Nothing it writes is visible outside its unit of work until ``commit()``.
* In a unit of work opened with a ``scope`` (an org-unit id), subject-owned data outside
  that subtree can be neither read nor written: such a call raises
  :class:`~immreg.errors.ScopeError` (listing methods silently leave it out).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

import attrs

from immreg.model import (
    AdministeredDose,
    AuditEntry,
    Lot,
    OrgUnit,
    Subject,
    VaccineProduct,
)
from immreg.registry.records import AefiReport, DoseVerification, MergeRecord, PregnancyEpisode
from immreg.stock.model import Balance, KindTotal, StockEvent, SupplyProfile
from immreg.stock.model import EventKind as StockEventKind

if TYPE_CHECKING:  # messaging types import this module: only the type checker needs them
    from immreg.duelist import DueRow, DueSummary, ReminderTarget
    from immreg.indicators import ReportSpec, Tally
    from immreg.messaging import OutboxMessage, OutboxStatus
    from immreg.reports.maternal import MaternalRecord

__all__ = [
    "AefiRepository",
    "AuditRepository",
    "Backend",
    "BulkBatch",
    "CatalogueRepository",
    "Clock",
    "DoseRepository",
    "DoseVerificationRepository",
    "DueSummaryRepository",
    "LotRepository",
    "MaternalRepository",
    "MergeRepository",
    "Message",
    "MessageGateway",
    "OrgUnitRepository",
    "OutboxRepository",
    "PregnancyRepository",
    "Receipt",
    "ReportRepository",
    "StockLedgerRepository",
    "SubjectRepository",
    "UnitOfWork",
]


class SubjectRepository(Protocol):
    """Stores subjects (people with a lifelong record)."""

    def add(self, subject: Subject) -> None:
        """Store a new subject.

        Raises:
            ConflictError: A subject with the same id, or the same national code, exists.
        """

    def get(self, subject_id: str) -> Subject:
        """Return the subject with this id.

        Raises:
            NotFoundError: No such subject.
        """

    def get_many(self, subject_ids: Iterable[str]) -> list[Subject]:
        """The subjects with these ids, one per id in the order of its first mention (a
        few queries in all, not one per subject).

        Raises:
            NotFoundError: A subject is missing; the first missing id in that order.
            ScopeError: A subject is outside the scope, before any missing one in that order
                (the error :meth:`get` of each id in turn would raise first).
        """

    def find(self, subject_id: str) -> Subject | None:
        """Return the subject with this id, or ``None``."""

    def find_by_code(self, national_code: str) -> Subject | None:
        """Return the subject with this national immunization code, or ``None``."""

    def update(self, subject: Subject) -> None:
        """Replace a stored subject (same id) with new content.

        Raises:
            NotFoundError: No such subject.
            ConflictError: The new national code belongs to another subject.
        """

    def list_resident(self, org_unit_ids: Sequence[str], *, on: dt.date) -> list[Subject]:
        """Subjects whose residence on ``on`` is one of ``org_unit_ids``, ordered by id."""

    def count(self) -> int:
        """How many subjects are stored (within the scope, if any)."""


class DoseRepository(Protocol):
    """Stores administered doses, including voided ones (they are never deleted)."""

    def add(self, dose: AdministeredDose) -> None:
        """Store a new dose.

        Raises:
            ConflictError: A dose with the same id exists (whatever its content).
            NotFoundError: The dose's subject does not exist.
        """

    def get(self, dose_id: str) -> AdministeredDose:
        """Return the dose with this id, voided or not.

        Raises:
            NotFoundError: No such dose.
        """

    def find(self, dose_id: str) -> AdministeredDose | None:
        """Return the dose with this id, or ``None``."""

    def replace(self, dose: AdministeredDose, *, expected_version: int) -> None:
        """Replace a stored dose (same id) whose stored version is ``expected_version``.

        Raises:
            NotFoundError: No such dose.
            ConflictError: The stored version is not ``expected_version`` (a concurrent
                change won), or the subject differs.
        """

    def list_for_subject(
        self, subject_id: str, *, include_voided: bool = False
    ) -> list[AdministeredDose]:
        """The subject's doses, ordered by date then id."""

    def list_for_subjects(
        self, subject_ids: Iterable[str], *, include_voided: bool = False
    ) -> dict[str, list[AdministeredDose]]:
        """:meth:`list_for_subject` of each subject (a few queries in all), keyed by subject
        id in the order of its first mention.

        Raises:
            NotFoundError: A subject is missing; the first missing id in that order.
            ScopeError: A subject is outside the scope, before any missing one in that order.
        """

    def count(self) -> int:
        """How many dose records are stored, voided ones included."""


class CatalogueRepository(Protocol):
    """Stores the vaccine catalogue."""

    def add_product(self, product: VaccineProduct) -> None:
        """Store a new product.

        Raises:
            ConflictError: A product with the same code exists with other content.
        """

    def get_product(self, code: str) -> VaccineProduct:
        """Return the product with this code.

        Raises:
            NotFoundError: No such product.
        """

    def find_product(self, code: str) -> VaccineProduct | None:
        """Return the product with this code, or ``None``."""

    def list_products(self) -> list[VaccineProduct]:
        """All products, ordered by code."""


class OrgUnitRepository(Protocol):
    """Stores the org-unit tree."""

    def add(self, unit: OrgUnit) -> None:
        """Store a new org unit.

        Raises:
            ConflictError: An org unit with the same id exists with other content.
        """

    def get(self, org_unit_id: str) -> OrgUnit:
        """Return the org unit with this id.

        Raises:
            NotFoundError: No such org unit.
        """

    def find(self, org_unit_id: str) -> OrgUnit | None:
        """Return the org unit with this id, or ``None``."""

    def list_all(self) -> list[OrgUnit]:
        """Every org unit, ordered by id."""

    def subtree_ids(self, org_unit_id: str, *, on: dt.date) -> set[str]:
        """The unit and every unit below it on ``on``, through the parent links that hold
        that day (as :meth:`immreg.orgunits.OrgTree.subtree`), without reading the tree.

        Raises:
            NotFoundError: No such org unit.
        """


class LotRepository(Protocol):
    """Stores vaccine lots."""

    def add(self, lot: Lot) -> None:
        """Store a new lot.

        Raises:
            ConflictError: The same (product, lot number) exists with other content.
        """

    def find(self, product_code: str, lot_number: str) -> Lot | None:
        """Return the lot, or ``None``."""


class AuditRepository(Protocol):
    """An append-only audit trail."""

    def append(self, entry: AuditEntry) -> None:
        """Append an entry. Entries are never changed or removed."""

    def list_for(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """Entries about one record, oldest first."""


@runtime_checkable
class UnitOfWork(Protocol):
    """One atomic piece of work against a backend.

    Use it as a context manager. Nothing is kept unless :meth:`commit` is called inside the
    ``with`` block; leaving the block without committing, or by an exception, rolls back
    everything, in every backend (the in-memory one included). After ``commit()`` the unit
    of work may be used again for further changes, committed separately.

    Attributes:
        subjects: Subjects.
        doses: Administered doses.
        catalogue: Vaccine products.
        org_units: The org-unit tree.
        lots: Vaccine lots.
        audit: The audit trail.
        stock: The stock ledger (:mod:`immreg.stock`).
        due: Stored due summaries (:mod:`immreg.duelist`).
        outbox: Planned messages (:mod:`immreg.messaging`).
        merges: Merge records (:mod:`immreg.registry.merge`).
        verifications: Verification status of historical doses.
        aefi: Adverse events following immunization.
        pregnancies: Pregnancy episodes.
        reports: Report tallies per org unit (:mod:`immreg.indicators`).
        maternal: Pregnancies and tetanus doses for reports (:mod:`immreg.reports.maternal`).
        scope: The org-unit id whose subtree this unit of work is limited to, or ``None``.
    """

    subjects: SubjectRepository
    doses: DoseRepository
    catalogue: CatalogueRepository
    org_units: OrgUnitRepository
    lots: LotRepository
    audit: AuditRepository
    stock: StockLedgerRepository
    due: DueSummaryRepository
    outbox: OutboxRepository
    merges: MergeRepository
    verifications: DoseVerificationRepository
    aefi: AefiRepository
    pregnancies: PregnancyRepository
    reports: ReportRepository
    maternal: MaternalRepository
    scope: str | None

    def __enter__(self) -> Self:
        """Begin the unit of work."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""

    def commit(self) -> None:
        """Make every change since the last commit durable and visible to others.

        Raises:
            ConflictError: A concurrent change made this one impossible; nothing was kept.
            BackendError: The backend failed; nothing was kept.
        """

    def rollback(self) -> None:
        """Discard every change since the last commit."""


@attrs.frozen
class BulkBatch:
    """One batch of a bulk load: loaded entirely or not at all.

    Attributes:
        load_id: Names the whole load; reruns with the same id resume it.
        batch_no: Position of the batch in the load, from 0.
        subjects: New subjects in this batch.
        doses: Historical doses in this batch; their subjects are in this batch or stored.
        due: Due summaries of the batch's subjects (see :mod:`immreg.outreach`), stored in
            the same transaction, so loaded doses never sit beside stale summaries.
    """

    load_id: str
    batch_no: int
    subjects: Sequence[Subject]
    doses: Sequence[AdministeredDose]
    due: Mapping[str, Sequence[DueSummary]] = attrs.field(factory=dict)


class Backend(Protocol):
    """A storage backend, as returned by :func:`immreg.open_backend`."""

    url: str

    def unit_of_work(self, *, scope: str | None = None) -> UnitOfWork:
        """A new unit of work, optionally limited to an org-unit subtree."""

    def create_schema(self) -> None:
        """Create or upgrade the storage schema to the version this immreg needs."""

    def loaded_batches(self, load_id: str) -> set[int]:
        """Numbers of the batches of ``load_id`` that are already stored."""

    def load_batch(self, batch: BulkBatch) -> bool:
        """Store one bulk batch atomically, together with the mark that it is done.

        The inputs are already validated by the caller. Returns ``False``, writing nothing,
        when the batch was already stored by an earlier run, so a load killed midway
        and started again ends with exactly one copy of every row.

        Raises:
            ConflictError: A subject or dose of the batch exists already (outside this load).
        """

    def close(self) -> None:
        """Release connections and files."""


class Clock(Protocol):
    """Where services get the date and time; the domain itself never asks for them."""

    def today(self) -> dt.date:
        """Today's date in the registry's local time zone."""

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware."""


@attrs.frozen
class Message:
    """A text message to one recipient.

    Attributes:
        idempotency_key: Same key, same message: a gateway must not deliver it twice.
        to: Recipient phone number in E.164 form.
        body: Message text.
    """

    idempotency_key: str
    to: str
    body: str


@attrs.frozen
class Receipt:
    """What a gateway says after accepting a message.

    Attributes:
        idempotency_key: The message's key.
        provider_id: The provider's own id for the message.
        accepted_at: When the provider accepted it.
    """

    idempotency_key: str
    provider_id: str
    accepted_at: dt.datetime


class MessageGateway(Protocol):
    """Sends one message to an SMS (or other) provider."""

    def send(self, message: Message) -> Receipt:
        """Send ``message`` and return the provider's receipt.

        Sending the same ``idempotency_key`` again must not deliver a second message; the
        gateway passes the key to the provider where the provider supports it.

        Raises:
            BackendError: The provider refused or could not be reached; the caller retries.
        """


# --- stock ledger (immreg.stock) ---------------------------------------------------------


class StockLedgerRepository(Protocol):
    """The append-only stock ledger of :mod:`immreg.stock`, with a balance per lot.

    Events are never changed or removed; each one changes the balance of its (facility,
    product, lot) by its quantity, in the same transaction. A balance never goes below zero.
    Stock is facility data, not subject data: a unit of work's ``scope`` does not apply.
    """

    def append(self, event: StockEvent) -> bool:
        """Append an event and apply its quantity to its balance.

        Appending an event whose id is stored with the same content does nothing and
        returns ``False`` (a retried request); otherwise returns ``True``.

        Raises:
            StockError: The balance would go below zero; nothing was written.
            ConflictError: The id is stored with other content, the reversed event does not
                exist or is reversed already, or a concurrent writer won the balance row.
        """

    def find_event(self, event_id: str) -> StockEvent | None:
        """Return the event with this id, or ``None``."""

    def reversal_of(self, event_id: str) -> StockEvent | None:
        """Return the event that reverses ``event_id``, or ``None``."""

    def balance(self, facility_id: str, product_code: str, lot_number: str) -> int:
        """Doses on hand of one lot at one facility (0 when it never had any)."""

    def balances(
        self,
        *,
        facility_ids: Sequence[str] | None = None,
        product_code: str | None = None,
        lot_number: str | None = None,
    ) -> list[Balance]:
        """Non-zero balances, filtered, ordered by facility, product and lot."""

    def tracks(self, facility_id: str, product_code: str) -> bool:
        """Whether the facility keeps a ledger for the product (any event ever appended)."""

    def events(
        self,
        *,
        facility_id: str | None = None,
        product_code: str | None = None,
        lot_number: str | None = None,
        kind: StockEventKind | None = None,
        transfer_id: str | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[StockEvent]:
        """Events matching every filter given, in the order they were appended.

        ``since`` is inclusive and ``until`` exclusive, on the event's ``date``.
        """

    def totals(
        self, facility_ids: Sequence[str], *, since: dt.date | None, until: dt.date
    ) -> list[KindTotal]:
        """Sums of event quantities per (facility, product, kind, reason) over dates
        ``[since, until)`` (from the beginning when ``since`` is ``None``), ordered by
        facility, product, kind value and reason value (``None`` first)."""

    def put_profile(self, profile: SupplyProfile) -> None:
        """Store a product's supply profile, replacing the one stored before (if any)."""

    def find_profile(self, product_code: str) -> SupplyProfile | None:
        """Return the product's supply profile, or ``None``."""


# --- due lists and the message outbox (immreg.duelist, immreg.messaging) -----------------


class DueSummaryRepository(Protocol):
    """Each person's next dose per vaccine group, stored so a due list is one query.

    A person's summaries are replaced as a whole whenever their history or registration
    changes, in the same unit of work (see :mod:`immreg.outreach`).
    """

    def replace(self, subject_id: str, summaries: Sequence[DueSummary]) -> None:
        """Replace every stored summary of ``subject_id`` with ``summaries``.

        Raises:
            ValidationError: A summary is about another subject.
        """

    def replace_many(self, summaries: Mapping[str, Sequence[DueSummary]]) -> None:
        """:meth:`replace` for every subject id of ``summaries`` (set-wise in SQL).

        Raises:
            ValidationError: A summary is about another subject than its key.
        """

    def list_for_subject(self, subject_id: str) -> list[DueSummary]:
        """The subject's summaries, ordered by vaccine group."""

    def list_due(
        self, org_unit_ids: Sequence[str], *, on: dt.date, until: dt.date
    ) -> Iterable[DueRow]:
        """Summaries recommended on or before ``until`` that can be given on ``on``
        (``earliest`` on or before it, ``latest`` not before it), of people resident on
        ``on`` in one of ``org_unit_ids`` and not dead by then, in no particular order
        (:func:`immreg.duelist.build_due_list` orders what it lists).

        The store is read by the call; the rows may be made as they are iterated (so a
        commune's thousands of rows need not all be alive at once), once.
        """

    def list_targets(
        self,
        org_unit_ids: Sequence[str],
        *,
        on: dt.date,
        since: dt.date | None,
        until: dt.date,
    ) -> list[ReminderTarget]:
        """The people to plan reminders for: resident on ``on`` in one of ``org_unit_ids``,
        not dead by then, with the summaries recommended from ``since`` (any day if
        ``None``) to ``until`` and not past their latest day on ``on``. People with no such
        summary are left out; the rest are ordered by subject id, their summaries by
        vaccine group, each with :func:`immreg.duelist.reminder_phone` of their caregivers.
        """


class OutboxRepository(Protocol):
    """Planned messages and their delivery state: one message per idempotency key."""

    def add(self, message: OutboxMessage) -> bool:
        """Store a planned message; ``False`` (storing nothing) if its key is stored already,
        whatever that message's state: a reminder is never planned twice."""

    def add_many(self, messages: Sequence[OutboxMessage]) -> int:
        """:meth:`add` for many messages at once (one bulk statement per few thousand in
        SQL); returns how many were stored. Of messages sharing a key, the first counts."""

    def find(self, key: str) -> OutboxMessage | None:
        """Return the message with this key, or ``None``."""

    def update(self, message: OutboxMessage) -> None:
        """Replace a stored message's state (same key).

        Raises:
            NotFoundError: No message has this key.
        """

    def list_due(self, at: dt.datetime, *, limit: int) -> list[OutboxMessage]:
        """Pending messages whose next attempt is at or before ``at``, oldest first (then
        by key), at most ``limit``."""

    def list_for_subject(
        self, subject_id: str, *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about one person (with this status, if given), ordered by key."""

    def list_for_subjects(
        self, subject_ids: Iterable[str], *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about any of these people (with this status, if given), ordered by key:
        :meth:`list_for_subject` of each, merged, in one query."""

    def counts(self) -> dict[OutboxStatus, int]:
        """How many messages are in each state (states with none are left out)."""


# --- registry: merges (immreg.registry.merge) -----------------------------------------------


class MergeRepository(Protocol):
    """Merge records, and the two low-level writes a merge needs beyond the other ports.

    A merge record involves two subjects; in a scoped unit of work every record whose
    subjects (as the record holds them) are not all in the scope is refused with
    :class:`~immreg.errors.ScopeError`, and listings leave it out.
    """

    def add(self, record: MergeRecord) -> None:
        """Store a merge record.

        Raises:
            ConflictError: A merge with the same id exists.
            ScopeError: One of its subjects is outside the scope.
        """

    def find(self, merge_id: str) -> MergeRecord | None:
        """Return the merge record, or ``None``.

        Raises:
            ScopeError: One of its subjects is outside the scope.
        """

    def get(self, merge_id: str) -> MergeRecord:
        """Return the merge record.

        Raises:
            NotFoundError: No such merge.
            ScopeError: One of its subjects is outside the scope.
        """

    def list_for_subject(self, subject_id: str) -> list[MergeRecord]:
        """Merges the subject took part in (either side), oldest first, then by id."""

    def mark_undone(self, merge_id: str, *, at: dt.datetime, by: str) -> MergeRecord:
        """Record that a merge was undone; return the updated record.

        Raises:
            NotFoundError: No such merge.
            ConflictError: It was undone already.
        """

    def retire_subject(self, subject_id: str) -> None:
        """Remove a subject record (its snapshot is kept by the caller, in a merge record).

        Raises:
            NotFoundError: No such subject.
            ScopeError: The subject is outside the scope.
            ConflictError: The subject still has doses (move them first).
        """

    def move_doses(self, dose_ids: list[str], *, to_subject_id: str) -> None:
        """Give doses to another subject; nothing else about them changes (not the version).

        Raises:
            NotFoundError: A dose or the subject does not exist.
            ScopeError: The subject, or a dose's subject, is outside the scope.
        """


# --- reports (immreg.indicators, immreg.reports) ------------------------------------------


class ReportRepository(Protocol):
    """Indicator tallies per org unit, computed where the data lives.

    The contract: :meth:`leaf_tallies` returns exactly what
    :func:`immreg.indicators.leaf_tallies` computes over the subjects, doses and products the
    unit of work can see (its own uncommitted writes included, so a dose counts as soon as
    its transaction commits), keyed by the org unit the data is attached to. Tallies with
    every counter zero may be left out. In a scoped unit of work, only subjects within the
    scope (and their doses) count.
    """

    def leaf_tallies(
        self, spec: ReportSpec, *, units: Collection[str] | None = None
    ) -> dict[str, Tally]:
        """Tallies per org unit a child lives in or a dose was given at.

        With ``units``, only the tallies of those org units are computed (a province's
        report by commune need not count the whole country); the values are the same as
        those of the unrestricted call.
        """


class MaternalRepository(Protocol):
    """What maternal tetanus reports read (:mod:`immreg.reports.maternal`).

    The contract: :meth:`pregnancy_records` returns exactly what
    :func:`immreg.reports.maternal.pregnancy_records` selects from the episodes, subjects
    and doses the unit of work can see (its own writes included); in a scoped unit of work,
    only women within the scope.
    """

    def pregnancy_records(
        self,
        *,
        since: dt.date,
        until: dt.date,
        on: dt.date,
        product_codes: Collection[str],
        units: Collection[str] | None = None,
    ) -> list[MaternalRecord]:
        """Episodes started by ``on`` whose expected delivery or end is in ``[since, until)``,
        each with the woman's doses of ``product_codes`` up to ``on`` and her residence on
        ``on`` (restricted to residents of ``units`` when given), ordered by episode id."""


# --- registry: historical dose verification and AEFI (immreg.registry.history, .aefi) ------


class DoseVerificationRepository(Protocol):
    """The verification status of historical doses, one per dose, scoped like the dose."""

    def put(self, verification: DoseVerification) -> None:
        """Store or replace the dose's verification status.

        Raises:
            NotFoundError: No such dose.
            ScopeError: The dose's subject is outside the scope.
        """

    def find(self, dose_id: str) -> DoseVerification | None:
        """The dose's verification status, or ``None`` (never set).

        Raises:
            ScopeError: The dose's subject is outside the scope.
        """

    def list_for_subject(self, subject_id: str) -> list[DoseVerification]:
        """Verifications of the subject's doses, ordered by dose id.

        Raises:
            ScopeError: The subject is outside the scope.
        """


class AefiRepository(Protocol):
    """Adverse events following immunization, each linked to a dose; scoped like the dose."""

    def add(self, report: AefiReport) -> None:
        """Store a new report.

        Raises:
            NotFoundError: The dose does not exist.
            ScopeError: The dose's subject is outside the scope.
            ConflictError: A report with the same id exists.
        """

    def get(self, report_id: str) -> AefiReport:
        """Return a report.

        Raises:
            NotFoundError: No such report.
            ScopeError: The dose's subject is outside the scope.
        """

    def update(self, report: AefiReport) -> None:
        """Replace a report (same id and dose), e.g. with a later outcome.

        Raises:
            NotFoundError: No such report.
            ScopeError: The dose's subject is outside the scope.
            ConflictError: The dose differs.
        """

    def list_for_lot(self, product_code: str, lot_number: str) -> list[AefiReport]:
        """Reports on doses of one lot, by onset then id (out-of-scope ones left out)."""

    def list_for_facility(self, facility_id: str) -> list[AefiReport]:
        """Reports on doses given at one facility, by onset then id (out of scope left out)."""


class PregnancyRepository(Protocol):
    """Pregnancy episodes, scoped like the woman they belong to."""

    def add(self, episode: PregnancyEpisode) -> None:
        """Store a new episode.

        Raises:
            NotFoundError: The woman is not a stored subject.
            ScopeError: She is outside the scope.
            ConflictError: An episode with the same id exists.
        """

    def get(self, episode_id: str) -> PregnancyEpisode:
        """Return an episode.

        Raises:
            NotFoundError: No such episode.
            ScopeError: The woman is outside the scope.
        """

    def update(self, episode: PregnancyEpisode) -> None:
        """Replace an episode (same id and woman), e.g. to record its end.

        Raises:
            NotFoundError: No such episode.
            ScopeError: The woman is outside the scope.
            ConflictError: The woman differs.
        """

    def list_for_subject(self, subject_id: str) -> list[PregnancyEpisode]:
        """The woman's episodes, by start then id.

        Raises:
            NotFoundError: No such subject.
            ScopeError: She is outside the scope.
        """
