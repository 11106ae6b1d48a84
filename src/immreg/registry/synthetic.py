"""A small seeded population with injected duplicates, for measuring duplicate detection.

:func:`generate` builds households (a mother, a caregiver phone, a commune, one to three
children, sometimes twins) and then copies a share of the children as duplicate records
carrying the errors registries see: typos in a name, diacritics lost, day and month of the
birth date swapped, a changed phone, a move to another commune. The result knows which
pairs are true duplicates, so precision and recall can be measured
(``tests/registry/test_dedup_quality.py``, ``benchmarks/bench_registry.py``).

It is deliberately small and self-contained; the researchers' generator
(``immreg.simulate``) is a separate, richer project. Same settings, same population.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Set

import attrs

from immreg.model import Caregiver, OrgLevel, OrgUnit, ParentLink, Residence, Sex, Subject

__all__ = ["Population", "Settings", "generate", "org_units"]

# Family names with their approximate share of the population (per cent), after the
# frequencies usually quoted for Vietnam (Nguyễn about 38%, Trần 11%, Lê 9.5%...).
_FAMILY = (
    ("Nguyễn", 38.4),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 5.1),
    ("Huỳnh", 4.0),
    ("Phan", 4.5),
    ("Vũ", 3.9),
    ("Võ", 3.0),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.5),
    ("Trương", 0.5),
)
_MIDDLE_F = ("Thị", "Ngọc", "Thu", "Thanh", "Bảo", "Khánh", "Minh", "Phương", "Hoài", "Mai")
_MIDDLE_M = ("Văn", "Đức", "Minh", "Quốc", "Hữu", "Thành", "Gia", "Anh", "Hoàng", "Xuân")
_GIVEN_F = (
    "Lan", "Hương", "Trang", "Linh", "Ngọc", "Hà", "Thảo", "Anh", "Mai", "Phương", "Hạnh",
    "Nhung", "Yến", "Hoa", "Thủy", "Vy", "Nhi", "Quỳnh", "Châu", "Diệp", "Giang", "Hằng",
    "Huyền", "Loan", "My", "Nga", "Oanh", "Tâm", "Tuyết", "Uyên", "Vân", "Xuân", "Đào",
    "Ánh", "Bích", "Cúc", "Dung", "Hiền", "Khuê", "Liên",
)  # fmt: skip
_GIVEN_M = (
    "Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Long", "Khoa", "Phúc", "Huy", "Quân", "Đức",
    "Thắng", "Sơn", "Tùng", "Việt", "Bảo", "Hải", "Hiếu", "Khánh", "Lâm", "Lộc", "Nghĩa",
    "Nhân", "Phong", "Quang", "Tài", "Thành", "Thịnh", "Trí", "Trung", "Vinh", "An", "Bình",
    "Cường", "Đạt", "Định", "Giang", "Hoàng", "Kiên", "Lực",
)  # fmt: skip
_MOBILE = (
    "091", "094", "088", "098", "097", "096", "086", "090", "093", "070", "079",
    "077", "083", "084", "085", "032", "033", "034", "035", "036", "037", "038", "039",
)  # fmt: skip
_PROVINCE = "P01"


@attrs.frozen
class Settings:
    """The generator's settings (the defaults are those the docs report).

    Attributes:
        households: Households (each has 1 to 3 children, 2% of births twins).
        communes: Communes people live in.
        duplicate_rate: Share of children given a duplicate record.
        typo: Chance a duplicate has a typo in a name (substitution, deletion or swap of
            letters in the given name, 70%, or the family or middle name).
        no_diacritics: Chance a duplicate's names lost their diacritics.
        swap_day_month: Chance its birth date has day and month swapped (when both <= 12).
        change_phone: Chance its caregiver phone is another number.
        move_commune: Chance it lives in another commune.
        drop_mother: Chance its mother's name is missing.
        born_from: Earliest birth date.
        born_until: Latest birth date.
        seed: Random seed.
    """

    households: int = 10_000
    communes: int = 50
    duplicate_rate: float = 0.05
    typo: float = 0.35
    no_diacritics: float = 0.35
    swap_day_month: float = 0.25
    change_phone: float = 0.35
    move_commune: float = 0.35
    drop_mother: float = 0.1
    born_from: dt.date = dt.date(2016, 1, 1)
    born_until: dt.date = dt.date(2025, 12, 31)
    seed: int = 20261122


@attrs.frozen
class Population:
    """A generated population.

    Attributes:
        settings: The settings it was generated with.
        subjects: Every record, originals and duplicates, in random order.
        duplicates: The true duplicate pairs, as sorted ``(id, id)`` tuples.
    """

    settings: Settings
    subjects: tuple[Subject, ...]
    duplicates: frozenset[tuple[str, str]]


def org_units(settings: Settings) -> list[OrgUnit]:
    """The org units the population lives in: one province and its communes."""
    since = dt.date(2000, 1, 1)
    units = [OrgUnit(_PROVINCE, "Tỉnh Mẫu", OrgLevel.PROVINCE, opened=since)]
    units.extend(
        OrgUnit(
            _commune(i),
            f"Xã {i}",
            OrgLevel.COMMUNE,
            parents=(ParentLink(_PROVINCE, since),),
            opened=since,
        )
        for i in range(settings.communes)
    )
    return units


def _commune(i: int) -> str:
    return f"{_PROVINCE}-C{i:05d}"


def _strip(text: str) -> str:
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in bare if not unicodedata.combining(c)))


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word + rng.choice("aeiou")
    i = rng.randrange(1, len(word))
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + rng.choice("aeinouhtg") + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    chars = list(word)
    chars[i - 1], chars[i] = chars[i], chars[i - 1]
    return "".join(chars)


class _Gen:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.families = [f for f, _ in _FAMILY]
        self.family_weights = [w for _, w in _FAMILY]
        self.days = (settings.born_until - settings.born_from).days
        self.next_id = 0

    def new_id(self) -> str:
        self.next_id += 1
        return f"s{self.next_id:08d}"

    def family(self) -> str:
        return self.rng.choices(self.families, self.family_weights)[0]

    def phone(self) -> str:
        return "+84" + self.rng.choice(_MOBILE)[1:] + f"{self.rng.randrange(10**7):07d}"

    def given(self, sex: Sex, taken: Set[str] = frozenset()) -> str:
        # Parents do not give two of their children the same given name.
        names = [n for n in (_GIVEN_F if sex is Sex.FEMALE else _GIVEN_M) if n not in taken]
        middle = _MIDDLE_F if sex is Sex.FEMALE else _MIDDLE_M
        return f"{self.rng.choice(middle)} {self.rng.choice(names)}"

    def child(
        self, family: str, born: dt.date, mother: str, phone: str, commune: str, taken: set[str]
    ) -> Subject:
        sex = self.rng.choice((Sex.FEMALE, Sex.MALE))
        given = self.given(sex, taken)
        taken.add(given.split()[-1])
        return Subject(
            id=self.new_id(),
            family_name=family,
            given_name=given,
            birth_date=born,
            sex=sex,
            caregivers=(Caregiver(mother, "mother", phone),),
            residences=(Residence(commune, born),),
        )

    def duplicate(self, original: Subject) -> Subject:
        s, rng = self.s, self.rng
        family, given = original.family_name, original.given_name
        born = original.birth_date
        caregiver = original.caregivers[0]
        commune = original.residences[0].org_unit_id
        changed = False
        while not changed:
            if rng.random() < s.typo:
                changed = True
                words = given.split()
                if rng.random() < 0.7:
                    words[-1] = _typo(rng, words[-1])
                elif rng.random() < 0.5 and len(words) > 1:
                    words[0] = _typo(rng, words[0])
                else:
                    family = _typo(rng, family)
                given = " ".join(words)
            if rng.random() < s.no_diacritics:
                changed = True
                family, given = _strip(family), _strip(given)
                caregiver = attrs.evolve(caregiver, name=_strip(caregiver.name))
            if rng.random() < s.swap_day_month and born.day <= 12 and born.day != born.month:
                changed = True
                born = born.replace(month=born.day, day=born.month)
            if rng.random() < s.change_phone:
                changed = True
                caregiver = attrs.evolve(caregiver, phone=self.phone())
            if rng.random() < s.move_commune and s.communes > 1:
                changed = True
                commune = _commune(rng.randrange(s.communes))
            if rng.random() < s.drop_mother:
                caregiver = attrs.evolve(caregiver, relationship="guardian")
        return attrs.evolve(
            original,
            id=self.new_id(),
            family_name=family,
            given_name=given,
            birth_date=born,
            caregivers=(caregiver,),
            residences=(Residence(commune, born),),
        )

    def run(self) -> Population:
        s, rng = self.s, self.rng
        people: list[Subject] = []
        pairs: set[tuple[str, str]] = set()
        for _ in range(s.households):
            family = self.family()
            mother = f"{self.family()} {self.given(Sex.FEMALE)}"
            phone = self.phone()
            commune = _commune(rng.randrange(s.communes))
            taken: set[str] = set()
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                born = s.born_from + dt.timedelta(days=rng.randrange(self.days + 1))
                births = 2 if rng.random() < 0.02 else 1
                for _ in range(births):
                    child = self.child(family, born, mother, phone, commune, taken)
                    people.append(child)
                    if rng.random() < s.duplicate_rate:
                        dup = self.duplicate(child)
                        people.append(dup)
                        a, b = sorted((child.id, dup.id))
                        pairs.add((a, b))
        rng.shuffle(people)
        return Population(s, tuple(people), frozenset(pairs))


def generate(settings: Settings | None = None) -> Population:
    """Generate a population (deterministic for given settings).

    Args:
        settings: The settings; :class:`Settings` defaults when omitted.
    """
    return _Gen(settings or Settings()).run()
