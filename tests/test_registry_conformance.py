"""Every backend runs every contract of :mod:`immreg.testing.registry_conformance`."""

from __future__ import annotations

from _backend_kinds import build_contract_tests
from immreg.testing import registry_conformance

CONTRACTS: list[type] = [
    registry_conformance.MergeContract,
    registry_conformance.MergeScopingContract,
    registry_conformance.HistoricalDoseContract,
    registry_conformance.AefiContract,
    registry_conformance.PregnancyContract,
]


build_contract_tests(CONTRACTS, globals())


def test_every_registry_contract_is_run_for_every_kind() -> None:
    contracts = {n for n in registry_conformance.__all__ if n.endswith("Contract")}
    assert contracts == {c.__name__ for c in CONTRACTS}
