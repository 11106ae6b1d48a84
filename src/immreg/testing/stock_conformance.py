"""The stock ledger's backend contract (:class:`immreg.ports.StockLedgerRepository`).

Subclass :class:`StockLedgerContract` (and :class:`StockServicesContract`) with a
``backend`` fixture, as for :mod:`immreg.testing.conformance`; the same capability flags
apply. :class:`StockLedgerContract.test_random_sequences_keep_the_books` drives a hypothesis
state machine (:class:`LedgerMachine`) against the backend: after any sequence of
receipts, doses, wastage, shipments, receipts of shipments, reversals and rolled-back units
of work, every balance equals the sum of its ledger, none is negative, a rolled-back unit
of work left no trace, and the quantity that entered equals what is on hand, in transit
and gone (given or wasted).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from immreg.errors import ConflictError, StockError, ValidationError
from immreg.model import Lot
from immreg.ports import Backend, UnitOfWork
from immreg.services import FixedClock, Registry
from immreg.stock import ledger
from immreg.stock.model import EventKind, StockEvent, SupplyProfile, VvmType, WastageReason
from immreg.testing.conformance import AS_OF, NOW, SEED, ContractBase, dose, subject

__all__ = ["LedgerMachine", "StockLedgerContract", "StockServicesContract", "event"]

_DAY = dt.date(2026, 3, 1)
_counter = itertools.count()


def event(
    event_id: str,
    quantity: int,
    *,
    kind: EventKind = EventKind.RECEIPT,
    facility: str = "HN-BD-S1",
    product: str = "PENTA",
    lot: str = "L001",
    day: dt.date = _DAY,
    reason: WastageReason | None = None,
) -> StockEvent:
    """A ledger event (a helper for contract tests)."""
    return StockEvent(
        id=event_id,
        kind=kind,
        facility_id=facility,
        product_code=product,
        lot_number=lot,
        quantity=quantity,
        date=day,
        reason=reason,
    )


def _uid() -> str:
    return f"{uuid.uuid4().hex[:8]}{next(_counter)}"


class StockLedgerContract(ContractBase):
    """The ledger repository: append-only, never negative, transactional, idempotent."""

    def test_append_changes_the_balance(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            assert not uow.stock.tracks("HN-BD-S1", "PENTA")
            assert uow.stock.append(event("e1", 10))
            assert uow.stock.append(event("e2", -3, kind=EventKind.ISSUE))
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 7
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 7
            assert uow.stock.balance("HN-BD-S1", "PENTA", "OTHER") == 0
            assert uow.stock.tracks("HN-BD-S1", "PENTA")
            assert not uow.stock.tracks("HN-BD-S1", "BCG")
            assert [e.id for e in uow.stock.events(facility_id="HN-BD-S1")] == ["e1", "e2"]
            assert uow.stock.find_event("e2") == event("e2", -3, kind=EventKind.ISSUE)
            assert uow.stock.find_event("nope") is None

    def test_same_event_twice_is_stored_once(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            assert uow.stock.append(event("e1", 10))
            uow.commit()
        with backend.unit_of_work() as uow:
            assert not uow.stock.append(event("e1", 10))
            with pytest.raises(ConflictError):
                uow.stock.append(event("e1", 11))
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 10

    def test_a_negative_balance_is_refused_and_nothing_written(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            uow.stock.append(event("e1", 2))
            uow.commit()
        with backend.unit_of_work() as uow:
            with pytest.raises(StockError):
                uow.stock.append(event("e2", -3, kind=EventKind.ISSUE))
            with pytest.raises(StockError):
                uow.stock.append(event("e3", -1, kind=EventKind.ISSUE, lot="NONE"))
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 2
            assert uow.stock.find_event("e2") is None
            uow.stock.append(event("e4", -2, kind=EventKind.ISSUE))
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 0
            assert [e.id for e in uow.stock.events()] == ["e1", "e4"]
            assert uow.stock.balances() == []

    def test_rollback_leaves_no_trace(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            uow.stock.append(event("e1", 5))

        def fail() -> None:
            with backend.unit_of_work() as uow:
                uow.stock.append(event("e2", 5))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail()
        with backend.unit_of_work() as uow:
            assert uow.stock.events() == []
            assert not uow.stock.tracks("HN-BD-S1", "PENTA")
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 0

    def test_reversal_once_and_only_of_a_stored_event(self, backend: Backend) -> None:
        original = event("e1", 5)
        with backend.unit_of_work() as uow:
            uow.stock.append(original)
            uow.stock.append(original.reversal("r1", date=_DAY, recorded_by="x"))
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 0
            with pytest.raises(ConflictError):
                uow.stock.append(original.reversal("r2", date=_DAY, recorded_by="x"))
            uow.commit()
        with backend.unit_of_work() as uow:
            found = uow.stock.reversal_of("e1")
            assert found is not None
            assert found.id == "r1"
            assert uow.stock.reversal_of("r1") is None
            with pytest.raises(ConflictError):
                uow.stock.append(original.reversal("r3", date=_DAY, recorded_by="x"))
            ghost = event("ghost", 1).reversal("r4", date=_DAY, recorded_by="x")
            with pytest.raises(ConflictError):
                uow.stock.append(ghost)

    def test_balances_and_totals(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            uow.stock.append(event("a", 10, day=dt.date(2026, 1, 5)))
            uow.stock.append(event("b", 4, facility="HN-BD", lot="L2", day=dt.date(2026, 2, 1)))
            uow.stock.append(
                event(
                    "c",
                    -1,
                    kind=EventKind.WASTAGE,
                    reason=WastageReason.BROKEN,
                    day=dt.date(2026, 2, 3),
                )
            )
            uow.stock.append(event("d", 0, kind=EventKind.COUNT, day=dt.date(2026, 2, 4)))
            uow.commit()
        with backend.unit_of_work() as uow:
            got = [(b.facility_id, b.lot_number, b.quantity) for b in uow.stock.balances()]
            assert got == [("HN-BD", "L2", 4), ("HN-BD-S1", "L001", 9)]
            assert [b.quantity for b in uow.stock.balances(facility_ids=["HN-BD"])] == [4]
            assert uow.stock.balances(product_code="BCG") == []
            feb = uow.stock.totals(
                ["HN-BD-S1", "HN-BD"], since=dt.date(2026, 2, 1), until=dt.date(2026, 3, 1)
            )
            got_t = [(t.facility_id, t.kind, t.reason, t.quantity, t.events) for t in feb]
            assert got_t == [
                ("HN-BD", EventKind.RECEIPT, None, 4, 1),
                ("HN-BD-S1", EventKind.COUNT, None, 0, 1),
                ("HN-BD-S1", EventKind.WASTAGE, WastageReason.BROKEN, -1, 1),
            ]
            before = uow.stock.totals(["HN-BD-S1"], since=None, until=dt.date(2026, 2, 1))
            assert [(t.kind, t.quantity) for t in before] == [(EventKind.RECEIPT, 10)]
            assert [e.id for e in uow.stock.events(since=dt.date(2026, 2, 3))] == ["c", "d"]
            assert [e.id for e in uow.stock.events(kind=EventKind.RECEIPT, lot_number="L2")] == [
                "b"
            ]

    def test_two_units_of_work_cannot_both_take_the_last_dose(self, backend: Backend) -> None:
        self.require("supports_concurrent_writers")
        with backend.unit_of_work() as uow:
            uow.stock.append(event("e1", 1))
            uow.commit()
        first = backend.unit_of_work().__enter__()
        second = backend.unit_of_work().__enter__()
        try:
            assert first.stock.balance("HN-BD-S1", "PENTA", "L001") == 1
            assert second.stock.balance("HN-BD-S1", "PENTA", "L001") == 1
            first.stock.append(event("t1", -1, kind=EventKind.ISSUE))
            first.commit()

            def take_too() -> None:
                second.stock.append(event("t2", -1, kind=EventKind.ISSUE))
                second.commit()

            with pytest.raises((ConflictError, StockError)):
                take_too()
        finally:
            first.__exit__(None, None, None)
            second.__exit__(None, None, None)
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 0
            assert [e.id for e in uow.stock.events()] == ["e1", "t1"]

    def test_a_change_resting_on_a_stale_balance_conflicts(self, backend: Backend) -> None:
        self.require("supports_concurrent_writers")
        with backend.unit_of_work() as uow:
            uow.stock.append(event("e1", 10))
            uow.commit()
        first = backend.unit_of_work().__enter__()
        second = backend.unit_of_work().__enter__()
        try:
            book = first.stock.balance("HN-BD-S1", "PENTA", "L001")  # a count starts
            second.stock.append(event("t1", -3, kind=EventKind.ISSUE))
            second.commit()

            def book_the_count() -> None:
                counted = event(
                    "c1", 8 - book, kind=EventKind.COUNT, reason=WastageReason.COUNT_DIFFERENCE
                )
                first.stock.append(counted)
                first.commit()

            with pytest.raises(ConflictError):
                book_the_count()
        finally:
            first.__exit__(None, None, None)
            second.__exit__(None, None, None)
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 7
            assert uow.stock.find_event("c1") is None

    def test_supply_profiles(self, backend: Backend) -> None:
        profile = SupplyProfile("MR", VvmType.VVM14, diluent_code="MR-DIL", vial_volume_cm3=2.6)
        with backend.unit_of_work() as uow:
            assert uow.stock.find_profile("MR") is None
            uow.stock.put_profile(profile)
            assert uow.stock.find_profile("MR") == profile
        with backend.unit_of_work() as uow:
            assert uow.stock.find_profile("MR") is None  # rolled back
            uow.stock.put_profile(profile)
            uow.commit()
        replaced = SupplyProfile("MR", VvmType.VVM30)
        with backend.unit_of_work() as uow:
            assert uow.stock.find_profile("MR") == profile
            uow.stock.put_profile(replaced)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.stock.find_profile("MR") == replaced

    hypothesis_stateful_examples: ClassVar[int] = 20

    def test_random_sequences_keep_the_books(self, backend: Backend) -> None:
        self.seed(backend)
        machine: Any = type("Machine", (LedgerMachine,), {"backend": backend})
        run = machine.TestCase()
        run.settings = settings(
            max_examples=self.hypothesis_stateful_examples,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        run.runTest()


_FACILITIES = ("HN", "HN-BD", "HN-BD-S1")
_LOTS = ("L001", "L002")


class LedgerMachine(RuleBasedStateMachine):
    """Random ledger operations and doses against one backend, checked against plain sums.

    The examples share one backend (a fresh database per example would cost seconds): each
    example works on two lots of its own, named after a random prefix that its event ids
    carry too, and checks only those lots. Set ``backend`` on a subclass.
    """

    backend: ClassVar[Backend]

    def __init__(self) -> None:
        super().__init__()
        self.prefix = _uid()
        # The example's own lots keep examples apart on a shared backend.
        self.lots = tuple(f"{self.prefix[:8]}{x}" for x in ("A", "B"))
        with self.backend.unit_of_work() as uow:
            for lot in self.lots:
                uow.lots.add(Lot("PENTA", lot, dt.date(2030, 1, 1)))
            uow.commit()
        self.n = itertools.count()
        self.entered = 0
        self.gone = 0
        self.event_ids: list[str] = []
        self.shipments: list[str] = []
        self.doses: list[str] = []
        self.subject_id = f"p{self.prefix}"
        with self.backend.unit_of_work() as uow:
            uow.subjects.add(subject(self.subject_id))
            uow.commit()

    def _id(self) -> str:
        return f"{self.prefix}-{next(self.n)}"

    def _do(self, change: Any, *, commit: bool = True) -> bool:
        try:
            with self.backend.unit_of_work() as uow:
                change(uow)
                if commit:
                    uow.commit()
            return commit
        except (StockError, ValidationError, ConflictError):
            return False

    @rule(facility=st.sampled_from(_FACILITIES), lot=st.integers(0, 1), n=st.integers(1, 30))
    def receive(self, facility: str, lot: int, n: int) -> None:
        """Stock arrives from outside."""
        eid = self._id()
        lot_obj = Lot("PENTA", self.lots[lot], dt.date(2030, 1, 1))

        def change(uow: UnitOfWork) -> None:
            ledger.receive(
                uow, event_id=eid, facility_id=facility, lot=lot_obj, doses=n,
                date=_DAY, as_of=AS_OF, by="t",
            )  # fmt: skip

        if self._do(change):
            self.entered += n
            self.event_ids.append(eid)

    @rule(
        facility=st.sampled_from(_FACILITIES),
        lot=st.integers(0, 1),
        n=st.integers(1, 20),
        waste=st.booleans(),
    )
    def take(self, facility: str, lot: int, n: int, waste: bool) -> None:
        """Doses wasted or issued outside the ledger (refused when not on hand)."""
        eid = self._id()

        def change(uow: UnitOfWork) -> None:
            if waste:
                ledger.record_wastage(
                    uow, event_id=eid, facility_id=facility, product_code="PENTA",
                    lot_number=self.lots[lot], doses=n, reason=WastageReason.EXPIRED,
                    date=_DAY, as_of=AS_OF, by="t",
                )  # fmt: skip
            else:
                ledger.issue(
                    uow, event_id=eid, facility_id=facility, product_code="PENTA",
                    lot_number=self.lots[lot], doses=n, date=_DAY, as_of=AS_OF, by="t",
                )  # fmt: skip

        if self._do(change):
            self.gone += n
            self.event_ids.append(eid)

    @rule(
        source=st.sampled_from(_FACILITIES),
        dest=st.sampled_from(_FACILITIES),
        lot=st.integers(0, 1),
        n=st.integers(1, 20),
    )
    def ship(self, source: str, dest: str, lot: int, n: int) -> None:
        """A shipment leaves (refused to self or beyond the stock)."""
        tid = self._id()

        def change(uow: UnitOfWork) -> None:
            ledger.ship(
                uow, transfer_id=tid, source_id=source, destination_id=dest,
                product_code="PENTA", lot_number=self.lots[lot], doses=n, date=_DAY,
                as_of=AS_OF, by="t",
            )  # fmt: skip

        if self._do(change):
            self.shipments.append(tid)
            self.event_ids.append(f"{tid}:out")

    @rule(data=st.data(), short=st.integers(0, 5))
    def receive_shipment(self, data: st.DataObject, short: int) -> None:
        """A shipment arrives, maybe short (the shortfall is wasted at the destination)."""
        if not self.shipments:
            return
        tid = data.draw(st.sampled_from(self.shipments))
        with self.backend.unit_of_work() as uow:
            out = uow.stock.events(transfer_id=tid, kind=EventKind.TRANSFER_OUT)
            shipped = -sum(e.quantity for e in out)
        received = max(0, shipped - short)

        def change(uow: UnitOfWork) -> None:
            ledger.receive_shipment(
                uow, transfer_id=tid, received=received, date=_DAY, as_of=AS_OF, by="t"
            )

        if self._do(change):
            self.gone += shipped - received
            self.shipments.remove(tid)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        """Undo some earlier event (refused when it would go negative or was undone)."""
        if not self.event_ids:
            return
        eid = data.draw(st.sampled_from(self.event_ids))
        with self.backend.unit_of_work() as uow:
            original = uow.stock.find_event(eid)
        assert original is not None
        rid = self._id()

        def change(uow: UnitOfWork) -> None:
            ledger.reverse(uow, event_id=eid, reversal_id=rid, date=_DAY, as_of=AS_OF, by="t")

        if self._do(change):
            if original.kind is EventKind.TRANSFER_OUT:
                assert original.transfer_id is not None
                self.shipments.remove(original.transfer_id)
            elif original.quantity > 0:
                self.entered -= original.quantity
            else:
                self.gone += original.quantity  # quantity is negative: less gone
            self.event_ids.remove(eid)

    @rule(facility=st.sampled_from(_FACILITIES), lot=st.integers(0, 1), counted=st.integers(0, 40))
    def count(self, facility: str, lot: int, counted: int) -> None:
        """A physical count books its difference from the book."""
        eid = self._id()

        def change(uow: UnitOfWork) -> None:
            ledger.count(
                uow, event_id=eid, facility_id=facility, product_code="PENTA",
                lot_number=self.lots[lot], counted=counted,
                reason=WastageReason.COUNT_DIFFERENCE, date=_DAY, as_of=AS_OF, by="t",
            )  # fmt: skip

        if self._do(change):
            with self.backend.unit_of_work() as uow:
                booked = uow.stock.find_event(eid)
            assert booked is not None
            if booked.quantity > 0:
                self.entered += booked.quantity
            else:
                self.gone -= booked.quantity
            if booked.quantity:
                self.event_ids.append(eid)

    @rule(facility=st.sampled_from(_FACILITIES), lot=st.integers(0, 1))
    def give_dose(self, facility: str, lot: int) -> None:
        """A dose recorded at the point of care takes one dose of its lot, or is refused."""
        did = self._id()
        registry = Registry(self.backend, clock=FixedClock(NOW), user="t")
        try:
            registry.record_dose(
                dose(did, self.subject_id, product="PENTA", facility=facility,
                     lot=self.lots[lot], day=_DAY)
            )  # fmt: skip
        except StockError:
            with self.backend.unit_of_work() as uow:
                assert uow.doses.find(did) is None  # nothing of the dose was kept
            return
        with self.backend.unit_of_work() as uow:
            taken = uow.stock.find_event(f"dose:{did}:v1")
        if taken is not None:
            self.gone += 1
            self.doses.append(did)

    @rule(data=st.data())
    def void_dose(self, data: st.DataObject) -> None:
        """Voiding a dose puts its dose back."""
        if not self.doses:
            return
        did = data.draw(st.sampled_from(self.doses))
        Registry(self.backend, clock=FixedClock(NOW), user="t").void_dose(
            did, expected_version=1, reason="Nhập nhầm"
        )
        self.gone -= 1
        self.doses.remove(did)

    @rule(n=st.integers(1, 50))
    def rolled_back(self, n: int) -> None:
        """A unit of work that receives and is never committed leaves nothing."""
        eid = self._id()
        lot_obj = Lot("PENTA", self.lots[0], dt.date(2030, 1, 1))

        def change(uow: UnitOfWork) -> None:
            ledger.receive(
                uow, event_id=eid, facility_id="HN", lot=lot_obj, doses=n, date=_DAY,
                as_of=AS_OF, by="t",
            )  # fmt: skip

        self._do(change, commit=False)
        with self.backend.unit_of_work() as uow:
            assert uow.stock.find_event(eid) is None

    @invariant()
    def books_balance(self) -> None:
        """Balances are sums of events, never negative; quantity is conserved."""
        with self.backend.unit_of_work() as uow:
            on_hand = 0
            for lot in self.lots:
                events = uow.stock.events(lot_number=lot)
                sums: dict[str, int] = {}
                for e in events:
                    sums[e.facility_id] = sums.get(e.facility_id, 0) + e.quantity
                for f in _FACILITIES:
                    held = uow.stock.balance(f, "PENTA", lot)
                    assert held >= 0
                    assert held == sums.get(f, 0)
                    on_hand += held
                    running = 0
                    for e in events:
                        if e.facility_id == f:
                            running += e.quantity
                            assert running >= 0
            transit = sum(
                s.in_transit for lot in self.lots for s in ledger.in_transit(uow, lot_number=lot)
            )
        assert self.entered == on_hand + transit + self.gone


class StockServicesContract(ContractBase):
    """Doses and the ledger: decrement in the same transaction, reversals, shipments."""

    def _stock(self, backend: Backend, doses: int, *, facility: str = "HN-BD-S1") -> None:
        with backend.unit_of_work() as uow:
            ledger.receive(
                uow, event_id=f"rcv-{facility}-{doses}", facility_id=facility,
                lot=SEED.lots[0], doses=doses, date=dt.date(2024, 3, 1), as_of=AS_OF, by="t",
            )  # fmt: skip
            uow.commit()

    def test_a_dose_decrements_its_tracked_lot(self, backend: Backend) -> None:
        self.seed(backend)
        self._stock(backend, 1)
        self.add_subjects(backend, subject("s1"), subject("s2"))
        reg = self.registry(backend)
        reg.record_dose(dose("d1", "s1", product="PENTA", lot="L001"))
        reg.record_dose(dose("d1", "s1", product="PENTA", lot="L001"))  # a retry: no change
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 0
            given = uow.stock.events(kind=EventKind.ADMINISTERED)
            assert [(e.dose_id, e.quantity) for e in given] == [("d1", -1)]
        with pytest.raises(StockError):
            reg.record_dose(dose("d2", "s2", product="PENTA", lot="L001"))
        with backend.unit_of_work() as uow:
            assert uow.doses.find("d2") is None  # nothing half-written
        reg.void_dose("d1", expected_version=1, reason="Nhập nhầm")
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 1
        reg.record_dose(dose("d2", "s2", product="PENTA", lot="L001"))
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 0

    def test_untracked_facilities_and_historical_doses_touch_no_stock(
        self, backend: Backend
    ) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("s1"))
        reg = self.registry(backend)
        reg.record_dose(dose("d1", "s1", product="PENTA", lot="L001"))
        with backend.unit_of_work() as uow:
            assert uow.stock.events() == []

    def test_a_correction_moves_the_decrement(self, backend: Backend) -> None:
        self.seed(backend)
        self._stock(backend, 5)
        self._stock(backend, 3, facility="HN-BD")
        self.add_subjects(backend, subject("s1"))
        reg = self.registry(backend)
        d = dose("d1", "s1", product="PENTA", lot="L001")
        reg.record_dose(d)
        reg.correct_dose(
            dose("d1", "s1", product="PENTA", lot="L001", facility="HN-BD"),
            expected_version=1,
            reason="Sai nơi tiêm",
        )
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD-S1", "PENTA", "L001") == 5
            assert uow.stock.balance("HN-BD", "PENTA", "L001") == 2
        reg.void_dose("d1", expected_version=2, reason="Ghi trùng")
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD", "PENTA", "L001") == 3

    def test_a_short_shipment_is_wasted_at_the_destination(self, backend: Backend) -> None:
        self.seed(backend)
        self._stock(backend, 100, facility="HN")
        links = ledger.SupplyLinks()
        with backend.unit_of_work() as uow:
            with pytest.raises(ValidationError) as e:
                ledger.ship(
                    uow, transfer_id="T1", source_id="HN", destination_id="HN-BD-S1",
                    product_code="PENTA", lot_number="L001", doses=40, date=AS_OF,
                    as_of=AS_OF, by="t", links=links,
                )  # fmt: skip
            assert e.value.field == "destination_id"
            ledger.ship(
                uow, transfer_id="T1", source_id="HN", destination_id="HN-BD",
                product_code="PENTA", lot_number="L001", doses=40, date=AS_OF,
                as_of=AS_OF, by="t", links=links,
            )  # fmt: skip
            uow.commit()
        with backend.unit_of_work() as uow:
            assert [s.in_transit for s in ledger.in_transit(uow)] == [40]
            ledger.receive_shipment(
                uow, transfer_id="T1", received=38, date=AS_OF, as_of=AS_OF, by="t"
            )
            uow.commit()
        with backend.unit_of_work() as uow:
            assert ledger.in_transit(uow) == []
            assert uow.stock.balance("HN", "PENTA", "L001") == 60
            assert uow.stock.balance("HN-BD", "PENTA", "L001") == 38
            loss = uow.stock.find_event("T1:loss")
            assert loss is not None
            assert loss.reason is WastageReason.TRANSIT_LOSS
            with pytest.raises(ConflictError):
                ledger.receive_shipment(
                    uow, transfer_id="T1", received=40, date=AS_OF, as_of=AS_OF, by="t"
                )

    def test_a_wrong_receipt_of_a_shipment_is_undone_and_booked_again(
        self, backend: Backend
    ) -> None:
        self.test_a_short_shipment_is_wasted_at_the_destination(backend)
        with backend.unit_of_work() as uow:
            with pytest.raises(ValidationError, match="transit loss first"):
                ledger.reverse(uow, event_id="T1:in", reversal_id="u1", date=AS_OF,
                               as_of=AS_OF, by="t")  # fmt: skip
            with pytest.raises(ValidationError, match="received"):
                ledger.reverse(uow, event_id="T1:out", reversal_id="u0", date=AS_OF,
                               as_of=AS_OF, by="t")  # fmt: skip
            for eid in ("T1:loss", "T1:in"):
                ledger.reverse(uow, event_id=eid, reversal_id=f"undo-{eid}", date=AS_OF,
                               as_of=AS_OF, by="t")  # fmt: skip
            assert [s.in_transit for s in ledger.in_transit(uow)] == [40]
            booked = ledger.receive_shipment(
                uow, transfer_id="T1", received=40, date=AS_OF, as_of=AS_OF, by="t"
            )
            assert [e.id for e in booked] == ["T1:in-2"]
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.stock.balance("HN-BD", "PENTA", "L001") == 40
            assert ledger.in_transit(uow) == []

    def test_bad_input_names_the_field(self, backend: Backend) -> None:
        self.seed(backend)
        with backend.unit_of_work() as uow:
            with pytest.raises(ValidationError) as e:
                ledger.issue(
                    uow, event_id="x", facility_id="NOWHERE", product_code="NOPE",
                    lot_number="L001", doses=1, date=AS_OF + dt.timedelta(days=1),
                    as_of=AS_OF, by="t",
                )  # fmt: skip
            assert {f.field for f in e.value.errors} == {"facility_id", "product_code", "date"}
            with pytest.raises(ValidationError) as e:
                ledger.issue(
                    uow, event_id="x", facility_id="HN", product_code="PENTA",
                    lot_number="L001", doses=0, date=AS_OF, as_of=AS_OF, by="t",
                )  # fmt: skip
            assert e.value.field == "doses"
            with pytest.raises(ValidationError) as e:
                ledger.count(
                    uow, event_id="c", facility_id="HN", product_code="PENTA",
                    lot_number="L001", counted=3, date=AS_OF, as_of=AS_OF, by="t",
                )  # fmt: skip
            assert e.value.field == "reason"
            assert uow.stock.events() == []
