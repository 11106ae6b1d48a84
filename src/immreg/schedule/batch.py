"""Assess many patients at once: a Python API and the JSON-lines contract.

:func:`assess_many` (and :func:`forecast_many`) run the engine over an iterable of
patients with one schedule, resolved once. :func:`forecast_jsonl` is what
``immreg forecast --schedule SPEC --jsonl`` calls: it reads one JSON object per line and
writes one JSON object per line, in order, flushed after each line.

Input line::

    {"id": "c1", "birth_date": "2024-01-15", "sex": "F", "as_of": "2025-06-01",
     "doses": [{"id": "d1", "date": "2024-03-01", "vaccine": "08", "mvx": null}],
     "observations": [{"code": "055", "date": null}]}

Output line::

    {"id": "c1",
     "doses": [{"id": "d1", "evaluations": [{"antigen": "HepB", "vaccine_group": "HepB",
                                             "status": "valid", "reason": null}]}],
     "vaccine_groups": [{"vaccine_group": "HepB", "status": "not_complete",
                         "forecast_dose_number": 2, "earliest": "2024-03-29",
                         "recommended": "2024-03-29", "past_due": "2024-07-14",
                         "latest": null, "reason": "min_interval"}, ...]}

``id``, ``birth_date``, ``sex``, ``as_of`` and ``doses`` are required; ``observations``
and a dose's ``mvx`` may be left out or null; other keys are ignored. A line that cannot be
assessed (not JSON, a missing or malformed field, a dose before birth or after ``as_of``,
an unknown vaccine code, a repeated dose id) is answered in its place with
``{"id": ..., "error": {"field": ..., "message": ...}}``; the other lines go on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable, Iterator
from typing import Any, TextIO

from immreg.errors import ValidationError
from immreg.schedule.compiled import Compiled
from immreg.schedule.engine import _compiled, assess, forecast_only
from immreg.schedule.lean import assess_lean, forecast_lean
from immreg.schedule.patient import (
    Assessment,
    Dose,
    Observation,
    Patient,
    VaccineGroupForecast,
)
from immreg.schedule.rules import Schedule

__all__ = [
    "assess_many",
    "assessment_to_json",
    "clear_caches",
    "forecast_jsonl",
    "forecast_many",
    "patient_from_json",
]


def assess_many(
    schedule: Schedule,
    items: Iterable[tuple[Patient, dt.date]],
    *,
    vaccine_groups: Collection[str] | None = None,
) -> Iterator[Assessment]:
    """Assess each ``(patient, as_of)`` pair, lazily and in order.

    Args:
        schedule: The schedule (its look-up tables are built once, on first use).
        items: Patients with their assessment dates.
        vaccine_groups: Only these vaccine groups (see :func:`assess`).

    Yields:
        One :class:`Assessment` per item.

    Raises:
        ValidationError: An item's history cannot be assessed (see :func:`assess`).
    """
    schedule.index()
    compiled = _compiled(schedule)
    lean = vaccine_groups is None and bool(compiled.order)
    for patient, as_of in items:
        if lean and not patient.observations:
            yield assess_lean(schedule, compiled, patient, as_of)
        else:
            yield assess(schedule, patient, as_of=as_of, vaccine_groups=vaccine_groups)


def clear_caches(schedule: Schedule) -> None:
    """Empty the engine's caches for a schedule (the per-antigen memo and age tables).

    Results never depend on the caches; benchmarks call this to measure a cold start, and
    a long-running process may call it to give the memory back.
    """
    idx = schedule.index()
    idx.memo.clear()
    for compiled in idx.compiled:
        if isinstance(compiled, Compiled):
            compiled.clear()


def forecast_many(
    schedule: Schedule,
    items: Iterable[tuple[Patient, dt.date]],
    *,
    vaccine_groups: Collection[str] | None = None,
) -> Iterator[tuple[VaccineGroupForecast, ...]]:
    """Like :func:`assess_many`, yielding only the vaccine-group forecasts.

    The lean mode for due lists: every dose is still evaluated, but no per-dose
    explanation is built (:func:`immreg.schedule.engine.forecast_only`), so it runs
    several times faster than :func:`assess_many` and yields the same forecasts.
    """
    schedule.index()
    compiled = _compiled(schedule)
    lean = vaccine_groups is None and bool(compiled.order)
    for patient, as_of in items:
        if lean and not patient.observations:
            yield forecast_lean(schedule, compiled, patient, as_of)
        else:
            yield forecast_only(schedule, patient, as_of=as_of, vaccine_groups=vaccine_groups)


def _date(value: Any, field: str) -> dt.date:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a date written YYYY-MM-DD")
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"{value!r} is not a date written YYYY-MM-DD") from None


def _str(obj: dict[str, Any], key: str, field: str, *, optional: bool = False) -> str | None:
    if key not in obj or obj[key] is None:
        if optional:
            return None
        raise ValidationError(field, "is required")
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty string")
    return value


def patient_from_json(obj: Any) -> tuple[Patient, dt.date]:
    """Validate one input object of the JSON-lines contract.

    Returns:
        The patient and the assessment date.

    Raises:
        ValidationError: A field is missing or malformed; the field path names it
            (``"doses[1].date"``).
    """
    if not isinstance(obj, dict):
        raise ValidationError("$", "each line must be a JSON object")
    birth = _date(obj.get("birth_date"), "birth_date")
    as_of = _date(obj.get("as_of"), "as_of")
    if "sex" not in obj:
        raise ValidationError("sex", "is required ('F', 'M' or 'U')")
    sex = obj["sex"]
    if sex not in ("F", "M", "U"):
        raise ValidationError("sex", "must be 'F', 'M' or 'U'")
    if "doses" not in obj:
        raise ValidationError("doses", "is required (a list, possibly empty)")
    raw_doses = obj["doses"]
    if not isinstance(raw_doses, list):
        raise ValidationError("doses", "must be a list")
    doses = []
    for i, d in enumerate(raw_doses):
        where = f"doses[{i}]"
        if not isinstance(d, dict):
            raise ValidationError(where, "must be an object")
        doses.append(
            Dose(
                id=str(_str(d, "id", f"{where}.id")),
                date=_date(d.get("date"), f"{where}.date"),
                vaccine=str(_str(d, "vaccine", f"{where}.vaccine")),
                mvx=_str(d, "mvx", f"{where}.mvx", optional=True),
            )
        )
    raw_obs = obj.get("observations") or []
    if not isinstance(raw_obs, list):
        raise ValidationError("observations", "must be a list")
    observations = []
    for i, o in enumerate(raw_obs):
        where = f"observations[{i}]"
        if not isinstance(o, dict):
            raise ValidationError(where, "must be an object")
        when = o.get("date")
        observations.append(
            Observation(
                code=str(_str(o, "code", f"{where}.code")),
                date=None if when is None else _date(when, f"{where}.date"),
            )
        )
    if as_of < birth:
        raise ValidationError("as_of", "is before the birth date")
    patient = Patient(birth, sex, tuple(doses), tuple(observations))
    return patient, as_of


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def assessment_to_json(
    subject_id: str, patient: Patient, assessment: Assessment
) -> dict[str, Any]:
    """Render an assessment as one output object of the JSON-lines contract."""
    per_dose: dict[str, list[dict[str, Any]]] = {d.id: [] for d in patient.doses}
    for e in assessment.evaluations:
        per_dose.setdefault(e.dose_id, []).append(
            {
                "antigen": e.antigen,
                "vaccine_group": e.vaccine_group,
                "status": e.status,
                "reason": e.reason,
            }
        )
    return {
        "id": subject_id,
        "doses": [{"id": d.id, "evaluations": per_dose[d.id]} for d in patient.doses],
        "vaccine_groups": [
            {
                "vaccine_group": f.vaccine_group,
                "status": f.status,
                "forecast_dose_number": f.forecast_dose_number,
                "earliest": _iso(f.earliest),
                "recommended": _iso(f.recommended),
                "past_due": _iso(f.past_due),
                "latest": _iso(f.latest),
                "reason": f.reason,
            }
            for f in assessment.forecasts
        ],
    }


def _answer(schedule: Schedule, line: str) -> tuple[dict[str, Any], bool]:
    subject_id: Any = None
    try:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValidationError("$", f"not JSON: {e.msg}") from e
        if isinstance(obj, dict):
            subject_id = obj.get("id")
        if not isinstance(subject_id, str) or not subject_id:
            raise ValidationError("id", "is required and must be a non-empty string")
        patient, as_of = patient_from_json(obj)
        seen: set[str] = set()
        for i, d in enumerate(patient.doses):
            if d.id in seen:
                raise ValidationError(f"doses[{i}].id", f"dose id {d.id!r} is repeated")
            seen.add(d.id)
        assessment = assess(schedule, patient, as_of=as_of)
    except ValidationError as e:
        return {"id": subject_id, "error": {"field": e.field, "message": e.message}}, False
    return assessment_to_json(subject_id, patient, assessment), True


def forecast_jsonl(spec: str, infile: TextIO, outfile: TextIO) -> int:
    """Assess JSON-lines input and write JSON-lines output (the CLI's ``--jsonl`` mode).

    Args:
        spec: Schedule spec for :func:`immreg.schedule.load_schedule`.
        infile: One JSON object per line; blank lines are skipped.
        outfile: Receives one JSON object per input line, in order, flushed each line.

    Returns:
        0 if every line was assessed, 1 if any line was answered with an error.

    Raises:
        NotFoundError: The schedule spec names nothing (before any line is read).
        ValidationError: The schedule file is invalid (before any line is read).
    """
    from immreg.schedule import load_schedule

    schedule = load_schedule(spec)
    schedule.index()
    status = 0
    for line in infile:
        if not line.strip():
            continue
        answer, ok = _answer(schedule, line)
        if not ok:
            status = 1
        outfile.write(json.dumps(answer, ensure_ascii=False, separators=(",", ":")) + "\n")
        outfile.flush()
    return status
