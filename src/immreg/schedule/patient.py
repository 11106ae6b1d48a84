"""What the engine reads about a person, and what it answers.

Inputs are :class:`Patient`, :class:`Dose` and :class:`Observation`; outputs are
:class:`DoseEvaluation` (one per dose and antigen), :class:`VaccineGroupForecast` (one per
vaccine group) and :class:`Assessment`, which holds both. Every result carries a machine
reason code and the ``rule_id`` of the schedule rule that decided it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

import attrs

__all__ = [
    "Assessment",
    "Dose",
    "DoseEvaluation",
    "EvaluationStatus",
    "ForecastStatus",
    "Observation",
    "Patient",
    "SeriesOutcome",
    "VaccineGroupForecast",
]

EvaluationStatus = Literal["valid", "not_valid", "extraneous", "sub_standard"]
ForecastStatus = Literal[
    "not_complete", "complete", "immune", "aged_out", "not_recommended", "contraindicated"
]


@attrs.frozen
class Dose:
    """One administered dose.

    Attributes:
        id: The caller's dose id, quoted back in evaluations.
        date: Date administered.
        vaccine: Vaccine code (CVX for CDSi schedules, leading zeros kept: ``"08"``).
        mvx: Manufacturer code, if known.
        condition: A dose condition that makes it sub-standard (e.g. ``"expired"``,
            ``"recalled"``), CDSi 4.6 §6.1; ``None`` for a normal dose.
    """

    id: str
    date: dt.date
    vaccine: str
    mvx: str | None = None
    condition: str | None = None


@attrs.frozen
class Observation:
    """A patient observation (condition, risk, contraindication, evidence of immunity).

    Attributes:
        code: Observation code (CDSi observation codes for CDSi schedules).
        date: When it was observed; ``None`` when unknown (treated as always active).
    """

    code: str
    date: dt.date | None = None


@attrs.frozen
class Patient:
    """The person being assessed.

    Attributes:
        birth_date: Date of birth.
        sex: ``"F"``, ``"M"`` or ``"U"`` (unknown).
        doses: Administered doses, in any order.
        observations: Observations, in any order.
    """

    birth_date: dt.date
    sex: Literal["F", "M", "U"] = "U"
    doses: tuple[Dose, ...] = ()
    observations: tuple[Observation, ...] = ()


class DoseEvaluation(NamedTuple):
    """How one dose was judged for one antigen in the antigen's best series.

    A named tuple, as :class:`SeriesOutcome`: a national batch builds about 30 per child,
    and a tuple costs a third of a frozen class to build (``_replace`` gives a changed
    copy).

    Attributes:
        dose_id: The dose's id.
        antigen: The antigen judged.
        vaccine_group: The vaccine group the antigen is reported under.
        series: The series the dose was evaluated in.
        target_dose: The target dose number it was evaluated against (``None`` when the
            series was already complete).
        status: ``"valid"``, ``"not_valid"``, ``"extraneous"`` or ``"sub_standard"``.
        reason: Machine reason code (``"age_too_young"``, ``"interval_too_soon"``,
            ``"grace_period"``...); ``None`` for a plainly valid dose.
        rule_id: The rule that decided the status.
        reasons: Every reason found (a dose can be both too young and too soon); the
            first, in the order of CDSi chapter 6, is ``reason``.
    """

    dose_id: str
    antigen: str
    vaccine_group: str
    series: str
    target_dose: int | None
    status: EvaluationStatus
    reason: str | None
    rule_id: str
    reasons: tuple[str, ...] = ()


class SeriesOutcome(NamedTuple):
    """The evaluation and forecast of one relevant patient series (for explanations).

    A named tuple (see :class:`DoseEvaluation`).

    Attributes:
        antigen: The antigen.
        series: The series name.
        rule_id: The series' rule id.
        best: Whether it was selected as a best patient series (CDSi 4.6 chapter 8).
        status: Its forecast status.
        forecast_dose_number: The next target dose number, if one is due.
        earliest: Earliest date for the next dose.
        recommended: Recommended date.
        past_due: Past-due date.
        latest: Latest date.
        reason: Reason code for the forecast.
        rule_id_decided: The rule that set the earliest date or the status.
        score: The best-series score, when scored.
    """

    antigen: str
    series: str
    rule_id: str
    best: bool
    status: ForecastStatus
    forecast_dose_number: int | None
    earliest: dt.date | None
    recommended: dt.date | None
    past_due: dt.date | None
    latest: dt.date | None
    reason: str | None
    rule_id_decided: str
    score: int | None = None


class VaccineGroupForecast(NamedTuple):
    """The forecast of one vaccine group (CDSi 4.6 chapter 9).

    A named tuple (see :class:`DoseEvaluation`).

    Attributes:
        vaccine_group: Vaccine-group name, e.g. ``"DTaP/Tdap/Td"``.
        status: ``"not_complete"``, ``"complete"``, ``"immune"``, ``"aged_out"``,
            ``"not_recommended"`` or ``"contraindicated"``.
        forecast_dose_number: Number of the next dose due, when one is due.
        earliest: Earliest date the next dose counts (without the grace period).
        recommended: Recommended date.
        past_due: Date from which the dose is overdue.
        latest: Last date the dose can be given.
        reason: Machine reason code (``"min_age"``, ``"min_interval"``,
            ``"series_complete"``, ``"max_age_exceeded"``...).
        rule_id: The rule that decided the date or the status.
        antigens: The antigens whose series were combined.
        vaccines: Vaccine codes recommended for the next dose.
    """

    vaccine_group: str
    status: ForecastStatus
    forecast_dose_number: int | None
    earliest: dt.date | None
    recommended: dt.date | None
    past_due: dt.date | None
    latest: dt.date | None
    reason: str | None
    rule_id: str
    antigens: tuple[str, ...] = ()
    vaccines: tuple[str, ...] = ()


@attrs.frozen
class Assessment:
    """Everything the engine concluded about one patient on one date.

    Attributes:
        as_of: The assessment date.
        evaluations: One evaluation per dose and antigen, in dose date order.
        forecasts: One forecast per vaccine group, in schedule order.
        series: The relevant patient series whose forecast best-series selection needed
            (always including the best ones), with their outcomes (for "why?" answers).
    """

    as_of: dt.date
    evaluations: tuple[DoseEvaluation, ...]
    forecasts: tuple[VaccineGroupForecast, ...]
    series: tuple[SeriesOutcome, ...] = ()

    def forecast_for(self, vaccine_group: str) -> VaccineGroupForecast | None:
        """Return the forecast of one vaccine group, or ``None`` if the schedule has none."""
        for f in self.forecasts:
            if f.vaccine_group == vaccine_group:
                return f
        return None

    def group_status(self, dose_id: str, vaccine_group: str) -> DoseEvaluation | None:
        """Return one dose's evaluation for a whole vaccine group.

        A combination dose is judged per antigen; for the group, a not-valid antigen makes
        the dose not valid, then sub-standard, then valid, then extraneous.
        """
        found = [
            e
            for e in self.evaluations
            if e.dose_id == dose_id and e.vaccine_group == vaccine_group
        ]
        for status in ("not_valid", "sub_standard", "valid", "extraneous"):
            for e in found:
                if e.status == status:
                    return e
        return None
