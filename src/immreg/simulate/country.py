"""A synthetic Vietnam-like country: org tree, children, caregivers, doses and lots.

:func:`synthetic_country` builds the org tree (after the 2025 reform by default: 34
provinces and about 3,300 communes; ``layout="2024"``: 63 provinces, about 700 districts
and 10,600 communes) and spreads births over communes. :meth:`SyntheticCountry.records`
simulates the cohort (:func:`~immreg.simulate.cohort.simulate_cohort`) and yields
``(Subject, doses)`` records for :func:`immreg.services.bulk_load`: Vietnamese names with
diacritics, a mother with a valid Vietnamese mobile number, residences (with moves), deaths,
duplicate registrations and a share of doses recorded from cards, each dose with the
catalogue's product code and a lot of that product. :func:`load_country` stores it all in
any backend through the bulk path.

Unit counts follow the reorganisation of 2025-07-01 (Nghị quyết 202/2025/QH15 on
provinces: 34 provincial units; 3,321 communes and wards after the commune mergers) and,
before it, 63 provinces, 705 districts and about 10,600 communes (GSO administrative
units, 2024). Province names after 2025 are the 34 real units; commune names are
synthetic. Births: about 1.5 to 1.7 million a year (GSO); the default is the issue's 1.7
million, spread over communes with a lognormal weight (assumption: communes differ
several-fold in size).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from typing import Literal

import attrs
import numpy as np

from immreg.errors import ValidationError
from immreg.model import (
    AdministeredDose,
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
from immreg.ports import Backend
from immreg.schedule.rules import Schedule
from immreg.services import BulkLoadReport
from immreg.simulate.behaviour import VIETNAM, BehaviourModel
from immreg.simulate.cohort import CohortResult, _stream, simulate_cohort
from immreg.simulate.plan import IntArray, from_day_number

__all__ = [
    "MOBILE_PREFIXES",
    "PROVINCES_2025",
    "SupplyLine",
    "SyntheticCountry",
    "load_country",
    "supply",
    "synthetic_country",
    "wastage_rate",
]

#: The 34 provincial units from 2025-07-01 (Nghị quyết 202/2025/QH15).
PROVINCES_2025: tuple[str, ...] = (
    *("Hà Nội", "Huế", "Lai Châu", "Điện Biên", "Sơn La", "Lạng Sơn", "Quảng Ninh"),
    *("Thanh Hóa", "Nghệ An", "Hà Tĩnh", "Cao Bằng", "Tuyên Quang", "Lào Cai"),
    *("Thái Nguyên", "Phú Thọ", "Bắc Ninh", "Hưng Yên", "Hải Phòng", "Ninh Bình"),
    *("Quảng Trị", "Đà Nẵng", "Quảng Ngãi", "Gia Lai", "Khánh Hòa", "Lâm Đồng"),
    *("Đắk Lắk", "Thành phố Hồ Chí Minh", "Đồng Nai", "Tây Ninh", "Cần Thơ"),
    *("Vĩnh Long", "Đồng Tháp", "Cà Mau", "An Giang"),
)
# The 2025 reform: the tree after it starts on this day.
REFORM = dt.date(2025, 7, 1)
_LAYOUTS = {"2025": (34, 0, 3_321), "2024": (63, 705, 10_600)}

_FAMILY = (
    *("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"),
    *("Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Lò", "Hà"),
)
# Rough shares of the commonest family names (Nguyễn about 38%; assumption after
# published surname surveys), the rest spread evenly.
_FAMILY_WEIGHTS = np.array([38, 11, 9.5, 7, 5.1, 5, 4.5, 3.9, 3.9, 2.1] + [1.0] * 10)
_MIDDLE_F = ("Thị", "Ngọc", "Thu", "Minh", "Thanh", "Bảo", "Khánh", "Mai")
_MIDDLE_M = ("Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh", "Gia", "Bảo")
_GIVEN_F = ("Lan", "Hương", "Anh", "Thảo", "Phương", "Nhung", "Yến", "Ánh", "Quỳnh", "Hạnh")
_GIVEN_M = ("Dũng", "Hùng", "Tuấn", "Khánh", "Đạt", "Huy", "Long", "Nam", "Phúc", "Sơn")
_COMMUNE_WORDS = (
    *("An", "Bình", "Hòa", "Phú", "Tân", "Thạnh", "Đông", "Tây", "Nam", "Bắc", "Xuân"),
    *("Hưng", "Long", "Thuận", "Phước", "Quang", "Minh", "Trung", "Sơn", "Hải", "Lộc"),
)
#: Mobile prefixes since the 2018 renumbering (Viettel, VinaPhone, MobiFone, Vietnamobile).
MOBILE_PREFIXES: tuple[str, ...] = (
    *("090", "091", "093", "094", "096", "097", "098", "086", "088", "070", "079"),
    *("077", "076", "078", "083", "084", "085", "081", "082", "032", "033", "034"),
    *("035", "036", "037", "038", "039", "056", "058"),
)


@attrs.frozen(eq=False)
class SyntheticCountry:
    """A synthetic country: its org tree, its communes' births and how people behave.

    Attributes:
        seed: The seed everything is drawn from.
        layout: ``"2025"`` (province > commune) or ``"2024"`` (province > district >
            commune).
        org_units: Every org unit, the nation first.
        communes: Commune ids, in order.
        commune_weights: Each commune's share of births (sums to 1).
        births: Births in the cohort.
        start: First birth date.
        behaviour: The behaviour model.
    """

    seed: int
    layout: Literal["2025", "2024"]
    org_units: tuple[OrgUnit, ...]
    communes: tuple[str, ...]
    commune_weights: tuple[float, ...]
    births: int
    start: dt.date
    behaviour: BehaviourModel

    def province_of(self, commune_id: str) -> str:
        """The province id of a commune (``P01``), read from its id."""
        return commune_id.split("-")[0].removeprefix("C")

    def cohort(self, schedule: Schedule, *, horizon_months: int = 24) -> CohortResult:
        """Simulate the country's birth cohort through ``schedule``."""
        return simulate_cohort(
            schedule,
            births=self.births,
            start=self.start,
            seed=self.seed,
            behaviour=self.behaviour,
            horizon_months=horizon_months,
        )

    def records(
        self, schedule: Schedule, *, as_of: dt.date, horizon_months: int = 24
    ) -> Iterator[tuple[Subject, list[AdministeredDose]]]:
        """Children with their doses given up to ``as_of``, for :func:`bulk_load`.

        Each child lives in a commune drawn by the communes' birth weights, has a mother
        as caregiver (a Vietnamese mobile number, or none for a share of them), may move
        to another commune (a second residence), may have died, and may be registered a
        second time (id ending ``-dup``, family name without diacritics, some doses on
        each record). Doses carry the catalogue product code, the commune as facility and
        a lot of the product (:meth:`lots`); a share are marked as recorded from a card.
        Mothers are not stored as subjects.

        Yields:
            ``(Subject, doses)``, children in birth order.
        """
        cohort = self.cohort(schedule, horizon_months=horizon_months)
        yield from _records(self, cohort, as_of)

    def lots(self, schedule: Schedule) -> list[Lot]:
        """The vaccine lots supplied: one per product, province and quarter.

        A lot expires 24 months after the quarter it is supplied in (assumption: a
        typical shelf life for the programme's vaccines is 2 to 3 years).
        """
        from immreg.simulate.plan import plan_for

        products = sorted({e.vaccine for e in plan_for(schedule).events})
        provinces = sorted({self.province_of(c) for c in self.communes})
        out = []
        first = self.start.year
        for year in range(first, first + 4):
            for quarter in range(4):
                month = quarter * 3 + 1
                expiry = dt.date(year + 2, month, 1) - dt.timedelta(days=1)
                for p in products:
                    for prov in provinces:
                        out.append(Lot(p, _lot_number(p, year, quarter, prov), expiry))
        return out


def wastage_rate(product: VaccineProduct) -> float:
    """Indicative wastage of a product, from its vial size and open-vial rule.

    Assumptions after WHO's indicative rates (*Monitoring vaccine wastage at country
    level*, WHO/V&B/03.18, and the multi-dose vial policy, 2014): single-dose vials 5%;
    multi-dose vials kept up to 28 days once opened 10% (up to 10 doses) or 15%; vials
    discarded after the session or 6 hours 25% (up to 5 doses), 40% (up to 10) or 50%
    (BCG's 20).
    """
    n = product.doses_per_vial
    if n == 1:
        return 0.05
    if product.open_vial_rule is OpenVialRule.KEEP_28_DAYS:
        return 0.10 if n <= 10 else 0.15
    return 0.25 if n <= 5 else 0.40 if n <= 10 else 0.50


@attrs.frozen
class SupplyLine:
    """Doses of one lot supplied to one province, with the wastage they allow for.

    Attributes:
        province_id: The province (``P01``).
        product_code: The product.
        lot_number: The lot.
        expiry: The lot's expiry.
        administered: Doses of the lot given.
        wastage_rate: Share of supplied doses expected to be wasted.
        vials: Vials supplied: enough for ``administered`` at that wastage, rounded up.
        supplied: Doses supplied (``vials`` times doses per vial).
    """

    province_id: str
    product_code: str
    lot_number: str
    expiry: dt.date
    administered: int
    wastage_rate: float
    vials: int
    supplied: int


def supply(
    country: SyntheticCountry,
    schedule: Schedule,
    doses: Iterable[AdministeredDose],
) -> list[SupplyLine]:
    """The stock a province must have received for the doses it gave, lot by lot.

    Args:
        country: The country (its lots: :meth:`SyntheticCountry.lots`).
        schedule: The schedule its cohort follows.
        doses: Doses given (e.g. from :meth:`SyntheticCountry.records`).

    Returns:
        One line per province, product and lot used, sorted.
    """
    from immreg.schedule.catalogue import product

    lots = {(lot.product_code, lot.lot_number): lot for lot in country.lots(schedule)}
    counts: dict[tuple[str, str, str], int] = {}
    for d in doses:
        key = (f"P{country.province_of(d.facility_id)}", d.product_code, d.lot_number or "")
        counts[key] = counts.get(key, 0) + 1
    out = []
    for (prov, code, lot_number), given in sorted(counts.items()):
        item = product(code)
        rate = wastage_rate(item)
        vials = math.ceil(given / (1 - rate) / item.doses_per_vial)
        lot = lots[(code, lot_number)]
        out.append(
            SupplyLine(
                prov, code, lot_number, lot.expiry, given, rate, vials, vials * item.doses_per_vial
            )
        )
    return out


def _lot_number(product: str, year: int, quarter: int, province: str) -> str:
    stem = "".join(ch for ch in product if ch.isalnum())[:6].upper()
    return f"{stem}{year % 100:02d}Q{quarter + 1}{province}"[:20]


def synthetic_country(
    *,
    seed: int,
    births: int = 1_700_000,
    start: dt.date = dt.date(2026, 1, 1),
    layout: Literal["2025", "2024"] = "2025",
    scale: float = 1.0,
    behaviour: BehaviourModel = VIETNAM,
) -> SyntheticCountry:
    """Build a synthetic Vietnam-like country.

    Args:
        seed: Seed of every draw (the same seed gives the same country).
        births: Births in the cohort, born over the year from ``start``.
        start: First birth date.
        layout: ``"2025"`` for the tree after 2025-07-01, ``"2024"`` for the one before.
        scale: Share of the country's communes to keep (0 < scale <= 1), for small
            countries in tests and demos: ``scale=0.01`` keeps about 33 communes.
        behaviour: The behaviour model.

    Returns:
        The country.

    Raises:
        ValidationError: A parameter is out of range (the field is named).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError("seed", "must be a whole number, 0 or more")
    if isinstance(births, bool) or not isinstance(births, int) or births < 0:
        raise ValidationError("births", "must be a whole number, 0 or more")
    if layout not in _LAYOUTS:
        raise ValidationError("layout", "must be '2025' or '2024'")
    if not isinstance(scale, int | float) or not 0 < scale <= 1:
        raise ValidationError("scale", "must be more than 0 and at most 1")
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        raise ValidationError("start", "must be a date")
    if not isinstance(behaviour, BehaviourModel):
        raise ValidationError("behaviour", "must be a BehaviourModel")
    n_prov, n_dist, n_comm = _LAYOUTS[layout]
    full = n_comm
    rng = _stream(seed, f"country {layout}")
    n_comm = max(1, round(n_comm * scale))
    n_prov = min(n_prov, n_comm)
    since = REFORM if layout == "2025" else dt.date(2004, 1, 1)
    until = None if layout == "2025" else REFORM
    opened = dt.date(1945, 9, 2)

    def link(parent: str) -> tuple[ParentLink, ...]:
        return (ParentLink(parent, since, until),)

    units: list[OrgUnit] = [OrgUnit("VN", "Việt Nam", OrgLevel.NATION, opened=opened)]
    # Every province gets at least one commune; the rest by a lognormal size (assumption).
    sizes = rng.lognormal(0.0, 0.6, size=n_prov)
    extra = rng.multinomial(n_comm - n_prov, sizes / sizes.sum())
    communes: list[str] = []
    for p in range(n_prov):
        pid = f"P{p + 1:02d}"
        pname = PROVINCES_2025[p] if layout == "2025" else f"Tỉnh {p + 1:02d}"
        units.append(OrgUnit(pid, pname, OrgLevel.PROVINCE, parents=link("VN"), opened=opened))
        count = 1 + int(extra[p])
        # About one district per 15 communes before the reform (705 for 10,600).
        n_d = min(count, max(1, round(count * n_dist / full))) if n_dist else 0
        for c in range(count):
            parent = pid
            if n_d:
                d = c % n_d
                parent = f"D{p + 1:02d}-{d + 1:02d}"
                if c < n_d:
                    units.append(
                        OrgUnit(
                            parent,
                            f"Huyện {_COMMUNE_WORDS[d % len(_COMMUNE_WORDS)]} {d + 1}",
                            OrgLevel.DISTRICT,
                            parents=link(pid),
                            opened=opened,
                        )
                    )
            cid = f"C{p + 1:02d}-{c + 1:04d}"
            w1, w2 = rng.choice(len(_COMMUNE_WORDS), size=2, replace=False)
            name = f"Xã {_COMMUNE_WORDS[w1]} {_COMMUNE_WORDS[w2]}"
            units.append(OrgUnit(cid, name, OrgLevel.COMMUNE, parents=link(parent), opened=opened))
            communes.append(cid)
    weights = rng.lognormal(0.0, 0.8, size=len(communes))
    weights = weights / weights.sum()
    return SyntheticCountry(
        seed=seed,
        layout=layout,
        org_units=tuple(units),
        communes=tuple(communes),
        commune_weights=tuple(float(w) for w in weights),
        births=births,
        start=start,
        behaviour=behaviour,
    )


def _phone(rng: np.random.Generator) -> str:
    prefix = MOBILE_PREFIXES[int(rng.integers(len(MOBILE_PREFIXES)))]
    rest = "".join(str(int(d)) for d in rng.integers(0, 10, size=10 - len(prefix)))
    return prefix + rest


def _fold(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in plain if not unicodedata.combining(c))


def _records(
    country: SyntheticCountry, cohort: CohortResult, as_of: dt.date
) -> Iterator[tuple[Subject, list[AdministeredDose]]]:
    rng = _stream(country.seed, "people")
    n = cohort.size
    b = country.behaviour
    home = rng.choice(len(country.communes), size=n, p=np.array(country.commune_weights))
    moved = rng.random(n) < b.move_rate * 2  # two years of follow-up
    move_to = rng.integers(0, len(country.communes), size=n)
    move_after = rng.integers(30, 700, size=n)
    dup = rng.random(n) < b.duplicate_rate
    sexes = rng.random(n) < 0.5
    family = rng.choice(len(_FAMILY), size=n, p=_FAMILY_WEIGHTS / _FAMILY_WEIGHTS.sum())
    middle = rng.integers(0, 8, size=n)
    given = rng.integers(0, 10, size=n)
    mother_middle = rng.integers(0, 8, size=n)
    mother_given = rng.integers(0, 10, size=n)
    mother_family = rng.choice(len(_FAMILY), size=n)
    no_phone = rng.random(n) < b.missing_phone
    limit = (as_of - dt.date(1970, 1, 1)).days
    events = cohort.plan.events
    given_dates: list[IntArray] = [cohort.given[e.key] for e in events]
    for i in range(n):
        born = int(cohort.birth[i])
        if born > limit:
            break
        birth = from_day_number(born)
        sid = f"SIM{country.seed}-{i:08d}"
        female = bool(sexes[i])
        c1 = country.communes[int(home[i])]
        residences = [Residence(c1, birth)]
        death = int(cohort.death[i])
        when_moved = born + int(move_after[i])
        c2 = country.communes[int(move_to[i])]
        if moved[i] and c2 != c1 and when_moved <= limit and (death < 0 or when_moved < death):
            residences = [
                Residence(c1, birth, from_day_number(when_moved)),
                Residence(c2, from_day_number(when_moved)),
            ]
        else:
            when_moved = -1
        mother = (
            f"{_FAMILY[int(mother_family[i])]} {_MIDDLE_F[int(mother_middle[i])]} "
            f"{_GIVEN_F[int(mother_given[i])]}"
        )
        caregiver = Caregiver(mother, "mother", None if no_phone[i] else _phone(rng))
        family_name = _FAMILY[int(family[i])]
        subject = Subject(
            sid,
            family_name,
            (
                f"{_MIDDLE_F[int(middle[i])]} {_GIVEN_F[int(given[i])]}"
                if female
                else f"{_MIDDLE_M[int(middle[i])]} {_GIVEN_M[int(given[i])]}"
            ),
            birth,
            Sex.FEMALE if female else Sex.MALE,
            caregivers=(caregiver,),
            residences=tuple(residences),
            deceased_on=from_day_number(death) if 0 <= death <= limit else None,
        )
        doses: list[AdministeredDose] = []
        for e, dates in zip(events, given_dates, strict=True):
            day = int(dates[i])
            if day < 0 or day > limit:
                continue
            place = c2 if 0 <= when_moved <= day else c1
            when = from_day_number(day)
            source = (
                DoseSource.HISTORICAL_CARD
                if rng.random() < b.historical_share
                else DoseSource.POINT_OF_CARE
            )
            doses.append(
                AdministeredDose(
                    f"{sid}-{e.key}",
                    sid,
                    e.vaccine,
                    when,
                    place,
                    lot_number=_lot_number(
                        e.vaccine, when.year, (when.month - 1) // 3, country.province_of(place)
                    ),
                    source=source,
                    recorded_by="simulate",
                )
            )
        if dup[i] and doses:
            # A second registration of the same child (at another visit, name typed
            # without diacritics), holding the later doses: what de-duplication must find.
            cut = len(doses) // 2
            twin = attrs.evolve(subject, id=f"{sid}-dup", family_name=_fold(family_name))
            twin_doses = [
                attrs.evolve(d, id=f"{d.id}-dup", subject_id=twin.id) for d in doses[cut:]
            ]
            yield subject, doses[:cut]
            yield twin, twin_doses
            continue
        yield subject, doses


def load_country(
    backend: Backend,
    country: SyntheticCountry,
    schedule: Schedule,
    *,
    as_of: dt.date,
    load_id: str | None = None,
    batch_size: int = 20_000,
) -> BulkLoadReport:
    """Store a synthetic country in a backend through the bulk path.

    Adds the org units and the vaccine catalogue (:data:`immreg.schedule.catalogue.PRODUCTS`
    and any plan product missing from it is an error), then
    :func:`immreg.services.bulk_load` the records of :meth:`SyntheticCountry.records`.

    Args:
        backend: An open backend (:func:`immreg.open_backend`).
        country: The country.
        schedule: The schedule the cohort follows (its vaccine codes must be catalogue
            product codes, as in the ``vn-epi`` packs).
        as_of: The load's date: nothing after it is loaded.
        load_id: The bulk load's name (default ``simulate-SEED``).
        batch_size: Rows per batch.

    Returns:
        The :class:`immreg.services.BulkLoadReport`.

    Raises:
        ValidationError: The schedule gives a vaccine that is not in the catalogue.
    """
    from immreg.schedule.catalogue import PRODUCTS
    from immreg.services import bulk_load
    from immreg.simulate.plan import plan_for

    codes = {p.code for p in PRODUCTS}
    missing = sorted({e.vaccine for e in plan_for(schedule).events} - codes)
    if missing:
        raise ValidationError(
            "schedule", f"gives vaccines not in the catalogue: {', '.join(missing)}"
        )
    with backend.unit_of_work() as uow:
        have = {p.code for p in uow.catalogue.list_products()}
        for p in PRODUCTS:
            if p.code not in have:
                uow.catalogue.add_product(p)
        for u in country.org_units:
            uow.org_units.add(u)
        uow.commit()
    return bulk_load(
        backend,
        country.records(schedule, as_of=as_of),
        load_id=load_id or f"simulate-{country.seed}",
        as_of=as_of,
        batch_size=batch_size,
    )
