"""Coverage and dropout reports by level, org unit, period and cohort.

:func:`build_report` asks the unit of work's :class:`~immreg.ports.ReportRepository` for
tallies per leaf (computed where the data lives, the dose's own transaction included) and
merges them up the effective-dated org tree as it stood on a given day, so the same doses
can be reported under Viet Nam's 63 provinces (until 2025-06-30) and its 34 (from
2025-07-01). :func:`render` shows a report as a text table, CSV or JSON::

    spec = ReportSpec(as_of=date(2025, 12, 31), birth_from=date(2024, 1, 1),
                      birth_until=date(2025, 1, 1))
    with backend.unit_of_work() as uow:
        report = build_report(uow, spec, level=OrgLevel.PROVINCE)
    print(render(report, "coverage", "table"))
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from typing import Literal

import attrs

from immreg.errors import NotFoundError, ValidationError
from immreg.indicators import UNASSIGNED, Indicators, ReportSpec, Tally, rollup
from immreg.model import OrgLevel
from immreg.orgunits import OrgTree
from immreg.ports import UnitOfWork
from immreg.schedule.rules import Schedule

__all__ = [
    "KINDS",
    "Report",
    "ReportRow",
    "build_report",
    "format_table",
    "render",
    "table",
]

ReportKind = Literal["coverage", "dropout", "summary", "timeliness"]
#: The kinds of table a report renders as (``timeliness`` needs a report built with a
#: schedule).
KINDS: tuple[ReportKind, ...] = ("coverage", "dropout", "summary", "timeliness")


@attrs.frozen
class ReportRow:
    """One org unit's line of a report.

    Attributes:
        org_unit_id: The unit (or :data:`~immreg.indicators.UNASSIGNED`).
        name: Its display name.
        level: Its level's name (``"province"``...), ``""`` for the unassigned line.
        tally: The merged counters of every leaf under it.
        target: The estimated target population given for it, if any.
    """

    org_unit_id: str
    name: str
    level: str
    tally: Tally
    target: int | None = None

    @property
    def indicators(self) -> Indicators:
        """The indicator values of this line."""
        return Indicators(self.tally, self.target)


@attrs.frozen
class Report:
    """Lines per org unit at one level, and the total of the unit they sit under.

    Attributes:
        spec: What was counted.
        on: The day whose tree was used.
        level: The level of the lines.
        rows: One line per org unit of ``level`` open on ``on``, ordered by id.
        total: The line of the unit reported on (``within``), or of everything.
    """

    spec: ReportSpec
    on: dt.date
    level: OrgLevel
    rows: tuple[ReportRow, ...]
    total: ReportRow


def build_report(
    uow: UnitOfWork,
    spec: ReportSpec,
    *,
    level: OrgLevel,
    within: str | None = None,
    on: dt.date | None = None,
    targets: Mapping[str, int] | None = None,
    schedule: Schedule | None = None,
) -> Report:
    """Report on every org unit of ``level`` (under ``within``), as the tree stood ``on``.

    Args:
        uow: Where the data is.
        spec: The cohort, period and indicators.
        level: Level of the lines (e.g. provinces for a national report).
        within: Only units under this one (its line is the total); all units otherwise.
        on: The day whose tree to use; ``spec.as_of`` by default.
        targets: Estimated target population per org unit (e.g. surviving infants of the
            year from the population office); coverage uses it where given and the
            registry's own cohort count elsewhere.
        schedule: When given, timeliness counters are added (the engine judges every
            child of the units reported on: see :mod:`immreg.reports.timeliness`).

    Raises:
        NotFoundError: ``within`` is not an org unit.
        ValidationError: A target is negative.
    """
    day = on or spec.as_of
    targets = dict(targets or {})
    for unit_id, value in targets.items():
        if not isinstance(value, int) or value < 0:
            raise ValidationError(f"targets[{unit_id}]", "must be a whole number, 0 or more")
    tree = OrgTree(uow.org_units.list_all())
    if within is not None and within not in tree.units:
        raise NotFoundError("org unit", within, field="within")
    units = tree.at_level(level, on=day)
    if within is not None:
        below = tree.subtree(within, on=day)
        units = [u for u in units if u.id in below]
    wanted = [u.id for u in units]
    if within is None:
        leaves = uow.reports.leaf_tallies(spec)
    else:
        wanted.append(within)
        # Only the leaves under ``within`` are computed: a province's report by commune
        # does not count the whole country.
        leaves = uow.reports.leaf_tallies(spec, units=tree.subtree(within, on=day))
    if schedule is not None:
        from immreg.reports.timeliness import timeliness_tallies

        scope = tree.subtree(within, on=day) if within is not None else set(tree.units)
        for unit, extra in timeliness_tallies(uow, spec, schedule, units=scope).items():
            leaves[unit] = leaves.get(unit, Tally.empty()) + extra
    merged = rollup(leaves, tree, on=day, units=wanted)
    rows = tuple(
        ReportRow(u.id, u.name, u.level.value, merged[u.id], targets.get(u.id)) for u in units
    )
    if within is not None:
        top = tree.get(within)
        total = ReportRow(top.id, top.name, top.level.value, merged[within], targets.get(top.id))
    else:
        total = ReportRow(UNASSIGNED, "total", "", Tally.merge(leaves.values()))
    return Report(spec, day, level, rows, total)


# The statuses of immreg.reports.timeliness (not imported: it imports the engine).
_STATUSES = ("too_early", "on_time", "late")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def table(report: Report, kind: ReportKind) -> tuple[list[str], list[list[str]]]:
    """The report as a header and lines of text cells (the total last).

    ``coverage``: the cohort, the denominator and, per antigen and dose, the coverage
    percentage. ``dropout``: per dropout pair, per child and from totals. ``summary``: fully
    immunized, zero-dose, DTP1 coverage, the WHO RED category and the flags.

    Raises:
        ValidationError: ``kind`` is not one of :data:`KINDS`.
    """
    spec = report.spec
    lines = [*report.rows, report.total]
    head = ["org_unit", "name"]
    if kind == "coverage":
        doses = [(a, k) for a, n in spec.antigens for k in range(1, n + 1)]
        head += ["cohort", "denominator", *(f"{a} {k} %" for a, k in doses)]
        body = [
            [
                r.org_unit_id,
                r.name,
                str(r.tally["cohort"]),
                str(r.indicators.denominator),
                *(_pct(r.indicators.coverage(a, k)) for a, k in doses),
            ]
            for r in lines
        ]
    elif kind == "dropout":
        for p in spec.dropout_pairs:
            head += [f"{p.name} per child %", f"{p.name} totals %"]
        body = [
            [
                r.org_unit_id,
                r.name,
                *(
                    cell
                    for p in spec.dropout_pairs
                    for cell in (
                        _pct(r.indicators.dropout_per_child(p)),
                        _pct(r.indicators.dropout_from_totals(p)),
                    )
                ),
            ]
            for r in lines
        ]
    elif kind == "summary":
        head += ["cohort", "fully immunized %", "zero-dose", "DTP1 %", "category", "flags"]
        body = []
        for r in lines:
            ind = r.indicators
            cat = ind.category()
            body.append(
                [
                    r.org_unit_id,
                    r.name,
                    str(r.tally["cohort"]),
                    _pct(ind.fully_immunized),
                    str(ind.zero_dose),
                    _pct(ind.coverage("Pertussis", 1)),
                    "" if cat is None else str(cat),
                    " ".join(ind.flags(spec.dropout_pairs)),
                ]
            )
    elif kind == "timeliness":
        doses = [(a, k) for a, n in spec.antigens for k in range(1, n + 1)]
        head += [f"{a} {k} {st} %" for a, k in doses for st in _STATUSES]
        body = []
        for r in lines:
            cells = [r.org_unit_id, r.name]
            for a, k in doses:
                counts = [r.tally[f"timely:{a}:{k}:{st}"] for st in _STATUSES]
                total = sum(counts)
                cells += [_pct(c / total if total else None) for c in counts]
            body.append(cells)
    else:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    return head, body


def render(
    report: Report, kind: ReportKind, fmt: Literal["table", "csv", "json"] = "table"
) -> str:
    """The report as an aligned text table, CSV, or JSON (a list of objects, numbers as text).

    Raises:
        ValidationError: Unknown ``kind`` or ``fmt``.
    """
    head, body = table(report, kind)
    return format_table(head, body, fmt)


def format_table(
    head: list[str], body: list[list[str]], fmt: Literal["table", "csv", "json"] = "table"
) -> str:
    """Text cells as an aligned text table, CSV, or JSON (a list of objects, numbers as text).

    Raises:
        ValidationError: Unknown ``fmt``.
    """
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(head)
        w.writerows(body)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(
            [dict(zip(head, line, strict=True)) for line in body], ensure_ascii=False
        )
    if fmt != "table":
        raise ValidationError("format", "must be table, csv or json")
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body, strict=True)]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *body]
    ]
    return "\n".join(out) + "\n"
