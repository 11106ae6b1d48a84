"""The registry desk: :mod:`immreg.registry` use cases as committed units of work.

``Registry(backend).registry`` is a :class:`RegistryDesk`: each method opens a unit of work
with the registry's scope, runs one use case, and commits; dates come from the registry's
clock and the user is the registry's. Applications that combine several changes atomically
call the functions of :mod:`immreg.registry.merge`, :mod:`~immreg.registry.residence`,
:mod:`~immreg.registry.history` and :mod:`~immreg.registry.aefi` in a unit of work of their
own instead.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from immreg.model import AdministeredDose, Subject
from immreg.ports import UnitOfWork
from immreg.registry import aefi, codes, dedup, history, merge, residence
from immreg.registry.records import AefiReport, DoseVerification, MergeRecord, Outcome
from immreg.services import RecordResult

if TYPE_CHECKING:
    from immreg.services import Registry

__all__ = ["RegistryDesk"]


class RegistryDesk:
    """Registry use cases over a :class:`~immreg.services.Registry`'s backend and clock.

    Args:
        registry: The registry whose backend, clock, user and scope are used.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def _uow(self) -> UnitOfWork:
        r = self._registry
        return r.backend.unit_of_work(scope=r.scope)

    def register(self, subject: Subject) -> tuple[Subject, list[dedup.CandidatePair]]:
        """Register a person and return likely duplicates already registered.

        A national code is checked (12 digits, Damm check digit) and stored in its
        12-digit form; the duplicates are those of :meth:`matches_for`, found before the
        new record is stored, for a health worker to review (the record is stored anyway:
        only a person decides that two records are one).

        Raises:
            ValidationError: A bad national code (``national_code``) or what
                :func:`immreg.services.register_subject` refuses.
            ConflictError: The id or the national code is taken.
        """
        if subject.national_code is not None:
            subject = attrs.evolve(
                subject, national_code=codes.normalize_code(subject.national_code)
            )
        candidates = self.matches_for(subject)
        self._registry.register_subject(subject)
        return subject, candidates

    def duplicates(
        self,
        org_unit_id: str,
        *,
        on: dt.date | None = None,
        threshold: float = dedup.DEFAULT_THRESHOLD,
    ) -> list[dedup.CandidatePair]:
        """Likely duplicates among people resident in an org unit's subtree on ``on``
        (today by default), best first (see :func:`immreg.registry.dedup.find_duplicates`).

        Raises:
            NotFoundError: No such org unit.
        """
        day = on or self._registry.clock.today()
        with self._uow() as uow:
            units = uow.org_units.subtree_ids(org_unit_id, on=day)
            people = uow.subjects.list_resident(sorted(units), on=day)
        pairs = dedup.find_duplicates((dedup.match_record(s) for s in people), threshold=threshold)
        return sorted(pairs, key=lambda p: (-p.score, p.left_id, p.right_id))

    def matches_for(self, subject: Subject) -> list[dedup.CandidatePair]:
        """Registered people who may be ``subject`` (at registration), best first.

        The shortlist is the people resident today in the org units of ``subject``'s
        residences.
        """
        today = self._registry.clock.today()
        units = sorted({r.org_unit_id for r in subject.residences})
        with self._uow() as uow:
            others = uow.subjects.list_resident(units, on=today) if units else []
        return dedup.matches_for(
            dedup.match_record(subject), [dedup.match_record(s) for s in others]
        )

    def merge(
        self, survivor_id: str, absorbed_id: str, *, merge_id: str, reason: str | None = None
    ) -> MergeRecord:
        """Merge two records of one person (see :func:`immreg.registry.merge.merge_subjects`)."""
        r = self._registry
        with self._uow() as uow:
            record = merge.merge_subjects(
                uow,
                survivor_id,
                absorbed_id,
                merge_id=merge_id,
                at=r.clock.now(),
                by=r.user,
                reason=reason,
            )
            r._refresh_due(uow, survivor_id)
            uow.commit()
        return record

    def unmerge(self, merge_id: str, *, reason: str | None = None) -> MergeRecord:
        """Undo a merge exactly (see :func:`immreg.registry.merge.unmerge`)."""
        r = self._registry
        with self._uow() as uow:
            record = merge.unmerge(uow, merge_id, at=r.clock.now(), by=r.user, reason=reason)
            r._refresh_due(uow, record.survivor_id)
            r._refresh_due(uow, record.absorbed_id)
            uow.commit()
        return record

    def transfer(
        self, subject_id: str, to_org_unit_id: str, *, on: dt.date, reason: str | None = None
    ) -> Subject:
        """Record a move (see :func:`immreg.registry.residence.transfer`)."""
        r = self._registry
        with self._uow() as uow:
            moved = residence.transfer(
                uow,
                subject_id,
                to_org_unit_id,
                on=on,
                as_of=r.clock.today(),
                at=r.clock.now(),
                by=r.user,
                reason=reason,
            )
            uow.commit()
        return moved

    def record_historical_dose(
        self, dose: AdministeredDose, *, verified: bool = False, evidence: str | None = None
    ) -> RecordResult:
        """Record a dose from a card or register (see
        :func:`immreg.registry.history.record_historical_dose`)."""
        r = self._registry
        with self._uow() as uow:
            result = history.record_historical_dose(
                uow,
                dose,
                verified=verified,
                evidence=evidence,
                as_of=r.clock.today(),
                at=r.clock.now(),
                by=r.user,
            )
            r._refresh_due(uow, dose.subject_id)
            uow.commit()
        return result

    def verify_dose(self, dose_id: str, *, evidence: str | None = None) -> DoseVerification:
        """Mark a historical dose checked (see :func:`immreg.registry.history.verify_dose`)."""
        r = self._registry
        with self._uow() as uow:
            v = history.verify_dose(uow, dose_id, evidence=evidence, at=r.clock.now(), by=r.user)
            uow.commit()
        return v

    def report_aefi(self, report: AefiReport) -> AefiReport:
        """Report an adverse event (see :func:`immreg.registry.aefi.report_aefi`)."""
        r = self._registry
        with self._uow() as uow:
            aefi.report_aefi(uow, report, as_of=r.clock.today(), at=r.clock.now(), by=r.user)
            uow.commit()
        return report

    def record_aefi_outcome(self, report_id: str, outcome: Outcome) -> AefiReport:
        """Record a later outcome (see :func:`immreg.registry.aefi.record_outcome`)."""
        r = self._registry
        with self._uow() as uow:
            new = aefi.record_outcome(uow, report_id, outcome, at=r.clock.now(), by=r.user)
            uow.commit()
        return new

    def aefi_for_lot(self, product_code: str, lot_number: str) -> list[AefiReport]:
        """AEFI reports on doses of one lot."""
        with self._uow() as uow:
            return uow.aefi.list_for_lot(product_code, lot_number)

    def aefi_for_facility(self, facility_id: str) -> list[AefiReport]:
        """AEFI reports on doses given at one facility."""
        with self._uow() as uow:
            return uow.aefi.list_for_facility(facility_id)
