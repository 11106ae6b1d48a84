"""Tetanus in pregnancy: pregnant women with two or more doses, births protected at birth.

Two WHO indicators of maternal and neonatal tetanus elimination, counted per pregnancy from
the registry's pregnancy episodes (:mod:`immreg.registry.pregnancy`) and the women's TT/Td
doses, as mergeable :class:`~immreg.indicators.Tally` counters of the org unit the woman
lives in on ``as_of`` (so they roll up the effective-dated tree like every other counter):

``maternal:pregnant``
    Pregnancies of the period: episodes started by ``as_of`` whose birth falls in
    ``[period_start, period_end)``. The birth is the end date of an episode that ended by
    ``as_of``, else its expected delivery date (an ongoing pregnancy due in the period
    counts, with the doses she has had so far).
``maternal:td2plus``
    Of those, the pregnancies in which the woman received her second or a later valid dose
    of the TT/Td series: WHO/UNICEF's "TT2+" ("pregnant women who received a second or
    subsequent dose of tetanus-toxoid-containing vaccine during the pregnancy", WHO/UNICEF
    Joint Reporting Form; WHO, *Protecting all against tetanus*, 2019). Doses are numbered
    over the woman's whole life, so a dose 3 given in this pregnancy counts even when doses
    1 and 2 were given years before.
``maternal:live_births``
    Pregnancies of the period that ended in a live birth by ``as_of``.
``maternal:pab``
    Of those, the births protected at birth (PAB) against neonatal tetanus by the mother's
    doses, per WHO's definition as :func:`immreg.schedule.tetanus.protected_at_birth`
    applies it: 2 valid doses with the last within 3 years, 3 within 5, 4 within 10, or 5
    ever, counting only doses given at least ``min_days_before_birth`` days before the
    birth (WHO Tetanus vaccines position paper, WER 2017;92(6)).
``maternal:unprotected:REASON``
    Live births not protected, by reason (``too_few_doses`` or ``protection_expired``).

A dose is *valid* when the schedule engine says so for the women's series (antigen
:data:`~immreg.schedule.tetanus.MATERNAL_ANTIGEN`: ``TT/Td 5-dose (women)`` in the ``vn-epi``
and ``who`` packs), so a dose 2 given less than 4 weeks after dose 1 does not count. The
engine runs in Python, once per woman with a pregnancy in the period, on the data the
unit of work's :class:`~immreg.ports.MaternalRepository` returns: every backend gives the
same numbers by construction, and the repository contract checks the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

import attrs

from immreg.errors import ValidationError
from immreg.indicators import UNASSIGNED, Tally
from immreg.model import AdministeredDose, OrgLevel, Sex, Subject
from immreg.ports import UnitOfWork
from immreg.registry.records import PregnancyEpisode, PregnancyOutcome
from immreg.reports.lines import Line, check_date, check_targets, cut_tree, pct
from immreg.schedule.patient import Dose
from immreg.schedule.rules import Schedule

__all__ = [
    "LIVE_BIRTHS",
    "PAB",
    "PREGNANT",
    "TD2PLUS",
    "MaternalIndicators",
    "MaternalRecord",
    "MaternalReport",
    "MaternalSpec",
    "build_maternal_report",
    "maternal_counters",
    "maternal_table",
    "maternal_tallies",
    "pregnancy_records",
    "unprotected_key",
]

#: Counter: pregnancies of the period.
PREGNANT = "maternal:pregnant"
#: Counter: pregnancies of the period with a second or later valid TT/Td dose in them.
TD2PLUS = "maternal:td2plus"
#: Counter: pregnancies of the period ended by a live birth by ``as_of``.
LIVE_BIRTHS = "maternal:live_births"
#: Counter: live births protected at birth against tetanus.
PAB = "maternal:pab"


def unprotected_key(reason: str) -> str:
    """Counter name: live births not protected at birth, for ``reason``."""
    return f"maternal:unprotected:{reason}"


@attrs.frozen
class MaternalSpec:
    """What a maternal report counts (see the module docstring).

    Attributes:
        as_of: Doses, episode ends and births up to and including this day count; the woman
            is counted where she lives on this day.
        period_start: First day of the period (births on or after it).
        period_end: First day after the period (exclusive).
        min_days_before_birth: A dose protects the newborn only if given at least this
            many days before the birth (WHO: 14; Viet Nam's programme asks for dose 2 a
            month before the expected delivery, 28).
    """

    as_of: dt.date
    period_start: dt.date
    period_end: dt.date
    min_days_before_birth: int = 14

    def __attrs_post_init__(self) -> None:
        for name in ("as_of", "period_start", "period_end"):
            check_date(name, getattr(self, name))
        if self.period_end <= self.period_start:
            raise ValidationError("period_end", "must be after period_start")
        days = self.min_days_before_birth
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 280:
            raise ValidationError("min_days_before_birth", "must be a whole number, 0 to 280")


@attrs.frozen
class MaternalRecord:
    """One pregnancy episode with what a maternal report needs of the woman.

    Attributes:
        episode: The pregnancy.
        birth_date: The woman's date of birth.
        sex: Her recorded sex.
        unit: The org unit she lives in on the report's ``as_of`` (``None``: nowhere known).
        doses: Her doses of products containing the maternal tetanus antigen, given by
            ``as_of`` and not voided, by date then id.
    """

    episode: PregnancyEpisode
    birth_date: dt.date
    sex: Sex
    unit: str | None
    doses: tuple[Dose, ...]


def _anchor(episode: PregnancyEpisode, as_of: dt.date) -> tuple[dt.date, bool]:
    # The birth as known on as_of: the end when it ended by then, else the expected one.
    if episode.ended_on is not None and episode.ended_on <= as_of:
        return episode.ended_on, True
    return episode.expected_delivery, False


def _in_period(episode: PregnancyEpisode, spec: MaternalSpec) -> bool:
    birth, _ = _anchor(episode, spec.as_of)
    return episode.start <= spec.as_of and spec.period_start <= birth < spec.period_end


def pregnancy_records(
    *,
    episodes: Iterable[PregnancyEpisode],
    subjects: Mapping[str, Subject],
    doses: Iterable[AdministeredDose],
    since: dt.date,
    until: dt.date,
    on: dt.date,
    product_codes: Collection[str],
    units: Collection[str] | None = None,
) -> list[MaternalRecord]:
    """The reference selection of :meth:`immreg.ports.MaternalRepository.pregnancy_records`.

    Episodes of women in ``subjects`` started by ``on`` whose expected delivery or end
    falls in ``[since, until)``; with ``units``, only those of women living on ``on`` in one
    of them (:data:`~immreg.indicators.UNASSIGNED` for women with no residence that day).
    Ordered by episode id.
    """
    wanted = None if units is None else set(units)
    picked: list[tuple[PregnancyEpisode, Subject, str | None]] = []
    for e in episodes:
        woman = subjects.get(e.subject_id)
        if woman is None or e.start > on:
            continue
        ends = [e.expected_delivery] + ([e.ended_on] if e.ended_on is not None else [])
        if not any(since <= d < until for d in ends):
            continue
        unit = woman.residence_on(on)
        if wanted is not None and (unit or UNASSIGNED) not in wanted:
            continue
        picked.append((e, woman, unit))
    ids = {w.id for _, w, _ in picked}
    codes = set(product_codes)
    theirs: dict[str, list[AdministeredDose]] = {}
    for d in doses:
        if d.subject_id in ids and not d.voided and d.date <= on and d.product_code in codes:
            theirs.setdefault(d.subject_id, []).append(d)
    out = []
    for e, w, unit in sorted(picked, key=lambda p: p[0].id):
        mine = sorted(theirs.get(w.id, ()), key=lambda d: (d.date, d.id))
        history = tuple(Dose(d.id, d.date, d.product_code) for d in mine)
        out.append(MaternalRecord(e, w.birth_date, w.sex, unit, history))
    return out


def maternal_counters(
    spec: MaternalSpec, episode: PregnancyEpisode, valid: Sequence[tuple[dt.date, int]]
) -> Iterator[str]:
    """The counters one pregnancy adds to, given the woman's valid TT/Td doses.

    Args:
        spec: What is counted.
        episode: The pregnancy.
        valid: ``(date, dose number in the series)`` of each valid dose given by ``as_of``.
    """
    from immreg.schedule import tetanus

    if not _in_period(episode, spec):
        return
    yield PREGNANT
    birth, ended = _anchor(episode, spec.as_of)
    if any(n >= 2 and episode.start <= day <= birth for day, n in valid):
        yield TD2PLUS
    if ended and episode.outcome is PregnancyOutcome.LIVE_BIRTH:
        yield LIVE_BIRTHS
        p = tetanus.protected_at_birth(
            [day for day, _ in valid],
            tetanus.PregnancyEpisode(episode.start, episode.expected_delivery, birth),
            min_days_before_birth=spec.min_days_before_birth,
        )
        yield PAB if p.protected else unprotected_key(p.reason)


def maternal_tallies(
    uow: UnitOfWork,
    spec: MaternalSpec,
    schedule: Schedule,
    *,
    units: Collection[str] | None = None,
) -> dict[str, Tally]:
    """Maternal counters per org unit a woman lives in on ``as_of`` (see the module).

    Args:
        uow: Where the data is (a scoped unit of work counts only women within its scope).
        spec: The period and ``as_of``.
        schedule: The schedule whose women's series decides which doses are valid (e.g.
            ``load_schedule("vn-epi")``).
        units: Only women living in these org units (all when ``None``).
    """
    from immreg.schedule.engine import assess
    from immreg.schedule.patient import Observation, Patient
    from immreg.schedule.tetanus import EDD, MATERNAL_ANTIGEN
    from immreg.schedule.tetanus import PREGNANT as PREGNANT_OBS

    known = schedule.index().vaccines
    groups = [g.name for g in schedule.vaccine_groups if MATERNAL_ANTIGEN in g.antigens]
    codes = {p.code for p in uow.catalogue.list_products() if MATERNAL_ANTIGEN in p.antigens}
    records = uow.maternal.pregnancy_records(
        since=spec.period_start,
        until=spec.period_end,
        on=spec.as_of,
        product_codes=sorted(codes),
        units=units,
    )
    by_woman: dict[str, list[MaternalRecord]] = {}
    for r in records:
        by_woman.setdefault(r.episode.subject_id, []).append(r)
    out: dict[str, dict[str, int]] = {}
    for mine in by_woman.values():
        first = mine[0]
        history = tuple(d for d in first.doses if d.vaccine in known)
        valid: list[tuple[dt.date, int]] = []
        if history and groups:
            observations = tuple(
                o
                for r in mine
                for o in (
                    Observation(PREGNANT_OBS, r.episode.start),
                    Observation(EDD, r.episode.expected_delivery),
                )
            )
            patient = Patient(first.birth_date, first.sex.value, history, observations)
            dates = {d.id: d.date for d in history}
            assessment = assess(schedule, patient, as_of=spec.as_of, vaccine_groups=groups)
            valid = sorted(
                (dates[e.dose_id], e.target_dose or 0)
                for e in assessment.evaluations
                if e.antigen == MATERNAL_ANTIGEN and e.status == "valid"
            )
        for r in mine:
            c = out.setdefault(r.unit or UNASSIGNED, {})
            for key in maternal_counters(spec, r.episode, valid):
                c[key] = c.get(key, 0) + 1
    return {u: Tally(c) for u, c in out.items() if c}


@attrs.frozen
class MaternalIndicators:
    """The maternal indicator values of one tally.

    Attributes:
        tally: The merged counters.
        target: Estimated live births (WHO's denominator for both TT2+ and PAB when the
            registry's own counts are not used), or ``None`` for the registry's counts.
    """

    tally: Tally
    target: int | None = None

    @property
    def pregnant(self) -> int:
        """Pregnancies of the period."""
        return self.tally[PREGNANT]

    @property
    def live_births(self) -> int:
        """Live births of the period."""
        return self.tally[LIVE_BIRTHS]

    @property
    def td2plus(self) -> float | None:
        """Share of pregnancies with a second or later TT/Td dose (TT2+)."""
        d = self.target if self.target is not None else self.tally[PREGNANT]
        return self.tally[TD2PLUS] / d if d else None

    @property
    def protected_at_birth(self) -> float | None:
        """Share of live births protected at birth against tetanus (PAB)."""
        d = self.target if self.target is not None else self.tally[LIVE_BIRTHS]
        return self.tally[PAB] / d if d else None


@attrs.frozen
class MaternalReport:
    """Maternal tetanus indicators per org unit of one level.

    Attributes:
        spec: What was counted.
        on: The day whose tree was used.
        level: The level of the lines.
        rows: One line per org unit of ``level`` open on ``on``.
        total: The line of the unit reported on (``within``), or of everything.
        targets: Estimated live births per org unit, where given.
    """

    spec: MaternalSpec
    on: dt.date
    level: OrgLevel
    rows: tuple[Line, ...]
    total: Line
    targets: Mapping[str, int] = attrs.field(factory=dict)

    def indicators(self, line: Line) -> MaternalIndicators:
        """The indicator values of one line (with its target, if any)."""
        return MaternalIndicators(line.tally, self.targets.get(line.org_unit_id))


def build_maternal_report(
    uow: UnitOfWork,
    spec: MaternalSpec,
    schedule: Schedule,
    *,
    level: OrgLevel,
    within: str | None = None,
    on: dt.date | None = None,
    targets: Mapping[str, int] | None = None,
) -> MaternalReport:
    """TT2+ and protection at birth for every org unit of ``level`` (under ``within``).

    Args:
        uow: Where the data is.
        spec: The period and ``as_of``.
        schedule: Whose women's series decides which doses are valid.
        level: Level of the lines.
        within: Only units under this one (its line is the total); all units otherwise.
        on: The day whose tree to use; ``spec.as_of`` by default.
        targets: Estimated live births per org unit (WHO's denominator); the registry's
            own counts where not given.

    Raises:
        ValidationError: A bad level or target.
        NotFoundError: ``within`` is not an org unit.
    """
    if not isinstance(spec, MaternalSpec):
        raise ValidationError("spec", "must be a MaternalSpec")
    checked = check_targets(targets)
    cut = cut_tree(uow, level=level, within=within, on=on or spec.as_of)
    leaves = maternal_tallies(uow, spec, schedule, units=cut.scope)
    lines = cut.lines(leaves)
    return MaternalReport(spec, cut.on, level, lines.rows, lines.total, checked)


def maternal_table(report: MaternalReport) -> tuple[list[str], list[list[str]]]:
    """The report as a header and lines of text cells (the total last)."""
    head = [
        "org_unit",
        "name",
        "pregnant",
        "TT2+",
        "TT2+ %",
        "live births",
        "protected at birth",
        "PAB %",
        "too few doses",
        "protection expired",
    ]
    body = []
    for line in [*report.rows, report.total]:
        ind = report.indicators(line)
        t = line.tally
        body.append(
            [
                line.org_unit_id,
                line.name,
                str(ind.pregnant),
                str(t[TD2PLUS]),
                pct(ind.td2plus),
                str(ind.live_births),
                str(t[PAB]),
                pct(ind.protected_at_birth),
                str(t[unprotected_key("too_few_doses")]),
                str(t[unprotected_key("protection_expired")]),
            ]
        )
    return head, body
