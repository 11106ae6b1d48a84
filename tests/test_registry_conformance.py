"""Every backend runs every contract of :mod:`immreg.testing.registry_conformance`."""

from __future__ import annotations

import pytest

from immreg.testing import registry_conformance
from test_conformance import KINDS, Postgres

CONTRACTS: list[type] = [
    registry_conformance.MergeContract,
    registry_conformance.MergeScopingContract,
    registry_conformance.HistoricalDoseContract,
    registry_conformance.AefiContract,
    registry_conformance.PregnancyContract,
]


def _build() -> None:
    for contract in CONTRACTS:
        for kind in KINDS:
            name = f"Test{contract.__name__.removesuffix('Contract')}{kind.__name__}"
            marks = [pytest.mark.postgres] if kind is Postgres else []
            cls = type(name, (kind, contract), {"__module__": __name__, "pytestmark": marks})
            globals()[name] = cls


_build()


def test_every_registry_contract_is_run_for_every_kind() -> None:
    contracts = {n for n in registry_conformance.__all__ if n.endswith("Contract")}
    assert contracts == {c.__name__ for c in CONTRACTS}
