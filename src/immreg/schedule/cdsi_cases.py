"""Run the CDC CDSi test cases against the engine and report pass rates.

A case passes evaluation when every dose's status for the case's vaccine group matches the
expected one, and passes forecast when the vaccine group's series status, forecast dose
number, earliest, recommended and past-due dates all match (a blank expected date means
no date is expected). The expected ``earliest`` is CDSi's minimum-age/interval date,
without the 4-day grace period, which is exactly what the engine reports.

Run it as ``python -m immreg.schedule.cdsi_cases [--cases FILE] [--data DIR] [--quiet]``;
the defaults come from ``IMMREG_CDSI_DIR`` (the directory holding
``testcases-healthy-v4.45.json`` and ``supporting-data-4.64/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from immreg.schedule.engine import assess
from immreg.schedule.patient import Dose, Observation, Patient
from immreg.schedule.rules import Schedule

__all__ = ["CaseResult", "GroupRate", "Report", "main", "run_cases"]

_STATUS = {
    "Valid": "valid",
    "Not Valid": "not_valid",
    "Extraneous": "extraneous",
    "Sub-standard": "sub_standard",
    "Sub-Standard": "sub_standard",
}
_SERIES = {
    "Not Complete": "not_complete",
    "Complete": "complete",
    "Immune": "immune",
    "Aged Out": "aged_out",
    "Not Recommended": "not_recommended",
    "Contraindicated": "contraindicated",
}


@attrs.frozen
class CaseResult:
    """The outcome of one test case.

    Attributes:
        id: Case id, e.g. ``"2013-0001"``.
        vaccine_group: The case's vaccine group.
        evaluation_ok: Whether every dose status matched.
        forecast_ok: Whether the forecast matched.
        differences: What differed, one line each (``field: expected != got``).
        reasons_checked: Doses whose expected evaluation reason was compared.
        reason_mismatches: Doses whose reason differed (informational: reasons are not
            part of the pass criterion).
    """

    id: str
    vaccine_group: str
    evaluation_ok: bool
    forecast_ok: bool
    differences: tuple[str, ...] = ()
    reasons_checked: int = 0
    reason_mismatches: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether both evaluation and forecast passed."""
        return self.evaluation_ok and self.forecast_ok


@attrs.frozen
class GroupRate:
    """Pass counts for one vaccine group.

    Attributes:
        vaccine_group: The vaccine group (``"ALL"`` for the total).
        cases: Number of cases.
        evaluation: Cases whose evaluation passed.
        forecast: Cases whose forecast passed.
        both: Cases where both passed.
    """

    vaccine_group: str
    cases: int
    evaluation: int
    forecast: int
    both: int


@attrs.frozen
class Report:
    """All case results with per-group rates.

    Attributes:
        results: One result per case, in file order.
        groups: Rates per vaccine group, then ``"ALL"``.
    """

    results: tuple[CaseResult, ...]
    groups: tuple[GroupRate, ...]

    @property
    def overall(self) -> float:
        """The fraction of cases where evaluation and forecast both passed."""
        return sum(r.ok for r in self.results) / len(self.results) if self.results else 0.0

    def failures(self) -> tuple[CaseResult, ...]:
        """The failing cases."""
        return tuple(r for r in self.results if not r.ok)


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def run_case(schedule: Schedule, case: dict[str, Any]) -> CaseResult:
    """Run one test case (a dict in the test-case JSON layout) and compare."""
    doses = tuple(
        Dose(
            id=str(d["seq"]),
            date=dt.date.fromisoformat(d["date"]),
            vaccine=d["cvx"],
            mvx=d.get("mvx"),
        )
        for d in case["doses"]
    )
    patient = Patient(
        birth_date=dt.date.fromisoformat(case["dob"]),
        sex=case.get("sex") or "U",
        doses=doses,
        observations=tuple(
            Observation(o["code"], _date(o.get("date"))) for o in case.get("observations", [])
        ),
    )
    as_of = dt.date.fromisoformat(case["assessment_date"])
    group = case["vaccine_group"]
    diffs: list[str] = []
    result = assess(schedule, patient, as_of=as_of)
    eval_ok = True
    reasons = 0
    reason_diffs: list[str] = []
    for d in case["doses"]:
        expected = _STATUS.get(d["evaluation_status"] or "", d["evaluation_status"])
        got = result.group_status(str(d["seq"]), group)
        if got is None:
            # A dose of another vaccine group: the case states its own status.
            groups = {e.vaccine_group for e in result.evaluations if e.dose_id == str(d["seq"])}
            got = next((result.group_status(str(d["seq"]), g) for g in sorted(groups)), None)
        got_status = got.status if got else None
        if got is not None and expected == got_status:
            reasons += 1
            want_reason = d.get("evaluation_reason_code")
            # "Grace period" is a valid dose's remark, not a reason CDC states.
            got_reason = None if got.reason == "grace_period" else got.reason
            if want_reason != got_reason and want_reason not in got.reasons:
                reason_diffs.append(f"dose {d['seq']}: reason {want_reason} != {got_reason}")
        if expected != got_status:
            eval_ok = False
            diffs.append(
                f"dose {d['seq']} ({d['cvx']} on {d['date']}): {expected} != {got_status}"
                f" (expected reason {d.get('evaluation_reason_code')}, got"
                f" {got.reason if got else None} by {got.rule_id if got else None})"
            )
    exp = case["expected_forecast"]
    fc = result.forecast_for(group)
    fc_ok = True
    exp_status = _SERIES.get(exp["series_status"] or "", exp["series_status"])
    checks: list[tuple[str, object, object]] = [
        ("status", exp_status, fc.status if fc else None),
        (
            "forecast_dose_number",
            exp.get("forecast_dose_number"),
            fc.forecast_dose_number if fc else None,
        ),
        ("earliest", _date(exp.get("earliest")), fc.earliest if fc else None),
        ("recommended", _date(exp.get("recommended")), fc.recommended if fc else None),
        ("past_due", _date(exp.get("past_due")), fc.past_due if fc else None),
    ]
    for name, want, got_value in checks:
        if want != got_value:
            fc_ok = False
            diffs.append(f"{name}: {want} != {got_value}")
    if not fc_ok and fc is not None:
        diffs.append(f"  forecast reason {fc.reason} by {fc.rule_id}")
    return CaseResult(
        case["id"], group, eval_ok, fc_ok, tuple(diffs), reasons, tuple(reason_diffs)
    )


def run_cases(schedule: Schedule, cases: Sequence[dict[str, Any]]) -> Report:
    """Run test cases and compute per-vaccine-group pass rates.

    Args:
        schedule: The loaded CDSi schedule.
        cases: Cases in the test-case JSON layout (the ``cases`` list of the file).

    Returns:
        The report: every case's result and rates per vaccine group and overall.
    """
    results = tuple(run_case(schedule, c) for c in cases)
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(r.vaccine_group, []).append(r)
    rates = [
        GroupRate(
            g,
            len(rs),
            sum(r.evaluation_ok for r in rs),
            sum(r.forecast_ok for r in rs),
            sum(r.ok for r in rs),
        )
        for g, rs in sorted(groups.items())
    ]
    rates.append(
        GroupRate(
            "ALL",
            len(results),
            sum(r.evaluation_ok for r in results),
            sum(r.forecast_ok for r in results),
            sum(r.ok for r in results),
        )
    )
    return Report(results, tuple(rates))


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read the test-case JSON file and return its ``cases`` list."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    cases: list[dict[str, Any]] = data["cases"]
    return cases


def format_report(report: Report, *, failures: bool = True) -> str:
    """Render a report as a plain-text table followed by the failing cases."""
    lines = [f"{'vaccine group':<16} {'cases':>5} {'eval':>7} {'forecast':>9} {'both':>7}"]
    for g in report.groups:

        def pct(n: int, total: int = g.cases) -> str:
            return f"{100 * n / total:6.1f}%"

        lines.append(
            f"{g.vaccine_group:<16} {g.cases:>5} {pct(g.evaluation)} {pct(g.forecast):>9}"
            f" {pct(g.both)}"
        )
    checked = sum(r.reasons_checked for r in report.results)
    differ = [(r.id, m) for r in report.results for m in r.reason_mismatches]
    lines.append(
        f"evaluation reasons agree for {checked - len(differ)} of {checked} doses (informational)"
    )
    if failures:
        lines.extend(f"REASON {cid}: {m}" for cid, m in differ)
        for r in report.failures():
            lines.append(f"FAIL {r.id} [{r.vaccine_group}]")
            lines.extend(f"    {d}" for d in r.differences)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: print the pass-rate table and the failing cases.

    Returns:
        0 when every case passes, 1 otherwise.
    """
    # A command line may read the environment: IMMREG_CDSI_DIR, else the repository's
    # sibling "shared/cdsi" directory (as the tests do).
    here = Path(__file__).resolve()
    default_dir = Path(
        os.environ.get("IMMREG_CDSI_DIR", here.parents[3].parent / "shared" / "cdsi")
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(default_dir / "testcases-healthy-v4.45.json"))
    parser.add_argument("--data", default=str(default_dir / "supporting-data-4.64"))
    parser.add_argument("--quiet", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    from immreg.schedule import load_schedule

    schedule = load_schedule(f"cdsi:{args.data}")
    report = run_cases(schedule, load_cases(args.cases))
    print(format_report(report, failures=not args.quiet))
    return 0 if not report.failures() else 1


if __name__ == "__main__":
    sys.exit(main())
