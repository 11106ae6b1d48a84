"""The national immunization code: issuing, validating and printing it.

A code is 12 digits: a 2-digit province code, a 9-digit serial, and a check digit
computed with H. Michael Damm's algorithm (*Totally anti-symmetric quasigroups for all
orders n ≠ 2, 6*, Discrete Mathematics 307 (2007) 715-729; first in his 2004 Marburg
dissertation). The check digit uses a weakly totally anti-symmetric quasigroup of order 10,
so it detects **every** single-digit substitution and **every** transposition of two
adjacent digits, which the Luhn algorithm does not (it misses ``09`` ↔ ``90``), with one
table and no weights (unlike Verhoeff's dihedral-group scheme).

Codes are written for people in groups of four (``0112 3456 7892``); input may contain
spaces, dots or dashes, which are ignored.
"""

from __future__ import annotations

import re
from typing import Any

from immreg.errors import ValidationError

__all__ = [
    "CODE_LENGTH",
    "barcode_svg",
    "check_digit",
    "format_code",
    "is_valid_code",
    "issue_code",
    "normalize_code",
    "qr_code",
]

#: Digits in a national immunization code, check digit included.
CODE_LENGTH = 12

# The quasigroup of Damm's dissertation (the table Wikipedia's "Damm algorithm" reproduces):
# row = interim digit, column = next digit; its diagonal is all zeros, so a valid number
# (check digit included) ends in interim digit 0.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_SEPARATORS = re.compile(r"[\s.\-]+")


def _interim(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of decimal digits.

    Raises:
        ValidationError: ``digits`` is empty or not all ASCII digits.
    """
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValidationError("digits", "must be one or more digits 0-9")
    return str(_interim(digits))


def issue_code(province: str, serial: int) -> str:
    """The national immunization code for a province's ``serial``-th registration.

    Args:
        province: The 2-digit province code (e.g. ``"01"`` for Hà Nội).
        serial: The province's running number, 0 to 999,999,999.

    Raises:
        ValidationError: A bad province code or serial.
    """
    if not (isinstance(province, str) and len(province) == 2 and province.isdigit()):
        raise ValidationError("province", "must be a 2-digit province code")
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < 10**9:
        raise ValidationError("serial", "must be a whole number from 0 to 999999999")
    body = f"{province}{serial:09d}"
    return body + check_digit(body)


def normalize_code(raw: str, *, field: str = "national_code") -> str:
    """Check a code as typed or scanned and return its 12 digits.

    Args:
        raw: The code; spaces, dots and dashes between digits are ignored.
        field: The field path named in the error.

    Raises:
        ValidationError: Not 12 digits, or the check digit does not match (a mistyped or
            misread code).
    """
    if not isinstance(raw, str):
        raise ValidationError(field, "must be text")
    digits = _SEPARATORS.sub("", raw)
    if not digits.isascii() or not digits.isdigit() or len(digits) != CODE_LENGTH:
        raise ValidationError(field, f"must be {CODE_LENGTH} digits, got {raw!r}")
    if _interim(digits) != 0:
        raise ValidationError(
            field, f"{raw!r} is not a valid code: the check digit does not match (mistyped?)"
        )
    return digits


def is_valid_code(raw: str) -> bool:
    """Whether ``raw`` is a well-formed code with a matching check digit."""
    try:
        normalize_code(raw)
    except ValidationError:
        return False
    return True


def format_code(code: str) -> str:
    """A valid code in groups of four for printing (``"0112 3456 7892"``).

    Raises:
        ValidationError: ``code`` is not a valid code.
    """
    digits = normalize_code(code)
    return " ".join(digits[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def qr_code(code: str, *, micro: bool = False) -> Any:
    """A QR code (a :class:`segno.QRCode`) holding the code's 12 digits, for stickers.

    Numeric mode with error correction level M or better (segno raises the level while the
    symbol size stays the same, which helps with worn stickers): 12 digits fit a version 1
    QR code (21x21 modules) or, with ``micro=True``, an M3 Micro QR code (15x15). Save it
    with ``.save("label.svg", scale=4)`` or ``.save("label.png", scale=4)``.

    Requires the ``labels`` extra (``pip install immreg[labels]``).

    Raises:
        ValidationError: ``code`` is not a valid code.
        ImportError: segno is not installed.
    """
    digits = normalize_code(code)
    import segno

    if micro:
        return segno.make_micro(digits, error="M")
    return segno.make_qr(digits, error="M", mode="numeric")


def barcode_svg(code: str) -> bytes:
    """A Code 128 linear barcode of the code's 12 digits, as SVG, for stickers and scanners.

    Code 128 (ISO/IEC 15417) packs digit pairs into one symbol each (code set C), so 12
    digits make a short barcode that every handheld 1D scanner reads; the human-readable
    text under the bars is the grouped form (:func:`format_code`).

    Requires the ``labels`` extra (``pip install immreg[labels]``).

    Raises:
        ValidationError: ``code`` is not a valid code.
        ImportError: python-barcode is not installed.
    """
    digits = normalize_code(code)
    import io

    import barcode  # type: ignore[import-untyped]
    from barcode.writer import SVGWriter  # type: ignore[import-untyped]

    symbol = barcode.get("code128", digits, writer=SVGWriter())
    out = io.BytesIO()
    symbol.write(out, options={"module_height": 8.0, "font_size": 8}, text=format_code(digits))
    return out.getvalue()
