"""Conversions between SQL rows and immreg's domain values.

Rows go in as plain dictionaries (for Core ``insert``/``update`` parameters) or tuples in
table column order (for COPY), and come out as :class:`sqlalchemy.Row` objects; the domain
values are rebuilt through their constructors, so a row that breaks a domain invariant
cannot become a domain object unnoticed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from immreg.backends.sqlalchemy.tables import doses, subjects
from immreg.model import (
    AdministeredDose,
    AuditEntry,
    Caregiver,
    DoseSource,
    Lot,
    OpenVialRule,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
    VaccineProduct,
)

__all__ = [
    "audit_from_row",
    "audit_to_row",
    "dose_from_row",
    "dose_to_row",
    "dose_tuple",
    "lot_from_row",
    "lot_to_row",
    "org_unit_from_joined_rows",
    "org_unit_from_rows",
    "org_unit_to_rows",
    "product_from_row",
    "product_to_row",
    "residence_from_row",
    "residence_rows",
    "subject_from_joined_rows",
    "subject_from_rows",
    "subject_to_row",
    "subject_tuple",
]

Row = sa.Row[Any]

# One encoder for all rows: json.dumps with options builds a new encoder per call, which
# was half the cost of a subject's COPY row.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Row dictionaries are the column-order tuples (which COPY needs) keyed by the tables'
# columns, so the two forms of a row cannot drift apart.
_SUBJECT_COLUMNS = tuple(subjects.c.keys())
_DOSE_COLUMNS = tuple(doses.c.keys())


# --- subjects ---------------------------------------------------------------------------


def _caregivers_json(subject: Subject) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "relationship": c.relationship,
            "phone": c.phone,
            "sms_opt_out": c.sms_opt_out,
        }
        for c in subject.caregivers
    ]


def _subject_values(subject: Subject, caregivers: object) -> tuple[Any, ...]:
    """The ``subjects`` row's values in column order, with ``caregivers`` in the last."""
    return (
        subject.id,
        subject.family_name,
        subject.given_name,
        subject.birth_date,
        subject.sex.value,
        subject.national_code,
        subject.mother_id,
        subject.deceased_on,
        caregivers,
    )


def subject_to_row(subject: Subject) -> dict[str, Any]:
    """The ``subjects`` row of a subject (without its residences)."""
    values = _subject_values(subject, _caregivers_json(subject))
    return dict(zip(_SUBJECT_COLUMNS, values, strict=True))


def subject_tuple(subject: Subject) -> tuple[Any, ...]:
    """The ``subjects`` row as a tuple in column order, caregivers as JSON text (for COPY)."""
    return _subject_values(subject, _JSON.encode(_caregivers_json(subject)))


def residence_rows(subject: Subject) -> list[dict[str, Any]]:
    """The ``residences`` rows of a subject, numbered oldest first."""
    return [
        {
            "subject_id": subject.id,
            "seq": i,
            "org_unit_id": r.org_unit_id,
            "start": r.start,
            "end": r.end,
        }
        for i, r in enumerate(subject.residences)
    ]


def residence_from_row(row: Row) -> Residence:
    """Rebuild a residence from its ``residences`` row."""
    return Residence(org_unit_id=row.org_unit_id, start=row.start, end=row.end)


def subject_from_joined_rows(rows: Sequence[Row]) -> Subject:
    """Rebuild a subject from the rows of :data:`.queries.select_subject_and_residences`."""
    residences = [
        Residence(org_unit_id=r.r_org_unit_id, start=r.r_start, end=r.r_end)
        for r in rows
        if r.r_org_unit_id is not None
    ]
    return subject_from_rows(rows[0], residences)


def subject_from_rows(row: Row, residences: Iterable[Residence]) -> Subject:
    """Rebuild a subject from its ``subjects`` row and its residences, oldest first."""
    return Subject(
        id=row.id,
        family_name=row.family_name,
        given_name=row.given_name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        national_code=row.national_code,
        mother_id=row.mother_id,
        deceased_on=row.deceased_on,
        caregivers=tuple(
            Caregiver(
                name=c["name"],
                relationship=c["relationship"],
                phone=c["phone"],
                sms_opt_out=c["sms_opt_out"],
            )
            for c in row.caregivers
        ),
        residences=tuple(residences),
    )


# --- doses ------------------------------------------------------------------------------


def dose_to_row(dose: AdministeredDose) -> dict[str, Any]:
    """The ``doses`` row of a dose."""
    return dict(zip(_DOSE_COLUMNS, dose_tuple(dose), strict=True))


def dose_tuple(dose: AdministeredDose) -> tuple[Any, ...]:
    """The ``doses`` row as a tuple in column order (for COPY)."""
    return (
        dose.id,
        dose.subject_id,
        dose.product_code,
        dose.date,
        dose.facility_id,
        dose.lot_number,
        dose.source.value,
        dose.recorded_by,
        dose.version,
        dose.voided,
        dose.void_reason,
    )


def dose_from_row(row: Row) -> AdministeredDose:
    """Rebuild a dose from its row."""
    return AdministeredDose(
        id=row.id,
        subject_id=row.subject_id,
        product_code=row.product_code,
        date=row.date,
        facility_id=row.facility_id,
        lot_number=row.lot_number,
        source=DoseSource(row.source),
        recorded_by=row.recorded_by,
        version=row.version,
        voided=bool(row.voided),
        void_reason=row.void_reason,
    )


# --- catalogue, lots --------------------------------------------------------------------


def product_to_row(product: VaccineProduct) -> dict[str, Any]:
    """The ``products`` row of a product."""
    return {
        "code": product.code,
        "name": product.name,
        "antigens": list(product.antigens),
        "cvx": product.cvx,
        "gtins": list(product.gtins),
        "doses_per_vial": product.doses_per_vial,
        "open_vial_rule": product.open_vial_rule.value,
        "manufacturer": product.manufacturer,
        "live": product.live,
    }


def product_from_row(row: Row) -> VaccineProduct:
    """Rebuild a product from its row."""
    return VaccineProduct(
        code=row.code,
        name=row.name,
        antigens=tuple(row.antigens),
        cvx=row.cvx,
        gtins=tuple(row.gtins),
        doses_per_vial=row.doses_per_vial,
        open_vial_rule=OpenVialRule(row.open_vial_rule),
        manufacturer=row.manufacturer,
        live=bool(row.live),
    )


def lot_to_row(lot: Lot) -> dict[str, Any]:
    """The ``lots`` row of a lot."""
    return {
        "product_code": lot.product_code,
        "lot_number": lot.lot_number,
        "expiry": lot.expiry,
        "manufacturer": lot.manufacturer,
    }


def lot_from_row(row: Row) -> Lot:
    """Rebuild a lot from its row."""
    return Lot(
        product_code=row.product_code,
        lot_number=row.lot_number,
        expiry=row.expiry,
        manufacturer=row.manufacturer,
    )


# --- org units --------------------------------------------------------------------------


def org_unit_to_rows(unit: OrgUnit) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``org_units`` row and the ``org_unit_parents`` rows of an org unit."""
    row = {
        "id": unit.id,
        "name": unit.name,
        "level": unit.level.value,
        "opened": unit.opened,
        "closed": unit.closed,
    }
    parents = [
        {
            "org_unit_id": unit.id,
            "seq": i,
            "parent_id": p.parent_id,
            "start": p.start,
            "end": p.end,
        }
        for i, p in enumerate(unit.parents)
    ]
    return row, parents


def org_unit_from_joined_rows(rows: Sequence[Row]) -> OrgUnit:
    """Rebuild an org unit from the rows of :data:`.queries.select_org_unit_and_parents`."""
    links = [
        ParentLink(parent_id=r.p_parent_id, start=r.p_start, end=r.p_end)
        for r in rows
        if r.p_seq is not None
    ]
    return _org_unit(rows[0], links)


def _org_unit(row: Row, links: Iterable[ParentLink]) -> OrgUnit:
    return OrgUnit(
        id=row.id,
        name=row.name,
        level=OrgLevel(row.level),
        parents=tuple(links),
        opened=row.opened,
        closed=row.closed,
    )


def org_unit_from_rows(row: Row, parent_rows: Sequence[Row]) -> OrgUnit:
    """Rebuild an org unit from its row and its parent-link rows (ordered by ``seq``)."""
    return _org_unit(
        row, (ParentLink(parent_id=p.parent_id, start=p.start, end=p.end) for p in parent_rows)
    )


# --- audit ------------------------------------------------------------------------------


def audit_to_row(entry: AuditEntry) -> dict[str, Any]:
    """The ``audit`` row of an entry (its ``seq`` is assigned by the database)."""
    return {
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "action": entry.action,
        "at": entry.at,
        "by": entry.by,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
    }


def audit_from_row(row: Row) -> AuditEntry:
    """Rebuild an audit entry from its row."""
    at: dt.datetime = row.at
    return AuditEntry(
        entity=row.entity,
        entity_id=row.entity_id,
        action=row.action,
        at=at,
        by=row.by,
        reason=row.reason,
        before=row.before,
        after=row.after,
    )
