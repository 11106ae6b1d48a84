"""Due and overdue lists, defaulters and reminder planning: pure functions of ``as_of``.

The schedule engine forecasts, for each vaccine group, the next dose with its earliest,
recommended, past-due and latest dates. :func:`summarize` keeps of that what a due list
needs, one :class:`DueSummary` per group with a dose to come; the registry stores them,
refreshed in the same unit of work as the dose or registration that changes them (see
:mod:`immreg.outreach`), so a session's due list is one indexed query, not a forecast per
child.

:func:`build_due_list` turns the stored summaries of a facility's residents into the
session's :class:`DueList`: who is due or overdue, grouped by vaccine group, with the
demand in doses and vials per product, and the defaulters. :func:`plan_reminders` decides
which reminders a person's caregiver gets on a day (before the due date, on the session day,
after a missed dose), each with an idempotency key naming the person, the due episode and
the kind, so planning twice plans once.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple

import attrs

from immreg.errors import ValidationError
from immreg.messaging import Language, OutboxMessage, QuietHours, render_reminder
from immreg.model import Caregiver, Subject, VaccineProduct
from immreg.schedule import VaccineGroupForecast

__all__ = [
    "DueEntry",
    "DueGroup",
    "DueList",
    "DueRow",
    "DueStatus",
    "DueSummary",
    "ProductDemand",
    "ReminderKind",
    "ReminderPlanner",
    "ReminderPolicy",
    "ReminderTarget",
    "build_due_list",
    "episode_of",
    "parse_episode",
    "plan_reminders",
    "reminder_key",
    "reminder_phone",
    "summarize",
]


@attrs.frozen
class DueSummary:
    """A person's next dose in one vaccine group, as the schedule engine forecast it.

    Attributes:
        subject_id: The person.
        vaccine_group: The vaccine group, named as the schedule names it.
        dose_number: The dose to come (1 for the first).
        earliest: First valid day for it.
        recommended: The day it is due.
        past_due: The day it becomes overdue, if the schedule says.
        latest: Last day it may be given, if any.
        vaccines: Vaccine (product) codes that give it, as the schedule lists them.
    """

    subject_id: str
    vaccine_group: str
    dose_number: int
    earliest: dt.date
    recommended: dt.date
    past_due: dt.date | None = None
    latest: dt.date | None = None
    vaccines: tuple[str, ...] = ()


def summarize(
    subject_id: str, forecasts: Iterable[VaccineGroupForecast]
) -> tuple[DueSummary, ...]:
    """The due summaries of one person from the engine's vaccine-group forecasts.

    Only groups with a next dose to give (status ``not_complete`` with dates) are kept;
    complete, immune, aged-out and not-recommended groups have nothing to remind of.
    """
    out = []
    for f in forecasts:
        if (
            f.status == "not_complete"
            and f.forecast_dose_number is not None
            and f.earliest is not None
            and f.recommended is not None
        ):
            out.append(
                DueSummary(
                    subject_id,
                    f.vaccine_group,
                    f.forecast_dose_number,
                    f.earliest,
                    f.recommended,
                    f.past_due,
                    f.latest,
                    tuple(f.vaccines),
                )
            )
    return tuple(sorted(out, key=lambda s: s.vaccine_group))


class DueRow(NamedTuple):
    """A stored summary, flat, with what a due list shows of its person (a repository result).

    A named tuple, not a frozen class: a commune's due list reads thousands of them per
    request, and a tuple costs a fraction of a frozen class to build and to unpack.

    The first eight fields are a :class:`DueSummary`'s, in its order (``subject_id``,
    ``vaccine_group``, ``dose_number``, ``earliest``, ``recommended``, ``past_due``,
    ``latest``, ``vaccines``); then:

    Attributes:
        name: The person's full name.
        birth_date: Date of birth.
    """

    subject_id: str
    vaccine_group: str
    dose_number: int
    earliest: dt.date
    recommended: dt.date
    past_due: dt.date | None
    latest: dt.date | None
    vaccines: tuple[str, ...]
    name: str
    birth_date: dt.date

    @classmethod
    def of(cls, summary: DueSummary, name: str, birth_date: dt.date) -> DueRow:
        """The row of a stored summary and its person's name and birth date."""
        return cls._make((*attrs.astuple(summary, recurse=False), name, birth_date))

    @property
    def summary(self) -> DueSummary:
        """The stored summary the row holds."""
        return DueSummary(*self[:8])


class DueStatus(enum.Enum):
    """Where a due dose stands on the session day."""

    DUE = "due"
    OVERDUE = "overdue"
    DEFAULTER = "defaulter"


class DueEntry(NamedTuple):
    """One person due for one vaccine group's dose at a session.

    A named tuple (a due list holds thousands; see :class:`DueRow`).

    Attributes:
        subject_id: The person.
        name: Full name.
        birth_date: Date of birth.
        vaccine_group: The group.
        dose_number: The dose due.
        recommended: When it was due.
        past_due: When it became (or becomes) overdue.
        days_overdue: Days since ``past_due`` on the session day (0 if not overdue).
        status: Due, overdue, or defaulter (overdue by the defaulter threshold or more).
        product_code: The product the session would give (first in the catalogue).
    """

    subject_id: str
    name: str
    birth_date: dt.date
    vaccine_group: str
    dose_number: int
    recommended: dt.date
    past_due: dt.date | None
    days_overdue: int
    status: DueStatus
    product_code: str | None


@attrs.frozen
class ProductDemand:
    """What a session needs of one product.

    Attributes:
        product_code: The product.
        doses: Doses to give (one per person, however many groups the product covers).
        vials: Vials to open: ``ceil(doses / doses_per_vial)``.
    """

    product_code: str
    doses: int
    vials: int


@attrs.frozen
class DueGroup:
    """The people due for one vaccine group, ordered by name then id."""

    vaccine_group: str
    entries: tuple[DueEntry, ...]


@attrs.frozen
class DueList:
    """A facility's due list for one session.

    Attributes:
        org_unit_id: The facility (or commune) whose residents are listed.
        session_date: The session day.
        window_end: Last day a dose may be recommended and still be listed.
        groups: Due entries, grouped by vaccine group (ordered by group name).
        demand: Doses and vials per product (ordered by product code).
        defaulters: Entries overdue by the defaulter threshold or more.
        people: How many distinct people are due.
    """

    org_unit_id: str
    session_date: dt.date
    window_end: dt.date
    groups: tuple[DueGroup, ...]
    demand: tuple[ProductDemand, ...]
    defaulters: tuple[DueEntry, ...]
    people: int


def _non_negative(field: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(field, "must be a whole number of days, 0 or more")


_by_name = operator.itemgetter(1, 0)  # a DueEntry's name, then its subject id


def build_due_list(
    rows: Iterable[DueRow],
    *,
    org_unit_id: str,
    session_date: dt.date,
    window_days: int = 0,
    defaulter_days: int = 28,
    products: Mapping[str, VaccineProduct] | None = None,
) -> DueList:
    """The due list of a session from the residents' stored summaries.

    A summary is listed when its dose can be given at the session (``earliest`` on or before
    the session day, ``latest`` not before it) and it is due by the end of the window
    (``recommended`` on or before ``session_date + window_days``). It is overdue when its
    ``past_due`` day has come, and a defaulter when that was ``defaulter_days`` or more
    before the session. Rows are expected to be of residents alive on the session day (the
    repository's query filters them).

    Args:
        rows: Stored summaries of the residents (see ``DueSummaryRepository.list_due``).
        org_unit_id: The facility, for the record.
        session_date: The session day.
        window_days: Days after the session whose due doses are listed too.
        defaulter_days: Days overdue from which a person is a defaulter.
        products: The catalogue, for the product each group's dose is given with and its
            doses per vial. Groups whose vaccines are not in it have no demand line.

    Raises:
        ValidationError: A negative or non-integer window or threshold.
    """
    _non_negative("window_days", window_days)
    _non_negative("defaulter_days", defaulter_days)
    products = products or {}
    window_end = session_date + dt.timedelta(days=window_days)
    by_group: dict[str, list[DueEntry]] = {}
    needs: dict[str, set[str]] = {}
    chosen: dict[tuple[str, ...], str | None] = {}  # the product for each vaccine list
    late: list[tuple[int, str, str, DueEntry]] = []
    listed: set[str] = set()
    due, overdue_, defaulter = DueStatus.DUE, DueStatus.OVERDUE, DueStatus.DEFAULTER
    # One pass, unpacking each row in place: this loop is most of a large commune's list.
    for sid, group, number, earliest, recommended, past_due, latest, vaccines, name, born in rows:
        if earliest > session_date or recommended > window_end:
            continue
        if latest is not None and latest < session_date:
            continue
        if past_due is not None and past_due <= session_date:
            overdue = (session_date - past_due).days
            status = defaulter if overdue >= defaulter_days else overdue_
        else:
            overdue = 0
            status = due
        if vaccines in chosen:
            product = chosen[vaccines]
        else:
            product = chosen[vaccines] = next((v for v in vaccines if v in products), None)
        entry = DueEntry(
            sid, name, born, group, number, recommended, past_due, overdue, status, product
        )
        if group in by_group:
            by_group[group].append(entry)
        else:
            by_group[group] = [entry]
        listed.add(sid)
        if status is defaulter:
            late.append((-overdue, sid, group, entry))
        if product is not None:
            # One pentavalent dose serves three groups: count the person once per product.
            if product in needs:
                needs[product].add(sid)
            else:
                needs[product] = {sid}
    groups = tuple(
        DueGroup(g, tuple(sorted(es, key=_by_name))) for g, es in sorted(by_group.items())
    )
    demand = tuple(
        ProductDemand(code, len(people), math.ceil(len(people) / products[code].doses_per_vial))
        for code, people in sorted(needs.items())
    )
    # Sorted by their leading keys (a person is listed once per group, so no two keys are
    # equal and the entries are never reached), without a key tuple built per item.
    late.sort()
    defaulters = tuple(item[3] for item in late)
    people = len(listed)
    return DueList(org_unit_id, session_date, window_end, groups, demand, defaulters, people)


# --- reminders ------------------------------------------------------------------------------


class ReminderKind(enum.Enum):
    """When a reminder is sent, relative to the due (or session) day."""

    BEFORE = "before"
    SESSION_DAY = "session_day"
    MISSED = "missed"


@attrs.frozen
class ReminderPolicy:
    """How reminders are planned.

    Attributes:
        days_before: The "before" reminder is planned from this many days before the day.
        missed_after_days: The "missed" reminder is planned this many days after the day.
        missed_window_days: ...and no later than this many days after that (a planner run
            after a long outage does not chase old episodes).
        language: Template language.
        diacritics: ``"auto"`` (strip where it saves segments), ``"keep"`` or ``"strip"``.
        quiet_hours: No message is scheduled to go out in these hours.
    """

    days_before: int = 2
    missed_after_days: int = 7
    missed_window_days: int = 30
    language: Language = "vi"
    diacritics: Literal["auto", "keep", "strip"] = "auto"
    quiet_hours: QuietHours = attrs.field(factory=QuietHours)

    def __attrs_post_init__(self) -> None:
        _non_negative("days_before", self.days_before)
        _non_negative("missed_after_days", self.missed_after_days)
        _non_negative("missed_window_days", self.missed_window_days)
        if self.missed_after_days < 1:
            raise ValidationError("missed_after_days", "must be at least 1")


def episode_of(items: Iterable[tuple[str, int]]) -> str:
    """The text naming a due episode's items: ``"Rubella#1;Sởi#1"`` (sorted)."""
    return ";".join(f"{g}#{n}" for g, n in sorted(set(items)))


def parse_episode(episode: str) -> set[tuple[str, int]]:
    """The items of an episode written by :func:`episode_of`."""
    out = set()
    for part in filter(None, episode.split(";")):
        group, _, number = part.rpartition("#")
        out.add((group, int(number)))
    return out


def reminder_key(subject_id: str, day: dt.date, kind: ReminderKind, episode: str) -> str:
    """The idempotency key of a reminder: person, day, kind and a digest of the episode.

    ASCII only (it travels in an HTTP header); the digest makes a smaller episode (one of
    its doses was given) a different message.
    """
    digest = hashlib.sha256(episode.encode("utf-8")).hexdigest()[:12]
    return f"rem:{subject_id}:{day.isoformat()}:{kind.value}:{digest}"


def _kind_on(ahead: int, policy: ReminderPolicy) -> ReminderKind | None:
    # ``ahead``: days from the planning day to the due day (negative once it has passed).
    if ahead == 0:
        return ReminderKind.SESSION_DAY
    if 0 < ahead <= policy.days_before:
        return ReminderKind.BEFORE
    late = -ahead - policy.missed_after_days
    if 0 <= late <= policy.missed_window_days:
        return ReminderKind.MISSED
    return None


@attrs.frozen
class ReminderTarget:
    """A person reminders may be planned for, as a repository reads them for a night's plan.

    Attributes:
        subject_id: The person.
        name: Their full name, for the text.
        to: The phone reminders go to (see :func:`reminder_phone`), or ``None`` when no
            caregiver can be texted.
        summaries: Their stored due summaries that the planning window kept.
    """

    subject_id: str
    name: str
    to: str | None
    summaries: tuple[DueSummary, ...]


def reminder_phone(caregivers: Iterable[Caregiver]) -> str | None:
    """The phone a person's reminders go to: the first caregiver's with a phone who has not
    opted out of text messages, or ``None``."""
    return next((c.phone for c in caregivers if c.phone is not None and not c.sms_opt_out), None)


class ReminderPlanner:
    """Plans the reminders of one day for many people with one policy.

    :func:`plan_reminders` plans for one :class:`~immreg.model.Subject`; a nightly run over a
    whole province builds one planner and calls :meth:`plan` per person, so what is the
    same for everyone (the policy, the day, the instant after quiet hours) is worked out once.

    Args:
        as_of: The planning day.
        at: The planning instant; a message planned in quiet hours waits for their end.
        place: The facility's name, for the text.
        policy: Timing, language and quiet hours.
        session_date: The facility's next session day, if known.
    """

    def __init__(
        self,
        *,
        as_of: dt.date,
        at: dt.datetime,
        place: str,
        policy: ReminderPolicy | None = None,
        session_date: dt.date | None = None,
    ) -> None:
        self.as_of = as_of
        self.at = at
        self.place = place
        self.policy = policy or ReminderPolicy()
        self.session_date = session_date
        self._not_before = self.policy.quiet_hours.next_allowed(at)
        self._today = as_of.toordinal()
        # Days (as ordinals) whose episodes get a reminder today, and its kind: every other
        # day is skipped without building anything.
        p = self.policy
        self._kinds: dict[int, ReminderKind] = {}
        for ahead in range(-(p.missed_after_days + p.missed_window_days), p.days_before + 1):
            kind = _kind_on(ahead, p)
            if kind is not None:
                self._kinds[self._today + ahead] = kind

    @property
    def earliest_day(self) -> dt.date | None:
        """The earliest recommended day a summary can have and still get a reminder today
        (``None`` with a session day: any overdue dose can be given at the session)."""
        if self.session_date is not None:
            return None
        p = self.policy
        return self.as_of - dt.timedelta(days=p.missed_after_days + p.missed_window_days)

    @property
    def latest_day(self) -> dt.date:
        """The latest recommended day a summary can have and still get a reminder today."""
        last = self.as_of + dt.timedelta(days=self.policy.days_before)
        if self.session_date is not None:
            last = max(last, self.session_date)
        return last

    def plan(
        self, subject_id: str, name: str, to: str, summaries: Iterable[DueSummary]
    ) -> list[OutboxMessage]:
        """The reminders of one person (alive, with ``to`` a phone that may be texted).

        See :func:`plan_reminders` for the rules. Returns messages ordered by key.
        """
        as_of = self.as_of
        session = self.session_date
        kinds = self._kinds
        days: dict[dt.date, list[DueSummary]] = {}
        for s in summaries:
            if s.latest is not None and s.latest < as_of:
                continue
            day = s.recommended
            if session is not None and s.earliest <= session and day <= session:
                day = session
            if day.toordinal() in kinds:
                days.setdefault(day, []).append(s)
        if not days:
            return []
        out = []
        for day, items in days.items():
            kind = kinds[day.toordinal()]
            episode = episode_of((s.vaccine_group, s.dose_number) for s in items)
            body = render_reminder(
                kind.value,
                name=name,
                vaccines=sorted({s.vaccine_group for s in items}),
                date=day,
                place=self.place,
                language=self.policy.language,
                diacritics=self.policy.diacritics,
            )
            out.append(
                OutboxMessage(
                    key=reminder_key(subject_id, day, kind, episode),
                    to=to,
                    body=body,
                    created_at=self.at,
                    not_before=self._not_before,
                    subject_id=subject_id,
                    episode=episode,
                    kind=kind.value,
                )
            )
        out.sort(key=lambda m: m.key)
        return out

    def plan_target(self, target: ReminderTarget) -> list[OutboxMessage]:
        """The reminders of a person read by ``DueSummaryRepository.list_targets``
        (nothing when no caregiver can be texted)."""
        if target.to is None:
            return []
        return self.plan(target.subject_id, target.name, target.to, target.summaries)


def plan_reminders(
    subject: Subject,
    summaries: Sequence[DueSummary],
    *,
    as_of: dt.date,
    at: dt.datetime,
    place: str,
    policy: ReminderPolicy | None = None,
    session_date: dt.date | None = None,
) -> list[OutboxMessage]:
    """The reminders a person's caregiver gets on ``as_of``, as outbox messages.

    The person's due doses are grouped by their day: the session day when ``session_date``
    is given and the dose can be given then (earliest on or before it, recommended by it),
    otherwise the recommended day. Each day is one episode, and gets at most one reminder
    of each kind: "before" from ``days_before`` days ahead, "session_day" on the day,
    "missed" from ``missed_after_days`` after it (the summaries are refreshed when a dose is
    recorded, so a given dose is no longer in them). Nothing is planned for a person who
    has died, or who has no caregiver with a phone number who has not opted out.

    Args:
        subject: The person.
        summaries: Their stored due summaries.
        as_of: The planning day.
        at: The planning instant; a message planned in quiet hours waits for their end.
        place: The facility's name, for the text.
        policy: Timing, language and quiet hours.
        session_date: The facility's next session day, if known.

    Returns:
        Outbox messages, one per (episode, kind), ordered by key.
    """
    if subject.deceased_on is not None and subject.deceased_on <= as_of:
        return []
    to = reminder_phone(subject.caregivers)
    if to is None:
        return []
    planner = ReminderPlanner(
        as_of=as_of, at=at, place=place, policy=policy, session_date=session_date
    )
    return planner.plan(subject.id, subject.full_name, to, summaries)
