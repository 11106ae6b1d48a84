"""Effective-dated schedules: several versions of one programme's schedule as one.

A national schedule is law that changes (Vietnam: Thông tư 38/2017/TT-BYT from 2018-01-01,
10/2024/TT-BYT from 2024-08-01, 52/2025/TT-BYT from 2026-02-15). A registry must judge a
2019 dose by the rules in force in 2019 and forecast today by today's rules, within one
history. :func:`compose` folds dated versions into a single
:class:`~immreg.schedule.rules.Schedule` that the unchanged engine runs:

* every age rule and interval of version *k* gets the effective window of version *k*
  (intersected with its own): the engine picks, per CDSi 4.6 §3.3, the rule in effect on
  the dose date when evaluating and on ``as_of`` when forecasting;
* a target dose (or a whole series) that a later version brings in gets a conditional
  skip, context ``forecast``, in effect before that version's date, and that date as its
  ``season_start``: it is not forecast on an ``as_of`` before the law brought it in,
  and never forecast for a date before it (the engine reports that earliest date with
  reason ``season_start``). A dose given before then is judged against it by the first
  version that has it, so that a dose which meets the rule is credited, not repeated
  (known limit: such an early dose is left out of the forecast *dose number*, as the
  engine does for doses given before a season);
* a target dose that a later version drops gets a skip, context ``both``, in effect from
  then: later doses are not counted for it and it is no longer forecast;
* the other parts (vaccine rules, vaccine groups, the vaccine map, conflicts,
  observations) are the union of the versions; series and antigen settings come from
  the latest version that has them.

Before the first version's date, the first version applies. A version file (a bundled
pack ``NAME.json`` with ``"format": "immreg-schedule-versions"``) lists the versions::

    {"format": "immreg-schedule-versions", "version": 1, "name": "vn-epi",
     "title": "Vietnam EPI (version in force on each date)",
     "versions": [{"effective": "2018-01-01", "pack": "vn-epi-2018", "source": "..."}, ...]}
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import attrs

from immreg.errors import ValidationError
from immreg.schedule.rules import (
    Condition,
    ConditionalSkip,
    ConditionSet,
    Interval,
    Schedule,
    Series,
    SeriesDoseAge,
    SkipContext,
    VaccineGroup,
)

__all__ = [
    "FORMAT",
    "Version",
    "VersionedPack",
    "bundled",
    "compose",
    "in_force",
    "is_version_file",
    "load_versioned",
    "parse_versions",
]

#: The ``format`` tag of a version file.
FORMAT = "immreg-schedule-versions"

_Window = tuple[dt.date | None, dt.date | None]


@attrs.frozen
class Version:
    """One version of a schedule and the date it comes into force.

    Attributes:
        effective: First day the version is in force.
        pack: Name of the bundled pack holding the version.
        source: Citation of the legal text that brought it into force.
    """

    effective: dt.date
    pack: str
    source: str = ""


@attrs.frozen
class VersionedPack:
    """A versioned schedule: its name and dated versions, oldest first.

    Attributes:
        name: The name it is loaded by (``"vn-epi"``).
        title: Human-readable title.
        versions: The versions, by ascending effective date.
    """

    name: str
    title: str
    versions: tuple[Version, ...]

    def in_force(self, on: dt.date) -> Version:
        """Return the version in force on a date (the first one before it starts)."""
        return in_force(self.versions, on)


def in_force(versions: Sequence[Version], on: dt.date) -> Version:
    """Return the version in force on ``on``: the latest one that started on or before it.

    Before the first version's date the first version is returned (the oldest rules are
    the best reading of an older history).
    """
    chosen = versions[0]
    for v in versions:
        if v.effective <= on:
            chosen = v
    return chosen


def parse_versions(text: str) -> VersionedPack:
    """Read a version file.

    Raises:
        ValidationError: The text is not a valid version file; the field path says where.
    """
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError("$", f"not JSON: {e.msg}") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError("format", f"must be {FORMAT!r}")
    if data.get("version") != 1:
        raise ValidationError("version", "must be 1")
    extra = set(data) - {"format", "version", "name", "title", "versions"}
    if extra:
        raise ValidationError(sorted(extra)[0], "is not a field of a version file")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError("name", "is required")
    raw = data.get("versions")
    if not isinstance(raw, list) or not raw:
        raise ValidationError("versions", "must be a non-empty list")
    versions = []
    for i, v in enumerate(raw):
        where = f"versions[{i}]"
        if not isinstance(v, dict) or set(v) - {"effective", "pack", "source"}:
            raise ValidationError(where, "must be an object with effective, pack and source")
        try:
            effective = dt.date.fromisoformat(str(v.get("effective")))
        except ValueError:
            raise ValidationError(f"{where}.effective", "must be a date YYYY-MM-DD") from None
        pack = v.get("pack")
        if not isinstance(pack, str) or not pack:
            raise ValidationError(f"{where}.pack", "is required")
        versions.append(Version(effective, pack, str(v.get("source", ""))))
    for i in range(1, len(versions)):
        if versions[i].effective <= versions[i - 1].effective:
            raise ValidationError(f"versions[{i}].effective", "must be after the previous one")
    return VersionedPack(name, str(data.get("title", name)), tuple(versions))


# --- composition ---------------------------------------------------------------------------


def _later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _earlier(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _clip(effective: dt.date | None, cessation: dt.date | None, window: _Window) -> _Window | None:
    start = _later(effective, window[0])
    end = _earlier(cessation, window[1])
    if start is not None and end is not None and start >= end:
        return None
    return start, end


def _gaps(present: list[_Window], windows: list[_Window]) -> list[_Window]:
    """The windows (of all versions) in which something is absent."""
    return [w for w in windows if w not in present]


def _merge_runs(windows: list[_Window]) -> list[_Window]:
    out: list[_Window] = []
    for w in windows:
        if out and out[-1][1] == w[0]:
            out[-1] = (out[-1][0], w[1])
        else:
            out.append(w)
    return out


def _absence_skip(
    rule_id: str, gaps: list[_Window], source: str, context: SkipContext
) -> ConditionalSkip:
    sets = tuple(
        ConditionSet(
            set_id=str(i + 1),
            description="not in the schedule in force on the reference date",
            # An "age" condition without ages always holds: the set's effective window
            # alone decides.
            conditions=(Condition(kind="age"),),
            effective=start,
            cessation=end,
        )
        for i, (start, end) in enumerate(_merge_runs(gaps))
    )
    return ConditionalSkip(
        context=context, logic="or", sets=sets, rule_id=f"{rule_id}/not in force", source=source
    )


def _dated(items: Sequence[Any], window: _Window) -> list[Any]:
    out = []
    for item in items:
        clipped = _clip(item.effective, item.cessation, window)
        if clipped is not None:
            out.append(attrs.evolve(item, effective=clipped[0], cessation=clipped[1]))
    return out


def _dated_skip(skip: ConditionalSkip, window: _Window) -> ConditionalSkip:
    sets = []
    for cset in skip.sets:
        clipped = _clip(cset.effective, cset.cessation, window)
        if clipped is None:
            # Never in effect: keep the set (so "and" logic still sees it) but make it empty
            # in time.
            clipped = (dt.date(1900, 1, 1), dt.date(1900, 1, 1))
        sets.append(attrs.evolve(cset, effective=clipped[0], cessation=clipped[1]))
    return attrs.evolve(skip, sets=tuple(sets))


def _union(items: Sequence[Any], key: Callable[[Any], Hashable] | None = None) -> tuple[Any, ...]:
    """The items in order, the first of each key kept (versions repeat rules by content)."""
    seen: dict[Hashable, Any] = {}
    for item in items:
        seen.setdefault(item if key is None else key(item), item)
    return tuple(seen.values())


def _same_vaccine(v: Any) -> Hashable:
    return (v.vaccine, v.begin_age, v.end_age, v.mvx, v.trade_name)


def compose(
    name: str,
    versions: Sequence[tuple[dt.date, Schedule]],
    *,
    source: str = "",
    rule_prefix: str | None = None,
) -> Schedule:
    """Fold dated schedule versions into one schedule the engine runs (see the module doc).

    Args:
        name: Name of the composed schedule.
        versions: ``(effective date, schedule)`` pairs, by ascending date.
        source: Citation of the whole; defaults to the versions' sources joined.
        rule_prefix: Prefix of the version-neutral series and target-dose rule ids
            (default: ``name``).

    Returns:
        One schedule in which each rule is in effect while its version is.

    Raises:
        ValidationError: No versions, or dates not in ascending order.
    """
    if not versions:
        raise ValidationError("versions", "at least one version is needed")
    dates = [d for d, _ in versions]
    if any(b <= a for a, b in itertools.pairwise(dates)):
        raise ValidationError("versions", "effective dates must ascend")
    # Version k is in force from its date (the first from the beginning of time) until the
    # next version's date.
    windows: list[_Window] = [
        (None if k == 0 else dates[k], dates[k + 1] if k + 1 < len(dates) else None)
        for k in range(len(dates))
    ]
    schedules = [s for _, s in versions]

    antigen_names = list(dict.fromkeys(a.name for s in schedules for a in s.antigens))
    antigens = []
    for antigen_name in antigen_names:
        present = [
            (k, a) for k, s in enumerate(schedules) for a in s.antigens if a.name == antigen_name
        ]
        latest = present[-1][1]
        series_names = list(dict.fromkeys(se.name for _, a in present for se in a.series))
        series = []
        for series_name in series_names:
            found = [(k, se) for k, a in present for se in a.series if se.name == series_name]
            series.append(_compose_series(rule_prefix or name, antigen_name, found, windows))
        antigens.append(attrs.evolve(latest, series=tuple(series)))

    groups: dict[str, VaccineGroup] = {}
    # The latest version's order first, then groups only older versions had.
    for s in (schedules[-1], *schedules):
        for g in s.vaccine_groups:
            old = groups.get(g.name)
            members = _union((*(old.antigens if old else ()), *g.antigens))
            groups[g.name] = attrs.evolve(g, antigens=members)
    return Schedule(
        name=name,
        release=", ".join(f"{d.isoformat()}: {s.name}" for d, s in versions),
        source=source or "; ".join(s.source for s in schedules if s.source),
        antigens=tuple(antigens),
        vaccine_groups=tuple(groups.values()),
        # The same association or conflict in several versions must count once (a dose
        # would otherwise be organised twice into one antigen).
        vaccines=_union(
            [v for s in schedules for v in s.vaccines],
            lambda v: (v.vaccine, v.antigen, v.begin_age, v.end_age),
        ),
        conflicts=_union(
            [c for s in schedules for c in s.conflicts], lambda c: (c.previous, c.current)
        ),
        observations=_union([o for s in schedules for o in s.observations]),
    )


def _compose_series(
    name: str, antigen: str, found: list[tuple[int, Series]], windows: list[_Window]
) -> Series:
    latest = found[-1][1]
    # Series and target doses get version-neutral ids; ages, intervals and skips keep
    # their version's ids, so a result names the version whose rule decided.
    series_id = f"{name}/{antigen}/{latest.name}"
    numbers = sorted({d.number for _, se in found for d in se.doses})
    doses = []
    for number in numbers:
        per_version = [(k, d) for k, se in found for d in se.doses if d.number == number]
        present = [windows[k] for k, _ in per_version]
        ages: list[SeriesDoseAge] = []
        intervals: list[Interval] = []
        allowable: list[Interval] = []
        skips: list[ConditionalSkip] = []
        for i, (k, d) in enumerate(per_version):
            # The first version that has the target dose also judges doses given before
            # it came into force (its rules reach back to the beginning of time).
            window = (None, windows[k][1]) if i == 0 else windows[k]
            ages += _dated(d.ages, window)
            intervals += _dated(d.intervals, window)
            allowable += _dated(d.allowable_intervals, window)
            skips += [_dated_skip(s, window) for s in d.skips]
        base = per_version[-1][1]
        dose_id = f"{series_id}/dose {number}"
        gaps = _gaps(present, windows)
        season_start: dt.date | None = None
        for _, d in per_version:
            season_start = _later(season_start, d.season_start)
        if gaps:
            first = per_version[0][0]
            since = windows[first][0]
            where = "; ".join(d.source for _, d in per_version[:1])
            before = [g for g in gaps if since is not None and g[1] is not None and g[1] <= since]
            after = [g for g in gaps if g not in before]
            if before:
                # Not forecast while not in force. A dose given before the target dose came
                # into force is still judged against it, by the first version that has it:
                # the registry credits a dose that meets the rule instead of repeating it.
                skips.append(
                    _absence_skip(
                        dose_id,
                        before,
                        f"not in the schedule before {since}; in force from then ({where})",
                        "forecast",
                    )
                )
                # Never forecast it before the law that brought it in (a skip alone would
                # move the forecast on to the next dose, CDSi 4.6 §7.6).
                season_start = _later(season_start, since)
            if after:
                # Dropped by a later version: neither counted nor forecast from then on.
                skips.append(
                    _absence_skip(
                        dose_id, after, f"no longer in the schedule in force ({where})", "both"
                    )
                )
        doses.append(
            attrs.evolve(
                base,
                ages=tuple(ages),
                intervals=tuple(intervals),
                allowable_intervals=tuple(allowable),
                rule_id=dose_id,
                preferable_vaccines=_union(
                    [v for _, d in per_version for v in d.preferable_vaccines], _same_vaccine
                ),
                allowable_vaccines=_union(
                    [v for _, d in per_version for v in d.allowable_vaccines], _same_vaccine
                ),
                inadvertent_vaccines=_union(
                    [v for _, d in per_version for v in d.inadvertent_vaccines]
                ),
                skips=tuple(skips),
                season_start=season_start,
            )
        )
    return attrs.evolve(latest, rule_id=series_id, doses=tuple(doses))


def is_version_file(text: str) -> bool:
    """Whether a pack file's text is a version file rather than a schedule."""
    head = text[:400]
    return FORMAT in head and '"format"' in head


def load_versioned(text: str, load_pack: Callable[[str], Schedule]) -> Schedule:
    """Read a version file and compose its versions (each loaded by ``load_pack``).

    Raises:
        ValidationError: The version file is invalid.
        NotFoundError: A version names a pack that does not exist.
    """
    pack = parse_versions(text)
    return compose(
        pack.title,
        [(v.effective, load_pack(v.pack)) for v in pack.versions],
        rule_prefix=pack.name,
        source="; ".join(f"from {v.effective.isoformat()}: {v.source}" for v in pack.versions),
    )


def bundled(name: str) -> VersionedPack:
    """Read the versions of a bundled versioned pack (``bundled("vn-epi")``).

    Use it to say which circular was in force on a date:
    ``bundled("vn-epi").in_force(dose.date).pack``.

    Raises:
        NotFoundError: No bundled pack has this name, or it is not a version file.
    """
    from pathlib import Path

    from immreg.errors import NotFoundError

    path = Path(__file__).resolve().parent / "packs" / f"{name}.json"
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise NotFoundError("versioned schedule pack", name)
    text = path.read_text(encoding="utf-8")
    if not is_version_file(text):
        raise NotFoundError("versioned schedule pack", name)
    return parse_versions(text)
