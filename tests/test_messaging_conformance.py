"""Every backend immreg ships runs every contract of :mod:`immreg.testing.messaging_conformance`.

Built as in tests/test_conformance.py: ``Test<Contract><Kind>`` for every pair, each kind a
mixin overriding conftest's ``backend_url`` fixture (conftest's ``backend`` opens it fresh).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from immreg.testing import messaging_conformance as mc

CONTRACTS: list[type[mc.MessagingContractBase]] = [
    mc.DueSummaryRepositoryContract,
    mc.OutboxRepositoryContract,
    mc.OutreachContract,
]


class Memory:
    """The in-memory reference backend."""

    @pytest.fixture
    def backend_url(self) -> str:
        return "memory://"


class SqliteFile:
    """SQLite in a file."""

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'registry.db'}"


class SqliteMemory:
    """In-memory SQLite: one shared connection, one unit of work at a time."""

    supports_concurrent_units_of_work = False

    @pytest.fixture
    def backend_url(self) -> str:
        return "sqlite://"


class Postgres:
    """PostgreSQL, in a schema of its own per test."""

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
    contracts = {n for n in mc.__all__ if n.endswith("Contract")}
    assert contracts == {c.__name__ for c in CONTRACTS}
    built = {n for n, v in globals().items() if n.startswith("Test") and isinstance(v, type)}
    assert len(built) == len(CONTRACTS) * len(KINDS)
