"""The backend kinds every contract test module runs against, and the class builder.

Each kind is a mixin that overrides conftest's ``backend_url`` fixture with its own kind and
states its capabilities (the flags of :class:`immreg.testing.conformance.ContractBase`);
conftest's ``backend`` fixture then opens a fresh, empty backend of that kind for every test.
:func:`build_contract_tests` makes ``Test<Contract><Kind>`` for every pair, so a failure
names both.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest


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
    """In-memory SQLite: one shared connection, so one unit of work (and writer) at a time."""

    persistent = False
    supports_concurrent_units_of_work = False
    supports_concurrent_writers = False

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


def build_contract_tests(contracts: Iterable[type], namespace: dict[str, Any]) -> list[str]:
    """Put a ``Test<Contract><Kind>`` class for every contract and kind into ``namespace``.

    Returns:
        The names of the classes built.
    """
    names = []
    for contract in contracts:
        for kind in KINDS:
            name = f"Test{contract.__name__.removesuffix('Contract')}{kind.__name__}"
            marks = [pytest.mark.postgres] if kind is Postgres else []
            namespace[name] = type(
                name,
                (kind, contract),
                {"__module__": namespace["__name__"], "pytestmark": marks},
            )
            names.append(name)
    return names
