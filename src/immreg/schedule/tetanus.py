"""Tetanus in pregnancy: pregnancy episodes and "protected at birth" per pregnancy.

The five-dose TT/Td series for women is ordinary schedule data (the series
``TT/Td 5-dose (women)`` of the ``vn-epi`` and ``who`` packs, a risk series made relevant
by a ``PREGNANT`` observation). A pregnancy episode is carried by two observations: code
``PREGNANT`` dated when the pregnancy was recorded, and code ``EDD`` dated the expected
delivery date; :func:`episodes` pairs them.

:func:`protected_at_birth` decides, for one pregnancy, whether the newborn is protected
against neonatal tetanus, following WHO's protection-at-birth (PAB) definition and the
duration of protection after each dose in the WHO tetanus vaccines position paper
(Weekly Epidemiological Record 2017, 92(6)): a mother is protected at delivery if she
received

* 5 doses at any time, or
* 4 doses, the last within 10 years, or
* 3 doses, the last within 5 years, or
* 2 doses, the last within 3 years (two doses in this pregnancy included),

counting only valid doses given early enough before delivery to protect (WHO: at least 2
weeks; Vietnam's programme asks for dose 2 at least 1 month before the expected delivery,
``min_days_before_birth=28``). The series never restarts: a late dose continues it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from immreg.schedule.dates import add, parse_duration
from immreg.schedule.patient import Assessment, Observation

__all__ = [
    "EDD",
    "MATERNAL_ANTIGEN",
    "PREGNANT",
    "PregnancyEpisode",
    "Protection",
    "dose_two_deadline",
    "episodes",
    "protected_at_birth",
    "protection_by_episode",
]

#: Observation code: pregnant (dated when the pregnancy was recorded).
PREGNANT = "PREGNANT"
#: Observation code: expected delivery date (dated the EDD).
EDD = "EDD"
#: The antigen of the women's TT/Td series in the bundled packs.
MATERNAL_ANTIGEN = "Tetanus (maternal)"

_SOURCE = (
    "WHO protection-at-birth (PAB) definition; WHO Tetanus vaccines position paper, "
    "WER 2017;92(6): protection lasts about 3 years after dose 2, 5 years after dose 3, "
    "10 years after dose 4 and through the child-bearing years after dose 5"
)
# Doses given, and the years each count of doses protects for (None: for life).
_PROTECTS: tuple[tuple[int, str | None, str], ...] = (
    (5, None, "five_doses"),
    (4, "10 years", "four_doses_within_10_years"),
    (3, "5 years", "three_doses_within_5_years"),
    (2, "3 years", "two_doses_within_3_years"),
)


@attrs.frozen
class PregnancyEpisode:
    """One pregnancy.

    Attributes:
        recorded: When the pregnancy was recorded (the ``PREGNANT`` observation's date).
        expected_delivery: The expected delivery date.
        delivery: The actual delivery date, once known.
    """

    recorded: dt.date
    expected_delivery: dt.date
    delivery: dt.date | None = None

    @property
    def birth(self) -> dt.date:
        """The delivery date if known, else the expected one."""
        return self.delivery or self.expected_delivery


@attrs.frozen
class Protection:
    """Whether the newborn of one pregnancy is protected at birth against tetanus.

    Attributes:
        episode: The pregnancy.
        protected: Whether the mother's doses protect the newborn at birth.
        reason: ``"five_doses"``, ``"four_doses_within_10_years"``,
            ``"three_doses_within_5_years"``, ``"two_doses_within_3_years"``,
            ``"protection_expired"`` (enough doses once, too long ago) or
            ``"too_few_doses"``.
        doses: Valid doses counted (given early enough before the birth).
        last_dose: Date of the last dose counted.
        protected_until: The day protection from the counted doses ends (``None``: for
            life, or no protection).
        source: Citation of the rule.
    """

    episode: PregnancyEpisode
    protected: bool
    reason: str
    doses: int
    last_dose: dt.date | None
    protected_until: dt.date | None
    source: str = _SOURCE


def episodes(observations: Sequence[Observation]) -> tuple[PregnancyEpisode, ...]:
    """Pair each dated ``PREGNANT`` observation with the first ``EDD`` on or after it.

    The ``EDD`` must come before the next ``PREGNANT`` observation; a ``PREGNANT``
    observation without one (or undated) makes no episode.
    """
    pregnant = sorted(o.date for o in observations if o.code == PREGNANT and o.date)
    due = sorted(o.date for o in observations if o.code == EDD and o.date)
    out = []
    for i, start in enumerate(pregnant):
        nxt = pregnant[i + 1] if i + 1 < len(pregnant) else None
        for edd in due:
            # The delivery of one pregnancy comes before the next is recorded.
            if start <= edd and (nxt is None or edd < nxt):
                out.append(PregnancyEpisode(start, edd))
                break
    return tuple(out)


def dose_two_deadline(episode: PregnancyEpisode) -> dt.date:
    """The last day dose 2 can be given at least one calendar month before the birth.

    Vietnam's programme asks for dose 2 at least 1 month before the expected delivery (the
    engine's series cannot express a deadline, so due lists read it here): the latest date
    ``d`` with ``d + 1 month <= birth`` in CDSi date arithmetic.
    """
    month = parse_duration("1 month")
    birth = episode.birth
    d = birth - dt.timedelta(days=31)
    while add(d + dt.timedelta(days=1), month) <= birth:
        d += dt.timedelta(days=1)
    while add(d, month) > birth:
        d -= dt.timedelta(days=1)
    return d


def protected_at_birth(
    valid_doses: Sequence[dt.date],
    episode: PregnancyEpisode,
    *,
    min_days_before_birth: int = 14,
) -> Protection:
    """Decide protection at birth for one pregnancy (pure; see the module docstring).

    Args:
        valid_doses: Dates of the mother's valid TT-containing doses (any order); the
            engine's evaluation of the women's series gives them.
        episode: The pregnancy.
        min_days_before_birth: A dose counts only if given at least this many days before
            the birth (WHO: 14; Vietnam's programme: dose 2 a month before, 28).

    Returns:
        The protection, its reason and the doses counted.
    """
    birth = episode.birth
    cutoff = birth - dt.timedelta(days=min_days_before_birth)
    counted = sorted(d for d in valid_doses if d <= cutoff)
    n = len(counted)
    last = counted[-1] if counted else None
    if last is None or n < 2:
        return Protection(episode, False, "too_few_doses", n, last, None)
    for needed, lasts, reason in _PROTECTS:
        if n >= needed:
            if lasts is None:
                return Protection(episode, True, reason, n, last, None)
            until = add(last, parse_duration(lasts))
            if birth < until:
                return Protection(episode, True, reason, n, last, until)
            return Protection(episode, False, "protection_expired", n, last, until)
    raise AssertionError("unreachable")  # pragma: no cover


def protection_by_episode(
    assessment: Assessment,
    dose_dates: dict[str, dt.date],
    observations: Sequence[Observation],
    *,
    antigen: str = MATERNAL_ANTIGEN,
    min_days_before_birth: int = 14,
) -> tuple[Protection, ...]:
    """Protection at birth for every pregnancy episode of an assessed woman.

    Args:
        assessment: The engine's assessment (the women's series evaluated).
        dose_dates: Date of each dose by id.
        observations: The woman's observations (``PREGNANT`` and ``EDD``).
        antigen: The antigen of the women's series.
        min_days_before_birth: See :func:`protected_at_birth`.

    Returns:
        One :class:`Protection` per episode, oldest first.
    """
    valid = [
        dose_dates[e.dose_id]
        for e in assessment.evaluations
        if e.antigen == antigen and e.status == "valid"
    ]
    return tuple(
        protected_at_birth(valid, ep, min_days_before_birth=min_days_before_birth)
        for ep in episodes(observations)
    )
