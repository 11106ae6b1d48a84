"""Every backend kind runs the stock ledger's contracts (see tests/test_conformance.py)."""

from __future__ import annotations

from _backend_kinds import KINDS, build_contract_tests
from immreg.testing import stock_conformance

CONTRACTS: list[type] = [
    stock_conformance.StockLedgerContract,
    stock_conformance.StockServicesContract,
]


build_contract_tests(CONTRACTS, globals())


def test_every_stock_contract_is_run_for_every_kind() -> None:
    every = {n for n in stock_conformance.__all__ if n.endswith("Contract")}
    assert every == {c.__name__ for c in CONTRACTS}
    built = [n for n in globals() if n.startswith("Test") and n != "TestCase"]
    assert len(built) == len(CONTRACTS) * len(KINDS)
