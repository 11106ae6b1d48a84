"""Reports, policies and recall over a small ledger (memory and SQLite file backends)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from immreg.backends import open_backend
from immreg.errors import ValidationError
from immreg.model import Lot, OpenVialRule
from immreg.ports import Backend
from immreg.services import FixedClock, Registry
from immreg.stock import ledger, policy, recall, reports
from immreg.stock.model import Balance, EventKind, StockEvent, WastageReason
from immreg.testing.conformance import AS_OF, NOW, SEED, dose, subject

PENTA_L1 = SEED.lots[0]
L2 = Lot("PENTA", "L002", dt.date(2026, 6, 30))


@pytest.fixture(params=["memory", "sqlite_file"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'r.db'}"
    b = open_backend(url)
    SEED.store(b)
    yield b
    b.close()


def _month_of_movements(b: Backend) -> None:
    with b.unit_of_work() as uow:
        ledger.receive(uow, event_id="r1", facility_id="HN", lot=PENTA_L1, doses=100,
                       date=dt.date(2026, 1, 20), as_of=AS_OF, by="t")  # fmt: skip
        ledger.ship(uow, transfer_id="T1", source_id="HN", destination_id="HN-BD-S1",
                    product_code="PENTA", lot_number="L001", doses=30,
                    date=dt.date(2026, 2, 2), as_of=AS_OF, by="t")  # fmt: skip
        ledger.receive_shipment(uow, transfer_id="T1", received=29, date=dt.date(2026, 2, 3),
                                as_of=AS_OF, by="t")  # fmt: skip
        ledger.record_wastage(uow, event_id="w1", facility_id="HN-BD-S1", product_code="PENTA",
                              lot_number="L001", doses=2, reason=WastageReason.FROZEN,
                              date=dt.date(2026, 2, 10), as_of=AS_OF, by="t")  # fmt: skip
        ledger.count(uow, event_id="c1", facility_id="HN-BD-S1", product_code="PENTA",
                     lot_number="L001", counted=25, reason=WastageReason.COUNT_DIFFERENCE,
                     date=dt.date(2026, 2, 28), as_of=AS_OF, by="t")  # fmt: skip
        uow.commit()
    with b.unit_of_work() as uow:
        uow.subjects.add(subject("s1"))
        uow.commit()
    reg = Registry(b, clock=FixedClock(NOW), user="t")
    reg.record_dose(dose("d1", "s1", product="PENTA", lot="L001", day=dt.date(2026, 2, 20)))


def test_monthly_report_and_rollup(backend: Backend) -> None:
    _month_of_movements(backend)
    with backend.unit_of_work() as uow:
        site = reports.monthly_report(uow, "HN-BD-S1", month=dt.date(2026, 2, 14))["PENTA"]
        assert (site.opening, site.received, site.issued) == (0, 30, 0)
        assert (site.administered, site.wasted, site.adjusted, site.closing) == (1, 3, -2, 24)
        assert site.wasted_by_reason == {WastageReason.TRANSIT_LOSS: 1, WastageReason.FROZEN: 2}
        store = reports.monthly_report(uow, "HN", month=dt.date(2026, 2, 1))["PENTA"]
        assert (store.opening, store.issued, store.closing) == (100, 30, 70)
        province = reports.monthly_report(uow, "HN", month=dt.date(2026, 2, 1), rollup=True)
        total = province["PENTA"]
        # The shipment is issued by one and received by the other: both show in the sum.
        assert (total.opening, total.closing) == (100, 94)
        assert total == reports.merge([store, site])
        assert total.wastage_rate == pytest.approx(3 / 4)
        jan = reports.monthly_report(uow, "HN-BD-S1", month=dt.date(2026, 1, 1))
        assert jan == {}
        held = reports.on_hand(uow, "VN", on=AS_OF)
        assert held["VN"] == {("PENTA", "L001"): 94}
        assert held["HN-BD-S1"] == {("PENTA", "L001"): 24}
        assert "HCM" not in held


def test_recall_reaches_doses_people_holdings_and_transit(backend: Backend) -> None:
    _month_of_movements(backend)
    with backend.unit_of_work() as uow:
        ledger.ship(uow, transfer_id="T2", source_id="HN", destination_id="HN-BD",
                    product_code="PENTA", lot_number="L001", doses=5, date=AS_OF,
                    as_of=AS_OF, by="t")  # fmt: skip
        uow.commit()
    with backend.unit_of_work() as uow:
        r = recall.recall(uow, "PENTA", "L001")
    assert r.dose_ids == ("d1",)
    assert r.subject_ids == ("s1",)
    assert [(h.facility_id, h.quantity) for h in r.holdings] == [("HN", 65), ("HN-BD-S1", 24)]
    assert [(s.transfer_id, s.in_transit) for s in r.in_transit] == [("T2", 5)]
    Registry(backend, clock=FixedClock(NOW), user="t").void_dose(
        "d1", expected_version=1, reason="Sai lô"
    )
    with backend.unit_of_work() as uow:
        assert recall.recall(uow, "PENTA", "L001").dose_ids == ()


def test_issue_order_vvm_before_expiry() -> None:
    lots = {
        "EARLY": Lot("PENTA", "EARLY", dt.date(2026, 5, 1)),
        "LATE": Lot("PENTA", "LATE", dt.date(2027, 1, 1)),
        "GONE": Lot("PENTA", "GONE", dt.date(2026, 1, 1)),
        "HOT": Lot("PENTA", "HOT", dt.date(2027, 6, 1)),
    }
    held = [Balance("F", "PENTA", n, 10) for n in lots]
    plan = policy.suggest_issue(held, lots, doses=25, as_of=AS_OF, vvm={"LATE": 2, "HOT": 3})
    # Stage 2 first despite its later expiry; expired and stage-3 lots never.
    assert [(p.lot_number, p.doses) for p in plan] == [("LATE", 10), ("EARLY", 10)]
    plan = policy.suggest_issue(held, lots, doses=5, as_of=AS_OF)
    assert [(p.lot_number, p.doses) for p in plan] == [("EARLY", 5)]


def test_expiry_alerts_and_stock_out_days() -> None:
    lots = {("PENTA", "A"): Lot("PENTA", "A", dt.date(2026, 4, 1))}
    held = [Balance("F", "PENTA", "A", 5), Balance("F", "PENTA", "B", 5)]
    alerts = policy.expiry_alerts(held, lots, as_of=AS_OF, days=30)
    assert [(a.balance.lot_number, a.days_left) for a in alerts] == [("A", 17)]
    assert policy.expiry_alerts(held, lots, as_of=AS_OF, days=10) == []

    def ev(i: int, q: int, day: int, lot: str = "A") -> StockEvent:
        kind = EventKind.RECEIPT if q > 0 else EventKind.ISSUE
        return StockEvent(f"e{i}", kind, "F", "PENTA", lot, q, dt.date(2026, 3, day))

    events = [ev(1, 2, 1), ev(2, -2, 3), ev(3, 4, 6)]
    # Out on the 3rd, 4th and 5th; stocked again on the 6th.
    assert policy.stock_out_days(events, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 8)) == 3
    # Expired stock hides nothing: lot A is unusable from the 7th.
    limits = {"A": dt.date(2026, 3, 6)}
    out = policy.stock_out_days(
        events, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 8), usable_until=limits
    )
    assert out == 4


def test_open_vial_rules() -> None:
    at = dt.datetime(2026, 3, 15, 8, 0, tzinfo=dt.UTC)
    opened = StockEvent("v1", EventKind.VIAL_OPENED, "F", "BCG", "A", 0, at.date(), at=at)
    assert policy.open_vial_expires(opened, OpenVialRule.KEEP_28_DAYS) == at + dt.timedelta(28)
    assert policy.open_vial_expires(opened, OpenVialRule.DISCARD_6_HOURS) == at + dt.timedelta(
        hours=6
    )
    end = at + dt.timedelta(hours=3)
    assert (
        policy.open_vial_expires(opened, OpenVialRule.DISCARD_END_OF_SESSION, session_end=end)
        == end
    )


def test_who_wastage_formulas_and_needs() -> None:
    # WHO/V&B/03.18: 100 doses used, 80 given -> rate 20 %, factor 1.25.
    rate = reports.wastage_rate(used=100, administered=80)
    assert rate == pytest.approx(0.2)
    assert reports.wastage_factor(rate) == pytest.approx(1.25)
    assert reports.wastage_rate(used=0, administered=0) == 0.0
    with pytest.raises(ValueError):
        reports.wastage_factor(1.0)
    need = reports.needs_estimate(
        facility_id="F", product_code="BCG", target_population=100, doses_per_person=1,
        wastage_factor=2.0, on_hand=40, doses_per_vial=20,
    )  # fmt: skip
    # 100 x 1 x 2 = 200, buffer 50, minus 40 on hand = 210 -> 11 vials of 20 = 220.
    assert (need.buffer, need.needed) == (50, 220)
    none = reports.needs_estimate(
        facility_id="F", product_code="BCG", target_population=1, doses_per_person=1,
        wastage_factor=1.0, on_hand=500,
    )  # fmt: skip
    assert none.needed == 0


def test_open_vials_are_drawn_from_and_discarded_when_their_rule_runs_out(
    backend: Backend,
) -> None:
    bcg = Lot("BCG", "B1", dt.date(2027, 1, 1))  # 20 doses a vial, discard after 6 hours
    opened_at = dt.datetime(2026, 3, 15, 7, 30, tzinfo=dt.UTC)
    with backend.unit_of_work() as uow:
        ledger.receive(uow, event_id="rb", facility_id="HN-BD-S1", lot=bcg, vials=2,
                       date=AS_OF, as_of=AS_OF, by="t")  # fmt: skip
        ledger.open_vial(uow, event_id="v1", facility_id="HN-BD-S1", product_code="BCG",
                         lot_number="B1", at=opened_at, as_of=AS_OF, by="t")  # fmt: skip
        for i in range(3):
            uow.subjects.add(subject(f"b{i}"))
        uow.commit()
    reg = Registry(backend, clock=FixedClock(NOW), user="t")
    for i in range(3):
        reg.record_dose(dose(f"db{i}", f"b{i}", product="BCG", lot="B1", day=AS_OF))

    def discard(hours: float) -> list[StockEvent]:
        with backend.unit_of_work() as uow:
            got = ledger.discard_open_vials(
                uow, facility_id="HN-BD-S1", product_code="BCG",
                at=opened_at + dt.timedelta(hours=hours), as_of=AS_OF, by="t",
            )  # fmt: skip
            uow.commit()
        return got

    assert discard(5.9) == []  # still within six hours
    booked = discard(6)
    assert [(e.id, e.quantity, e.reason) for e in booked] == [
        ("v1:discard", -17, WastageReason.OPEN_VIAL_LIMIT)
    ]
    assert discard(7) == []  # once only
    with backend.unit_of_work() as uow:
        assert uow.stock.balance("HN-BD-S1", "BCG", "B1") == 40 - 3 - 17
        month = reports.monthly_report(uow, "HN-BD-S1", month=AS_OF)["BCG"]
        assert (month.administered, month.wasted) == (3, 17)
        assert month.wastage_rate == pytest.approx(17 / 20)
        ledger.record_wastage(uow, event_id="wb", facility_id="HN-BD-S1", product_code="BCG",
                              lot_number="B1", doses=1, reason=WastageReason.BROKEN, date=AS_OF,
                              as_of=AS_OF, by="t")  # fmt: skip
        with pytest.raises(ValidationError) as e:
            ledger.open_vial(uow, event_id="v9", facility_id="HN-BD-S1", product_code="BCG",
                             lot_number="B1", at=opened_at, as_of=AS_OF, by="t")  # fmt: skip
        assert e.value.field == "lot_number"


def test_needs_from_the_ledger(backend: Backend) -> None:
    bcg = Lot("BCG", "B1", dt.date(2027, 1, 1))  # 20 doses a vial
    old = Lot("BCG", "B0", dt.date(2026, 3, 1))
    with backend.unit_of_work() as uow:
        ledger.receive(uow, event_id="r1", facility_id="HN-BD-S1", lot=bcg, doses=100,
                       date=dt.date(2026, 1, 5), as_of=AS_OF, by="t")  # fmt: skip
        ledger.receive(uow, event_id="r0", facility_id="HN-BD-S1", lot=old, doses=20,
                       date=dt.date(2026, 1, 5), as_of=AS_OF, by="t")  # fmt: skip
        ledger.record_wastage(uow, event_id="w1", facility_id="HN-BD-S1", product_code="BCG",
                              lot_number="B1", doses=15, reason=WastageReason.OPEN_VIAL_LIMIT,
                              date=dt.date(2026, 2, 10), as_of=AS_OF, by="t")  # fmt: skip
        for i in range(5):
            uow.subjects.add(subject(f"n{i}"))
        uow.commit()
    reg = Registry(backend, clock=FixedClock(NOW), user="t")
    for i in range(5):
        reg.record_dose(dose(f"dn{i}", f"n{i}", product="BCG", lot="B1", day=dt.date(2026, 2, 9)))
    with backend.unit_of_work() as uow:
        need = reports.estimate_needs(
            uow, "HN-BD-S1", "BCG", target_population=30, doses_per_person=1, as_of=AS_OF
        )
    # February: 5 given, 15 wasted -> rate 0.75, factor 4; 30 x 4 = 120, buffer 30,
    # usable on hand 80 (lot B0 expired on 1 March): 70 -> 4 vials of 20 = 80.
    assert need.wastage_factor == pytest.approx(4.0)
    assert (need.on_hand, need.buffer, need.needed) == (80, 30, 80)
    assert reports.usage_rate(used=20, administered=5) == pytest.approx(0.25)
