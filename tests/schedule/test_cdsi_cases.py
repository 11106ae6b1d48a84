"""All 1,013 CDC CDSi "healthy" test cases, run through the engine on the CDSi data.

A case passes when every dose's evaluation status for its vaccine group and the vaccine
group's forecast (status, dose number, earliest, recommended, past due) match. The floor
below is the level the engine reaches; ``docs/cdsi-known-wrong.md`` lists the cases judged
wrong (none at present). Reproduce the table with
``python -m immreg.schedule.cdsi_cases``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from immreg.schedule import Schedule
from immreg.schedule.cdsi_cases import Report, format_report, load_cases, run_cases

# The level reached: every case. The issue requires at least 0.97.
MIN_PASS_RATE = 1.0
CASES = "testcases-healthy-v4.45.json"


@pytest.fixture(scope="module")
def report(cdsi: Schedule, cdsi_path: Path) -> Report:
    return run_cases(cdsi, load_cases(cdsi_path / CASES))


def test_every_case_is_run(report: Report) -> None:
    assert len(report.results) == 1013
    groups = {g.vaccine_group for g in report.groups}
    assert {"DTaP/Tdap/Td", "HepB", "MMR", "Polio", "COVID-19"} <= groups


def test_overall_pass_rate(report: Report) -> None:
    assert report.overall >= MIN_PASS_RATE, format_report(report)


def test_pass_rate_per_vaccine_group(report: Report) -> None:
    for g in report.groups:
        assert g.both / g.cases >= MIN_PASS_RATE, format_report(report)


def test_a_wrong_expectation_is_detected(cdsi: Schedule, cdsi_path: Path) -> None:
    # The runner must be able to fail: corrupt one expected date and one dose status.
    case = next(c for c in load_cases(cdsi_path / CASES) if c["id"] == "2013-0001")
    case = {**case, "expected_forecast": {**case["expected_forecast"], "earliest": "2000-01-01"}}
    result = run_cases(cdsi, [case]).results[0]
    assert result.evaluation_ok
    assert not result.forecast_ok
    assert any(d.startswith("earliest:") for d in result.differences)
