"""The ``immreg`` command.

This is the only module that reads ``argv`` and environment variables. Commands:

* ``immreg demo [--db PATH]``: a guided tour on an embedded SQLite database.
* ``immreg db upgrade URL``: create or upgrade a database's schema.
* ``immreg db report-counters URL [--rebuild]``: bring the report counters up to date
  after a bulk load (or recompute them all).
* ``immreg forecast --schedule SPEC --jsonl``: evaluate and forecast JSON lines from stdin.
* ``immreg schedule list``: the bundled schedule packs.
* ``immreg schedule show NAME [--format table|markdown|json]``: one pack (or any schedule
  spec) as a table, as Markdown with its sources, or in immreg's JSON schedule format.
* ``immreg due-list`` and ``immreg reminders plan|dispatch``: a session's due list, and SMS
  reminders through the outbox (see :mod:`immreg.cli_messaging`).
* ``immreg stock scan|on-hand|report|recall``: GS1 scans, stock on hand, the monthly stock
  report and lot recalls (see :mod:`immreg.cli_stock`).
* ``immreg report coverage|dropout|summary|timeliness|maternal|stock URL``: indicator
  reports by level, org unit, period and cohort, tetanus protection in pregnancy and at
  birth, vaccine usage and wastage; ``--chart`` draws coverage by age and dropout by unit
  (see :mod:`immreg.cli_reports`).
* ``immreg simulate --births N --out DIR``: a synthetic birth cohort through a schedule,
  scenarios side by side as CSV, Parquet and PNG (see :mod:`immreg.simulate.cli`).

Errors are printed as ``error: FIELD: MESSAGE`` on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from immreg.errors import ImmregError

__all__ = ["main"]


def _cmd_db_upgrade(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends import open_backend

    backend = open_backend(args.url, create_schema=True)
    backend.close()
    print(f"schema of {args.url} is up to date", file=out)
    return 0


def _cmd_db_report_counters(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends import open_backend
    from immreg.backends.sqlalchemy import SqlAlchemyBackend
    from immreg.backends.sqlalchemy import report_counters as rc
    from immreg.errors import ValidationError

    backend = open_backend(args.url, create_schema=False)
    try:
        if not isinstance(backend, SqlAlchemyBackend):
            raise ValidationError("url", "report counters are kept in SQL databases only")
        if args.rebuild:
            n = rc.rebuild_report_counters(backend)
        else:
            n = rc.refresh_report_counters(backend)
    finally:
        backend.close()
    print(f"report counters of {args.url}: {n} children applied", file=out)
    return 0


def _cmd_forecast(args: argparse.Namespace, out: TextIO) -> int:
    if not args.jsonl:
        print("error: only --jsonl input is supported for now", file=sys.stderr)
        return 2
    from immreg.schedule.batch import forecast_jsonl

    return forecast_jsonl(args.schedule, sys.stdin, out)


def _cmd_schedule_list(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.schedule.render import pack_list

    out.write(pack_list())
    return 0


def _cmd_schedule_show(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.schedule import load_schedule
    from immreg.schedule.render import render

    out.write(render(load_schedule(args.name), args.format))
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.demo import run_demo

    db = Path(args.db)
    today = dt.date.fromisoformat(args.today) if args.today else None
    return run_demo(f"sqlite:///{db}", out=out, today=today)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``immreg`` command."""
    parser = argparse.ArgumentParser(
        prog="immreg", description="immreg: an electronic immunization registry library."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="a guided tour on an embedded SQLite database")
    demo.add_argument("--db", default="immreg-demo.db", help="SQLite file (recreated)")
    demo.add_argument("--today", help="run the demo as of this date (YYYY-MM-DD)")
    demo.set_defaults(func=_cmd_demo)

    db = sub.add_parser("db", help="database schema commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="create or upgrade the schema at URL")
    upgrade.add_argument("url", help="e.g. sqlite:///registry.db or postgresql+psycopg://...")
    upgrade.set_defaults(func=_cmd_db_upgrade)
    counters = db_sub.add_parser(
        "report-counters",
        help="apply children left pending (after a bulk load) to the report counters",
    )
    counters.add_argument("url", help="a SQL database URL")
    counters.add_argument(
        "--rebuild", action="store_true", help="recompute every counter from the records"
    )
    counters.set_defaults(func=_cmd_db_report_counters)

    forecast = sub.add_parser(
        "forecast", help="evaluate histories and forecast next doses (JSON lines)"
    )
    forecast.add_argument(
        "--schedule", required=True, help="a bundled pack name, FILE.json, or cdsi:DIR"
    )
    forecast.add_argument(
        "--jsonl", action="store_true", help="read JSON lines on stdin, write JSON lines"
    )
    forecast.set_defaults(func=_cmd_forecast)

    schedule = sub.add_parser("schedule", help="bundled schedule packs")
    schedule_sub = schedule.add_subparsers(dest="schedule_command", required=True)
    listing = schedule_sub.add_parser("list", help="list the bundled packs")
    listing.set_defaults(func=_cmd_schedule_list)
    show = schedule_sub.add_parser("show", help="show one pack's rules and sources")
    show.add_argument("name", help="a bundled pack name (e.g. vn-epi), FILE.json, or cdsi:DIR")
    show.add_argument(
        "--format", choices=("table", "markdown", "json"), default="table", help="output format"
    )
    show.set_defaults(func=_cmd_schedule_show)

    from immreg.cli_messaging import add_messaging_commands

    add_messaging_commands(sub)  # due-list, reminders plan|dispatch

    from immreg.cli_stock import add_stock_commands

    add_stock_commands(sub)  # stock scan|on-hand|report|recall

    from immreg.cli_reports import add_report_commands

    add_report_commands(sub)  # report coverage|dropout|summary|timeliness|maternal|stock

    from immreg.simulate.cli import add_simulate_command

    add_simulate_command(sub)  # simulate (numpy is imported only when it runs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``immreg`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, sys.stdout))
    except ImmregError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
