"""Vietnam's 2018 renumbering of 11-digit mobile numbers to 10 digits.

Between 15 September and 15 November 2018 every Vietnamese mobile number with an 11-digit
national form (``01xx xxx xxxx``) was given a 10-digit one by replacing its 4-digit prefix
with a 3-digit one and keeping the 7 subscriber digits, under the Ministry of Information
and Communications' Decision 798/QĐ-BTTTT (25 May 2018) on converting mobile network
codes. Paper cards and old systems still carry the old numbers; :data:`RENUMBERING` is the
Decision's table and :func:`renumber_vietnamese_mobile` applies it.

This module must not import :mod:`immreg.model` (the model calls it).
"""

from __future__ import annotations

import re
from types import MappingProxyType

__all__ = ["RENUMBERING", "renumber_vietnamese_mobile"]

#: Old 11-digit prefix -> new 10-digit prefix (national form, leading 0), by operator.
RENUMBERING = MappingProxyType(
    {
        # Viettel
        "0162": "032",
        "0163": "033",
        "0164": "034",
        "0165": "035",
        "0166": "036",
        "0167": "037",
        "0168": "038",
        "0169": "039",
        # MobiFone
        "0120": "070",
        "0121": "079",
        "0122": "077",
        "0126": "076",
        "0128": "078",
        # VinaPhone
        "0123": "083",
        "0124": "084",
        "0125": "085",
        "0127": "081",
        "0129": "082",
        # Vietnamobile
        "0186": "056",
        "0188": "058",
        # Gmobile
        "0199": "059",
    }
)

_NOISE = re.compile(r"[\s.\-()]+")
# 11-digit national form, or the international form of it: +84 / 0084 / 84, then 1xx.
_OLD = re.compile(r"^(?:0|\+84|0084|84)(1\d\d)(\d{7})$")


def renumber_vietnamese_mobile(raw: str) -> str:
    """The 10-digit national form of a pre-2018 11-digit Vietnamese mobile number.

    Numbers that are not such a number (already 10 digits, landlines, foreign numbers,
    unknown prefixes) come back unchanged, so the result can always be parsed next.

    Args:
        raw: The number as written: ``"0168 123 4567"``, ``"+84 168 123 4567"``...

    Returns:
        ``"0381234567"`` for the examples above; otherwise ``raw`` itself.
    """
    m = _OLD.match(_NOISE.sub("", raw))
    if m is None:
        return raw
    new = RENUMBERING.get("0" + m.group(1))
    return raw if new is None else new + m.group(2)
