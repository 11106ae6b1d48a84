"""Every backend immreg ships runs every contract of :mod:`immreg.testing.conformance`.

Each backend kind is a mixin that overrides conftest's ``backend_url`` fixture with its own
kind and states its capabilities; conftest's ``backend`` fixture then opens a fresh, empty
backend of that kind for every test. The test classes are built below as
``Test<Contract><Kind>`` for every pair, so a failure names both.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from immreg.ports import Clock, Message, MessageGateway, Receipt
from immreg.services import LOCAL_TZ, FixedClock, SystemClock
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
    built = {n for n, v in globals().items() if n.startswith("Test") and isinstance(v, type)}
    assert len(built - OTHER_PORTS) == len(CONTRACTS) * len(KINDS)
    every = set(conformance.__all__)
    contracts = {n for n in every if n.endswith("Contract") and n != "BackendContract"}
    others = {"ClockContract", "MessageGatewayContract"}
    assert contracts == {c.__name__ for c in CONTRACTS} | others


def test_backend_contract_has_every_contract() -> None:
    assert set(CONTRACTS) <= set(conformance.BackendContract.__mro__)


# --- the other ports: clocks, and a message gateway double --------------------------------


class TestFixedClock(conformance.ClockContract):
    @pytest.fixture
    def clock(self) -> Clock:
        return FixedClock(dt.datetime(2024, 2, 29, 23, 59, tzinfo=LOCAL_TZ))


class TestSystemClock(conformance.ClockContract):
    @pytest.fixture
    def clock(self) -> Clock:
        return SystemClock()


class InboxGateway:
    """A gateway over an in-memory provider that honours idempotency keys."""

    def __init__(self) -> None:
        self.inbox: list[Message] = []
        self.receipts: dict[str, Receipt] = {}

    def send(self, message: Message) -> Receipt:
        if message.idempotency_key not in self.receipts:
            self.inbox.append(message)
            self.receipts[message.idempotency_key] = Receipt(
                message.idempotency_key, f"p-{len(self.inbox)}", conformance.NOW
            )
        return self.receipts[message.idempotency_key]


class TestInboxGateway(conformance.MessageGatewayContract):
    @pytest.fixture
    def gateway(self) -> InboxGateway:
        return InboxGateway()

    def delivered(self, gateway: MessageGateway) -> list[Message]:
        assert isinstance(gateway, InboxGateway)
        return gateway.inbox


OTHER_PORTS = {"TestFixedClock", "TestSystemClock", "TestInboxGateway"}
