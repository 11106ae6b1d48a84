"""Hypothesis strategies for due summaries, outbox messages and SMS texts.

They generate only values the classes accept, leaning towards what breaks encoders and
storage: Vietnamese with composed and decomposed diacritics, GSM-7 extension characters at
part boundaries, emoji outside the Basic Multilingual Plane, instants around the quiet-hours
edges and 29 February::

    from hypothesis import given
    from immreg.testing import messaging_strategies as ms

    @given(ms.sms_texts())
    def test_segments(text): ...
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from hypothesis import strategies as st

from immreg.duelist import DueSummary
from immreg.messaging import GSM7_BASIC, GSM7_EXTENSION, OutboxMessage, OutboxStatus
from immreg.testing.strategies import dates, identifiers, vietnamese_mobile_numbers

__all__ = [
    "due_summaries",
    "gsm7_texts",
    "local_instants",
    "outbox_messages",
    "sms_texts",
    "vaccine_groups",
]

_VN_WORDS = ["Nhắc", "lịch", "tiêm", "bé", "Nguyễn", "Ngọc", "Đức", "Sởi", "Viêm gan B", "xã"]
_GROUPS = [
    "Lao (BCG)",
    "Viêm gan B",
    "Bạch hầu - Ho gà - Uốn ván",
    "Hib",
    "Bại liệt uống (bOPV)",
    "Sởi",
    "Rubella",
    "Phế cầu",
]


def gsm7_texts(*, max_size: int = 400) -> st.SearchStrategy[str]:
    """Texts of GSM-7 characters, extension-table ones included (long enough to split)."""
    alphabet = sorted(GSM7_BASIC | GSM7_EXTENSION)
    return st.text(alphabet=st.sampled_from(alphabet), max_size=max_size)


@st.composite
def sms_texts(draw: st.DrawFn, *, max_size: int = 400) -> str:
    """Any text an SMS might carry: GSM-7, Vietnamese (NFC or NFD), emoji, mixtures."""
    kind = draw(st.sampled_from(["gsm", "vi", "any", "mixed"]))
    if kind == "gsm":
        return draw(gsm7_texts(max_size=max_size))
    if kind == "vi":
        words = draw(st.lists(st.sampled_from(_VN_WORDS), max_size=max_size // 6))
        text = " ".join(words)
        form = draw(st.sampled_from(["NFC", "NFD"]))
        return unicodedata.normalize(form, text)[:max_size]  # type: ignore[arg-type]
    if kind == "any":
        # Control characters (other than line breaks) are refused by OutboxMessage.
        chars = st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\r")
        return draw(st.text(alphabet=chars, max_size=max_size))
    parts = draw(
        st.lists(
            st.one_of(gsm7_texts(max_size=50), st.sampled_from([*_VN_WORDS, "😀", "€", "𝄞"])),
            max_size=20,
        )
    )
    return "".join(parts)[:max_size]


def vaccine_groups() -> st.SearchStrategy[str]:
    """Vaccine group names as Vietnam's EPI packs name them."""
    return st.sampled_from(_GROUPS)


def local_instants(
    *, lo: dt.date = dt.date(2024, 1, 1), hi: dt.date = dt.date(2028, 12, 31)
) -> st.SearchStrategy[dt.datetime]:
    """Aware instants in Asia/Ho_Chi_Minh, often on a quiet-hours edge (06:59, 07:00, 21:00)."""
    from immreg.services import LOCAL_TZ

    times = st.one_of(
        st.sampled_from(
            [dt.time(6, 59, 59), dt.time(7, 0), dt.time(20, 59, 59), dt.time(21, 0), dt.time(0, 0)]
        ),
        st.times(),
    )
    return st.builds(lambda d, t: dt.datetime.combine(d, t, LOCAL_TZ), dates(lo, hi), times)


@st.composite
def due_summaries(draw: st.DrawFn, *, subject_id: str | None = None) -> DueSummary:
    """A due summary with consistent dates (earliest <= recommended <= past due <= latest)."""
    sid = subject_id if subject_id is not None else draw(identifiers())
    earliest = draw(dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
    recommended = earliest + dt.timedelta(days=draw(st.integers(0, 60)))
    past_due = draw(
        st.none() | st.integers(0, 60).map(lambda n: recommended + dt.timedelta(days=n))
    )
    latest = draw(
        st.none() | st.integers(0, 400).map(lambda n: recommended + dt.timedelta(days=n))
    )
    return DueSummary(
        sid,
        draw(vaccine_groups()),
        draw(st.integers(1, 5)),
        earliest,
        recommended,
        past_due,
        latest,
        tuple(draw(st.lists(identifiers(max_size=12), max_size=3, unique=True))),
    )


@st.composite
def outbox_messages(draw: st.DrawFn) -> OutboxMessage:
    """A valid outbox message in any state."""
    created = draw(local_instants())
    status = draw(st.sampled_from(list(OutboxStatus)))
    sent = status is OutboxStatus.SENT
    return OutboxMessage(
        key=draw(identifiers(max_size=60)),
        to=draw(vietnamese_mobile_numbers().map(_e164)),
        body=draw(sms_texts(max_size=300).map(lambda t: t.replace("\f", "")).filter(bool)),
        created_at=created,
        not_before=created + dt.timedelta(minutes=draw(st.integers(0, 600))),
        subject_id=draw(st.none() | identifiers()),
        episode=draw(st.sampled_from(["", "Sởi#1", "Hib#2;Viêm gan B#3"])),
        kind=draw(st.sampled_from(["before", "session_day", "missed", ""])),
        status=status,
        attempts=draw(st.integers(0, 5)),
        sent_at=created + dt.timedelta(hours=1) if sent else None,
        provider_id=draw(identifiers()) if sent else None,
        last_error=draw(st.none() | st.sampled_from(["provider answered 503", "timeout"])),
    )


def _e164(raw: str) -> str:
    from immreg.model import normalize_phone

    return normalize_phone(raw)
