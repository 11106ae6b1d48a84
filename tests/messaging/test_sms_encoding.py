"""SMS encoding, segment counting, diacritics and reminder templates (immreg.messaging)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immreg.errors import ValidationError
from immreg.messaging import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    render_reminder,
    segment_count,
    sms_encoding,
    sms_info,
    strip_diacritics,
)
from immreg.testing import messaging_strategies as ms


def test_the_gsm7_tables_have_the_sizes_of_3gpp_ts_23_038() -> None:
    # 128 code points in the basic table, one of them (0x1B) the escape: 127 characters.
    # The extension table used here: 9 printable characters plus the page break.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", SmsEncoding.GSM7, 0, 1),
        ("a" * 160, SmsEncoding.GSM7, 160, 1),
        ("a" * 161, SmsEncoding.GSM7, 161, 2),
        ("a" * 306, SmsEncoding.GSM7, 306, 2),
        ("a" * 307, SmsEncoding.GSM7, 307, 3),
        ("€" * 80, SmsEncoding.GSM7, 160, 1),
        ("€" * 81, SmsEncoding.GSM7, 162, 2),
        # 152 septets then a two-septet character: it does not fit the first part's last
        # septet and moves whole to the next part.
        ("a" * 152 + "€" + "a" * 10, SmsEncoding.GSM7, 164, 2),
        ("a" * 152 + "€" * 77, SmsEncoding.GSM7, 306, 3),
        ("é" * 160, SmsEncoding.GSM7, 160, 1),  # é is in the basic table
        ("Nguyễn", SmsEncoding.UCS2, 6, 1),
        ("ễ" * 70, SmsEncoding.UCS2, 70, 1),
        ("ễ" * 71, SmsEncoding.UCS2, 71, 2),
        ("ễ" * 134, SmsEncoding.UCS2, 134, 2),
        ("ễ" * 135, SmsEncoding.UCS2, 135, 3),
        ("😀" * 35, SmsEncoding.UCS2, 70, 1),
        ("😀" * 36, SmsEncoding.UCS2, 72, 2),
        # 66 units then a surrogate pair: the pair is never split across parts.
        ("ễ" * 66 + "😀" + "ễ" * 10, SmsEncoding.UCS2, 78, 2),
        ("ễ" * 66 + "😀" * 34, SmsEncoding.UCS2, 134, 3),
    ],
)
def test_encoding_units_and_segments(
    text: str, encoding: SmsEncoding, units: int, segments: int
) -> None:
    info = sms_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_vietnamese_with_diacritics_is_ucs2_and_without_is_gsm7() -> None:
    text = "Nhắc lịch tiêm: bé Nguyễn Ngọc Anh cần tiêm Sởi ngày 31/05/2026 tại Trạm Y tế xã."
    assert sms_encoding(text) is SmsEncoding.UCS2
    plain = strip_diacritics(text)
    assert (
        plain
        == "Nhac lich tiem: be Nguyen Ngoc Anh can tiem Soi ngay 31/05/2026 tai Tram Y te xa."
    )
    assert sms_encoding(plain) is SmsEncoding.GSM7
    assert strip_diacritics("ĐẶNG Đức") == "DANG Duc"


@given(ms.sms_texts())
def test_segments_are_enough_and_not_too_many(text: str) -> None:
    info = sms_info(text)
    single, part = (160, 153) if info.encoding is SmsEncoding.GSM7 else (70, 67)
    if info.units <= single:
        assert info.segments == 1
    else:
        # At least the plain division; at most one more part per wide character that
        # could have been pushed over a boundary, bounded by a part per 'part - 1' units.
        assert info.segments >= math.ceil(info.units / part)
        assert info.segments <= math.ceil(info.units / (part - 1))


@given(ms.sms_texts(), ms.sms_texts())
def test_segments_never_decrease_when_text_is_appended(a: str, b: str) -> None:
    if sms_encoding(a + b) is sms_encoding(a):
        assert segment_count(a + b) >= segment_count(a)


@given(ms.gsm7_texts())
def test_gsm7_units_count_extension_characters_twice(text: str) -> None:
    info = sms_info(text)
    assert info.encoding is SmsEncoding.GSM7
    assert info.units == len(text) + sum(ch in GSM7_EXTENSION for ch in text)


@settings(deadline=None)  # the first text with a rare mark builds the mark table (~0.3 s)
@given(st.text())
def test_stripping_is_idempotent(text: str) -> None:
    once = strip_diacritics(text)
    assert strip_diacritics(once) == once


@given(st.lists(st.sampled_from(["Nguyễn", "Thị", "Đức", "Ngọc", "Sởi", "Phế cầu", "ă", "ư"])))
def test_stripped_vietnamese_is_gsm7_and_never_costs_more(words: list[str]) -> None:
    text = " ".join(words)
    plain = strip_diacritics(text)
    assert sms_encoding(plain) is SmsEncoding.GSM7
    assert segment_count(plain) <= segment_count(text)


def test_reminder_templates_in_each_language_and_diacritics_mode() -> None:
    args = {
        "name": "Nguyễn Ngọc Anh",
        "vaccines": ["Sởi"],
        "date": dt.date(2026, 5, 31),
        "place": "Trạm Y tế xã Minh Xuân",
    }
    keep = render_reminder("before", language="vi", diacritics="keep", **args)  # type: ignore[arg-type]
    assert keep == (
        "Nhắc lịch tiêm: bé Nguyễn Ngọc Anh cần tiêm Sởi ngày 31/05/2026 "
        "tại Trạm Y tế xã Minh Xuân."
    )
    assert sms_encoding(keep) is SmsEncoding.UCS2
    stripped = render_reminder("before", language="vi", diacritics="strip", **args)  # type: ignore[arg-type]
    assert stripped == strip_diacritics(keep)
    # 87 characters: two UCS-2 parts with diacritics, one GSM-7 part without: auto strips.
    assert segment_count(keep) == 2
    assert segment_count(stripped) == 1
    assert render_reminder("before", **args) == stripped  # type: ignore[arg-type]
    english = render_reminder("missed", language="en", **args)  # type: ignore[arg-type]
    assert english.startswith("Nguyen Ngoc Anh missed Soi (due 31/05/2026)")


def test_auto_keeps_diacritics_when_stripping_saves_nothing() -> None:
    text = render_reminder(
        "session_day", name="Lê Na", vaccines=["Hib"], date=dt.date(2026, 1, 2), place="Xã A"
    )
    # Short enough for one UCS-2 part: the marks stay.
    assert text == "Hôm nay (02/01/2026) bé Lê Na có lịch tiêm Hib tại Xã A."


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "later"}, "kind"),
        ({"language": "fr"}, "language"),
        ({"diacritics": "some"}, "diacritics"),
        ({"vaccines": []}, "vaccines"),
    ],
)
def test_bad_template_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "kind": "before",
        "name": "A",
        "vaccines": ["Sởi"],
        "date": dt.date(2026, 1, 1),
        "place": "X",
    }
    args.update(kwargs)
    kind = args.pop("kind")
    with pytest.raises(ValidationError) as e:
        render_reminder(kind, **args)  # type: ignore[arg-type]
    assert e.value.field == field
