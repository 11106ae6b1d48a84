"""``immreg report coverage|dropout|summary|timeliness``: reports from a registry database.

Example: the national report by province for children born in 2024, as of the end of
2025, under the tree of 2025-06-30 (63 provinces)::

    immreg report coverage postgresql+psycopg://registry@db/registry \\
        --level province --born 2024 --as-of 2025-12-31 --tree-on 2025-06-30 --format csv
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


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends import open_backend
    from immreg.indicators import ReportSpec
    from immreg.model import OrgLevel
    from immreg.reports import build_report, render

    try:
        year = int(args.born)
    except ValueError:
        raise ValidationError("--born", "must be a year, e.g. 2024") from None
    as_of = _date(args.as_of, "--as-of")
    if as_of is None:
        raise ValidationError("--as-of", "is required")
    try:
        level = OrgLevel(args.level)
    except ValueError:
        raise ValidationError("--level", "must be a level name, e.g. province") from None
    targets: dict[str, int] | None = None
    if args.targets:
        try:
            targets = json.loads(Path(args.targets).read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise ValidationError("--targets", f"cannot be read as JSON: {e}") from None
        if not isinstance(targets, dict):
            raise ValidationError("--targets", "must be a JSON object of org unit to number")
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
    backend = open_backend(args.url)
    try:
        with backend.unit_of_work() as uow:
            report = build_report(
                uow,
                spec,
                level=level,
                within=args.within,
                on=_date(args.tree_on, "--tree-on"),
                targets=targets,
                schedule=schedule,
            )
    finally:
        backend.close()
    out.write(render(report, args.kind, args.format))
    return 0


def add_report_commands(sub: Any) -> None:
    """Add ``report`` and its kinds to the ``immreg`` command's subparsers."""
    report = sub.add_parser("report", help="coverage, dropout and summary reports")
    kinds = report.add_subparsers(dest="kind", required=True)
    for kind, words in (
        ("coverage", "coverage per antigen and dose"),
        ("dropout", "DTP1-DTP3, DTP1-MCV1, MCV1-MCV2, per child and from totals"),
        ("summary", "fully immunized, zero-dose, WHO RED category and flags"),
        ("timeliness", "doses too early, on time and late against the schedule's windows"),
    ):
        p = kinds.add_parser(kind, help=words)
        p.add_argument("url", help="registry database URL")
        p.add_argument("--level", default="province", help="level of the lines")
        p.add_argument("--within", help="only units under this org unit")
        p.add_argument("--born", required=True, help="the birth cohort's year")
        p.add_argument("--as-of", dest="as_of", required=True, help="YYYY-MM-DD")
        p.add_argument("--tree-on", dest="tree_on", help="use the tree of this day")
        p.add_argument("--period-start", dest="period_start", help="first day of doses given")
        p.add_argument("--period-end", dest="period_end", help="day after the period")
        p.add_argument("--targets", help="JSON file: org unit id to target population")
        p.add_argument("--format", choices=("table", "csv", "json"), default="table")
        if kind == "timeliness":
            p.add_argument("--schedule", default="vn-epi", help="schedule spec (vn-epi...)")
        p.set_defaults(func=_run)
