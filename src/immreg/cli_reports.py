"""``immreg report coverage|dropout|summary|timeliness|maternal|stock``: reports from a database.

Example: the national report by province for children born in 2024, as of the end of
2025, under the tree of 2025-06-30 (63 provinces)::

    immreg report coverage postgresql+psycopg://registry@db/registry \\
        --level province --born 2024 --as-of 2025-12-31 --tree-on 2025-06-30 --format csv

A district manager's month: pregnant women with two or more TT/Td doses and births
protected at birth, and vaccine usage and wastage from the stock ledger, by commune::

    immreg report maternal URL --level commune --within D1 --year 2025 --as-of 2025-12-31
    immreg report stock URL --level commune --within D1 --month 2025-06

``coverage`` and ``dropout`` also draw a PNG with ``--chart FILE`` (the ``charts`` extra):
coverage by age of the whole report, and dropout per child by unit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any, TextIO

from immreg.errors import ValidationError

__all__ = ["add_report_commands"]


def _date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, "must be a date written YYYY-MM-DD") from None


def _year(value: str, field: str) -> int:
    try:
        year = int(value)
    except ValueError:
        raise ValidationError(field, "must be a year, e.g. 2024") from None
    if not 1900 <= year <= 9998:
        raise ValidationError(field, "must be a year, e.g. 2024")
    return year


def _level(value: str) -> Any:
    from immreg.model import OrgLevel

    try:
        return OrgLevel(value)
    except ValueError:
        raise ValidationError("--level", "must be a level name, e.g. province") from None


def _targets(path: str | None) -> dict[str, int] | None:
    if not path:
        return None
    try:
        targets = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise ValidationError("--targets", f"cannot be read as JSON: {e}") from None
    if not isinstance(targets, dict):
        raise ValidationError("--targets", "must be a JSON object of org unit to number")
    return targets


def _period(args: argparse.Namespace, default_end: dt.date | None) -> tuple[dt.date, dt.date]:
    """``--month`` / ``--year`` or ``--period-start`` and ``--period-end``."""
    month = getattr(args, "month", None)
    year = getattr(args, "year", None)
    if month is not None:
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            raise ValidationError("--month", "must be a month written YYYY-MM") from None
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first, nxt
    if year is not None:
        y = _year(year, "--year")
        return dt.date(y, 1, 1), dt.date(y + 1, 1, 1)
    start = _date(args.period_start, "--period-start")
    end = _date(args.period_end, "--period-end") or default_end
    if start is None:
        raise ValidationError("--period-start", "is required (or --month / --year)")
    if end is None:
        raise ValidationError("--period-end", "is required (or --month / --year)")
    if end <= start:
        raise ValidationError("--period-end", "must be after --period-start")
    return start, end


def _open(url: str) -> Any:
    from immreg.backends import open_backend

    return open_backend(url)


def _coverage_chart(uow: Any, spec: Any, report: Any, within: str | None, path: Path) -> None:
    """Coverage by age of everything the report covers, to a PNG."""
    from immreg.indicators import Tally
    from immreg.orgunits import OrgTree
    from immreg.reports.charts import age_tallies, coverage_by_age_png

    tree = OrgTree(uow.org_units.list_all())
    scope = tree.subtree(within, on=report.on) if within is not None else set(tree.units)
    tally = Tally.merge(age_tallies(uow, spec, units=scope).values())
    born = spec.birth_from.year
    coverage_by_age_png(tally, path, title=f"Coverage by age, born {born}")


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.indicators import ReportSpec
    from immreg.reports import build_report, render

    year = _year(args.born, "--born")
    as_of = _date(args.as_of, "--as-of")
    if as_of is None:
        raise ValidationError("--as-of", "is required")
    level = _level(args.level)
    targets = _targets(args.targets)
    spec = ReportSpec(
        as_of=as_of,
        birth_from=dt.date(year, 1, 1),
        birth_until=dt.date(year + 1, 1, 1),
        period_start=_date(args.period_start, "--period-start") or dt.date(year, 1, 1),
        period_end=_date(args.period_end, "--period-end") or as_of + dt.timedelta(days=1),
    )
    schedule = None
    if args.kind == "timeliness":
        from immreg.schedule import load_schedule

        schedule = load_schedule(args.schedule)
    chart = getattr(args, "chart", None)
    tree_on = _date(args.tree_on, "--tree-on")
    backend = _open(args.url)
    try:
        with backend.unit_of_work() as uow:
            report = build_report(
                uow,
                spec,
                level=level,
                within=args.within,
                on=tree_on,
                targets=targets,
                schedule=schedule,
            )
            if chart and args.kind == "coverage":
                _coverage_chart(uow, spec, report, args.within, Path(chart))
    finally:
        backend.close()
    if chart and args.kind == "dropout":
        from immreg.reports.charts import dropout_png

        dropout_png(report, Path(chart))
    out.write(render(report, args.kind, args.format))
    return 0


def _run_maternal(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.reports import format_table
    from immreg.reports.maternal import MaternalSpec, build_maternal_report, maternal_table
    from immreg.schedule import load_schedule

    as_of = _date(args.as_of, "--as-of")
    if as_of is None:
        raise ValidationError("--as-of", "is required")
    start, end = _period(args, as_of + dt.timedelta(days=1))
    level = _level(args.level)
    targets = _targets(args.targets)
    spec = MaternalSpec(as_of, start, end, args.min_days_before_birth)
    schedule = load_schedule(args.schedule)
    tree_on = _date(args.tree_on, "--tree-on")
    backend = _open(args.url)
    try:
        with backend.unit_of_work() as uow:
            report = build_maternal_report(
                uow, spec, schedule, level=level, within=args.within, on=tree_on, targets=targets
            )
    finally:
        backend.close()
    out.write(format_table(*maternal_table(report), args.format))
    return 0


def _run_stock(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.reports import format_table
    from immreg.reports.stock import build_stock_report, stock_table

    start, end = _period(args, None)
    level = _level(args.level)
    tree_on = _date(args.tree_on, "--tree-on")
    backend = _open(args.url)
    try:
        with backend.unit_of_work() as uow:
            report = build_stock_report(
                uow,
                period_start=start,
                period_end=end,
                level=level,
                within=args.within,
                on=tree_on,
                products=args.product or None,
            )
    finally:
        backend.close()
    out.write(format_table(*stock_table(report), args.format))
    return 0


def _common(p: argparse.ArgumentParser, level: str) -> None:
    p.add_argument("url", help="registry database URL")
    p.add_argument("--level", default=level, help=f"level of the lines (default {level})")
    p.add_argument("--within", help="only units under this org unit")
    p.add_argument("--tree-on", dest="tree_on", help="use the tree of this day")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")


def add_report_commands(sub: Any) -> None:
    """Add ``report`` and its kinds to the ``immreg`` command's subparsers."""
    report = sub.add_parser(
        "report", help="coverage, dropout, timeliness, maternal tetanus and stock reports"
    )
    kinds = report.add_subparsers(dest="kind", required=True)
    for kind, words in (
        ("coverage", "coverage per antigen and dose"),
        ("dropout", "DTP1-DTP3, DTP1-MCV1, MCV1-MCV2, per child and from totals"),
        ("summary", "fully immunized, zero-dose, WHO RED category and flags"),
        ("timeliness", "doses too early, on time and late against the schedule's windows"),
    ):
        p = kinds.add_parser(kind, help=words)
        _common(p, "province")
        p.add_argument("--born", required=True, help="the birth cohort's year")
        p.add_argument("--as-of", dest="as_of", required=True, help="YYYY-MM-DD")
        p.add_argument("--period-start", dest="period_start", help="first day of doses given")
        p.add_argument("--period-end", dest="period_end", help="day after the period")
        p.add_argument("--targets", help="JSON file: org unit id to target population")
        if kind == "timeliness":
            p.add_argument("--schedule", default="vn-epi", help="schedule spec (vn-epi...)")
        if kind in ("coverage", "dropout"):
            p.add_argument(
                "--chart",
                help="also write a PNG: coverage by age (coverage), dropout by unit (dropout)",
            )
        p.set_defaults(func=_run)
    p = kinds.add_parser(
        "maternal", help="pregnant women with 2+ TT/Td doses (TT2+), births protected at birth"
    )
    _common(p, "province")
    p.add_argument("--as-of", dest="as_of", required=True, help="YYYY-MM-DD")
    p.add_argument("--year", help="births (or expected deliveries) in this year")
    p.add_argument("--period-start", dest="period_start", help="first day of the period")
    p.add_argument("--period-end", dest="period_end", help="day after the period")
    p.add_argument("--targets", help="JSON file: org unit id to estimated live births")
    p.add_argument("--schedule", default="vn-epi", help="schedule spec (vn-epi, who...)")
    p.add_argument(
        "--min-days-before-birth",
        dest="min_days_before_birth",
        type=int,
        default=14,
        help="a dose protects if given this many days before the birth (WHO 14)",
    )
    p.set_defaults(func=_run_maternal)
    p = kinds.add_parser("stock", help="vaccine usage and wastage (WHO) from the stock ledger")
    _common(p, "commune")
    p.add_argument("--month", help="the month, YYYY-MM")
    p.add_argument("--year", help="a whole year")
    p.add_argument("--period-start", dest="period_start", help="first day of the period")
    p.add_argument("--period-end", dest="period_end", help="day after the period")
    p.add_argument("--product", action="append", help="only this product code (repeatable)")
    p.set_defaults(func=_run_stock)
