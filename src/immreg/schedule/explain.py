"""Answer "why is this child due?" in words, from an assessment and its schedule.

:func:`why` turns a vaccine group's forecast, the best series behind it and the
evaluations of the doses that count for it into a few plain lines, each naming the rule
that decided (its ``rule_id``, what it says, and its source). :func:`rule` looks a rule up
by id.
"""

from __future__ import annotations

import attrs

from immreg.schedule.patient import Assessment
from immreg.schedule.rules import (
    ConditionalSkip,
    Interval,
    LiveVirusConflict,
    Schedule,
    SeriesDose,
    SeriesDoseAge,
)

__all__ = ["describe", "rule", "why"]


def _rules(schedule: Schedule) -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(value: object) -> None:
        if attrs.has(type(value)):
            rid = getattr(value, "rule_id", "")
            if rid and rid not in found:
                found[rid] = value
            for a in attrs.fields(type(value)):  # type: ignore[arg-type]
                if a.init:
                    walk(getattr(value, a.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(schedule)
    return found


def rule(schedule: Schedule, rule_id: str) -> object | None:
    """Return the rule object with this ``rule_id`` (first found), or ``None``."""
    table = schedule.index().rules
    if not table:
        table.update(_rules(schedule))
    return table.get(rule_id)


def describe(value: object) -> str:
    """Say what a rule requires, in a short phrase."""
    if isinstance(value, SeriesDoseAge):
        parts = []
        if value.min is not None:
            grace = f" (absolute {value.abs_min})" if value.abs_min != value.min else ""
            parts.append(f"age at least {value.min}{grace}")
        if value.earliest_rec is not None:
            parts.append(f"recommended from {value.earliest_rec}")
        if value.latest_rec is not None:
            parts.append(f"overdue from {value.latest_rec}")
        if value.max is not None:
            parts.append(f"before {value.max}")
        return "; ".join(parts) or "no age limits"
    if isinstance(value, Interval):
        ref = {
            "previous": "the previous dose",
            "target_dose": f"dose {value.target_dose}",
            "most_recent": f"the most recent of {', '.join(value.vaccines)}",
            "observation": f"observation {value.observation}",
        }[value.reference]
        parts = []
        if value.min is not None or value.abs_min is not None:
            least = value.min or value.abs_min
            grace = (
                f" (absolute {value.abs_min})"
                if value.abs_min is not None and value.abs_min != least
                else ""
            )
            parts.append(f"at least {least}{grace} after {ref}")
        if value.earliest_rec is not None:
            parts.append(f"recommended after {value.earliest_rec}")
        if value.latest_rec is not None:
            parts.append(f"overdue after {value.latest_rec}")
        return "; ".join(parts)
    if isinstance(value, LiveVirusConflict):
        return (
            f"{value.current} not from {value.begin} to {value.end} after {value.previous}"
            f" ({value.min_end} after a valid {value.previous})"
        )
    if isinstance(value, ConditionalSkip):
        sets = "; ".join(s.description for s in value.sets if s.description)
        return f"skip ({value.context}): {sets}" if sets else f"skip ({value.context})"
    if isinstance(value, SeriesDose):
        return f"target dose {value.number}"
    name = getattr(value, "name", "")
    return str(name) if name else type(value).__name__


def _cite(schedule: Schedule, rule_id: str) -> str:
    found = rule(schedule, rule_id)
    if found is None:
        return rule_id
    source = getattr(found, "source", "") or schedule.source
    text = describe(found)
    return f"{rule_id} [{text}; source: {source}]" if source else f"{rule_id} [{text}]"


def why(schedule: Schedule, assessment: Assessment, vaccine_group: str) -> list[str]:
    """Explain one vaccine group's forecast in plain lines.

    Args:
        schedule: The schedule the assessment was made with.
        assessment: The result of :func:`immreg.schedule.assess`.
        vaccine_group: The vaccine group to explain, e.g. ``"DTaP/Tdap/Td"``.

    Returns:
        Lines of text: the status and dates with the deciding rule, the best series per
        antigen, and each dose's evaluation with the rule that decided it.
    """
    fc = assessment.forecast_for(vaccine_group)
    if fc is None:
        return [f"{vaccine_group}: not in this schedule"]
    lines: list[str] = []
    status = fc.status.replace("_", " ")
    if fc.status == "not_complete":
        lines.append(f"{vaccine_group}: dose {fc.forecast_dose_number} is next.")
        lines.append(f"  earliest {fc.earliest} ({fc.reason}): {_cite(schedule, fc.rule_id)}")
        lines.append(f"  recommended {fc.recommended}, past due {fc.past_due or '-'}")
        if fc.latest is not None:
            lines.append(f"  latest {fc.latest}")
    else:
        lines.append(f"{vaccine_group}: {status} ({fc.reason}): {_cite(schedule, fc.rule_id)}")
    for s in assessment.series:
        if s.best and s.antigen in fc.antigens:
            nxt = f", dose {s.forecast_dose_number} from {s.earliest}" if s.earliest else ""
            lines.append(f"  {s.antigen}: best series {s.series!r}, {s.status}{nxt}")
    for e in assessment.evaluations:
        if e.vaccine_group == vaccine_group:
            extra = f" ({', '.join(e.reasons)})" if e.reasons else ""
            cited = _cite(schedule, e.rule_id)
            lines.append(f"  dose {e.dose_id} for {e.antigen}: {e.status}{extra} by {cited}")
    return lines
