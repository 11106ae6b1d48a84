"""Calendar arithmetic for schedule rules (CDSi 4.6 §3.4, rules CALCDT-1 to CALCDT-6).

Schedules state ages and intervals as durations such as ``"6 weeks - 4 days"``,
``"13 months - 4 days"`` or ``"7 years + 4 weeks"``. A duration is added to a date by
adjusting the years first (month and day held), then the months (day held), then the
weeks and days, which are added or subtracted last. A date that does not exist after the
year and month steps moves forward to the first day of the next month, so
``03/31 + 6 months = 10/01`` and ``01/31 + 6 months - 4 days = 07/27``.

Years and months are applied together (a year is twelve months) before the day is checked,
so ``02/29 + 1 year + 1 month`` is ``03/29`` of the next year; the CDSi data never combine
the two in a way where this differs from applying them one after the other, except from a
29 February.

Durations are parsed once, when a schedule is loaded, and kept as :class:`Duration` values
(equal texts share one object); the engine only ever calls :func:`add`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import attrs

from immreg.errors import ValidationError

__all__ = ["Duration", "add", "add_months", "parse_date", "parse_duration"]

_TERM = re.compile(r"\s*([+-])?\s*(\d+)\s*(years?|months?|weeks?|days?)\s*", re.IGNORECASE)


@attrs.frozen
class Duration:
    """A calendar duration in CDSi form: whole years, months and days, each signed.

    Weeks are folded into days (CALCDT-3 adds "the total days"). ``text`` keeps the
    original wording so that a duration can be shown and written back unchanged.

    Attributes:
        years: Years to add (CALCDT-1).
        months: Months to add (CALCDT-2).
        days: Days to add, weeks included (CALCDT-3, CALCDT-4).
        text: The canonical text, e.g. ``"6 weeks - 4 days"``.
    """

    years: int = 0
    months: int = 0
    days: int = 0
    text: str = attrs.field(default="", eq=False, hash=False)
    # Derived once: the day part as a timedelta and the whole-month part, for add().
    delta: dt.timedelta = attrs.field(init=False, eq=False, hash=False, repr=False)
    total_months: int = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "delta", dt.timedelta(days=self.days))
        object.__setattr__(self, "total_months", self.years * 12 + self.months)

    def __str__(self) -> str:
        return self.text or _render(self.years, self.months, self.days)

    def add_to(self, when: dt.date) -> dt.date:
        """Return ``when`` plus this duration (see :func:`add`)."""
        return add(when, self)


def _render(years: int, months: int, days: int) -> str:
    parts: list[str] = []
    for value, unit in ((years, "years"), (months, "months"), (days, "days")):
        if value:
            sign = "-" if value < 0 else "+"
            parts.append(f"{sign} {abs(value)} {unit}")
    if not parts:
        return "0 days"
    first = parts[0]
    text = first[2:] if first.startswith("+") else first
    return " ".join([text, *parts[1:]])


def parse_duration(text: str, *, field: str = "duration") -> Duration:
    """Parse a CDSi-style duration such as ``"6 weeks - 4 days"``.

    Args:
        text: Terms ``N unit`` (years, months, weeks, days; singular or plural) joined
            by ``+`` or ``-``.
        field: Field path to name in the error when the text is not a duration.

    Returns:
        The parsed duration; its ``text`` is the input with whitespace normalised.

    Raises:
        ValidationError: The text is empty or not a sum of duration terms.
    """
    src = text.strip()
    if not src:
        raise ValidationError(field, "a duration is empty; write e.g. '6 weeks - 4 days'")
    years = months = days = 0
    pos = 0
    first = True
    while pos < len(src):
        m = _TERM.match(src, pos)
        if m is None or m.end() == pos or (m.group(1) is None and not first):
            raise ValidationError(
                field, f"{text!r} is not a duration; write e.g. '6 weeks - 4 days'"
            )
        sign = -1 if m.group(1) == "-" else 1
        value = sign * int(m.group(2))
        unit = m.group(3).lower()
        if unit.startswith("year"):
            years += value
        elif unit.startswith("month"):
            months += value
        elif unit.startswith("week"):
            days += 7 * value
        else:
            days += value
        pos = m.end()
        first = False
    canonical = " ".join(src.split())
    # Equal texts share one Duration object: schedules repeat a few hundred durations
    # thousands of times, and the engine caches age dates per Duration object.
    found = _INTERNED.get(canonical)
    if found is None:
        found = _INTERNED[canonical] = Duration(years, months, days, canonical)
    return found


_INTERNED: dict[str, Duration] = {}


def add(when: dt.date, duration: Duration) -> dt.date:
    """Add a duration to a date by the CDSi rules (CDSi 4.6 §3.4, CALCDT-1 to CALCDT-6).

    Args:
        when: The start date (a birth date for ages, a dose date for intervals).
        duration: What to add.

    Returns:
        The computed date.

    Example:
        >>> add(dt.date(2000, 3, 31), parse_duration("6 months"))
        datetime.date(2000, 10, 1)
    """
    months = duration.total_months
    if months:
        # CALCDT-1/2/6: years then months, the day held constant; adding whole years then
        # whole months lands on the same month as adding their total.
        total = when.year * 12 + when.month - 1 + months
        year, month0 = divmod(total, 12)
        day = when.day
        if day > 28 and day > _month_days(year, month0 + 1):
            # CALCDT-5: a date that does not exist moves to the first of the next month.
            when = dt.date(year + 1, 1, 1) if month0 == 11 else dt.date(year, month0 + 2, 1)
        else:
            when = dt.date(year, month0 + 1, day)
    # CALCDT-3/4: weeks and days are added (or subtracted) last, as a total of days.
    return when + duration.delta if duration.days else when


def add_months(when: dt.date, counts: Iterable[int]) -> list[dt.date]:
    """Add each of several month counts to one date (CALCDT-1, -2, -5), in one pass.

    ``add_months(d, [m])[0] == add(d, Duration(months=m))``; an age table needs a birth
    date shifted by every month count of a schedule, and this does them together.

    Example:
        >>> add_months(dt.date(2000, 3, 31), [1, 6, 11])
        [datetime.date(2000, 5, 1), datetime.date(2000, 10, 1), datetime.date(2001, 3, 1)]
    """
    base = when.year * 12 + when.month - 1
    day = when.day
    out = []
    for months in counts:
        year, month0 = divmod(base + months, 12)
        if day > 28 and day > _month_days(year, month0 + 1):
            # CALCDT-5: a date that does not exist moves to the first of the next month.
            out.append(dt.date(year + 1, 1, 1) if month0 == 11 else dt.date(year, month0 + 2, 1))
        else:
            out.append(dt.date(year, month0 + 1, day))
    return out


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_date(text: str, *, field: str = "date") -> dt.date:
    """Parse a date written ``YYYY-MM-DD``, ``YYYYMMDD`` or ``MM/DD/YYYY``.

    Args:
        text: The date text.
        field: Field path to name in the error.

    Raises:
        ValidationError: The text is not a real date in one of those forms.
    """
    s = text.strip()
    try:
        if "/" in s:
            month, day, year = s.split("/")
            return dt.date(int(year), int(month), int(day))
        if len(s) == 8 and s.isdigit():
            return dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
        if len(s) == 10 and s[4] == "-" and s[7] == "-":
            return dt.date.fromisoformat(s)
    except ValueError:
        pass
    raise ValidationError(field, f"{text!r} is not a date; write YYYY-MM-DD")
