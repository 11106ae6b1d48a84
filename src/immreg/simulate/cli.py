"""``immreg simulate``: a birth cohort through a schedule, scenarios side by side.

::

    immreg simulate --births 100000 --out DIR [--schedule vn-epi] [--seed 1]
        [--start 2027-01-01] [--horizon 24]
        [--move VACCINE=AGE ...] [--extra-dropout VACCINE:N=0.10 ...]
        [--check N] [--no-progress]

The baseline is the schedule under the Vietnam-like behaviour model; ``--move`` adds a
scenario with a vaccine at another age (``MR-MRVAC=15 months``), ``--extra-dropout`` one
with more dropout from dose 1 to dose N (``PENTA-COMBE5:3=0.10``). Tables and charts go to
``DIR`` (:func:`immreg.simulate.report.write_report`); ``--check N`` also compares the
baseline with the exact engine on N children. This module imports nothing heavy until the
command runs, so the parser works without the ``simulate`` extra.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TextIO

from immreg.errors import ValidationError

__all__ = ["Progress", "add_simulate_command", "run_simulate"]


class Progress:
    """A text progress bar on a terminal stream (silent when disabled).

    Args:
        stream: Where to draw (standard error by default).
        enabled: Draw at all.
        width: Bar width in characters.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, width: int = 30):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.width = width
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int, what: str) -> None:
        """Redraw the bar: ``done`` of ``total`` steps, now at ``what``."""
        if not self.enabled:
            return
        filled = int(self.width * done / max(1, total))
        took = time.perf_counter() - self.started
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {took:6.1f} s {what[:30]:<30}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def add_simulate_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``immreg simulate`` to the ``immreg`` command's subparsers."""
    p = sub.add_parser(
        "simulate", help="simulate a birth cohort through a schedule (needs immreg[simulate])"
    )
    p.add_argument("--births", type=int, required=True, help="children in the cohort")
    p.add_argument("--out", required=True, help="directory for the tables and charts")
    p.add_argument("--schedule", default="vn-epi", help="a bundled pack, FILE.json or cdsi:DIR")
    p.add_argument("--seed", type=int, default=1, help="seed of every random draw")
    p.add_argument("--start", default="2027-01-01", help="first birth date (YYYY-MM-DD)")
    p.add_argument("--horizon", type=int, default=24, help="age followed to, in months")
    p.add_argument(
        "--move",
        action="append",
        default=[],
        help="scenario: VACCINE=AGE, e.g. MR-MRVAC=15 months",
    )
    p.add_argument(
        "--extra-dropout",
        action="append",
        default=[],
        help="scenario: VACCINE:N=EXTRA, e.g. PENTA-COMBE5:3=0.10",
    )
    p.add_argument("--check", type=int, default=0, help="compare N children with the engine")
    p.add_argument("--no-parquet", action="store_true", help="write CSV only")
    p.add_argument("--no-charts", action="store_true", help="write no PNG charts")
    p.add_argument("--no-progress", action="store_true", help="draw no progress bar")
    p.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``immreg simulate`` with parsed arguments; returns the exit status.

    Raises:
        ValidationError: A bad argument (the option is named).
    """
    from immreg.simulate.behaviour import VIETNAM
    from immreg.simulate.cohort import check_against_engine, resolve_schedule, simulate_cohort
    from immreg.simulate.report import write_report
    from immreg.simulate.scenarios import move_vaccine

    try:
        start = dt.date.fromisoformat(args.start)
    except ValueError:
        raise ValidationError("--start", "must be a date written YYYY-MM-DD") from None
    schedule = resolve_schedule(args.schedule)
    scenarios = [("baseline", schedule, VIETNAM)]
    for spec in args.move:
        vaccine, sep, age = spec.partition("=")
        if not sep:
            raise ValidationError("--move", "must be VACCINE=AGE, e.g. MR-MRVAC=15 months")
        scenarios.append((f"{vaccine} at {age}", move_vaccine(schedule, vaccine, age), VIETNAM))
    for spec in args.extra_dropout:
        key, sep, extra = spec.partition("=")
        vaccine, colon, dose = key.rpartition(":")
        if not sep or not colon or not dose.isdigit():
            raise ValidationError("--extra-dropout", "must be VACCINE:N=EXTRA, e.g. PENTA:3=0.1")
        try:
            value = float(extra)
        except ValueError:
            raise ValidationError("--extra-dropout", f"{extra!r} is not a number") from None
        model = VIETNAM.with_extra_dropout(vaccine, value, doses=int(dose))
        scenarios.append((f"+{value:g} {vaccine} 1-{dose} dropout", schedule, model))
    results = []
    for name, sched, behaviour in scenarios:
        bar = Progress(enabled=not args.no_progress)
        started = time.perf_counter()
        results.append(
            simulate_cohort(
                sched,
                births=args.births,
                start=start,
                seed=args.seed,
                behaviour=behaviour,
                horizon_months=args.horizon,
                scenario=name,
                progress=bar,
            )
        )
        took = time.perf_counter() - started
        print(f"{name}: {args.births:,} children simulated in {took:.1f} s", file=out)
    if args.check:
        check = check_against_engine(results[0], schedule, sample=args.check, seed=args.seed)
        print(
            f"engine check on {check.children:,} children: largest coverage difference "
            f"{check.max_difference_pp:.3f} pp, {check.mismatched_children} children differ",
            file=out,
        )
    files = write_report(
        results, Path(args.out), parquet=not args.no_parquet, charts=not args.no_charts
    )
    for f in files:
        print(f"wrote {f}", file=out)
    return 0
