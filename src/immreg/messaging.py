"""Text messages: SMS encoding and segments, reminder templates, the outbox and its dispatcher.

Three parts, from the pure to the one with I/O:

* **Encoding.** :func:`sms_encoding` tells whether a text fits the GSM 7-bit default
  alphabet or needs UCS-2, and :func:`segment_count` how many SMS parts it costs, by the
  concatenated-SMS rules of 3GPP TS 23.038 and TS 23.040 (see :class:`SmsInfo`).
  :func:`strip_diacritics` writes Vietnamese without its marks (``"Nguyễn"`` becomes
  ``"Nguyen"``), which turns a 70-characters-a-part UCS-2 message into a 160-character GSM-7
  one.
* **Templates.** :func:`render_reminder` writes a reminder in Vietnamese (with or without
  diacritics) or English; with ``diacritics="auto"`` it drops the marks only where that
  saves segments.
* **Outbox.** :class:`OutboxMessage` is a planned message stored in the same transaction as
  the change that caused it; :func:`dispatch` sends what is due through a
  :class:`~immreg.ports.MessageGateway` with retries and backoff and records the outcome.
  Each message carries an idempotency key to the gateway, so a dispatcher killed between
  the provider's acceptance and the status update sends the same key again, and the
  provider delivers it once.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Literal

import attrs

from immreg.errors import BackendError, ValidationError
from immreg.ports import Backend, Clock, Message, MessageGateway, UnitOfWork

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "DispatchReport",
    "Language",
    "OutboxMessage",
    "OutboxStatus",
    "QuietHours",
    "RetryPolicy",
    "SmsEncoding",
    "SmsInfo",
    "dispatch",
    "render_reminder",
    "segment_count",
    "sms_encoding",
    "sms_info",
    "strip_diacritics",
]

# --- encoding -------------------------------------------------------------------------------

#: The GSM 7-bit default alphabet (3GPP TS 23.038, section 6.2.1): one septet each.
#: Written out from the standard's table, row by row (0x00-0x7F); 0x1B is the escape to the
#: extension table and is not a character of its own.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The default alphabet extension table (3GPP TS 23.038, section 6.2.1.1): each is sent as
#: ESC plus one septet, so it counts two. (0x0A, the page break, is left out: a text's
#: line feed is the basic table's.)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Octets in one SMS user data field: 140, i.e. 160 septets or 70 UCS-2 code units. A part of
# a concatenated message gives 6 octets to the user data header (TS 23.040, 9.2.3.24.1:
# 8-bit reference IE), leaving 153 septets (134 octets = 153.1 septets) or 67 code units.
_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


class SmsEncoding(enum.Enum):
    """The data coding an SMS needs (3GPP TS 23.038, section 4)."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@attrs.frozen
class SmsInfo:
    """How a text travels as SMS.

    Attributes:
        encoding: GSM-7 if every character is in the default alphabet or its extension
            table, UCS-2 otherwise.
        units: Length in septets (GSM-7: extension characters count 2) or in UTF-16 code
            units (UCS-2: a character outside the Basic Multilingual Plane counts 2).
        segments: SMS parts: GSM-7 160 in one part, else 153 a part; UCS-2 70, else 67. An
            extension character's two septets, or a surrogate pair, never straddle parts.
    """

    encoding: SmsEncoding
    units: int
    segments: int


_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def sms_encoding(text: str) -> SmsEncoding:
    """GSM-7 if every character of ``text`` has a GSM 7-bit code, else UCS-2."""
    return SmsEncoding.GSM7 if _GSM7_ALL.issuperset(text) else SmsEncoding.UCS2


def _pack(widths: Sequence[int], single: int, part: int) -> int:
    total = sum(widths)
    if total <= single:
        return 1
    # Greedy packing: a two-unit character that does not fit in a part's room moves whole
    # to the next part (TS 23.038 6.1.2.1.1: an escape sequence is never split).
    parts, room = 1, part
    for w in widths:
        if w > room:
            parts += 1
            room = part
        room -= w
    return parts


def sms_info(text: str) -> SmsInfo:
    """The encoding, length in units and number of SMS segments of ``text``.

    An empty text is one (empty) segment.
    """
    encoding = sms_encoding(text)
    if encoding is SmsEncoding.GSM7:
        wide = sum(text.count(ch) for ch in GSM7_EXTENSION)
        single, part = _GSM7_SINGLE, _GSM7_PART
    else:
        # UTF-16 code units: a character outside the BMP is a surrogate pair.
        wide = len(text.encode("utf-16-le")) // 2 - len(text)
        single, part = _UCS2_SINGLE, _UCS2_PART
    units = len(text) + wide
    if units <= single:
        return SmsInfo(encoding, units, 1)
    if not wide:
        return SmsInfo(encoding, units, -(-units // part))
    widths = [2 if (ch in GSM7_EXTENSION or ord(ch) > 0xFFFF) else 1 for ch in text]
    return SmsInfo(encoding, units, _pack(widths, single, part))


def segment_count(text: str) -> int:
    """How many SMS parts ``text`` is sent as (see :class:`SmsInfo`)."""
    return sms_info(text).segments


# Combining Diacritical Marks (U+0300-U+036F): every mark Vietnamese uses, tone and vowel.
_COMMON_MARKS = re.compile("[\u0300-\u036f]")


def strip_diacritics(text: str) -> str:
    """Vietnamese (or any Latin text) without its diacritics: ``"Nguyễn Đức"`` -> ``"Nguyen Duc"``.

    Decomposes to NFD and drops combining marks (Unicode category ``Mn``); đ/Đ, which have
    no decomposition (their stroke is part of the letter), become d/D. Other characters are
    kept as they are.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    if decomposed.isascii():
        return decomposed
    kept = _COMMON_MARKS.sub("", decomposed)
    if not kept.isascii():
        kept = _nonspacing_marks().sub("", kept)
    return unicodedata.normalize("NFC", kept)


@functools.cache
def _nonspacing_marks() -> re.Pattern[str]:
    # Every character of Unicode category Mn, as one regex class: built on first use (a
    # scan of the code space, ~0.2 s), then one C-level substitution per text.
    ranges: list[list[int]] = []
    for c in range(0x110000):
        if unicodedata.category(chr(c)) == "Mn":
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
    body = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{body}]")


# --- templates ------------------------------------------------------------------------------

#: Languages of the reminder templates.
Language = Literal["vi", "en"]


_TEMPLATES: dict[tuple[str, str], str] = {
    ("vi", "before"): "Nhắc lịch tiêm: bé {name} cần tiêm {vaccines} ngày {date} tại {place}.",
    ("vi", "session_day"): "Hôm nay ({date}) bé {name} có lịch tiêm {vaccines} tại {place}.",
    ("vi", "missed"): (
        "Bé {name} chưa tiêm {vaccines} (hẹn ngày {date}). Mời gia đình đưa bé đến {place}."
    ),
    ("en", "before"): "Reminder: {name} is due for {vaccines} on {date} at {place}.",
    ("en", "session_day"): "Today ({date}) {name} is due for {vaccines} at {place}.",
    ("en", "missed"): "{name} missed {vaccines} (due {date}). Please come to {place}.",
}


def render_reminder(
    kind: str,
    *,
    name: str,
    vaccines: Sequence[str],
    date: dt.date,
    place: str,
    language: Language = "vi",
    diacritics: Literal["auto", "keep", "strip"] = "auto",
) -> str:
    """Write one reminder from its template.

    Args:
        kind: ``"before"``, ``"session_day"`` or ``"missed"``.
        name: The person's name as it should appear.
        vaccines: Vaccine (group) names, joined with commas.
        date: The due or session date, written dd/mm/yyyy (as Vietnamese write dates).
        place: Where to come (the facility's name).
        language: ``"vi"`` or ``"en"``.
        diacritics: ``"keep"`` the marks, ``"strip"`` them, or ``"auto"``: strip them only
            if that makes the message fewer SMS segments (it usually does: with marks
            Vietnamese is UCS-2, 70 characters a part; without, GSM-7, 160).

    Raises:
        ValidationError: Unknown ``kind``, ``language`` or ``diacritics``; no vaccines.
    """
    template = _TEMPLATES.get((language, kind))
    if template is None:
        field = "language" if language not in ("vi", "en") else "kind"
        raise ValidationError(field, f"no reminder template for {language!r}/{kind!r}")
    if diacritics not in ("auto", "keep", "strip"):
        raise ValidationError("diacritics", "must be 'auto', 'keep' or 'strip'")
    if not vaccines:
        raise ValidationError("vaccines", "a reminder names at least one vaccine")
    text = template.format(
        name=name, vaccines=", ".join(vaccines), date=date.strftime("%d/%m/%Y"), place=place
    )
    if diacritics == "keep":
        return text
    plain = strip_diacritics(text)
    if diacritics == "strip" or segment_count(plain) < segment_count(text):
        return plain
    return text


# --- the outbox -----------------------------------------------------------------------------


class OutboxStatus(enum.Enum):
    """Where a planned message stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _aware(_inst: object, attribute: attrs.Attribute[dt.datetime], value: object) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError(attribute.name, "must be a timezone-aware date and time")


def _opt_aware(inst: object, attribute: attrs.Attribute[dt.datetime], value: object) -> None:
    if value is not None:
        _aware(inst, attribute, value)


def _text(limit: int) -> Callable[[object, attrs.Attribute[str], object], None]:
    def check(_inst: object, attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not value:
            raise ValidationError(attribute.name, "is required")
        if len(value) > limit:
            raise ValidationError(attribute.name, f"is longer than {limit} characters")

    return check


# Unicode category Cc (C0 and C1 controls, DEL) but line feed and carriage return.
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")

#: Longest idempotency key, in characters.
MAX_KEY_LENGTH = 200
#: Longest message body, in characters (10 UCS-2 parts).
MAX_BODY_LENGTH = 670


@attrs.frozen
class OutboxMessage:
    """A message planned into the outbox, with its delivery state.

    Attributes:
        key: Idempotency key: the outbox stores one message per key, and the gateway
            delivers one per key.
        to: Recipient phone number, E.164.
        body: Text.
        created_at: When it was planned.
        not_before: Earliest instant it may be sent (after quiet hours).
        subject_id: The person it is about, if any (pending reminders of a person are
            cancelled when a dose makes them moot).
        episode: What the message is about, e.g. the due items it names
            (``"Sởi#1;Rubella#1"``); see :func:`immreg.duelist.episode_of`.
        kind: Free-form kind, e.g. ``"before"``.
        status: Pending, sent, failed (gave up) or cancelled.
        attempts: Send attempts made.
        next_attempt_at: When the dispatcher may try next.
        sent_at: When the provider accepted it.
        provider_id: The provider's id for it.
        last_error: The last failure, in words.
    """

    key: str = attrs.field(validator=_text(MAX_KEY_LENGTH))
    to: str = attrs.field(validator=_text(20))
    body: str = attrs.field(validator=_text(MAX_BODY_LENGTH))
    created_at: dt.datetime = attrs.field(validator=_aware)
    not_before: dt.datetime = attrs.field(validator=_aware)
    subject_id: str | None = None
    episode: str = ""
    kind: str = ""
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: dt.datetime | None = attrs.field(default=None, validator=_opt_aware)
    sent_at: dt.datetime | None = attrs.field(default=None, validator=_opt_aware)
    provider_id: str | None = None
    last_error: str | None = None

    def __attrs_post_init__(self) -> None:
        if _CONTROL.search(self.body):
            # NUL and other control characters are no text to a phone (and PostgreSQL
            # refuses NUL in text columns); line breaks are fine.
            raise ValidationError("body", "must not contain control characters")
        if not self.to.startswith("+") or not self.to[1:].isdigit():
            raise ValidationError("to", "must be a phone number in E.164 form (+84...)")
        if self.next_attempt_at is None:
            object.__setattr__(self, "next_attempt_at", self.not_before)

    @property
    def message(self) -> Message:
        """The message as a gateway takes it."""
        return Message(self.key, self.to, self.body)


@attrs.frozen
class QuietHours:
    """Local hours in which no message is sent (by default 21:00 to 07:00 in Vietnam).

    Attributes:
        start: First quiet minute (local time).
        end: First minute allowed again (local time); may be before ``start`` (overnight).
        tz: The time zone the hours are read in.
    """

    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(7, 0)
    tz: dt.tzinfo = attrs.field(factory=lambda: _local_tz())

    def is_quiet(self, at: dt.datetime) -> bool:
        """Whether the instant ``at`` falls in quiet hours."""
        t = at.astimezone(self.tz).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def next_allowed(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself, or the end of the quiet period it falls in."""
        if not self.is_quiet(at):
            return at
        local = at.astimezone(self.tz)
        end = dt.datetime.combine(local.date(), self.end, self.tz)
        if end <= local:
            end = dt.datetime.combine(local.date() + dt.timedelta(days=1), self.end, self.tz)
        return end


def _local_tz() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


@attrs.frozen
class RetryPolicy:
    """How the dispatcher retries a message the gateway could not send.

    Attributes:
        max_attempts: Attempts before the message is marked failed.
        base_delay: Delay after the first failure; doubled after each further one.
        max_delay: Longest delay between attempts.
    """

    max_attempts: int = 5
    base_delay: dt.timedelta = dt.timedelta(minutes=1)
    max_delay: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after ``attempts`` failed attempts (exponential, capped)."""
        delay: dt.timedelta = self.base_delay * (2 ** max(attempts - 1, 0))
        return min(delay, self.max_delay)


@attrs.frozen
class DispatchReport:
    """What one :func:`dispatch` run did.

    Attributes:
        sent: Messages the provider accepted.
        retried: Failures that will be tried again later.
        failed: Messages given up on after their last attempt.
        skipped: Messages found no longer pending when their turn came (cancelled, or
            sent by another dispatcher).
        quiet: Whether the run stopped because it is quiet hours.
    """

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    quiet: bool = False


def _moot(uow: UnitOfWork, message: OutboxMessage) -> bool:
    # A reminder (immreg.duelist) naming a dose that the person's summaries no longer list.
    from immreg.duelist import ReminderKind, parse_episode

    if message.subject_id is None or message.kind not in {k.value for k in ReminderKind}:
        return False
    due = {(s.vaccine_group, s.dose_number) for s in uow.due.list_for_subject(message.subject_id)}
    return not parse_episode(message.episode) <= due


def dispatch(
    backend: Backend,
    gateway: MessageGateway,
    *,
    clock: Clock,
    retry: RetryPolicy | None = None,
    quiet_hours: QuietHours | None = None,
    limit: int = 1000,
) -> DispatchReport:
    """Send the outbox's due messages through ``gateway`` and record each outcome.

    For each pending message whose ``next_attempt_at`` has come (oldest first, at most
    ``limit``): re-read it in a fresh unit of work (a dose recorded meanwhile may have
    cancelled it; a reminder whose doses the person's due summaries no longer list is
    cancelled here), send it, and commit its new state (sent, to be retried after a backoff,
    or failed). A crash after the provider accepted a message and before its state was
    committed leaves it pending: the next run sends the same idempotency key again, which
    the provider delivers once. Nothing is sent in quiet hours.

    Args:
        backend: Where the outbox is.
        gateway: The provider.
        clock: The time (read before each message, so a long run notices quiet hours).
        retry: Backoff and attempt limit (:class:`RetryPolicy` by default).
        quiet_hours: No sending in these hours (:class:`QuietHours` by default; pass
            ``QuietHours(start=t, end=t)`` to send at any hour).
        limit: Most messages to look at in this run.

    Raises:
        ValidationError: ``limit`` is below 1.
        BackendError: The storage backend failed (the gateway's failures are recorded).
    """
    if limit < 1:
        raise ValidationError("limit", "must be at least 1")
    retry = retry or RetryPolicy()
    quiet = quiet_hours or QuietHours()
    sent = retried = failed = skipped = 0
    now = clock.now()
    if quiet.is_quiet(now):
        return DispatchReport(quiet=True)
    with backend.unit_of_work() as uow:
        batch = [m.key for m in uow.outbox.list_due(now, limit=limit)]
    for key in batch:
        now = clock.now()
        if quiet.is_quiet(now):
            return DispatchReport(sent, retried, failed, skipped, quiet=True)
        with backend.unit_of_work() as uow:
            current = uow.outbox.find(key)
            if current is None or current.status is not OutboxStatus.PENDING:
                skipped += 1
                continue
            if _moot(uow, current):
                # Planned from a summary read just before a dose was recorded elsewhere
                # (the dose's cancellation could not see the uncommitted message).
                uow.outbox.update(
                    attrs.evolve(
                        current,
                        status=OutboxStatus.CANCELLED,
                        last_error="no longer due (dose recorded or record changed)",
                    )
                )
                uow.commit()
                skipped += 1
                continue
            try:
                receipt = gateway.send(current.message)
            except BackendError as e:
                attempts = current.attempts + 1
                gave_up = attempts >= retry.max_attempts
                uow.outbox.update(
                    attrs.evolve(
                        current,
                        attempts=attempts,
                        status=OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING,
                        next_attempt_at=now + retry.delay(attempts),
                        last_error=str(e)[:500],
                    )
                )
                uow.commit()
                failed += gave_up
                retried += not gave_up
                continue
            uow.outbox.update(
                attrs.evolve(
                    current,
                    attempts=current.attempts + 1,
                    status=OutboxStatus.SENT,
                    sent_at=receipt.accepted_at,
                    provider_id=receipt.provider_id,
                    last_error=None,
                )
            )
            uow.commit()
            sent += 1
    return DispatchReport(sent, retried, failed, skipped)
