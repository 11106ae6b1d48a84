"""Schedule changes for scenarios: move a vaccine to another age.

A scenario is a schedule and a behaviour model. Behaviour changes are methods of
:class:`~immreg.simulate.behaviour.BehaviourModel` (``with_dose``,
``with_extra_dropout``); schedule changes are here, and return an ordinary
:class:`~immreg.schedule.rules.Schedule`, so the exact engine can check the simulation of a
changed schedule as it checks the real one.
"""

from __future__ import annotations

import attrs

from immreg.errors import ValidationError
from immreg.schedule.dates import Duration, parse_duration
from immreg.schedule.rules import Schedule, SeriesDose, SeriesDoseAge

__all__ = ["move_vaccine"]


def _shift(age: SeriesDoseAge, to: Duration) -> SeriesDoseAge:
    def moved(value: Duration | None) -> Duration | None:
        if value is None or age.earliest_rec is None:
            return value if value is None else to
        # Keep the rule's window: latest_rec stays the same distance after the new age.
        return Duration(
            years=to.years + value.years - age.earliest_rec.years,
            months=to.months + value.months - age.earliest_rec.months,
            days=to.days + value.days - age.earliest_rec.days,
        )

    return attrs.evolve(
        age,
        abs_min=to if age.abs_min is not None else None,
        min=to if age.min is not None else None,
        earliest_rec=to if age.earliest_rec is not None else None,
        latest_rec=moved(age.latest_rec),
    )


def move_vaccine(schedule: Schedule, vaccine: str, to: str) -> Schedule:
    """A copy of ``schedule`` in which every target dose given as ``vaccine`` moves age.

    The minimum, absolute minimum and recommended ages of each such target dose (every
    effective-dated version of them) become ``to``; the late date keeps its distance from
    the recommended age. Intervals are unchanged. "MR at 15 months instead of 18" is
    ``move_vaccine(load_schedule("vn-epi"), "MR-MRVAC", "15 months")``.

    Args:
        schedule: The schedule.
        vaccine: The vaccine code whose target doses move (their first preferable vaccine).
        to: The new age, e.g. ``"15 months"``.

    Returns:
        The changed schedule, named ``"NAME (VACCINE at TO)"``.

    Raises:
        ValidationError: ``to`` is not a duration, or no target dose is given as
            ``vaccine`` with an age rule.
    """
    new_age = parse_duration(to, field="to")
    found = 0

    def dose(d: SeriesDose) -> SeriesDose:
        nonlocal found
        if not d.preferable_vaccines or d.preferable_vaccines[0].vaccine != vaccine or not d.ages:
            return d
        found += 1
        return attrs.evolve(d, ages=tuple(_shift(a, new_age) for a in d.ages))

    antigens = tuple(
        attrs.evolve(
            a,
            series=tuple(attrs.evolve(s, doses=tuple(dose(d) for d in s.doses)) for s in a.series),
        )
        for a in schedule.antigens
    )
    if not found:
        raise ValidationError(
            "vaccine", f"no target dose with an age rule is given as {vaccine!r}"
        )
    return attrs.evolve(
        schedule, name=f"{schedule.name} ({vaccine} at {new_age})", antigens=antigens
    )
