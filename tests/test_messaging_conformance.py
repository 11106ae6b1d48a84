"""Every backend immreg ships runs every contract of :mod:`immreg.testing.messaging_conformance`.

Built as in tests/test_conformance.py: ``Test<Contract><Kind>`` for every pair, each kind a
mixin overriding conftest's ``backend_url`` fixture (conftest's ``backend`` opens it fresh).
"""

from __future__ import annotations

from _backend_kinds import KINDS, build_contract_tests
from immreg.testing import messaging_conformance as mc

CONTRACTS: list[type[mc.MessagingContractBase]] = [
    mc.DueSummaryRepositoryContract,
    mc.OutboxRepositoryContract,
    mc.OutreachContract,
]


build_contract_tests(CONTRACTS, globals())


def test_every_contract_is_run_for_every_kind() -> None:
    contracts = {n for n in mc.__all__ if n.endswith("Contract")}
    assert contracts == {c.__name__ for c in CONTRACTS}
    built = {n for n, v in globals().items() if n.startswith("Test") and isinstance(v, type)}
    assert len(built) == len(CONTRACTS) * len(KINDS)
