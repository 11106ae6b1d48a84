"""Load the CDC CDSi supporting data (XML) into the schedule rule model.

The CDC publishes one ``AntigenSupportingData- NAME-508.xml`` per antigen and a
``ScheduleSupportingData.xml`` (live-virus conflicts, CVX to antigen map, vaccine groups,
observations). :func:`load_cdsi` reads a directory of them with the standard library's
``xml.etree`` and returns a :class:`~immreg.schedule.rules.Schedule`. Nothing in the engine
knows that the schedule came from CDSi: the XML vocabulary is translated here, once.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal, cast

import attrs

from immreg.errors import NotFoundError, ValidationError
from immreg.schedule.dates import Duration, parse_date, parse_duration
from immreg.schedule.rules import (
    Antigen,
    AntigenContraindication,
    Condition,
    ConditionalSkip,
    ConditionKind,
    ConditionSet,
    CvxAssociation,
    Immunity,
    Indication,
    Interval,
    LiveVirusConflict,
    Schedule,
    Series,
    SeriesDose,
    SeriesDoseAge,
    SeriesType,
    Sex,
    VaccineContraindication,
    VaccineGroup,
    VaccineRule,
    with_unique_rule_ids,
)

__all__ = ["load_cdsi"]

_SOURCE = "CDC CDSi supporting data"


def _text(el: ET.Element | None, tag: str) -> str:
    if el is None:
        return ""
    child = el.find(tag)
    if child is None or child.text is None:
        return ""
    return child.text.strip()


def _opt(el: ET.Element | None, tag: str) -> str | None:
    value = _text(el, tag)
    if value.lower() in ("", "n/a"):
        return None
    return value


def _dur(el: ET.Element | None, tag: str, where: str) -> Duration | None:
    value = _opt(el, tag)
    return None if value is None else parse_duration(value, field=f"{where}.{tag}")


def _date(el: ET.Element | None, tag: str, where: str) -> dt.date | None:
    value = _opt(el, tag)
    return None if value is None else parse_date(value, field=f"{where}.{tag}")


def _yes(el: ET.Element | None, tag: str) -> bool:
    return _text(el, tag).lower() in ("yes", "y", "true")


def _codes(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(part.strip() for part in text.replace(",", ";").split(";") if part.strip())


def _vaccine(el: ET.Element, rule_id: str, where: str, *, preferable: bool) -> VaccineRule:
    return VaccineRule(
        vaccine=_text(el, "cvx"),
        name=_text(el, "vaccineType"),
        begin_age=_dur(el, "beginAge", where),
        end_age=_dur(el, "endAge", where),
        trade_name=_opt(el, "tradeName") if preferable else None,
        mvx=_opt(el, "mvx") if preferable else None,
        volume=_opt(el, "volume") if preferable else None,
        forecast=_text(el, "forecastVaccineType").upper() == "Y",
        rule_id=rule_id,
        source=_SOURCE,
    )


def _interval(el: ET.Element, rule_id: str, where: str, *, allowable: bool) -> Interval:
    base = Interval(
        abs_min=_dur(el, "absMinInt", where),
        min=None if allowable else _dur(el, "minInt", where),
        earliest_rec=None if allowable else _dur(el, "earliestRecInt", where),
        latest_rec=None if allowable else _dur(el, "latestRecInt", where),
        # CDSi writes the interval priority flag as "override" (FORECASTPRIORITY-1).
        priority=_text(el, "intervalPriority").lower() in ("override", "y", "yes"),
        effective=_date(el, "effectiveDate", where),
        cessation=_date(el, "cessationDate", where),
        rule_id=rule_id,
        source=_SOURCE,
    )
    if _text(el, "fromPrevious").upper() == "Y":
        return base
    target = _opt(el, "fromTargetDose")
    if target is not None:
        return attrs.evolve(base, reference="target_dose", target_dose=int(target))
    recent = _opt(el, "fromMostRecent")
    if recent is not None:
        return attrs.evolve(base, reference="most_recent", vaccines=_codes(recent))
    code = _opt(el.find("fromRelevantObs"), "code")
    if code is not None:
        return attrs.evolve(base, reference="observation", observation=code)
    return base


_KINDS: dict[str, ConditionKind] = {
    "age": "age",
    "interval": "interval",
    "vaccine count by age": "vaccine_count_by_age",
    "vaccine count by date": "vaccine_count_by_date",
    "vaccine count by date and age": "vaccine_count_by_date",
    "completed series": "completed_series",
}


def _condition(el: ET.Element, where: str) -> Condition:
    raw = _text(el, "conditionType").lower()
    if raw not in _KINDS:
        raise ValidationError(f"{where}.conditionType", f"unknown condition type {raw!r}")
    logic = _text(el, "doseCountLogic").lower()
    count = _opt(el, "doseCount")
    return Condition(
        kind=_KINDS[raw],
        begin_age=_dur(el, "beginAge", where),
        end_age=_dur(el, "endAge", where),
        start_date=_date(el, "startDate", where),
        end_date=_date(el, "endDate", where),
        interval=_dur(el, "interval", where),
        dose_count=int(count) if count is not None else None,
        dose_type="valid" if _text(el, "doseType").lower() == "valid" else "total",
        count_logic="less" if "less" in logic else "equal" if "equal" in logic else "greater",
        vaccines=_codes(_opt(el, "vaccineTypes")),
        series_groups=_codes(_opt(el, "seriesGroups")),
    )


def _logic(text: str) -> Literal["and", "or"]:
    return "and" if text.strip().lower() == "and" else "or"


def _skip(el: ET.Element, rule_id: str, where: str) -> ConditionalSkip:
    context = _text(el, "context").lower()
    sets = []
    for i, s in enumerate(el.findall("set")):
        sw = f"{where}.set[{i}]"
        sets.append(
            ConditionSet(
                set_id=_text(s, "setID"),
                description=_text(s, "setDescription"),
                logic=_logic(_text(s, "conditionLogic")),
                conditions=tuple(
                    _condition(c, f"{sw}.condition[{j}]")
                    for j, c in enumerate(s.findall("condition"))
                ),
                effective=_date(s, "effectiveDate", sw),
                cessation=_date(s, "cessationDate", sw),
            )
        )
    return ConditionalSkip(
        context=cast(
            Literal["evaluation", "forecast", "both"],
            context if context in ("evaluation", "forecast", "both") else "both",
        ),
        logic=_logic(_text(el, "setLogic")),
        sets=tuple(sets),
        rule_id=rule_id,
        source=_SOURCE,
    )


def _dose(el: ET.Element, series_id: str, number: int, where: str) -> SeriesDose:
    rid = f"{series_id}/dose {number}"
    ages = tuple(
        SeriesDoseAge(
            abs_min=_dur(a, "absMinAge", f"{where}.age"),
            min=_dur(a, "minAge", f"{where}.age"),
            earliest_rec=_dur(a, "earliestRecAge", f"{where}.age"),
            latest_rec=_dur(a, "latestRecAge", f"{where}.age"),
            max=_dur(a, "maxAge", f"{where}.age"),
            effective=_date(a, "effectiveDate", f"{where}.age"),
            cessation=_date(a, "cessationDate", f"{where}.age"),
            rule_id=f"{rid}/age",
            source=_SOURCE,
        )
        for a in el.findall("age")
    )
    intervals = tuple(
        _interval(iv, f"{rid}/interval {k + 1}", f"{where}.interval", allowable=False)
        for k, iv in enumerate(x for x in el.findall("interval") if len(x))
    )
    allowable = tuple(
        _interval(iv, f"{rid}/allowable interval", f"{where}.allowableInterval", allowable=True)
        for iv in el.findall("allowableInterval")
        if len(iv) and _opt(iv, "absMinInt") is not None
    )
    season = el.find("seasonalRecommendation")
    return SeriesDose(
        number=number,
        ages=ages,
        intervals=intervals,
        allowable_intervals=allowable,
        preferable_vaccines=tuple(
            _vaccine(v, f"{rid}/preferable vaccine {_text(v, 'cvx')}", where, preferable=True)
            for v in el.findall("preferableVaccine")
            if _opt(v, "cvx")
        ),
        allowable_vaccines=tuple(
            _vaccine(v, f"{rid}/allowable vaccine {_text(v, 'cvx')}", where, preferable=False)
            for v in el.findall("allowableVaccine")
            if _opt(v, "cvx")
        ),
        inadvertent_vaccines=tuple(
            _text(v, "cvx") for v in el.findall("inadvertentVaccine") if _opt(v, "cvx")
        ),
        skips=tuple(
            _skip(s, f"{rid}/skip {k + 1}", f"{where}.conditionalSkip[{k}]")
            for k, s in enumerate(x for x in el.findall("conditionalSkip") if len(x))
        ),
        recurring=_yes(el, "recurringDose"),
        season_start=_date(season, "startDate", f"{where}.seasonalRecommendation"),
        season_end=_date(season, "endDate", f"{where}.seasonalRecommendation"),
        rule_id=rid,
        source=_SOURCE,
    )


_SERIES_TYPES: dict[str, SeriesType] = {
    "standard": "standard",
    "risk": "risk",
    "evaluation only": "evaluation_only",
}
_SEXES: dict[str, Sex] = {"female": "F", "male": "M", "unknown": "U"}


def _series(el: ET.Element, antigen: str, where: str) -> Series:
    name = _text(el, "seriesName")
    sid = f"{antigen}/{name}"
    sel = el.find("selectSeries")
    return Series(
        name=name,
        antigen=antigen,
        vaccine_group=_text(el, "vaccineGroup"),
        type=_SERIES_TYPES.get(_text(el, "seriesType").lower(), "standard"),
        series_group=_text(sel, "seriesGroup"),
        group_name=_text(sel, "seriesGroupName"),
        priority=_text(sel, "seriesPriority") or "A",
        preference=int(_text(sel, "seriesPreference") or "1"),
        default=_yes(sel, "defaultSeries"),
        product_path=_yes(sel, "productPath"),
        min_age_to_start=_dur(sel, "minAgeToStart", f"{where}.selectSeries"),
        max_age_to_start=_dur(sel, "maxAgeToStart", f"{where}.selectSeries"),
        required_sex=tuple(
            _SEXES[g.text.strip().lower()]
            for g in el.findall("requiredGender")
            if g.text and g.text.strip().lower() in _SEXES
        ),
        equivalent_series_groups=_codes(_opt(el, "equivalentSeriesGroups")),
        indications=tuple(
            Indication(
                observation=_text(ind.find("observationCode"), "code"),
                begin_age=_dur(ind, "beginAge", f"{where}.indication"),
                end_age=_dur(ind, "endAge", f"{where}.indication"),
                description=_text(ind, "description"),
                source=_SOURCE,
            )
            for ind in el.findall("indication")
            if _opt(ind.find("observationCode"), "code")
        ),
        doses=tuple(
            _dose(d, sid, i + 1, f"{where}.seriesDose[{i}]")
            for i, d in enumerate(el.findall("seriesDose"))
        ),
        guidance=_text(el, "seriesAdminGuidance"),
        rule_id=sid,
        source=_SOURCE,
    )


def _antigen(root: ET.Element, where: str) -> Antigen:
    series_els = root.findall("series")
    if not series_els:
        raise ValidationError(f"{where}.series", "an antigen file has no series")
    name = _text(series_els[0], "targetDisease")
    imm = root.find("immunity")
    immunity = None
    if imm is not None and len(imm):
        dob = imm.find("dateOfBirth")
        immunity = Immunity(
            observations=tuple(_text(c, "guidelineCode") for c in imm.findall("clinicalHistory")),
            birth_date_before=_date(dob, "immunityBirthDate", f"{where}.immunity"),
            birth_country=_text(dob, "birthCountry"),
            exclusions=tuple(
                _text(x, "exclusionCode") for x in (dob.findall("exclusion") if dob else [])
            ),
            rule_id=f"{name}/immunity",
            source=_SOURCE,
        )
    ci = root.find("contraindications")
    antigen_ci: list[AntigenContraindication] = []
    vaccine_ci: list[VaccineContraindication] = []
    if ci is not None:
        for c in ci.findall("vaccineGroup/contraindication"):
            code = _text(c, "observationCode")
            antigen_ci.append(
                AntigenContraindication(
                    observation=code,
                    begin_age=_dur(c, "beginAge", f"{where}.contraindications"),
                    end_age=_dur(c, "endAge", f"{where}.contraindications"),
                    text=_text(c, "contraindicationText"),
                    rule_id=f"{name}/contraindication {code}",
                    source=_SOURCE,
                )
            )
        for c in ci.findall("vaccine/contraindication"):
            code = _text(c, "observationCode")
            # One rule per contraindicated vaccine: each has its own ages.
            for v in c.findall("contraindicatedVaccine"):
                cvx = _text(v, "cvx")
                vaccine_ci.append(
                    VaccineContraindication(
                        observation=code,
                        vaccines=(cvx,),
                        begin_age=_dur(v, "beginAge", f"{where}.contraindications"),
                        end_age=_dur(v, "endAge", f"{where}.contraindications"),
                        text=_text(c, "contraindicationText"),
                        rule_id=f"{name}/vaccine contraindication {code}/{cvx}",
                        source=_SOURCE,
                    )
                )
    return Antigen(
        name=name,
        series=tuple(_series(s, name, f"{where}.series[{i}]") for i, s in enumerate(series_els)),
        immunity=immunity,
        contraindications=tuple(antigen_ci),
        vaccine_contraindications=tuple(vaccine_ci),
    )


def load_cdsi(directory: str | Path) -> Schedule:
    """Read a directory of CDSi supporting-data XML into a :class:`Schedule`.

    Args:
        directory: The directory holding ``AntigenSupportingData- *.xml`` and
            ``ScheduleSupportingData.xml``.

    Returns:
        The schedule, named ``"CDC CDSi"``, with the data release when the release notes
        state one.

    Raises:
        NotFoundError: The directory or ``ScheduleSupportingData.xml`` is missing.
        ValidationError: A file is not well-formed XML or holds a value the model rejects;
            the field path starts with the file name.
    """
    root_dir = Path(directory)
    sched_path = root_dir / "ScheduleSupportingData.xml"
    if not sched_path.is_file():
        raise NotFoundError("CDSi supporting data", str(sched_path))
    antigens = []
    for path in sorted(root_dir.glob("AntigenSupportingData- *.xml")):
        antigens.append(_antigen(_parse(path), path.name))
    sched = _parse(sched_path)
    where = sched_path.name
    conflicts = tuple(
        LiveVirusConflict(
            previous=_text(c.find("previous"), "cvx"),
            current=_text(c.find("current"), "cvx"),
            begin=_dur(c, "conflictBeginInterval", where) or Duration(),
            min_end=_dur(c, "minConflictEndInterval", where) or Duration(),
            end=_dur(c, "conflictEndInterval", where) or Duration(),
            rule_id=f"live virus conflict {_text(c.find('previous'), 'cvx')}"
            f"->{_text(c.find('current'), 'cvx')}",
            source=_SOURCE,
        )
        for c in sched.findall("liveVirusConflicts/liveVirusConflict")
    )
    members: dict[str, list[str]] = {}
    for m in sched.findall("vaccineGroupToAntigenMap/vaccineGroupMap"):
        members[_text(m, "name")] = [a.text.strip() for a in m.findall("antigen") if a.text]
    groups = tuple(
        VaccineGroup(
            name=_text(g, "name"),
            antigens=tuple(members.get(_text(g, "name"), ())),
            administer_full=_yes(g, "administerFullVaccineGroup"),
            source=_SOURCE,
        )
        for g in sched.findall("vaccineGroups/vaccineGroup")
    )
    vaccines = tuple(
        CvxAssociation(
            vaccine=_text(m, "cvx"),
            antigen=_text(a, "antigen"),
            begin_age=_dur(a, "associationBeginAge", where),
            end_age=_dur(a, "associationEndAge", where),
            name=_text(m, "shortDescription"),
            rule_id=f"vaccine {_text(m, 'cvx')}/{_text(a, 'antigen')}",
            source=_SOURCE,
        )
        for m in sched.findall("cvxToAntigenMap/cvxMap")
        for a in m.findall("association")
    )
    observations = tuple(
        (_text(o, "observationCode"), _text(o, "observationTitle"))
        for o in sched.findall("observations/observation")
    )
    schedule = Schedule(
        name="CDC CDSi",
        release=_release(root_dir),
        source="CDC Clinical Decision Support for Immunization (CDSi) supporting data",
        antigens=tuple(antigens),
        vaccine_groups=groups,
        vaccines=vaccines,
        conflicts=conflicts,
        observations=observations,
    )
    return with_unique_rule_ids(schedule)


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValidationError(path.name, f"not well-formed XML: {e}") from e


def _release(root_dir: Path) -> str:
    notes = root_dir / "RELEASE-NOTES.txt"
    if notes.is_file():
        head = notes.read_text(encoding="utf-8", errors="replace")[:500]
        found = re.search(r"\b(\d+\.\d+)\b", head)
        if found:
            return found.group(1)
    return root_dir.name.rsplit("-", 1)[-1]
