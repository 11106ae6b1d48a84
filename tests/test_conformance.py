"""Every backend immreg ships runs every contract of :mod:`immreg.testing.conformance`.

The backend kinds and the class builder live in tests/_backend_kinds.py: each kind is a mixin
overriding conftest's ``backend_url`` fixture and stating its capabilities, and conftest's
``backend`` fixture opens a fresh, empty backend of that kind for every test. The test
classes are built below as ``Test<Contract><Kind>`` for every pair, so a failure names both.
"""

from __future__ import annotations

import datetime as dt

import pytest

from _backend_kinds import KINDS, build_contract_tests
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


build_contract_tests(CONTRACTS, globals())


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
