"""Historical doses: entered from a card, a paper register or another system.

A historical dose is an ordinary :class:`~immreg.model.AdministeredDose` whose ``source`` says
where it came from (:attr:`~immreg.model.DoseSource.HISTORICAL_CARD`,
:attr:`~immreg.model.DoseSource.HISTORICAL_PAPER`, :attr:`~immreg.model.DoseSource.IMPORT`),
so the schedule engine counts it like any other dose. Its verification status (checked
against the card or register, or not yet) is kept beside it through
:class:`immreg.ports.DoseVerificationRepository`, and :func:`split_doses` separates doses
by provenance for reports. A dose found to be wrong is voided, as any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from immreg.errors import ValidationError
from immreg.model import AdministeredDose, DoseSource
from immreg.ports import UnitOfWork
from immreg.registry.records import DoseVerification, VerificationStatus
from immreg.services import RecordResult, record_dose

__all__ = [
    "HISTORICAL_SOURCES",
    "DoseSplit",
    "record_historical_dose",
    "split_doses",
    "verify_dose",
]

#: The sources that mark a dose as historical.
HISTORICAL_SOURCES = frozenset(
    {DoseSource.HISTORICAL_CARD, DoseSource.HISTORICAL_PAPER, DoseSource.IMPORT}
)


def record_historical_dose(
    uow: UnitOfWork,
    dose: AdministeredDose,
    *,
    verified: bool = False,
    evidence: str | None = None,
    as_of: dt.date,
    at: dt.datetime,
    by: str,
) -> RecordResult:
    """Record a dose from a card, a paper register or another system (not committed here).

    Args:
        uow: An open unit of work.
        dose: The dose; its ``source`` must be historical.
        verified: Whether it was checked against its evidence when entered.
        evidence: What it was taken from, e.g. ``"thẻ tiêm chủng"``.
        as_of: The date the record is judged by.
        at: Instant for the audit entry and the verification.
        by: Who records it.

    Raises:
        ValidationError: Not a historical source, an evidence text too long, or anything
            :func:`immreg.services.record_dose` refuses.
        ConflictError: The same dose id with other content.
    """
    if dose.source not in HISTORICAL_SOURCES:
        allowed = ", ".join(sorted(s.value for s in HISTORICAL_SOURCES))
        raise ValidationError("source", f"a historical dose comes from one of {allowed}")
    if evidence is not None and len(evidence) > 100:
        raise ValidationError("evidence", "is longer than 100 characters")
    result = record_dose(uow, dose, as_of=as_of, at=at, by=by)
    status = VerificationStatus.VERIFIED if verified else VerificationStatus.UNVERIFIED
    if uow.verifications.find(dose.id) is None:
        uow.verifications.put(DoseVerification(dose.id, status, evidence, by, at))
    return result


def verify_dose(
    uow: UnitOfWork, dose_id: str, *, evidence: str | None = None, at: dt.datetime, by: str
) -> DoseVerification:
    """Mark a historical dose as checked against its evidence (not committed here).

    Raises:
        NotFoundError: No such dose.
        ScopeError: The dose's subject is outside the scope.
        ValidationError: The dose is not historical.
    """
    dose = uow.doses.get(dose_id)
    if dose.source not in HISTORICAL_SOURCES:
        raise ValidationError("dose_id", "only historical doses are verified")
    old = uow.verifications.find(dose_id)
    verification = DoseVerification(
        dose_id,
        VerificationStatus.VERIFIED,
        evidence if evidence is not None else (old.evidence if old else None),
        by,
        at,
    )
    uow.verifications.put(verification)
    return verification


@attrs.frozen
class DoseSplit:
    """Doses separated by provenance, for reports.

    Attributes:
        point_of_care: Doses recorded when given.
        historical_verified: Historical doses checked against their evidence.
        historical_unverified: Historical doses not (yet) checked.
    """

    point_of_care: tuple[AdministeredDose, ...]
    historical_verified: tuple[AdministeredDose, ...]
    historical_unverified: tuple[AdministeredDose, ...]


def split_doses(
    doses: Iterable[AdministeredDose], verifications: Mapping[str, DoseVerification]
) -> DoseSplit:
    """Separate doses into point-of-care, verified historical and unverified historical.

    Args:
        doses: The doses (voided ones are left out).
        verifications: Verification status by dose id; a historical dose without one
            counts as unverified.
    """
    poc: list[AdministeredDose] = []
    ok: list[AdministeredDose] = []
    unchecked: list[AdministeredDose] = []
    for d in doses:
        if d.voided:
            continue
        if d.source not in HISTORICAL_SOURCES:
            poc.append(d)
        else:
            v = verifications.get(d.id)
            (
                ok if v is not None and v.status is VerificationStatus.VERIFIED else unchecked
            ).append(d)
    return DoseSplit(tuple(poc), tuple(ok), tuple(unchecked))
