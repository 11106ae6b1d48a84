"""Every backend immreg ships runs every contract of :mod:`immreg.testing.conformance`.

Each backend kind is a mixin that overrides conftest's ``backend_url`` fixture with its own
kind and states its capabilities; conftest's ``backend`` fixture then opens a fresh, empty
backend of that kind for every test. The test classes are built below as
``Test<Contract><Kind>`` for every pair, so a failure names both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from immreg.testing import conformance

CONTRACTS: list[type[conformance.ContractBase]] = [
    conformance.UnitOfWorkContract,
    conformance.SubjectRepositoryContract,
    conformance.DoseRepositoryContract,
    conformance.CatalogueRepositoryContract,
    conformance.OrgUnitRepositoryContract,
    conformance.LotRepositoryContract,
    conformance.AuditRepositoryContract,
    conformance.ScopingContract,
    conformance.BulkLoadContract,
    conformance.ServicesContract,
    conformance.RoundTripContract,
]


class Memory:
    """The in-memory reference backend."""

    persistent = False

    @pytest.fixture
    def backend_url(self) -> str:
        return "memory://"


class SqliteFile:
    """SQLite in a file: persistent; one writer at a time holds the file lock."""

    persistent = True
    # A second connection's open read transaction keeps the first from committing (and
    # vice versa) until the busy timeout, so two interleaved writers cannot be shown.
    supports_concurrent_writers = False

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'registry.db'}"


class SqliteMemory:
    """In-memory SQLite: one shared connection, so units of work are not isolated."""

    persistent = False
    supports_concurrent_units_of_work = False

    @pytest.fixture
    def backend_url(self) -> str:
        return "sqlite://"


class Postgres:
    """PostgreSQL, in a schema of its own per test."""

    persistent = True

    @pytest.fixture
    def backend_url(self, postgres_url: str) -> str:
        return postgres_url


KINDS: list[type] = [Memory, SqliteFile, SqliteMemory, Postgres]


def _build() -> None:
    for contract in CONTRACTS:
        for kind in KINDS:
            name = f"Test{contract.__name__.removesuffix('Contract')}{kind.__name__}"
            marks = [pytest.mark.postgres] if kind is Postgres else []
            cls = type(name, (kind, contract), {"__module__": __name__, "pytestmark": marks})
            globals()[name] = cls


_build()


def test_every_contract_is_run_for_every_kind() -> None:
    built = {n for n in globals() if n.startswith("Test")}
    assert len(built) == len(CONTRACTS) * len(KINDS)
    every = set(conformance.__all__)
    contracts = {n for n in every if n.endswith("Contract") and n != "BackendContract"}
    assert contracts == {c.__name__ for c in CONTRACTS}


def test_backend_contract_has_every_contract() -> None:
    assert set(CONTRACTS) <= set(conformance.BackendContract.__mro__)
