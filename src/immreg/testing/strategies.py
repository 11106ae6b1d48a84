"""Hypothesis strategies for immreg's domain values and for whole consistent registries.

Every strategy here generates only values that :mod:`immreg.model` accepts (the classes
validate themselves, so an invalid value could not even be built), and leans towards the
data that breaks storage code: Vietnamese names with diacritics (composed and decomposed),
100-character names, 29 February and the 31st of months, ``None`` in every optional field,
identifiers that differ only in case or punctuation, real Vietnamese mobile numbers written
the many ways people write them.

Single values::

    from hypothesis import given
    from immreg.testing import strategies as ist

    @given(ist.subjects())
    def test_subject_round_trip(subject): ...

Consistent data, where every reference resolves and every dose passes
:func:`immreg.services.validate_dose`::

    @given(ist.registry_worlds())
    def test_load(world):
        registry.add_org_units(world.org_units)
        ...

Use :func:`model_strategies` to reach a strategy by model class.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs
import phonenumbers
from hypothesis import strategies as st

from immreg.model import (
    MAX_NAME_LENGTH,
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
    gs1_check_digit,
)

__all__ = [
    "VIETNAMESE_MOBILE_PREFIXES",
    "RegistryWorld",
    "administered_doses",
    "audit_entries",
    "caregivers",
    "catalogues",
    "dates",
    "family_names",
    "given_names",
    "gtins",
    "identifiers",
    "lot_numbers",
    "lots",
    "model_strategies",
    "org_trees",
    "org_units",
    "parent_links",
    "registry_worlds",
    "residences",
    "subjects",
    "texts",
    "vaccine_products",
    "vietnamese_mobile_numbers",
]

#: Mobile prefixes in use in Vietnam since the 2018 renumbering (Viettel, VinaPhone,
#: MobiFone, Vietnamobile, Gmobile). ``089`` is only partly allocated, hence its 4-digit
#: prefixes; every prefix is followed by digits up to 10 digits in all.
VIETNAMESE_MOBILE_PREFIXES: tuple[str, ...] = (
    *("090", "091", "093", "094", "096", "097", "098", "086", "088"),
    *("0896", "0897", "0898", "0899"),
    *("070", "079", "077", "076", "078", "083", "084", "085", "081", "082"),
    *("032", "033", "034", "035", "036", "037", "038", "039", "056", "058", "059"),
)

_FAMILY = (
    *("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"),
    *("Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Tôn Nữ", "Lò", "H'Mông", "Ksor"),
)
_MIDDLE = ("Thị", "Văn", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Quốc", "Xuân", "Bảo")
_GIVEN = (
    *("Lan", "Hương", "Anh", "Dũng", "Hùng", "Thảo", "Phương", "Khánh", "Tuấn", "Nhung"),
    *("Yến", "Ánh", "Đạt", "Quỳnh", "Nguyệt", "Hạnh", "Thuỷ", "Thủy", "Ngữ", "Ỷ"),
)
_RELATIONSHIPS = ("mother", "father", "guardian", "self", "bà ngoại", "ông nội", "chị gái")
_PLACES = (
    *("Hà Nội", "Thành phố Hồ Chí Minh", "Đắk Lắk", "Thừa Thiên Huế", "Khánh Hòa"),
    *("Cần Thơ", "Lào Cai", "Quảng Ninh", "Điện Biên", "Bà Rịa - Vũng Tàu", "Tân Phú"),
    *("Bến Nghé", "Phường 12", "Xã Ea Tiêu", "Trạm Y tế xã Quỳnh Lưu", "Bệnh viện Từ Dũ"),
)
_ANTIGENS = (
    *("BCG", "HepB", "Polio", "Diphtheria", "Tetanus", "Pertussis", "Hib", "Measles"),
    *("Rubella", "Mumps", "JE", "Rotavirus", "Pneumococcal", "HPV", "Varicella", "COVID-19"),
)
_PRODUCT_NAMES = (
    *("BCG", "Viêm gan B sơ sinh", "DPT-VGB-Hib (ComBE Five)", "bOPV", "IPV", "MR"),
    *("Sởi", "Viêm não Nhật Bản", "Rotavin-M1", "Synflorix", "Gardasil 9", "Td"),
)
_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_ZONES = (dt.UTC, dt.timezone(dt.timedelta(hours=7)), ZoneInfo("Asia/Ho_Chi_Minh"))

# Dates people are born on, vaccinated on and die on, in the tests' world.
_MIN_DATE = dt.date(1920, 1, 1)
_MAX_DATE = dt.date(2035, 12, 31)


# --- building blocks ----------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def identifiers(*, max_size: int = 20) -> st.SearchStrategy[str]:
    """Identifiers the model accepts: a letter or digit, then letters, digits, ``._:-``.

    Args:
        max_size: Longest identifier generated (the model allows 64).
    """
    tail = st.text(
        alphabet=st.sampled_from(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"
        ),
        max_size=max_size - 1,
    )
    head = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return st.builds(lambda h, t: h + t, head, tail)


@functools.lru_cache(maxsize=512)
def texts(*, min_size: int = 0, max_size: int = MAX_NAME_LENGTH) -> st.SearchStrategy[str]:
    """Free text storable everywhere: no control characters below U+0020, no surrogates.

    NUL cannot be stored in a PostgreSQL text column and lone surrogates cannot be encoded,
    so neither is generated; everything else in Unicode is fair game.

    Args:
        min_size: Fewest characters.
        max_size: Most characters.
    """
    return st.text(
        alphabet=st.characters(min_codepoint=32, exclude_categories=_SURROGATES),
        min_size=min_size,
        max_size=max_size,
    )


def _names(words: Sequence[str], *, count: tuple[int, int]) -> st.SearchStrategy[str]:
    composed = st.lists(st.sampled_from(words), min_size=count[0], max_size=count[1]).map(" ".join)
    # The same name typed on another keyboard arrives decomposed (NFD); it must survive.
    decomposed = composed.map(lambda s: unicodedata.normalize("NFD", s))
    arbitrary = texts(min_size=1).filter(lambda s: bool(s.strip()))
    longest = st.just("Nguyễn " * 14 + "Lan").map(lambda s: s[:MAX_NAME_LENGTH])
    return st.one_of(composed, decomposed, arbitrary, longest)


@functools.lru_cache(maxsize=512)
def family_names() -> st.SearchStrategy[str]:
    """Family names (họ): mostly Vietnamese with diacritics, sometimes any valid text."""
    return _names(_FAMILY, count=(1, 2))


@functools.lru_cache(maxsize=512)
def given_names() -> st.SearchStrategy[str]:
    """Middle and given names (tên đệm và tên), e.g. ``"Thị Lan"``, sometimes any text."""
    return st.one_of(
        st.builds(lambda m, g: f"{m} {g}", st.sampled_from(_MIDDLE), st.sampled_from(_GIVEN)),
        _names(_GIVEN, count=(1, 3)),
    )


def _clamp(day: dt.date, lo: dt.date, hi: dt.date) -> dt.date:
    return min(max(day, lo), hi)


def _month_end(index: int, *, lo: dt.date, hi: dt.date, february: bool = False) -> dt.date:
    # ``index`` counts months from year 0; with ``february``, it picks the year's February
    # of the nearest leap year instead.
    year, month = divmod(index, 12)
    if february:
        month = 1
        while not calendar.isleap(year):
            year -= 1
    last = dt.date(max(year, 1), month + 1, calendar.monthrange(max(year, 1), month + 1)[1])
    return _clamp(last, lo, hi)


@functools.lru_cache(maxsize=512)
def dates(
    min_value: dt.date = _MIN_DATE, max_value: dt.date = _MAX_DATE
) -> st.SearchStrategy[dt.date]:
    """Dates in ``[min_value, max_value]``, often 29 February or the last day of a month.

    Args:
        min_value: Earliest date.
        max_value: Latest date.
    """
    lo, hi = min_value, max_value
    months = st.integers(lo.year * 12 + lo.month - 1, hi.year * 12 + hi.month - 1)
    month_ends = months.map(lambda m: _month_end(m, lo=lo, hi=hi))
    leap_days = months.map(lambda m: _month_end(m, lo=lo, hi=hi, february=True))
    return st.one_of(st.dates(lo, hi), leap_days, month_ends)


@functools.lru_cache(maxsize=512)
def gtins() -> st.SearchStrategy[str]:
    """GS1 GTIN-8, -12, -13 or -14 with a correct check digit."""
    return st.sampled_from((8, 12, 13, 14)).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1).map(
            lambda body: body + gs1_check_digit(body)
        )
    )


@functools.lru_cache(maxsize=512)
def lot_numbers() -> st.SearchStrategy[str]:
    """Lot numbers as printed: up to 20 characters of the GS1 AI (10) character set."""
    gs1 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    return st.one_of(
        st.from_regex(r"\A[A-Z]{1,3}[0-9]{3,8}\Z"),
        st.text(alphabet=gs1, min_size=1, max_size=20),
    )


@st.composite
def vietnamese_mobile_numbers(draw: st.DrawFn) -> str:
    """A valid Vietnamese mobile number written as a person might type it.

    The digits are a real prefix (:data:`VIETNAMESE_MOBILE_PREFIXES`) and subscriber
    digits, checked with :mod:`phonenumbers`; the writing varies: ``0912345678``,
    ``0912 345 678``, ``091.234.5678``, ``+84912345678``, ``+84 91 234 56 78``.
    """
    prefix = draw(st.sampled_from(VIETNAMESE_MOBILE_PREFIXES))
    rest = draw(
        st.text(alphabet="0123456789", min_size=10 - len(prefix), max_size=10 - len(prefix))
    )
    national = prefix + rest
    assert phonenumbers.is_valid_number(phonenumbers.parse(national, "VN")), national
    style = draw(st.integers(0, 4))
    if style == 0:
        return national
    if style == 1:
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    if style == 2:
        return f"{national[:3]}.{national[3:6]}.{national[6:]}"
    if style == 3:
        return "+84" + national[1:]
    n = national[1:]
    return f"+84 {n[:2]} {n[2:5]} {n[5:7]} {n[7:]}"


# --- people -------------------------------------------------------------------------------


@st.composite
def caregivers(draw: st.DrawFn) -> Caregiver:
    """A caregiver with a Vietnamese name and a valid Vietnamese mobile number (or none)."""
    return Caregiver(
        name=draw(
            st.builds(lambda f, g: f"{f} {g}", family_names(), given_names()).map(
                lambda s: s[:MAX_NAME_LENGTH]
            )
        ),
        relationship=draw(st.sampled_from(_RELATIONSHIPS)),
        phone=draw(st.none() | vietnamese_mobile_numbers()),
        sms_opt_out=draw(st.booleans()),
    )


@st.composite
def residences(
    draw: st.DrawFn,
    *,
    org_unit_ids: st.SearchStrategy[str] | None = None,
    min_start: dt.date = _MIN_DATE,
    max_start: dt.date = _MAX_DATE,
) -> Residence:
    """One residence, open-ended or with an end after its start.

    Args:
        org_unit_ids: Where people live; any identifier by default.
        min_start: Earliest start.
        max_start: Latest start.
    """
    start = draw(dates(min_start, max_start))
    end = draw(st.none() | dates(start + dt.timedelta(days=1), _MAX_DATE + dt.timedelta(365)))
    return Residence(draw(org_unit_ids if org_unit_ids is not None else identifiers()), start, end)


def _residence_history(
    draw: st.DrawFn, org_unit_ids: st.SearchStrategy[str], born: dt.date, until: dt.date
) -> list[Residence]:
    # Consecutive residences from the birth date on, the last one open or closed.
    count = draw(st.integers(0, 4))
    bounds = sorted({_draw_date(draw, born, until) for _ in range(count)})
    if not bounds:
        return []
    pairs: list[tuple[dt.date, dt.date | None]] = list(itertools.pairwise(bounds))
    if draw(st.booleans()) or not pairs:
        pairs.append((bounds[-1], None))
    return [Residence(draw(org_unit_ids), start, end) for start, end in pairs]


@st.composite
def subjects(
    draw: st.DrawFn,
    *,
    ids: st.SearchStrategy[str] | None = None,
    org_unit_ids: st.SearchStrategy[str] | None = None,
    min_birth: dt.date = _MIN_DATE,
    max_birth: dt.date = dt.date(2030, 12, 31),
    national_codes: st.SearchStrategy[str | None] | None = None,
    mother_ids: st.SearchStrategy[str | None] | None = None,
) -> Subject:
    """A person: Vietnamese names, edge-case birth dates, caregivers, residence history.

    Residences start on or after the birth date, so the subject also passes the
    registration checks when ``org_unit_ids`` names stored org units.

    Args:
        ids: Subject ids; any identifier by default.
        org_unit_ids: Org units of residences; any identifier by default.
        min_birth: Earliest birth date.
        max_birth: Latest birth date.
        national_codes: National immunization codes (or ``None``); any by default.
        mother_ids: Mothers' subject ids (or ``None``); any by default. A draw equal to
            the subject's own id is dropped.
    """
    subject_id = draw(ids if ids is not None else identifiers())
    born = draw(dates(min_birth, max_birth))
    deceased = draw(st.none() | dates(born, _MAX_DATE)) if draw(st.integers(0, 9)) == 0 else None
    mother = draw(mother_ids if mother_ids is not None else st.none() | identifiers())
    return Subject(
        id=subject_id,
        family_name=draw(family_names()),
        given_name=draw(given_names()),
        birth_date=born,
        sex=draw(st.sampled_from(Sex)),
        national_code=draw(
            national_codes if national_codes is not None else st.none() | identifiers()
        ),
        mother_id=None if mother == subject_id else mother,
        caregivers=tuple(draw(st.lists(caregivers(), max_size=3))),
        residences=tuple(
            _residence_history(
                draw, org_unit_ids if org_unit_ids is not None else identifiers(), born, _MAX_DATE
            )
        ),
        deceased_on=deceased,
    )


# --- doses and catalogue ------------------------------------------------------------------


@st.composite
def administered_doses(
    draw: st.DrawFn,
    *,
    ids: st.SearchStrategy[str] | None = None,
    subject_ids: st.SearchStrategy[str] | None = None,
    product_codes: st.SearchStrategy[str] | None = None,
    facility_ids: st.SearchStrategy[str] | None = None,
    dose_dates: st.SearchStrategy[dt.date] | None = None,
    fresh: bool = False,
) -> AdministeredDose:
    """An administered dose, possibly corrected (version > 1) or voided.

    Args:
        ids: Dose ids; any identifier by default.
        subject_ids: Subjects; any identifier by default.
        product_codes: Product codes; any identifier by default.
        facility_ids: Facilities; any identifier by default.
        dose_dates: Dates administered; :func:`dates` by default.
        fresh: Only doses as first recorded (version 1, not voided).
    """
    voided = False if fresh else draw(st.booleans())
    return AdministeredDose(
        id=draw(ids if ids is not None else identifiers()),
        subject_id=draw(subject_ids if subject_ids is not None else identifiers()),
        product_code=draw(product_codes if product_codes is not None else identifiers()),
        date=draw(dose_dates if dose_dates is not None else dates()),
        facility_id=draw(facility_ids if facility_ids is not None else identifiers()),
        lot_number=draw(st.none() | lot_numbers()),
        source=draw(st.sampled_from(DoseSource)),
        recorded_by=draw(st.sampled_from(("system", "nv.lan", "Y tá Hương")) | family_names()),
        version=1 if fresh else draw(st.integers(1, 5)),
        voided=voided,
        void_reason=draw(st.none() | texts(min_size=1).filter(str.strip)) if voided else None,
    )


@st.composite
def vaccine_products(
    draw: st.DrawFn, *, codes: st.SearchStrategy[str] | None = None
) -> VaccineProduct:
    """A vaccine product: antigens, CVX or not, GTINs with valid check digits.

    Args:
        codes: Product codes; any identifier by default.
    """
    return VaccineProduct(
        code=draw(codes if codes is not None else identifiers()),
        name=draw(st.sampled_from(_PRODUCT_NAMES) | texts(min_size=1).filter(str.strip)),
        antigens=tuple(
            draw(st.lists(st.sampled_from(_ANTIGENS) | texts(), min_size=1, max_size=4))
        ),
        cvx=draw(st.none() | st.from_regex(r"\A[0-9]{1,3}\Z")),
        gtins=tuple(draw(st.lists(gtins(), max_size=3))),
        doses_per_vial=draw(st.sampled_from((1, 2, 10, 20)) | st.integers(1, 2**31 - 1)),
        open_vial_rule=draw(st.sampled_from(OpenVialRule)),
        manufacturer=draw(st.none() | st.sampled_from(("IVAC", "VABIOTECH", "Serum Institute"))),
        live=draw(st.booleans()),
    )


@st.composite
def lots(
    draw: st.DrawFn,
    *,
    product_codes: st.SearchStrategy[str] | None = None,
    expiry: st.SearchStrategy[dt.date] | None = None,
) -> Lot:
    """A manufacturer's lot of a product.

    Args:
        product_codes: Products; any identifier by default.
        expiry: Expiry dates; :func:`dates` by default.
    """
    return Lot(
        product_code=draw(product_codes if product_codes is not None else identifiers()),
        lot_number=draw(lot_numbers()),
        expiry=draw(expiry if expiry is not None else dates()),
        manufacturer=draw(st.none() | st.sampled_from(("IVAC", "Polyvac", "Nhà máy Vắc xin"))),
    )


# --- org units and audit ------------------------------------------------------------------


@st.composite
def parent_links(
    draw: st.DrawFn, *, parent_ids: st.SearchStrategy[str | None] | None = None
) -> ParentLink:
    """One effective-dated parent link, open-ended or with an end after its start.

    Args:
        parent_ids: Parents (``None`` for a root link); any identifier or ``None`` by default.
    """
    start = draw(dates())
    end = draw(st.none() | dates(start + dt.timedelta(days=1), _MAX_DATE + dt.timedelta(365)))
    parent = draw(parent_ids if parent_ids is not None else st.none() | identifiers())
    return ParentLink(parent, start, end)


@st.composite
def org_units(
    draw: st.DrawFn,
    *,
    ids: st.SearchStrategy[str] | None = None,
    parent_ids: st.SearchStrategy[str] | None = None,
) -> OrgUnit:
    """An org unit with up to three consecutive parent links (re-parented over time).

    Args:
        ids: Org-unit ids; any identifier by default.
        parent_ids: Parents; any identifier by default. A draw equal to the unit's own id
            is replaced by ``None`` (a root link).
    """
    unit_id = draw(ids if ids is not None else identifiers())
    opened = draw(dates())
    bounds = sorted(set(draw(st.lists(dates(opened, _MAX_DATE), max_size=3))))
    links = []
    for i, start in enumerate(bounds):
        end = (
            bounds[i + 1]
            if i + 1 < len(bounds)
            else draw(
                st.none() | dates(start + dt.timedelta(days=1), _MAX_DATE + dt.timedelta(365))
            )
        )
        parent = draw(parent_ids if parent_ids is not None else identifiers())
        links.append(ParentLink(None if parent == unit_id else parent, start, end))
    closed = draw(st.none() | dates(opened, _MAX_DATE))
    return OrgUnit(
        id=unit_id,
        name=draw(st.sampled_from(_PLACES) | texts(min_size=1).filter(str.strip)),
        level=draw(st.sampled_from(OrgLevel)),
        parents=tuple(links),
        opened=opened,
        closed=closed,
    )


@functools.lru_cache(maxsize=512)
def _instants() -> st.SearchStrategy[dt.datetime]:
    return st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2099, 12, 31),
        timezones=st.sampled_from(_ZONES),
        allow_imaginary=False,
    )


@st.composite
def audit_entries(
    draw: st.DrawFn,
    *,
    entities: st.SearchStrategy[str] | None = None,
    entity_ids: st.SearchStrategy[str] | None = None,
) -> AuditEntry:
    """An audit entry with a timezone-aware instant and optional free-text fields.

    Args:
        entities: Kinds of record; ``"dose"`` or ``"subject"`` by default.
        entity_ids: Record ids; any identifier by default.
    """
    return AuditEntry(
        entity=draw(entities if entities is not None else st.sampled_from(("dose", "subject"))),
        entity_id=draw(entity_ids if entity_ids is not None else identifiers()),
        action=draw(st.sampled_from(("record", "correct", "void", "register", "update"))),
        at=draw(_instants()),
        by=draw(st.sampled_from(("system", "nv.lan")) | family_names()),
        reason=draw(st.none() | texts(max_size=300)),
        before=draw(st.none() | texts(max_size=300)),
        after=draw(st.none() | texts(max_size=300)),
    )


# --- composites ---------------------------------------------------------------------------

_TREE_START = dt.date(2000, 1, 1)
_MERGER = dt.date(2025, 7, 1)  # Vietnam's provinces merged and districts went on this day.


@st.composite
def org_trees(
    draw: st.DrawFn, *, max_provinces: int = 3, max_communes: int = 3, max_sites: int = 2
) -> list[OrgUnit]:
    """A small health-system tree: a nation, provinces, communes and sites, parents first.

    Ids are unique. Sometimes a commune moves to another province on 2025-07-01, as
    communes did when Vietnam merged its provinces.

    Args:
        max_provinces: Most provinces under the nation.
        max_communes: Most communes under each province.
        max_sites: Most sites under each commune.
    """
    n_prov = draw(st.integers(1, max_provinces))
    communes = [draw(st.integers(0, max_communes)) for _ in range(n_prov)]
    sites = [[draw(st.integers(0, max_sites)) for _ in range(c)] for c in communes]
    total = 1 + n_prov + sum(communes) + sum(sum(s) for s in sites)
    ids = iter(
        draw(st.lists(identifiers(max_size=12), min_size=total, max_size=total, unique=True))
    )
    names = st.sampled_from(_PLACES)
    nation = OrgUnit(next(ids), "Việt Nam", OrgLevel.NATION, opened=_TREE_START)
    units = [nation]
    provinces = []
    for _ in range(n_prov):
        p = OrgUnit(
            next(ids),
            draw(names),
            OrgLevel.PROVINCE,
            parents=(ParentLink(nation.id, _TREE_START),),
            opened=_TREE_START,
        )
        provinces.append(p)
        units.append(p)
    for pi, province in enumerate(provinces):
        for ci in range(communes[pi]):
            moved_to = draw(st.sampled_from(provinces)) if draw(st.booleans()) else province
            links: tuple[ParentLink, ...] = (ParentLink(province.id, _TREE_START),)
            if moved_to is not province:
                links = (
                    ParentLink(province.id, _TREE_START, _MERGER),
                    ParentLink(moved_to.id, _MERGER),
                )
            commune = OrgUnit(
                next(ids), draw(names), OrgLevel.COMMUNE, parents=links, opened=_TREE_START
            )
            units.append(commune)
            for _ in range(sites[pi][ci]):
                units.append(
                    OrgUnit(
                        next(ids),
                        draw(names),
                        OrgLevel.SITE,
                        parents=(ParentLink(commune.id, _TREE_START),),
                        opened=_TREE_START,
                    )
                )
    return units


@st.composite
def catalogues(draw: st.DrawFn, *, min_size: int = 1, max_size: int = 5) -> list[VaccineProduct]:
    """A vaccine catalogue: products with unique codes, ordered by code.

    Args:
        min_size: Fewest products.
        max_size: Most products.
    """
    codes = draw(
        st.lists(identifiers(max_size=10), min_size=min_size, max_size=max_size, unique=True)
    )
    return sorted((draw(vaccine_products(codes=st.just(c))) for c in codes), key=lambda p: p.code)


@attrs.frozen
class RegistryWorld:
    """A consistent registry: every reference resolves and every dose is valid.

    Store it in the order of the attributes (org units, products, lots, subjects, doses)
    and every write succeeds: org units come parents first, mothers come before their
    children, and each dose passes :func:`immreg.services.validate_dose` as of ``as_of``.

    Attributes:
        as_of: The date the world is judged by (no birth or dose after it).
        org_units: The org tree, parents first.
        products: The catalogue, ordered by code.
        lots: Lots of catalogue products.
        subjects: People resident in the tree, mothers first; national codes are unique.
        doses: Fresh doses (version 1, not voided) of those people; ids are unique.
    """

    as_of: dt.date
    org_units: tuple[OrgUnit, ...]
    products: tuple[VaccineProduct, ...]
    lots: tuple[Lot, ...]
    subjects: tuple[Subject, ...]
    doses: tuple[AdministeredDose, ...]

    def doses_of(self, subject_id: str) -> list[AdministeredDose]:
        """The subject's doses, ordered by date then id (the repositories' order)."""
        return sorted(
            (d for d in self.doses if d.subject_id == subject_id), key=lambda d: (d.date, d.id)
        )


def _lot_ok(lots: list[Lot], number: str, day: dt.date) -> bool:
    return any(lot.lot_number == number and lot.expiry >= day for lot in lots)


def _draw_date(draw: st.DrawFn, lo: dt.date, hi: dt.date) -> dt.date:
    # Like ``dates(lo, hi)`` for bounds that change with every draw, built from integer
    # strategies that hypothesis caches.
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return lo + dt.timedelta(days=draw(st.integers(0, (hi - lo).days)))
    months = draw(st.integers(lo.year * 12 + lo.month - 1, hi.year * 12 + hi.month - 1))
    return _month_end(months, lo=lo, hi=hi, february=kind == 2)


@st.composite
def registry_worlds(
    draw: st.DrawFn, *, max_subjects: int = 5, max_doses_per_subject: int = 4
) -> RegistryWorld:
    """A consistent registry: org tree, catalogue, lots, people and their valid doses.

    Args:
        max_subjects: Most people.
        max_doses_per_subject: Most doses per person.
    """
    as_of = draw(dates(dt.date(2015, 1, 1), dt.date(2030, 12, 31)))
    units = draw(org_trees())
    products = draw(catalogues())
    unit_ids = st.sampled_from([u.id for u in units])
    product_lots: dict[str, list[Lot]] = {}
    all_lots: list[Lot] = []
    for p in products:
        numbers = draw(st.lists(lot_numbers(), max_size=2, unique=True))
        for n in numbers:
            lot = Lot(
                p.code,
                n,
                draw(dates(as_of - dt.timedelta(days=2000), as_of + dt.timedelta(days=2000))),
            )
            product_lots.setdefault(p.code, []).append(lot)
            all_lots.append(lot)
    n_subjects = draw(st.integers(0, max_subjects))
    ids = draw(
        st.lists(
            identifiers(max_size=12), min_size=2 * n_subjects, max_size=2 * n_subjects, unique=True
        )
    )
    subject_ids, codes = ids[:n_subjects], ids[n_subjects:]
    people: list[Subject] = []
    doses: list[AdministeredDose] = []
    # One strategy per world, not per person or dose: building strategies is what costs.
    people_here = subjects(org_unit_ids=unit_ids, max_birth=as_of, mother_ids=st.none())
    for i, sid in enumerate(subject_ids):
        person = draw(people_here)
        code = codes[i] if person.national_code is not None else None
        person = attrs.evolve(person, id=sid, national_code=code)
        mothers = [m for m in people if m.sex is Sex.FEMALE and m.birth_date < person.birth_date]
        if len(mothers) > 0 and draw(st.booleans()):
            person = attrs.evolve(person, mother_id=draw(st.sampled_from(mothers)).id)
        people.append(person)
        last = as_of if person.deceased_on is None else min(as_of, person.deceased_on)
        for _ in range(draw(st.integers(0, max_doses_per_subject))):
            product = draw(st.sampled_from(products))
            day = _draw_date(draw, person.birth_date, last)
            usable = [lot.lot_number for lot in product_lots.get(product.code, [])]
            usable = [n for n in usable if _lot_ok(product_lots[product.code], n, day)]
            lot_number = draw(st.none() | st.sampled_from(usable)) if usable else None
            doses.append(
                AdministeredDose(
                    id=f"d{len(doses)}-{sid}",
                    subject_id=sid,
                    product_code=product.code,
                    date=day,
                    facility_id=draw(unit_ids),
                    lot_number=lot_number,
                    source=draw(st.sampled_from(DoseSource)),
                )
            )
    return RegistryWorld(
        as_of=as_of,
        org_units=tuple(units),
        products=tuple(products),
        lots=tuple(all_lots),
        subjects=tuple(people),
        doses=tuple(doses),
    )


def model_strategies() -> dict[type[Any], st.SearchStrategy[Any]]:
    """A strategy for every value class of :mod:`immreg.model`, keyed by the class.

    Handy for properties that must hold for every type, such as serialization round trips.
    """
    return {
        Caregiver: caregivers(),
        Residence: residences(),
        Subject: subjects(),
        AdministeredDose: administered_doses(),
        VaccineProduct: vaccine_products(),
        Lot: lots(),
        ParentLink: parent_links(),
        OrgUnit: org_units(),
        AuditEntry: audit_entries(),
        Sex: st.sampled_from(Sex),
        DoseSource: st.sampled_from(DoseSource),
        OpenVialRule: st.sampled_from(OpenVialRule),
        OrgLevel: st.sampled_from(OrgLevel),
    }
