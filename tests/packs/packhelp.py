"""Helpers for the pack tests: build patients from visit tables and assess them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from immreg.schedule import Assessment, Dose, Observation, Patient, assess, load_schedule

Visit = tuple[str, Sequence[str]]


def day(text: str) -> dt.date:
    """Parse YYYY-MM-DD."""
    return dt.date.fromisoformat(text)


def patient(
    dob: str,
    visits: Sequence[Visit],
    *,
    sex: str = "F",
    before: str | None = None,
    observations: Sequence[Observation] = (),
) -> Patient:
    """A patient whose doses are the visits' vaccines (only visits before ``before``)."""
    doses = []
    for when, vaccines in visits:
        if before is not None and when >= before:
            continue
        for code in vaccines:
            doses.append(Dose(f"{when}/{code}", day(when), code))
    return Patient(day(dob), sex, tuple(doses), tuple(observations))  # type: ignore[arg-type]


def run(pack: str, p: Patient, as_of: str) -> Assessment:
    """Assess a patient with a bundled pack."""
    return assess(load_schedule(pack), p, as_of=day(as_of))
