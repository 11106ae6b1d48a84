"""Immunization indicators as mergeable values, computed per leaf and merged up the tree.

A :class:`Tally` is a bag of named integer counters with an empty value (:meth:`Tally.empty`)
and an associative, commutative ``+``: the tally of a province is the sum of its communes'
tallies, so a report over any subtree is the merge of its leaves and the same numbers come
out however the tree is cut. Every indicator (coverage, dropout, fully immunized child,
zero-dose) is a ratio of counters, computed only at the end (:class:`Indicators`).

Two families of counters are kept, both defined by :class:`ReportSpec`:

* **Cohort** counters (children born in ``[birth_from, birth_until)``, alive on ``as_of``,
  attributed to the org unit they live in on ``as_of``): ``cohort``; ``received:A:k``,
  children with at least ``k`` doses containing antigen ``A`` by ``as_of``; ``dropped:...``,
  children who received the first dose of a dropout pair but not the second (dropout *per
  child*, as DHIS2 users ask for); ``fic`` (fully immunized child) and ``zero_dose``.
* **Administrative** counters (doses given in ``[period_start, period_end)``, attributed to
  the facility that gave them): ``doses:A:k``, doses that were the child's ``k``-th dose of
  ``A``. These are the numerators of WHO/UNICEF administrative coverage, and dropout *from
  totals* uses them.

Definitions follow WHO/UNICEF (WUENIC) usage: DTP1/DTP3 are the first and third doses of a
pertussis-containing vaccine, MCV1/MCV2 of a measles-containing vaccine; dropout is
``(first - second) / first``; a *zero-dose* child has no DTP1 (WHO IA2030 definition); a
dropout rate of 10% or more is a problem and DTP1 coverage under 80% an access problem (WHO
"Reaching Every District" categories: category 1 = good access and utilisation ... 4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

import attrs

from immreg.errors import ValidationError
from immreg.model import AdministeredDose, Subject, VaccineProduct
from immreg.orgunits import OrgTree

__all__ = [
    "DEFAULT_ANTIGENS",
    "DEFAULT_DROPOUT_PAIRS",
    "DEFAULT_FIC",
    "DTP",
    "MCV",
    "UNASSIGNED",
    "DropoutPair",
    "Indicators",
    "ReportSpec",
    "Tally",
    "leaf_tallies",
    "rollup",
]

#: The antigen that marks a DTP-containing dose: only DTP-containing products carry
#: pertussis (Td and TT carry diphtheria or tetanus without it).
DTP = "Pertussis"
#: The antigen that marks a measles-containing vaccine (MCV) dose.
MCV = "Measles"

#: Where counters go when a child has no residence on the day, or a facility is not in the
#: tree: kept apart so that national totals still add up.
UNASSIGNED = "(unassigned)"

#: Antigens and the highest dose number counted for each, by default.
DEFAULT_ANTIGENS: tuple[tuple[str, int], ...] = (
    ("Tuberculosis", 1),
    ("HepB", 4),
    (DTP, 4),
    ("Hib", 3),
    ("Polio-OPV", 3),
    ("Polio-IPV", 2),
    (MCV, 2),
    ("Rubella", 1),
    ("JE", 3),
)


@attrs.frozen
class DropoutPair:
    """Two doses whose difference is a dropout rate (e.g. DTP1 to DTP3).

    Attributes:
        name: Short label, e.g. ``"DTP1-DTP3"``.
        first: ``(antigen, dose number)`` of the first dose.
        second: ``(antigen, dose number)`` of the later dose.
    """

    name: str
    first: tuple[str, int]
    second: tuple[str, int]


#: The three dropout rates the issue asks for (WHO's standard pairs).
DEFAULT_DROPOUT_PAIRS: tuple[DropoutPair, ...] = (
    DropoutPair("DTP1-DTP3", (DTP, 1), (DTP, 3)),
    DropoutPair("DTP1-MCV1", (DTP, 1), (MCV, 1)),
    DropoutPair("MCV1-MCV2", (MCV, 1), (MCV, 2)),
)

#: Fully immunized child, WHO's classic definition: BCG, three DTP, three polio and one
#: measles dose. Vietnam's EPI reports it the same way ("tiêm chủng đầy đủ" for children
#: under one: BCG, HepB, 3 DPT-VGB-Hib, 3 OPV, measles); a pack-specific definition can be
#: passed as ``ReportSpec.fic``.
DEFAULT_FIC: tuple[tuple[str, int], ...] = (
    ("Tuberculosis", 1),
    (DTP, 3),
    ("Polio-OPV", 3),
    (MCV, 1),
)


def _as_dict(m: Mapping[str, int]) -> dict[str, int]:
    return dict(m)


@attrs.frozen(eq=False)
class Tally:
    """Named counters that merge by addition: the monoid every report is built from.

    Attributes:
        counts: Counter name to value; a counter that is absent is zero.
    """

    counts: Mapping[str, int] = attrs.field(factory=dict, converter=_as_dict)

    @staticmethod
    def empty() -> Tally:
        """The identity of ``+``: every counter zero."""
        return Tally({})

    def __add__(self, other: Tally) -> Tally:
        """Counter-wise sum (associative and commutative)."""
        merged = dict(self.counts)
        for k, v in other.counts.items():
            merged[k] = merged.get(k, 0) + v
        return Tally({k: v for k, v in merged.items() if v != 0})

    def __getitem__(self, key: str) -> int:
        """A counter's value (zero when absent)."""
        return self.counts.get(key, 0)

    def __eq__(self, other: object) -> bool:
        """Equal when every counter is equal (absent means zero)."""
        if not isinstance(other, Tally):
            return NotImplemented
        return {k: v for k, v in self.counts.items() if v} == {
            k: v for k, v in other.counts.items() if v
        }

    __hash__ = None  # type: ignore[assignment]  # a mapping inside: not hashable

    @staticmethod
    def merge(tallies: Iterable[Tally]) -> Tally:
        """The sum of many tallies (``empty()`` for none)."""
        total: dict[str, int] = {}
        for t in tallies:
            for k, v in t.counts.items():
                total[k] = total.get(k, 0) + v
        return Tally({k: v for k, v in total.items() if v != 0})


def received_key(antigen: str, dose: int) -> str:
    """Counter name: cohort children with at least ``dose`` doses of ``antigen``."""
    return f"received:{antigen}:{dose}"


def doses_key(antigen: str, dose: int) -> str:
    """Counter name: doses given in the period that were a child's ``dose``-th of ``antigen``."""
    return f"doses:{antigen}:{dose}"


def dropped_key(pair: DropoutPair) -> str:
    """Counter name: cohort children with the pair's first dose but not its second."""
    return f"dropped:{pair.name}"


def _check_date(field: str, value: object) -> None:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValidationError(field, "must be a date")


@attrs.frozen
class ReportSpec:
    """What a report counts (see the module docstring for the counters).

    Attributes:
        as_of: Doses up to and including this day count; the cohort lives where it lives on
            this day and must be alive on it.
        birth_from: First birth date of the cohort.
        birth_until: First birth date after the cohort (exclusive).
        period_start: First day of the administrative period (defaults to ``birth_from``).
        period_end: First day after it (exclusive; defaults to the day after ``as_of``).
        antigens: ``(antigen, highest dose number)`` pairs to count.
        dropout_pairs: Dropout rates to compute.
        fic: ``(antigen, doses)`` a child needs to be fully immunized.
    """

    as_of: dt.date
    birth_from: dt.date
    birth_until: dt.date
    period_start: dt.date = attrs.field(default=None)
    period_end: dt.date = attrs.field(default=None)
    antigens: tuple[tuple[str, int], ...] = DEFAULT_ANTIGENS
    dropout_pairs: tuple[DropoutPair, ...] = DEFAULT_DROPOUT_PAIRS
    fic: tuple[tuple[str, int], ...] = DEFAULT_FIC

    def __attrs_post_init__(self) -> None:
        for name in ("as_of", "birth_from", "birth_until"):
            _check_date(name, getattr(self, name))
        if self.period_start is None:
            object.__setattr__(self, "period_start", self.birth_from)
        if self.period_end is None:
            object.__setattr__(self, "period_end", self.as_of + dt.timedelta(days=1))
        _check_date("period_start", self.period_start)
        _check_date("period_end", self.period_end)
        if self.birth_until <= self.birth_from:
            raise ValidationError("birth_until", "must be after birth_from")
        if self.period_end <= self.period_start:
            raise ValidationError("period_end", "must be after period_start")
        seen: set[str] = set()
        for i, item in enumerate(self.antigens):
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not isinstance(item[0], str)
                or not item[0]
                or not isinstance(item[1], int)
                or item[1] < 1
            ):
                raise ValidationError(
                    f"antigens[{i}]", "must be an antigen name and a dose number of 1 or more"
                )
            if item[0] in seen:
                raise ValidationError(f"antigens[{i}]", f"antigen {item[0]!r} is listed twice")
            seen.add(item[0])
        highest = dict(self.antigens)
        for i, pair in enumerate(self.dropout_pairs):
            for end in ("first", "second"):
                antigen, dose = getattr(pair, end)
                if highest.get(antigen, 0) < dose:
                    raise ValidationError(
                        f"dropout_pairs[{i}].{end}",
                        f"{antigen} dose {dose} is not among the antigens counted",
                    )
        for i, (antigen, dose) in enumerate(self.fic):
            if highest.get(antigen, 0) < dose:
                raise ValidationError(
                    f"fic[{i}]", f"{antigen} dose {dose} is not among the antigens counted"
                )

    def codes_by_antigen(self, products: Iterable[VaccineProduct]) -> dict[str, frozenset[str]]:
        """Product codes that contain each counted antigen."""
        out: dict[str, set[str]] = {a: set() for a, _ in self.antigens}
        for p in products:
            for a in p.antigens:
                if a in out:
                    out[a].add(p.code)
        return {a: frozenset(c) for a, c in out.items()}

    def child_counters(self, counts: Mapping[str, int]) -> Iterator[str]:
        """The cohort counters one child adds to, given its dose count per antigen.

        This is the one definition both backends follow (the SQL backend writes the same
        conditions as ``CASE`` expressions).
        """
        yield "cohort"
        for antigen, highest in self.antigens:
            for k in range(1, min(counts.get(antigen, 0), highest) + 1):
                yield received_key(antigen, k)
        for pair in self.dropout_pairs:
            if (
                counts.get(pair.first[0], 0) >= pair.first[1]
                and counts.get(pair.second[0], 0) < pair.second[1]
            ):
                yield dropped_key(pair)
        if all(counts.get(a, 0) >= n for a, n in self.fic):
            yield "fic"
        if counts.get(DTP, 0) == 0:
            yield "zero_dose"


def leaf_tallies(
    spec: ReportSpec,
    subjects: Iterable[Subject],
    doses: Iterable[AdministeredDose],
    products: Iterable[VaccineProduct],
) -> dict[str, Tally]:
    """Tallies per org unit that data is attached to: the reference computation.

    Cohort counters go to the unit a child lives in on ``as_of``; administrative counters to
    the facility that gave the dose. Children without a residence that day and doses of
    unknown subjects go to :data:`UNASSIGNED` only if they count at all.

    Args:
        spec: What to count.
        subjects: Every subject visible.
        doses: Every dose visible (voided ones are ignored).
        products: The catalogue (which products contain which antigen).
    """
    codes = spec.codes_by_antigen(products)
    antigen_of: dict[str, list[str]] = {}
    for antigen, cs in codes.items():
        for c in cs:
            antigen_of.setdefault(c, []).append(antigen)
    by_subject: dict[str, list[AdministeredDose]] = {}
    for d in doses:
        if not d.voided and d.product_code in antigen_of:
            by_subject.setdefault(d.subject_id, []).append(d)
    out: dict[str, dict[str, int]] = {}

    def bump(unit: str, key: str) -> None:
        c = out.setdefault(unit, {})
        c[key] = c.get(key, 0) + 1

    highest = dict(spec.antigens)
    for s in subjects:
        history = sorted(by_subject.get(s.id, ()), key=lambda d: (d.date, d.id))
        # Administrative counters: the k-th dose of an antigen in the child's whole history
        # (doses before the period number the ones in it), counted where it was given.
        number: dict[str, int] = {}
        counts: dict[str, int] = {}
        for d in history:
            for antigen in antigen_of[d.product_code]:
                number[antigen] = number.get(antigen, 0) + 1
                k = number[antigen]
                if d.date <= spec.as_of:
                    counts[antigen] = k
                if spec.period_start <= d.date < spec.period_end and k <= highest[antigen]:
                    bump(d.facility_id, doses_key(antigen, k))
        if not spec.birth_from <= s.birth_date < spec.birth_until:
            continue
        if s.deceased_on is not None and s.deceased_on <= spec.as_of:
            continue
        unit = s.residence_on(spec.as_of) or UNASSIGNED
        for key in spec.child_counters(counts):
            bump(unit, key)
    return {u: Tally(c) for u, c in out.items()}


def rollup(
    leaves: Mapping[str, Tally],
    tree: OrgTree,
    *,
    on: dt.date,
    units: Sequence[str],
) -> dict[str, Tally]:
    """Merge leaf tallies into the given units, as the tree stood on ``on``.

    A leaf counts towards a unit when the unit is on its path from the root (so a unit's own
    data counts towards it too). Leaves under none of ``units`` are left out; pass the
    nation's id among ``units`` (or use :data:`UNASSIGNED`) to see everything.

    Args:
        leaves: Tallies keyed by the org unit the data is attached to.
        tree: The org-unit tree.
        on: The day whose tree to use (e.g. before or after 2025-07-01).
        units: The units to report on.

    Raises:
        ValidationError: The tree has a cycle on ``on`` above one of the leaves.
    """
    wanted = set(units)
    out: dict[str, list[Tally]] = {u: [] for u in units}
    for leaf, tally in leaves.items():
        if leaf not in tree.units:
            if leaf in wanted:
                out[leaf].append(tally)
            continue
        try:
            path = tree.path(leaf, on=on)
        except ValueError as e:  # a cycle in stored parent links: say so, in our terms
            raise ValidationError("org_units", str(e)) from None
        for ancestor in path:
            if ancestor in wanted:
                out[ancestor].append(tally)
    return {u: Tally.merge(ts) for u, ts in out.items()}


Category = Literal[1, 2, 3, 4]


@attrs.frozen
class Indicators:
    """Indicator values of one tally, with the flags managers act on.

    Attributes:
        tally: The merged counters.
        target: Estimated target population (e.g. surviving infants) for coverage, or
            ``None`` to use the registry's own count of the cohort.
    """

    tally: Tally
    target: int | None = None

    @property
    def denominator(self) -> int:
        """The target population when given, else the registry's cohort count."""
        return self.target if self.target is not None else self.tally["cohort"]

    def coverage(self, antigen: str, dose: int) -> float | None:
        """Share of the cohort (or target) with at least ``dose`` doses of ``antigen``."""
        d = self.denominator
        return self.tally[received_key(antigen, dose)] / d if d else None

    def administrative_coverage(self, antigen: str, dose: int) -> float | None:
        """Doses given in the period (as the child's ``dose``-th) over the target population.

        WHO/UNICEF's administrative coverage: numerator from doses reported, denominator
        from the target population (here the cohort count when no target is given).
        """
        d = self.denominator
        return self.tally[doses_key(antigen, dose)] / d if d else None

    def dropout_per_child(self, pair: DropoutPair) -> float | None:
        """Children with the first dose but not the second, over children with the first."""
        first = self.tally[received_key(*pair.first)]
        return self.tally[dropped_key(pair)] / first if first else None

    def dropout_from_totals(self, pair: DropoutPair) -> float | None:
        """``(first - second) / first`` from period dose totals; may be negative."""
        first = self.tally[doses_key(*pair.first)]
        second = self.tally[doses_key(*pair.second)]
        return (first - second) / first if first else None

    @property
    def fully_immunized(self) -> float | None:
        """Share of the cohort fully immunized."""
        d = self.tally["cohort"]
        return self.tally["fic"] / d if d else None

    @property
    def zero_dose(self) -> int:
        """Children of the cohort without a DTP-containing dose (WHO IA2030)."""
        return self.tally["zero_dose"]

    def category(self, pair: DropoutPair = DEFAULT_DROPOUT_PAIRS[0]) -> Category | None:
        """WHO RED access/utilisation category from DTP1 coverage and dropout.

        1: DTP1 >= 80% and dropout < 10% (no problem); 2: DTP1 >= 80%, dropout >= 10%
        (utilisation problem); 3: DTP1 < 80%, dropout < 10% (access problem); 4: both.
        """
        cov = self.coverage(DTP, 1)
        drop = self.dropout_per_child(pair)
        if cov is None or drop is None:
            return None
        good_access = cov >= 0.8
        good_use = drop < 0.1
        return 1 if good_access and good_use else 2 if good_access else 3 if good_use else 4

    def flags(self, pairs: Sequence[DropoutPair] = DEFAULT_DROPOUT_PAIRS) -> list[str]:
        """Warnings: ``dropout>=10%:<pair>``, ``dtp1<80%`` and ``negative-dropout:<pair>``.

        A negative dropout from totals means more second doses than first ones were
        reported: a data-quality problem (doses recorded elsewhere, or wrongly numbered).
        """
        out: list[str] = []
        cov = self.coverage(DTP, 1)
        if cov is not None and cov < 0.8:
            out.append("dtp1<80%")
        for pair in pairs:
            drop = self.dropout_per_child(pair)
            if drop is not None and drop >= 0.1:
                out.append(f"dropout>=10%:{pair.name}")
            totals = self.dropout_from_totals(pair)
            if totals is not None and totals < 0:
                out.append(f"negative-dropout:{pair.name}")
        return out
