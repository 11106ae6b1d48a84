"""Vietnamese-aware name handling for matching (display keeps the name as written).

Vietnamese is written with many diacritics, and the same name reaches the registry in
composed (NFC) and decomposed (NFD) Unicode, with and without its tone marks (typed on a
keyboard without Vietnamese input, or from an SMS), and with ``đ`` written as ``d``. For
*matching* names are folded: NFC-normalised, lower-cased, stripped of combining marks, and
``đ`` turned into ``d`` (``đ`` is a letter of its own, not ``d`` plus a mark, so Unicode
decomposition leaves it alone). The stored and displayed name is never changed.

A Vietnamese full name is family name (họ), middle names (tên đệm) and a given name (tên),
in that order; people are called by the given name, so it carries most weight in matching.
"""

from __future__ import annotations

import functools
import unicodedata

import attrs

__all__ = ["NameParts", "fold", "name_parts"]

_D = str.maketrans({"đ": "d", "Đ": "d"})


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """A name folded for matching: no case, no diacritics, ``đ`` as ``d``, single spaces.

    >>> fold("Nguyễn  Thị Đào")
    'nguyen thi dao'
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.lower().split())


@attrs.frozen
class NameParts:
    """A person's name split and folded for matching.

    Attributes:
        family: Folded family name (all its words: ``"ton that"``).
        middle: Folded middle names, space-separated (may be empty).
        given: Folded given name, the last word of the given names.
    """

    family: str
    middle: str
    given: str

    @property
    def full(self) -> str:
        """The folded full name in Vietnamese order."""
        return " ".join(p for p in (self.family, self.middle, self.given) if p)


def name_parts(family_name: str, given_name: str) -> NameParts:
    """Split a subject's names into folded family, middle and given parts.

    ``given_name`` holds middle and given names (``"Thị Lan"``); its last word is the given
    name. A single-word ``given_name`` has no middle name.
    """
    words = fold(given_name).split()
    given = words[-1] if words else ""
    return NameParts(fold(family_name), " ".join(words[:-1]), given)
