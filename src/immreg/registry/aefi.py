"""Adverse events following immunization (AEFI), reported against a dose.

A report names the dose, so its vaccine lot and the facility that gave it follow from the
dose; listings per lot (for a lot's safety signal, and a recall) and per facility come from
:class:`immreg.ports.AefiRepository`. Severity and outcome follow the WHO Global manual on
surveillance of adverse events following immunization (2016).
"""

from __future__ import annotations

import datetime as dt

import attrs

from immreg.errors import ValidationError
from immreg.model import AuditEntry
from immreg.ports import UnitOfWork
from immreg.registry.records import AefiReport, Outcome
from immreg.serialization import dumps

__all__ = ["record_outcome", "report_aefi"]


def report_aefi(
    uow: UnitOfWork, report: AefiReport, *, as_of: dt.date, at: dt.datetime, by: str
) -> AefiReport:
    """Store an AEFI report about a recorded dose (not committed here).

    Raises:
        NotFoundError: The dose does not exist.
        ScopeError: The dose's subject is outside the scope.
        ValidationError: Onset before the dose's date or after ``as_of``; a voided dose.
        ConflictError: The report id is taken.
    """
    dose = uow.doses.get(report.dose_id)
    if dose.voided:
        raise ValidationError("dose_id", f"dose {dose.id!r} was voided (entered in error)")
    if report.onset.date() < dose.date:
        raise ValidationError("onset", f"is before the dose ({dose.date.isoformat()})")
    if report.onset.date() > as_of:
        raise ValidationError("onset", f"is after today ({as_of.isoformat()})")
    uow.aefi.add(report)
    uow.audit.append(AuditEntry("aefi", report.id, "report", at=at, by=by, after=dumps(report)))
    return report


def record_outcome(
    uow: UnitOfWork, report_id: str, outcome: Outcome, *, at: dt.datetime, by: str
) -> AefiReport:
    """Record a later outcome of a reported event (not committed here).

    Raises:
        NotFoundError: No such report.
        ScopeError: Its dose's subject is outside the scope.
    """
    old = uow.aefi.get(report_id)
    new = attrs.evolve(old, outcome=outcome)
    uow.aefi.update(new)
    uow.audit.append(
        AuditEntry("aefi", report_id, "outcome", at=at, by=by, before=dumps(old), after=dumps(new))
    )
    return new
