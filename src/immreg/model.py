"""The registry's domain values: people, doses, vaccines, org units and lots.

Every value here is an immutable ``attrs`` class that checks its own invariants when it is
built, raising :class:`immreg.errors.ValidationError` with the offending field's name, so
that an invalid object cannot exist. Checks that need other records (is the vaccine in the
catalogue? does the org unit exist? is the dose after the birth date?) belong to
:mod:`immreg.services`, which sees the whole unit of work.

Dates are :class:`datetime.date`; instants are timezone-aware :class:`datetime.datetime`.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import phonenumbers

from immreg.errors import ValidationError
from immreg.registry.phones import renumber_vietnamese_mobile

__all__ = [
    "MAX_NAME_LENGTH",
    "AdministeredDose",
    "AuditEntry",
    "Caregiver",
    "DoseSource",
    "Lot",
    "OpenVialRule",
    "OrgLevel",
    "OrgUnit",
    "ParentLink",
    "Residence",
    "Sex",
    "Subject",
    "VaccineProduct",
    "gs1_check_digit",
    "normalize_phone",
]

#: Longest accepted person, product or org-unit name, in characters.
MAX_NAME_LENGTH = 100
#: Longest accepted identifier (subject, dose, org unit, product code).
MAX_ID_LENGTH = 64

_T = TypeVar("_T")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
# GS1 AI (10) allows up to 20 characters from the GS1 "AI encodable character set 82".
_LOT_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


class Sex(enum.Enum):
    """Sex as recorded at registration; a schedule may require one (HPV, tetanus in pregnancy)."""

    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


class DoseSource(enum.Enum):
    """Where a dose record came from; reports can separate historical doses from new ones."""

    POINT_OF_CARE = "point_of_care"
    HISTORICAL_CARD = "historical_card"
    HISTORICAL_PAPER = "historical_paper"
    IMPORT = "import"


class OpenVialRule(enum.Enum):
    """What happens to an opened multi-dose vial (WHO multi-dose vial policy)."""

    KEEP_28_DAYS = "keep_28_days"
    DISCARD_END_OF_SESSION = "discard_end_of_session"
    DISCARD_6_HOURS = "discard_6_hours"


class OrgLevel(enum.Enum):
    """Typed levels of the health-system tree, from the nation down to a vaccination site."""

    NATION = "nation"
    REGION = "region"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"
    SITE = "site"


# --- validators -------------------------------------------------------------------------


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit of a GTIN's other digits (weights 3, 1, 3, ... from the right).

    >>> gs1_check_digit("0890123456789")
    '0'
    """
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(field, message)


def _identifier(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise _fail(attribute.name, "is required")
    if len(value) > MAX_ID_LENGTH:
        raise _fail(attribute.name, f"is longer than {MAX_ID_LENGTH} characters")
    if not _ID_RE.match(value):
        raise _fail(
            attribute.name,
            "may contain only letters, digits and . _ : - and must start with a letter or digit",
        )


def _optional_identifier(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _identifier(inst, attribute, value)


def _name(*, required: bool = True) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str):
            raise _fail(attribute.name, "must be text")
        if required and not value.strip():
            raise _fail(attribute.name, "must not be empty")
        if len(value) > MAX_NAME_LENGTH:
            raise _fail(attribute.name, f"is longer than {MAX_NAME_LENGTH} characters")
        if any(ord(c) < 32 for c in value):
            raise _fail(attribute.name, "must not contain control characters")

    return check


def _instance(
    kind: type[Any], words: str
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        # bool is an int and datetime is a date: refuse both where they would be a mistake.
        if (
            not isinstance(value, kind)
            or (kind is dt.date and isinstance(value, dt.datetime))
            or (kind is int and isinstance(value, bool))
        ):
            raise _fail(attribute.name, f"must be {words}")

    return check


def _optional(
    check: Callable[[object, attrs.Attribute[Any], object], None],
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def inner(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check(inst, attribute, value)

    return inner


_date = _instance(dt.date, "a date (YYYY-MM-DD)")


def _aware(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _fail(attribute.name, "must be a timezone-aware date and time")


def _tuple_of(kind: type[Any]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple):
            raise _fail(attribute.name, "must be a list")
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise _fail(f"{attribute.name}[{i}]", f"must be a {kind.__name__}")

    return check


def _enum(kind: type[enum.Enum]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            allowed = ", ".join(str(m.value) for m in kind)
            raise _fail(attribute.name, f"must be one of {allowed}")

    return check


def _to_tuple(value: Any) -> Any:
    # Lists are accepted for convenience and stored as tuples so values stay hashable.
    return tuple(value) if isinstance(value, list) else value


# --- phone numbers ----------------------------------------------------------------------


def normalize_phone(raw: str, *, region: str = "VN", field: str = "phone") -> str:
    """Parse a phone number as written by a person and return it in E.164 form.

    Numbers without a country prefix are read as numbers of ``region`` (Vietnam by
    default). Pre-2018 11-digit Vietnamese mobile numbers are converted to their 10-digit
    form first (:func:`immreg.registry.phones.renumber_vietnamese_mobile`, the Ministry of
    Information and Communications' 2018 table), so ``"0168 123 4567"`` is stored as
    ``"+84381234567"``.

    Args:
        raw: The number as typed: spaces, dots, dashes and a leading ``+`` or ``0`` are fine.
        region: ISO 3166 region code assumed for national numbers.
        field: Field path named in the error.

    Returns:
        The number in E.164 form, e.g. ``"+84912345678"``.

    Raises:
        ValidationError: The text is not a valid phone number for its region.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError(field, "is required")
    e164, problem = _parse_phone(raw, region)
    if e164 is None:
        raise ValidationError(field, f"{raw!r} {problem}")
    return e164


@functools.lru_cache(maxsize=65_536)
def _parse_phone(raw: str, region: str) -> tuple[str | None, str]:
    # Parsing costs about a third of a millisecond and every stored caregiver is rebuilt
    # (so re-checked) on each read: remember recent answers, valid or not.
    text = raw
    if region == "VN" or raw.lstrip().startswith(("+84", "0084")):
        text = renumber_vietnamese_mobile(raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, "is not a phone number"
    if not phonenumbers.is_valid_number(number):
        return None, "is not a valid phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def _phone(value: object) -> object:
    # Accept a number as people write it and keep it in E.164 form.
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail("phone", "must be a phone number written as text")
    return normalize_phone(value, field="phone")


# --- people -----------------------------------------------------------------------------


@attrs.frozen
class Caregiver:
    """A person who looks after a subject and receives reminders.

    Attributes:
        name: Full name as written.
        relationship: ``"mother"``, ``"father"``, ``"guardian"``, ``"self"``...
        phone: Phone number, stored in E.164 form (``"0912 345 678"`` becomes
            ``"+84912345678"``), or ``None``.
        sms_opt_out: The caregiver asked not to receive text messages.
    """

    name: str = attrs.field(validator=_name())
    relationship: str = attrs.field(default="mother", validator=_name())
    phone: str | None = attrs.field(default=None, converter=_phone)
    sms_opt_out: bool = attrs.field(default=False, validator=_instance(bool, "true or false"))


@attrs.frozen
class Residence:
    """An effective-dated assignment of a subject to an org unit (commune or facility).

    Attributes:
        org_unit_id: The org unit the person lives in (or is served by).
        start: First day of residence.
        end: First day no longer resident (exclusive), or ``None`` while current.
    """

    org_unit_id: str = attrs.field(validator=_identifier)
    start: dt.date = attrs.field(validator=_date)
    end: dt.date | None = attrs.field(default=None, validator=_optional(_date))

    def __attrs_post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise _fail("end", "must be after the start of residence")

    def covers(self, day: dt.date) -> bool:
        """Whether the person lived here on ``day``."""
        return self.start <= day and (self.end is None or day < self.end)


def _sorted_by_start(value: Any) -> Any:
    # Residence history is kept oldest first whatever order the caller gave.
    value = _to_tuple(value)
    if isinstance(value, tuple) and all(isinstance(r, Residence) for r in value):
        return tuple(sorted(value, key=lambda r: r.start))
    return value


def _residences(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _tuple_of(Residence)(_inst, attribute, value)
    assert isinstance(value, tuple)
    ordered = sorted(value, key=lambda r: r.start)
    for i in range(1, len(ordered)):
        prev, cur = ordered[i - 1], ordered[i]
        if prev.end is None or prev.end > cur.start:
            raise _fail(f"{attribute.name}[{i}]", "overlaps the previous residence")


@attrs.frozen
class Subject:
    """A person with a lifelong immunization record.

    Attributes:
        id: Immutable system id, chosen by the client (e.g. a UUID).
        family_name: Family name (họ), e.g. ``"Nguyễn"``.
        given_name: Middle and given names (tên đệm và tên), e.g. ``"Thị Lan"``.
        birth_date: Date of birth.
        sex: Sex as recorded.
        national_code: Human-facing national immunization code with check digit, if issued.
        mother_id: Subject id of the mother, for newborns registered with her.
        caregivers: People who receive reminders.
        residences: Effective-dated residence history, oldest first.
        deceased_on: Date of death, if known; a deceased person is never due.
    """

    id: str = attrs.field(validator=_identifier)
    family_name: str = attrs.field(validator=_name())
    given_name: str = attrs.field(validator=_name())
    birth_date: dt.date = attrs.field(validator=_date)
    sex: Sex = attrs.field(validator=_enum(Sex))
    national_code: str | None = attrs.field(default=None, validator=_optional_identifier)
    mother_id: str | None = attrs.field(default=None, validator=_optional_identifier)
    caregivers: tuple[Caregiver, ...] = attrs.field(
        default=(), converter=_to_tuple, validator=_tuple_of(Caregiver)
    )
    residences: tuple[Residence, ...] = attrs.field(
        default=(),
        converter=_sorted_by_start,
        validator=_residences,
    )
    deceased_on: dt.date | None = attrs.field(default=None, validator=_optional(_date))

    def __attrs_post_init__(self) -> None:
        if self.mother_id is not None and self.mother_id == self.id:
            raise _fail("mother_id", "a person cannot be their own mother")
        if self.deceased_on is not None and self.deceased_on < self.birth_date:
            raise _fail("deceased_on", "is before the birth date")
        for i, r in enumerate(self.residences):
            if r.end is not None and r.end <= self.birth_date:
                raise _fail(f"residences[{i}].end", "is on or before the birth date")

    @property
    def full_name(self) -> str:
        """The name as Vietnamese write it: family name first."""
        return f"{self.family_name} {self.given_name}"

    def residence_on(self, day: dt.date) -> str | None:
        """The org unit the person lived in on ``day``, or ``None``."""
        for r in self.residences:
            if r.covers(day):
                return r.org_unit_id
        return None


# --- doses ------------------------------------------------------------------------------


@attrs.frozen
class AdministeredDose:
    """One dose of one vaccine product given to one subject.

    The client supplies ``id``: recording the same dose twice stores it once. A correction
    replaces the content and bumps ``version``; a void keeps the record with ``voided``
    set, so the audit trail can always show what was there.

    Attributes:
        id: Client-supplied dose id.
        subject_id: The vaccinated person.
        product_code: Catalogue code of the vaccine product.
        date: Date administered.
        facility_id: Org unit (facility or site) where it was given.
        lot_number: Vaccine lot, when known.
        source: Where the record came from.
        recorded_by: Who recorded it (user id or system name).
        version: 1 when recorded, incremented by each correction.
        voided: Whether the dose was voided (entered in error).
        void_reason: Why it was voided.
    """

    id: str = attrs.field(validator=_identifier)
    subject_id: str = attrs.field(validator=_identifier)
    product_code: str = attrs.field(validator=_identifier)
    date: dt.date = attrs.field(validator=_date)
    facility_id: str = attrs.field(validator=_identifier)
    lot_number: str | None = attrs.field(default=None)
    source: DoseSource = attrs.field(default=DoseSource.POINT_OF_CARE, validator=_enum(DoseSource))
    recorded_by: str = attrs.field(default="system", validator=_name())
    version: int = attrs.field(default=1, validator=_instance(int, "a whole number"))
    voided: bool = attrs.field(default=False, validator=_instance(bool, "true or false"))
    void_reason: str | None = attrs.field(default=None, validator=_optional(_name()))

    @lot_number.validator
    def _check_lot(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (not isinstance(value, str) or not _LOT_RE.match(value)):
            raise _fail(
                attribute.name,
                "must be 1 to 20 characters of letters, digits and GS1-allowed punctuation",
            )

    def __attrs_post_init__(self) -> None:
        if self.version < 1:
            raise _fail("version", "must be at least 1")
        if self.void_reason is not None and not self.voided:
            raise _fail("void_reason", "is only allowed on a voided dose")

    def same_content(self, other: AdministeredDose) -> bool:
        """Whether ``other`` records the same dose (ignoring version and void state)."""
        keys = ("id", "subject_id", "product_code", "date", "facility_id", "lot_number", "source")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


@attrs.frozen
class AuditEntry:
    """One change to a record, kept forever.

    Attributes:
        entity: What kind of record changed (``"dose"``, ``"subject"``).
        entity_id: Its id.
        action: ``"record"``, ``"correct"``, ``"void"``, ``"register"``, ``"update"``.
        at: When the change was made (timezone-aware).
        by: Who made it.
        reason: Why, when the user said.
        before: The record as it was, serialized (``None`` for a creation).
        after: The record as it became, serialized.
    """

    entity: str = attrs.field(validator=_name())
    entity_id: str = attrs.field(validator=_identifier)
    action: str = attrs.field(validator=_name())
    at: dt.datetime = attrs.field(validator=_aware)
    by: str = attrs.field(validator=_name())
    reason: str | None = None
    before: str | None = None
    after: str | None = None


# --- catalogue --------------------------------------------------------------------------


@attrs.frozen
class VaccineProduct:
    """A vaccine product in the catalogue.

    Attributes:
        code: Stable local code (e.g. ``"PENTA"``).
        name: Display name (e.g. ``"DPT-VGB-Hib (ComBE Five)"``).
        antigens: Codes of the antigens one dose covers (e.g. ``("Diphtheria", ...)``).
        cvx: CDC CVX code where one exists (a string: leading zeros matter).
        gtins: GS1 GTINs of its packs, for barcode scans.
        doses_per_vial: Doses in one vial.
        open_vial_rule: What happens to an opened vial.
        manufacturer: Manufacturer name or MVX code.
        live: Whether it is a live attenuated vaccine (live-virus spacing rules).
    """

    code: str = attrs.field(validator=_identifier)
    name: str = attrs.field(validator=_name())
    antigens: tuple[str, ...] = attrs.field(converter=_to_tuple, validator=_tuple_of(str))
    cvx: str | None = attrs.field(default=None)
    gtins: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple, validator=_tuple_of(str))
    doses_per_vial: int = attrs.field(default=1, validator=_instance(int, "a whole number"))
    open_vial_rule: OpenVialRule = attrs.field(
        default=OpenVialRule.DISCARD_6_HOURS, validator=_enum(OpenVialRule)
    )
    manufacturer: str | None = attrs.field(default=None, validator=_optional(_name()))
    live: bool = attrs.field(default=False, validator=_instance(bool, "true or false"))

    @cvx.validator
    def _check_cvx(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (
            not isinstance(value, str) or not value.isdigit() or len(value) > 3
        ):
            raise _fail(attribute.name, "must be a CVX code of 1 to 3 digits, as text")

    def __attrs_post_init__(self) -> None:
        if not self.antigens:
            raise _fail("antigens", "must name at least one antigen")
        if self.doses_per_vial < 1:
            raise _fail("doses_per_vial", "must be at least 1")
        for i, g in enumerate(self.gtins):
            if not (g.isdigit() and len(g) in (8, 12, 13, 14)):
                raise _fail(f"gtins[{i}]", "must be a GTIN of 8, 12, 13 or 14 digits")
            expected = gs1_check_digit(g[:-1])
            if expected != g[-1]:
                raise _fail(f"gtins[{i}]", f"has check digit {g[-1]}; GS1 mod-10 gives {expected}")


@attrs.frozen
class Lot:
    """A manufacturer's lot (batch) of one product.

    Attributes:
        product_code: Catalogue code of the product.
        lot_number: Lot number as printed (GS1 AI 10: up to 20 characters).
        expiry: Last day the lot may be used.
        manufacturer: Manufacturer name, when it differs from the product's.
    """

    product_code: str = attrs.field(validator=_identifier)
    lot_number: str = attrs.field()
    expiry: dt.date = attrs.field(validator=_date)
    manufacturer: str | None = attrs.field(default=None, validator=_optional(_name()))

    @lot_number.validator
    def _check_lot(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str) or not _LOT_RE.match(value):
            raise _fail(
                attribute.name,
                "must be 1 to 20 characters of letters, digits and GS1-allowed punctuation",
            )


# --- org units --------------------------------------------------------------------------


@attrs.frozen
class ParentLink:
    """An effective-dated link from an org unit to its parent.

    Attributes:
        parent_id: The parent org unit, or ``None`` for a root.
        start: First day the link holds.
        end: First day it no longer holds (exclusive), or ``None``.
    """

    parent_id: str | None = attrs.field(validator=_optional_identifier)
    start: dt.date = attrs.field(validator=_date)
    end: dt.date | None = attrs.field(default=None, validator=_optional(_date))

    def __attrs_post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise _fail("end", "must be after start")

    def covers(self, day: dt.date) -> bool:
        """Whether the link holds on ``day``."""
        return self.start <= day and (self.end is None or day < self.end)


@attrs.frozen
class OrgUnit:
    """A node of the health-system tree: nation, province, commune, vaccination site...

    Attributes:
        id: Stable id (e.g. an official administrative code).
        name: Display name.
        level: Its level in the tree.
        parents: Effective-dated parent links; at most one holds on any day.
        opened: First day the unit exists.
        closed: First day it no longer exists (exclusive), or ``None``.
    """

    id: str = attrs.field(validator=_identifier)
    name: str = attrs.field(validator=_name())
    level: OrgLevel = attrs.field(validator=_enum(OrgLevel))
    parents: tuple[ParentLink, ...] = attrs.field(
        default=(), converter=_to_tuple, validator=_tuple_of(ParentLink)
    )
    opened: dt.date = attrs.field(default=dt.date(1900, 1, 1), validator=_date)
    closed: dt.date | None = attrs.field(default=None, validator=_optional(_date))

    def __attrs_post_init__(self) -> None:
        links = sorted(self.parents, key=lambda p: p.start)
        for i in range(1, len(links)):
            if links[i - 1].end is None or links[i - 1].end > links[i].start:  # type: ignore[operator]
                raise _fail(f"parents[{i}]", "overlaps another parent link")
        if any(p.parent_id == self.id for p in self.parents):
            raise _fail("parents", "an org unit cannot be its own parent")

    def parent_on(self, day: dt.date) -> str | None:
        """The parent org unit on ``day``, or ``None`` for a root (or no link that day)."""
        for p in self.parents:
            if p.covers(day):
                return p.parent_id
        return None
