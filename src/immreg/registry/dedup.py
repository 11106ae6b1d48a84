"""Duplicate detection: candidate pairs of records that may be the same person.

The method is Fellegi and Sunter's (*A Theory for Record Linkage*, JASA 64 (1969)
1183-1210): each compared field agrees at some level (exact, close, swapped, different,
missing), and each level adds a weight of ``log2(m / u)`` bits to the pair's score, where
``m`` is how often the level occurs between two records of the *same* person and ``u``
between two *different* people. The weights below were set from those frequencies as seen
in Vietnamese names (a few family names cover most people: Nguyễn alone about 38%) and
tuned on :mod:`immreg.registry.synthetic`'s population; every candidate carries the
per-field evidence, so a health worker sees *why* two records were paired.

Fields compared: family, middle and given names (folded, :mod:`immreg.registry.names`;
similarity is rapidfuzz's Jaro-Winkler), birth date (with day and month swapped, a common
entry error), sex, the mother's name, caregivers' phones, and the communes ever lived in.
One rule goes beyond independent fields: two records of the same mother with clearly
different given names are siblings or twins, not one person.

Blocking keeps the batch near-linear: only records that share a blocking key (birth date
up to a day/month swap with sex and the given name's initial; full name and birth year;
a phone number; the mother's name and birth year) are compared, each pair once, and a
block larger than ``max_block`` is compared in a sorted window rather than all against all.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence

import attrs
from rapidfuzz.distance import OSA, JaroWinkler

from immreg.model import Sex, Subject
from immreg.registry.names import fold, name_parts

__all__ = [
    "DEFAULT_THRESHOLD",
    "CandidatePair",
    "Evidence",
    "Level",
    "MatchRecord",
    "compare",
    "find_duplicates",
    "match_record",
    "matches_for",
    "score",
]

#: Score (bits) at or above which a pair is reported as a likely duplicate.
DEFAULT_THRESHOLD = 16.0
#: Jaro-Winkler similarity from which two folded names count as "close".
CLOSE_NAME = 0.88
_MOTHER_WORDS = frozenset({"mother", "mẹ", "me"})


class Level(enum.Enum):
    """How two records agree on one field."""

    EXACT = "exact"
    CLOSE = "close"
    SWAPPED = "swapped"
    DIFFERENT = "different"
    MISSING = "missing"


def _w(m: float, u: float) -> float:
    return round(math.log2(m / u), 2)


# Weights in bits, log2(m/u), per field and level; MISSING always weighs 0.
_WEIGHTS: Mapping[str, Mapping[Level, float]] = {
    "family_name": {
        Level.EXACT: _w(0.92, 0.12),
        Level.CLOSE: _w(0.06, 0.02),
        Level.DIFFERENT: _w(0.02, 0.86),
    },
    "middle_name": {
        Level.EXACT: _w(0.85, 0.15),
        Level.CLOSE: _w(0.10, 0.05),
        # A duplicate rarely has a wholly different middle name (a typo leaves it close).
        Level.DIFFERENT: _w(0.02, 0.80),
    },
    "given_name": {
        Level.EXACT: _w(0.85, 0.02),
        Level.CLOSE: _w(0.13, 0.01),
        Level.DIFFERENT: _w(0.02, 0.97),
    },
    "birth_date": {
        Level.EXACT: _w(0.90, 1 / 2000),
        Level.SWAPPED: _w(0.05, 1 / 4000),
        Level.CLOSE: _w(0.03, 0.01),
        Level.DIFFERENT: _w(0.02, 0.99),
    },
    "sex": {Level.EXACT: _w(0.98, 0.5), Level.DIFFERENT: _w(0.02, 0.5)},
    # Mothers' names are drawn from the same few family, middle and given names, so two
    # different mothers often share one exactly in a large population.
    "mother_name": {
        Level.EXACT: _w(0.85, 0.04),
        Level.CLOSE: _w(0.10, 0.03),
        Level.DIFFERENT: _w(0.02, 0.96),
    },
    # Siblings share their caregivers' phones, so a shared phone says "same household"
    # more than "same person"; phones also change often.
    "phone": {Level.EXACT: _w(0.70, 0.01), Level.DIFFERENT: _w(0.30, 0.99)},
    "commune": {Level.EXACT: _w(0.85, 0.02), Level.DIFFERENT: _w(0.15, 0.98)},
}
#: Share of the phone and commune weights counted when the mother's names agree.
HOUSEHOLD_SHARE = 1 / 3
#: Added when the mother agrees but the given names clearly differ: siblings or twins.
SIBLING_PENALTY = -20.0


@attrs.frozen
class MatchRecord:
    """A subject's fields prepared for comparison (folded names, sets of phones...).

    Build it with :func:`match_record`.

    Attributes:
        id: The subject's id.
        family: Folded family name.
        middle: Folded middle names.
        given: Folded given name.
        birth_date: Birth date.
        sex: Sex as recorded.
        mother: Folded mother's name, or ``""`` when unknown.
        phones: Caregivers' phones (E.164).
        communes: Org units of every residence, ever.
    """

    id: str
    family: str
    middle: str
    given: str
    birth_date: dt.date
    sex: Sex
    mother: str
    phones: frozenset[str]
    communes: frozenset[str]

    def blocking_keys(self) -> tuple[tuple[object, ...], ...]:
        """The blocks this record belongs to, in a fixed order of kinds (see the module)."""
        b = self.birth_date
        lo, hi = sorted((b.day, b.month))
        keys: list[tuple[object, ...]] = [
            (0, b.year, lo, hi, self.sex.value, self.given[:1]),
            (1, self.family, self.given, self.sex.value, b.year),
        ]
        keys.extend((2, p) for p in sorted(self.phones))
        if self.mother:
            keys.append((3, self.mother, b.year))
        return tuple(keys)


def match_record(subject: Subject, *, mother_name: str | None = None) -> MatchRecord:
    """Prepare a subject for comparison.

    Args:
        subject: The subject.
        mother_name: The mother's name when known from elsewhere (her own record); by
            default the name of a caregiver whose relationship is ``"mother"`` (or ``"mẹ"``).
    """
    if mother_name is None:
        mother_name = next(
            (c.name for c in subject.caregivers if fold(c.relationship) in _MOTHER_WORDS), ""
        )
    parts = name_parts(subject.family_name, subject.given_name)
    return MatchRecord(
        id=subject.id,
        family=parts.family,
        middle=parts.middle,
        given=parts.given,
        birth_date=subject.birth_date,
        sex=subject.sex,
        mother=fold(mother_name),
        phones=frozenset(c.phone for c in subject.caregivers if c.phone is not None),
        communes=frozenset(r.org_unit_id for r in subject.residences),
    )


@attrs.frozen
class Evidence:
    """How one field contributed to a pair's score.

    Attributes:
        field: The field compared (``"given_name"``, ``"birth_date"``...).
        level: How the two records agree on it.
        weight: Bits added to the score (negative: evidence against).
        detail: The compared values or the rule applied, for people to read.
    """

    field: str
    level: Level
    weight: float
    detail: str = ""


@attrs.frozen
class CandidatePair:
    """Two records that may be the same person, with the score and its explanation.

    Attributes:
        left_id: The smaller subject id.
        right_id: The larger subject id.
        score: Sum of the evidence weights, in bits; higher means more likely one person.
        evidence: Every field's contribution.
    """

    left_id: str
    right_id: str
    score: float
    evidence: tuple[Evidence, ...]

    def explain(self) -> str:
        """One line per field, strongest evidence first."""
        lines = [f"{self.left_id} ~ {self.right_id}: score {self.score:.1f}"]
        for e in sorted(self.evidence, key=lambda e: -abs(e.weight)):
            lines.append(f"  {e.field:<12} {e.level.value:<9} {e.weight:+6.2f}  {e.detail}")
        return "\n".join(lines)


def _name_level(a: str, b: str) -> Level:
    if not a or not b:
        return Level.MISSING
    if a == b:
        return Level.EXACT
    # Jaro-Winkler suits long names; short Vietnamese given names ("Đạt", "Yến") lose too
    # much to one typo, so one edit (optimal string alignment: a substitution, insertion,
    # deletion or swap of adjacent letters) also counts as close.
    if OSA.distance(a, b, score_cutoff=1) <= 1 or JaroWinkler.similarity(a, b) >= CLOSE_NAME:
        return Level.CLOSE
    return Level.DIFFERENT


def _mother_level(a: str, b: str) -> Level:
    # A whole name: Jaro-Winkler would call every "nguyen thi ..." close for the shared
    # prefix, so at most two edits count as close.
    if not a or not b:
        return Level.MISSING
    if a == b:
        return Level.EXACT
    return Level.CLOSE if OSA.distance(a, b, score_cutoff=2) <= 2 else Level.DIFFERENT


def _date_level(a: dt.date, b: dt.date) -> Level:
    if a == b:
        return Level.EXACT
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return Level.SWAPPED
    same = (a.year == b.year) + (a.month == b.month) + (a.day == b.day)
    # Two of three parts agree: one part mistyped.
    return Level.CLOSE if same == 2 else Level.DIFFERENT


def _set_level(a: frozenset[str], b: frozenset[str]) -> Level:
    if not a or not b:
        return Level.MISSING
    return Level.EXACT if a & b else Level.DIFFERENT


def compare(a: MatchRecord, b: MatchRecord) -> CandidatePair:
    """Score two records and explain the score (see the module for the method)."""
    evidence: list[Evidence] = []

    def add(field: str, level: Level, detail: str, share: float = 1.0) -> None:
        weight = 0.0 if level is Level.MISSING else round(_WEIGHTS[field][level] * share, 2)
        evidence.append(Evidence(field, level, weight, detail))

    add("family_name", _name_level(a.family, b.family), f"{a.family!r} / {b.family!r}")
    add("middle_name", _name_level(a.middle, b.middle), f"{a.middle!r} / {b.middle!r}")
    given = _name_level(a.given, b.given)
    add("given_name", given, f"{a.given!r} / {b.given!r}")
    add(
        "birth_date",
        _date_level(a.birth_date, b.birth_date),
        f"{a.birth_date.isoformat()} / {b.birth_date.isoformat()}",
    )
    add(
        "sex", Level.EXACT if a.sex is b.sex else Level.DIFFERENT, f"{a.sex.value} / {b.sex.value}"
    )
    mother = _mother_level(a.mother, b.mother)
    add("mother_name", mother, f"{a.mother!r} / {b.mother!r}")
    levels = tuple(e.level for e in evidence)
    # Phone and commune are household facts: given the same mother they say little more
    # (siblings share both), so they then count a third of their weight.
    household = mother in (Level.EXACT, Level.CLOSE)
    share = HOUSEHOLD_SHARE if household else 1.0
    note = " (same mother: counted at a third)" if household else ""
    add("phone", _set_level(a.phones, b.phones), "a caregiver's phone in common" + note, share)
    add("commune", _set_level(a.communes, b.communes), "a residence in common" + note, share)
    if _siblings(levels):
        evidence.append(
            Evidence(
                "siblings",
                Level.DIFFERENT,
                SIBLING_PENALTY,
                "same mother, different names or sexes: siblings or twins",
            )
        )
    score = round(sum(e.weight for e in evidence), 2)
    left, right = sorted((a.id, b.id))
    return CandidatePair(left, right, score, tuple(evidence))


def _levels(a: MatchRecord, b: MatchRecord) -> tuple[Level, ...]:
    return (
        _name_level(a.family, b.family),
        _name_level(a.middle, b.middle),
        _name_level(a.given, b.given),
        _date_level(a.birth_date, b.birth_date),
        Level.EXACT if a.sex is b.sex else Level.DIFFERENT,
        _mother_level(a.mother, b.mother),
        _set_level(a.phones, b.phones),
        _set_level(a.communes, b.communes),
    )


_FIELDS = tuple(_WEIGHTS)
_AGREE = (Level.EXACT, Level.CLOSE)


def _siblings(levels: tuple[Level, ...]) -> bool:
    # Levels in _FIELDS order. Children of one mother whose given names differ, or whose
    # given name is close but middle name differs ("Minh Lan" / "Thu Lâm"), or whose sexes
    # differ, are siblings or twins: one person's two records differ in one name at most.
    _, middle, given, _, sex, mother = levels[:6]
    if mother not in _AGREE:
        return False
    return (
        given is Level.DIFFERENT
        or (given is Level.CLOSE and middle is Level.DIFFERENT)
        or (sex is Level.DIFFERENT and given is not Level.EXACT)
    )


def score(a: MatchRecord, b: MatchRecord) -> float:
    """The score :func:`compare` gives, without building the explanation (the batch's path)."""
    levels = _levels(a, b)
    total = 0.0
    household = levels[5] in (Level.EXACT, Level.CLOSE)
    for i, (field, level) in enumerate(zip(_FIELDS, levels, strict=True)):
        if level is not Level.MISSING:
            w = _WEIGHTS[field][level]
            total += round(w * HOUSEHOLD_SHARE, 2) if household and i >= 6 else w
    if _siblings(levels):
        total += SIBLING_PENALTY
    return round(total, 2)


_NAMES_MAX = sum(_WEIGHTS[f][Level.EXACT] for f in ("family_name", "middle_name", "given_name"))


def _reaches(a: MatchRecord, b: MatchRecord, threshold: float) -> bool:
    # The batch's filter: the fields that need no string comparison first, and the names
    # (the costly part) only when their best case could still reach the threshold.
    mother = _mother_level(a.mother, b.mother)
    share = HOUSEHOLD_SHARE if mother in _AGREE else 1.0
    partial = _WEIGHTS["birth_date"][_date_level(a.birth_date, b.birth_date)]
    partial += _WEIGHTS["sex"][Level.EXACT if a.sex is b.sex else Level.DIFFERENT]
    if mother is not Level.MISSING:
        partial += _WEIGHTS["mother_name"][mother]
    for field, level in (
        ("phone", _set_level(a.phones, b.phones)),
        ("commune", _set_level(a.communes, b.communes)),
    ):
        if level is not Level.MISSING:
            partial += round(_WEIGHTS[field][level] * share, 2)
    if partial + _NAMES_MAX < threshold:
        return False
    return score(a, b) >= threshold


def find_duplicates(
    records: Iterable[MatchRecord],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_block: int = 40,
    window: int = 12,
) -> Iterator[CandidatePair]:
    """Every pair of records scoring at least ``threshold``, each pair once.

    Records are compared only within shared blocks (see the module); a pair sharing several
    blocks is compared in the first of them only. A block of more than ``max_block``
    records (a very common name in a big batch) is sorted by name and each record compared
    with the next ``window`` ones, so the work stays near-linear in the number of records.

    Args:
        records: The records to search (ids must be distinct).
        threshold: The lowest score reported.
        max_block: The largest block compared all against all.
        window: The window for larger blocks.

    Yields:
        Candidate pairs, block by block (not sorted).
    """
    recs = list(records)
    # Keys are kept as their hashes: a collision only merges two blocks (more comparisons,
    # same results), and a million records' keys then fit in memory comfortably.
    keys = [tuple(hash(k) for k in r.blocking_keys()) for r in recs]
    blocks: dict[int, list[int]] = defaultdict(list)
    for i, ks in enumerate(keys):
        for k in ks:
            blocks[k].append(i)
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        for i, j in _pairs(members, recs, max_block, window):
            if _compared_before(keys[i], keys[j], key):
                continue
            a, b = recs[i], recs[j]
            if _reaches(a, b, threshold):
                yield compare(a, b)


def _compared_before(a: tuple[int, ...], b: tuple[int, ...], key: int) -> bool:
    # Whether the pair shares a block that comes before ``key`` in a's order of keys.
    for k in a:
        if k == key:
            return False
        if k in b:
            return True
    return False


def _pairs(
    members: Sequence[int], recs: Sequence[MatchRecord], max_block: int, window: int
) -> Iterator[tuple[int, int]]:
    if len(members) <= max_block:
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                yield members[x], members[y]
        return
    ordered = sorted(members, key=lambda i: (recs[i].given, recs[i].family, recs[i].middle))
    for x in range(len(ordered)):
        for y in range(x + 1, min(x + 1 + window, len(ordered))):
            yield ordered[x], ordered[y]


def matches_for(
    record: MatchRecord,
    others: Iterable[MatchRecord],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[CandidatePair]:
    """The records among ``others`` that may be the same person as ``record``, best first.

    Used at registration: ``others`` is a shortlist (people of the same communes, the same
    phone...); each is scored without blocking.
    """
    found = [compare(record, o) for o in others if o.id != record.id]
    return sorted((p for p in found if p.score >= threshold), key=lambda p: (-p.score, p.left_id))
