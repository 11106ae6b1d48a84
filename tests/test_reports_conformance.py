"""Every backend kind runs the reports contract (see tests/test_conformance.py)."""

from __future__ import annotations

from _backend_kinds import KINDS, build_contract_tests
from immreg.testing import reports_conformance

CONTRACTS: list[type] = [
    reports_conformance.ReportRepositoryContract,
]


build_contract_tests(CONTRACTS, globals())


def test_every_reports_contract_is_run_for_every_kind() -> None:
    every = {n for n in reports_conformance.__all__ if n.endswith("Contract")}
    assert every == {c.__name__ for c in CONTRACTS}
    built = [n for n in globals() if n.startswith("Test") and n != "TestCase"]
    assert len(built) == len(CONTRACTS) * len(KINDS)
