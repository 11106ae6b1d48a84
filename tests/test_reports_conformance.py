"""Every backend kind runs the reports contract (see tests/test_conformance.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from immreg.testing import reports_conformance


class Memory:
    """The in-memory reference backend."""

    persistent = False

    @pytest.fixture
    def backend_url(self) -> str:
        return "memory://"


class SqliteFile:
    """SQLite in a file: one writer at a time holds the file lock."""

    supports_concurrent_writers = False

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'registry.db'}"


class SqliteMemory:
    """In-memory SQLite: one shared connection."""

    persistent = False
    supports_concurrent_units_of_work = False
    supports_concurrent_writers = False

    @pytest.fixture
    def backend_url(self) -> str:
        return "sqlite://"


class Postgres:
    """PostgreSQL, in a schema of its own per test."""

    @pytest.fixture
    def backend_url(self, postgres_url: str) -> str:
        return postgres_url


KINDS: list[type] = [Memory, SqliteFile, SqliteMemory, Postgres]

CONTRACTS: list[type] = [
    reports_conformance.ReportRepositoryContract,
]


def _build() -> None:
    for contract in CONTRACTS:
        for kind in KINDS:
            name = f"Test{contract.__name__.removesuffix('Contract')}{kind.__name__}"
            marks = [pytest.mark.postgres] if kind is Postgres else []
            cls = type(name, (kind, contract), {"__module__": __name__, "pytestmark": marks})
            globals()[name] = cls


_build()


def test_every_reports_contract_is_run_for_every_kind() -> None:
    every = {n for n in reports_conformance.__all__ if n.endswith("Contract")}
    assert every == {c.__name__ for c in CONTRACTS}
    built = [n for n in globals() if n.startswith("Test") and n != "TestCase"]
    assert len(built) == len(CONTRACTS) * len(KINDS)
