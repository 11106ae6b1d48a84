"""immreg's own schedule file format: JSON, versioned, one object per rule.

A schedule file is a JSON object::

    {
      "format": "immreg-schedule",
      "version": 1,
      "name": "Vietnam EPI",
      "source": "Circular 10/2024/TT-BYT",
      "antigens": [...],
      "vaccine_groups": [...],
      "vaccines": [...],
      "conflicts": [...],
      "observations": [["001", "Patient seeks protection"], ...]
    }

Every other key mirrors a field of :mod:`immreg.schedule.rules` with the same name;
durations are strings such as ``"6 weeks - 4 days"``, dates are ``"YYYY-MM-DD"``, fields
at their default value may be left out (and are left out by :func:`dump`). Unknown keys
are errors, so a misspelt field never passes silently. ``docs/schedule.md`` lists every
field.

Rule ids: every rule object has a ``rule_id`` that results quote. A rule written without
one gets one derived from where it sits (``"HepB/HepB birth+3/dose 2/interval 1"``), and a
repeated id gets `` #2``, `` #3``... appended, so that ids are unique and stay stable as
long as the file's structure does.

Sources: every rule object (series, series dose, age, interval, vaccine, skip,
immunity, contraindication, conflict) has a ``source`` citation. A rule without its own
``source`` cites the schedule's top-level ``source``; a file with neither is rejected.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
import cattrs
from cattrs.v import format_exception, transform_error

from immreg.errors import FieldError, ValidationError
from immreg.schedule.dates import Duration, parse_duration
from immreg.schedule.rules import Antigen, Schedule, SeriesDose, with_unique_rule_ids

__all__ = ["FORMAT", "VERSION", "dump", "dumps_dict", "load", "loads_dict"]

FORMAT = "immreg-schedule"
VERSION = 1


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, omit_if_default=True)
    conv.register_unstructure_hook(Duration, str)
    conv.register_structure_hook(Duration, _structure_duration)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(dt.date, _structure_date)
    return conv


class _BadValue(ValueError):
    """A value our own hooks rejected; its message is shown as is."""


def _structure_duration(value: Any, _: type) -> Duration:
    if not isinstance(value, str):
        raise _BadValue("a duration must be a string such as '6 weeks - 4 days'")
    try:
        return parse_duration(value)
    except ValidationError as e:
        raise _BadValue(e.message) from e


def _structure_date(value: Any, _: type) -> dt.date:
    if not isinstance(value, str) or len(value) != 10:
        raise _BadValue(f"{value!r} is not a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise _BadValue(f"{value!r} is not a date written YYYY-MM-DD") from e


_CONVERTER = _make_converter()


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _BadValue):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown field(s): {', '.join(sorted(exc.extra_fields))}"
    return format_exception(exc, type_)


def _path(cattrs_path: str) -> str:
    path = cattrs_path.removeprefix("$").removeprefix(".")
    return path or "$"


def loads_dict(data: Any) -> Schedule:
    """Build a schedule from already-parsed JSON data.

    Raises:
        ValidationError: The data is not a version-1 immreg schedule; every problem is
            listed with its field path (``antigens[0].series[1].doses[2].ages[0].min``).
    """
    if not isinstance(data, dict):
        raise ValidationError("$", "a schedule file must hold a JSON object")
    if data.get("format") != FORMAT:
        raise ValidationError("format", f"must be {FORMAT!r}")
    if data.get("version") != VERSION:
        raise ValidationError("version", f"unsupported version {data.get('version')!r}")
    body = {k: v for k, v in data.items() if k not in ("format", "version")}
    try:
        schedule = _CONVERTER.structure(body, Schedule)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as e:
        if isinstance(e, cattrs.BaseValidationError):
            messages = transform_error(e, path="$", format_exception=_format)
        else:
            messages = [f"{_format(e, None)} @ $"]
        errors = []
        for message in messages:
            text, _, where = message.rpartition(" @ ")
            errors.append(FieldError(_path(where), text or message))
        raise ValidationError(errors=errors) from e
    _check_sources(schedule)
    _check_references(schedule)
    return _with_rule_ids(schedule)


def _check_references(schedule: Schedule) -> None:
    """Reject references the engine would silently ignore (names, codes, dose numbers)."""
    problems: list[FieldError] = []
    antigens = {a.name for a in schedule.antigens}
    groups = {g.name: g for g in schedule.vaccine_groups}
    mapped: dict[str, set[str]] = {}
    for i, v in enumerate(schedule.vaccines):
        if v.antigen not in antigens:
            problems.append(FieldError(f"vaccines[{i}].antigen", f"no antigen {v.antigen!r}"))
        mapped.setdefault(v.antigen, set()).add(v.vaccine)
    for i, g in enumerate(schedule.vaccine_groups):
        for j, name in enumerate(g.antigens):
            if name not in antigens:
                problems.append(
                    FieldError(f"vaccine_groups[{i}].antigens[{j}]", f"no antigen {name!r}")
                )
    for i, antigen in enumerate(schedule.antigens):
        for j, series in enumerate(antigen.series):
            where = f"antigens[{i}].series[{j}]"
            if series.antigen != antigen.name:
                problems.append(
                    FieldError(f"{where}.antigen", f"must be {antigen.name!r}, its antigen")
                )
            group = groups.get(series.vaccine_group)
            if group is None or antigen.name not in group.antigens:
                problems.append(
                    FieldError(
                        f"{where}.vaccine_group",
                        f"no vaccine group {series.vaccine_group!r} holding {antigen.name!r}",
                    )
                )
            for k, dose in enumerate(series.doses):
                dw = f"{where}.doses[{k}]"
                if dose.number != k + 1:
                    problems.append(FieldError(f"{dw}.number", f"must be {k + 1}"))
                for m, iv in enumerate((*dose.intervals, *dose.allowable_intervals)):
                    if iv.reference == "target_dose" and not (
                        iv.target_dose is not None and 1 <= iv.target_dose <= k
                    ):
                        problems.append(
                            FieldError(
                                f"{dw}.intervals[{m}].target_dose",
                                f"must name an earlier dose (1 to {k})",
                            )
                        )
                for kind, rules in (
                    ("preferable_vaccines", dose.preferable_vaccines),
                    ("allowable_vaccines", dose.allowable_vaccines),
                ):
                    for m, rule in enumerate(rules):
                        if rule.vaccine not in mapped.get(antigen.name, ()):
                            problems.append(
                                FieldError(
                                    f"{dw}.{kind}[{m}].vaccine",
                                    f"vaccine {rule.vaccine!r} is not mapped to {antigen.name!r}"
                                    " in 'vaccines'",
                                )
                            )
    if problems:
        raise ValidationError(errors=problems)


def _check_sources(schedule: Schedule) -> None:
    if schedule.source:
        return
    missing: list[FieldError] = []

    def walk(value: object, path: str) -> None:
        if attrs.has(type(value)):
            for a in attrs.fields(type(value)):  # type: ignore[arg-type]
                if not a.init:
                    continue
                child = getattr(value, a.name)
                if a.name == "source" and not child:
                    missing.append(FieldError(f"{path}.source".lstrip("."), "cite a source"))
                walk(child, f"{path}.{a.name}")
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk(schedule, "")
    if missing:
        raise ValidationError(errors=missing)


def _with_rule_ids(schedule: Schedule) -> Schedule:
    """Give every rule without a ``rule_id`` one derived from where it sits."""

    def dose_ids(d: SeriesDose, series_id: str) -> SeriesDose:
        rid = d.rule_id or f"{series_id}/dose {d.number}"
        return attrs.evolve(
            d,
            rule_id=rid,
            ages=tuple(attrs.evolve(a, rule_id=a.rule_id or f"{rid}/age") for a in d.ages),
            intervals=tuple(
                attrs.evolve(iv, rule_id=iv.rule_id or f"{rid}/interval {k + 1}")
                for k, iv in enumerate(d.intervals)
            ),
            allowable_intervals=tuple(
                attrs.evolve(iv, rule_id=iv.rule_id or f"{rid}/allowable interval {k + 1}")
                for k, iv in enumerate(d.allowable_intervals)
            ),
            preferable_vaccines=tuple(
                attrs.evolve(v, rule_id=v.rule_id or f"{rid}/preferable vaccine {v.vaccine}")
                for v in d.preferable_vaccines
            ),
            allowable_vaccines=tuple(
                attrs.evolve(v, rule_id=v.rule_id or f"{rid}/allowable vaccine {v.vaccine}")
                for v in d.allowable_vaccines
            ),
            skips=tuple(
                attrs.evolve(sk, rule_id=sk.rule_id or f"{rid}/skip {k + 1}")
                for k, sk in enumerate(d.skips)
            ),
        )

    def antigen_ids(a: Antigen) -> Antigen:
        series = []
        for sr in a.series:
            sid = sr.rule_id or f"{a.name}/{sr.name}"
            series.append(
                attrs.evolve(sr, rule_id=sid, doses=tuple(dose_ids(d, sid) for d in sr.doses))
            )
        immunity = a.immunity
        if immunity is not None and not immunity.rule_id:
            immunity = attrs.evolve(immunity, rule_id=f"{a.name}/immunity")
        return attrs.evolve(
            a,
            series=tuple(series),
            immunity=immunity,
            contraindications=tuple(
                attrs.evolve(c, rule_id=c.rule_id or f"{a.name}/contraindication {c.observation}")
                for c in a.contraindications
            ),
            vaccine_contraindications=tuple(
                attrs.evolve(
                    c, rule_id=c.rule_id or f"{a.name}/vaccine contraindication {c.observation}"
                )
                for c in a.vaccine_contraindications
            ),
        )

    named = attrs.evolve(
        schedule,
        antigens=tuple(antigen_ids(a) for a in schedule.antigens),
        conflicts=tuple(
            attrs.evolve(c, rule_id=c.rule_id or f"live virus conflict {c.previous}->{c.current}")
            for c in schedule.conflicts
        ),
        vaccines=tuple(
            attrs.evolve(v, rule_id=v.rule_id or f"vaccine {v.vaccine}/{v.antigen}")
            for v in schedule.vaccines
        ),
    )
    return with_unique_rule_ids(named)


def dumps_dict(schedule: Schedule) -> dict[str, Any]:
    """Return the JSON-ready dict of a schedule (``format`` and ``version`` first)."""
    body: dict[str, Any] = _CONVERTER.unstructure(schedule)
    return {"format": FORMAT, "version": VERSION, **body}


def load(text: str) -> Schedule:
    """Parse a schedule file's text.

    Raises:
        ValidationError: The text is not JSON (field ``"$"``) or not a valid schedule.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError("$", f"not JSON: {e.msg} at line {e.lineno}") from e
    return loads_dict(data)


def dump(schedule: Schedule, *, indent: int | None = 1) -> str:
    """Write a schedule as file text that :func:`load` reads back equal."""
    return json.dumps(dumps_dict(schedule), ensure_ascii=False, indent=indent)
