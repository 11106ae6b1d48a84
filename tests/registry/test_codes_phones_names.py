"""National immunization codes, the 2018 phone renumbering, and name folding."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from immreg.errors import ValidationError
from immreg.model import Caregiver, normalize_phone
from immreg.registry import codes, names, phones


def _sample_codes(n: int) -> list[str]:
    rng = random.Random(5)
    return [codes.issue_code(f"{rng.randrange(100):02d}", rng.randrange(10**9)) for _ in range(n)]


def test_damm_reference_value() -> None:
    # The worked example of Damm's algorithm: 572 has check digit 4.
    assert codes.check_digit("572") == "4"
    assert codes.issue_code("01", 0) == "01000000000" + codes.check_digit("01000000000")


def test_every_single_digit_substitution_and_adjacent_transposition_is_rejected() -> None:
    # Exhaustive over each sampled code: 12 positions x 9 wrong digits, 11 transpositions.
    for code in _sample_codes(300):
        assert codes.is_valid_code(code)
        for i in range(codes.CODE_LENGTH):
            for d in "0123456789":
                if d != code[i]:
                    assert not codes.is_valid_code(code[:i] + d + code[i + 1 :]), (code, i, d)
        for i in range(codes.CODE_LENGTH - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                assert not codes.is_valid_code(swapped), (code, i)


@given(st.integers(0, 99), st.integers(0, 10**9 - 1))
def test_issued_codes_validate_and_format(province: int, serial: int) -> None:
    code = codes.issue_code(f"{province:02d}", serial)
    assert codes.normalize_code(codes.format_code(code)) == code
    assert codes.normalize_code(code.replace("", "-").strip("-")) == code


@pytest.mark.parametrize(
    ("raw", "words"),
    [("12345", "12 digits"), ("0100000000x0", "12 digits"), ("010000000001", "check digit")],
)
def test_bad_codes_name_the_field(raw: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        codes.normalize_code(raw)
    assert info.value.field == "national_code"
    assert words in info.value.message


def test_issue_code_rejects_bad_input() -> None:
    with pytest.raises(ValidationError, match="province"):
        codes.issue_code("1", 1)
    with pytest.raises(ValidationError, match="serial"):
        codes.issue_code("01", 10**9)


def test_qr_sticker_holds_the_digits() -> None:
    code = codes.issue_code("79", 123456789)
    qr = codes.qr_code(code)
    assert qr.version == 1
    assert qr.error in {"M", "Q", "H"}
    assert qr.mode == "numeric"
    assert codes.qr_code(code, micro=True).is_micro
    with pytest.raises(ValidationError):
        codes.qr_code("791234567890")


def test_linear_barcode_encodes_the_digits_in_code_set_c() -> None:
    import re

    code = codes.issue_code("79", 123456789)
    svg = codes.barcode_svg(code).decode()
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert codes.format_code(code) in svg
    # Code 128 set C: start, 6 digit pairs and the check symbol (3 bars, 11 modules each),
    # then the stop symbol (4 bars, 13 modules): 28 bars over 101 modules.
    bars = [
        (float(x), float(w))
        for x, w in re.findall(r'<rect x="([0-9.]+)mm" y="[^"]*" width="([0-9.]+)mm"', svg)
    ]
    assert len(bars) == 28
    module = min(w for _, w in bars)
    span = bars[-1][0] + bars[-1][1] - bars[0][0]
    assert round(span / module) == 101
    other = codes.issue_code("79", 123456780)
    assert codes.barcode_svg(other) != codes.barcode_svg(code)
    with pytest.raises(ValidationError):
        codes.barcode_svg("791234567890")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("0162 123 4567", "+84321234567"),
        ("0169.123.4567", "+84391234567"),
        ("+84 120 123 4567", "+84701234567"),
        ("0121 123 4567", "+84791234567"),
        ("0122 123 4567", "+84771234567"),
        ("0126 123 4567", "+84761234567"),
        ("0128 123 4567", "+84781234567"),
        ("0123 123 4567", "+84831234567"),
        ("0127 123 4567", "+84811234567"),
        ("0129 123 4567", "+84821234567"),
        ("0186 123 4567", "+84561234567"),
        ("0188 123 4567", "+84581234567"),
        ("0199 123 4567", "+84591234567"),
        ("0084-168-123-4567", "+84381234567"),
    ],
)
def test_2018_renumbering_in_normalize_phone(old: str, new: str) -> None:
    assert normalize_phone(old) == new
    assert Caregiver("Lê Thị Hoa", phone=old).phone == new


def test_renumbering_table_covers_every_operator_prefix() -> None:
    assert len(phones.RENUMBERING) == 21
    assert all(len(k) == 4 and len(v) == 3 for k, v in phones.RENUMBERING.items())
    assert len(set(phones.RENUMBERING.values())) == 21


def test_numbers_outside_the_table_are_left_alone() -> None:
    for raw in ("0912345678", "024 3825 1234", "+1 650 253 0000", "01301234567"):
        assert phones.renumber_vietnamese_mobile(raw) == raw
    # An old prefix is only renumbered for Vietnam, not as another country's number.
    assert normalize_phone("+4916212345678", region="DE") == "+4916212345678"


def test_invalid_numbers_are_rejected_by_field() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_phone("0151 234 5678", field="caregivers[0].phone")
    assert info.value.field == "caregivers[0].phone"


def test_fold_keeps_display_and_folds_for_matching() -> None:
    composed = "Đặng Thị Ngọc Ánh"
    import unicodedata

    decomposed = unicodedata.normalize("NFD", composed)
    assert names.fold(composed) == names.fold(decomposed) == "dang thi ngoc anh"
    assert names.fold("DANG  thi ngoc anh") == "dang thi ngoc anh"
    parts = names.name_parts("Tôn Thất", "Minh Đức")
    assert (parts.family, parts.middle, parts.given) == ("ton that", "minh", "duc")
    assert names.name_parts("Lê", "Na").middle == ""
