"""The stock desk: :mod:`immreg.stock` use cases as committed units of work.

``Registry(backend).stock`` is a :class:`StockDesk`: each method opens a unit of work
(with the registry's scope), runs one use case of :mod:`immreg.stock.ledger` or a report,
and commits; dates default to the registry clock's today, instants to its now, and the
user is the registry's. Applications that combine several changes atomically call the
functions of :mod:`immreg.stock.ledger` inside a unit of work of their own instead.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from immreg.model import Lot
from immreg.orgunits import OrgTree
from immreg.ports import UnitOfWork
from immreg.stock import ledger, policy, recall, reports
from immreg.stock.gs1 import ScannedVial, resolve_scan
from immreg.stock.model import StockEvent, WastageReason

if TYPE_CHECKING:
    from immreg.services import Registry

__all__ = ["StockDesk"]


class StockDesk:
    """Stock use cases over a :class:`~immreg.services.Registry`'s backend and clock.

    Args:
        registry: The registry whose backend, clock, user and scope are used.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def _uow(self) -> UnitOfWork:
        r = self._registry
        return r.backend.unit_of_work(scope=r.scope)

    def _today(self, date: dt.date | None) -> tuple[dt.date, dt.date]:
        today = self._registry.clock.today()
        return (date or today), today

    def scan(self, text: str) -> ScannedVial:
        """Resolve a scanned barcode to product and lot (see :func:`.gs1.resolve_scan`)."""
        with self._uow() as uow:
            return resolve_scan(uow, text, as_of=self._registry.clock.today())

    def receive(
        self,
        event_id: str,
        facility_id: str,
        lot: Lot,
        *,
        doses: int | None = None,
        vials: int | None = None,
        date: dt.date | None = None,
        supplier: str | None = None,
        vvm_stage: int | None = None,
    ) -> StockEvent:
        """Book a receipt (see :func:`.ledger.receive`)."""
        day, today = self._today(date)
        with self._uow() as uow:
            event = ledger.receive(
                uow, event_id=event_id, facility_id=facility_id, lot=lot, doses=doses,
                vials=vials, date=day, as_of=today, by=self._registry.user,
                supplier=supplier, vvm_stage=vvm_stage,
            )  # fmt: skip
            uow.commit()
        return event

    def ship(
        self,
        transfer_id: str,
        source_id: str,
        destination_id: str,
        product_code: str,
        lot_number: str,
        doses: int,
        *,
        date: dt.date | None = None,
        links: ledger.SupplyLinks | None = None,
    ) -> StockEvent:
        """Ship to another facility (see :func:`.ledger.ship`)."""
        day, today = self._today(date)
        with self._uow() as uow:
            event = ledger.ship(
                uow, transfer_id=transfer_id, source_id=source_id,
                destination_id=destination_id, product_code=product_code,
                lot_number=lot_number, doses=doses, date=day, as_of=today,
                by=self._registry.user, links=links,
            )  # fmt: skip
            uow.commit()
        return event

    def receive_shipment(
        self,
        transfer_id: str,
        received: int,
        *,
        date: dt.date | None = None,
        loss_reason: WastageReason = WastageReason.TRANSIT_LOSS,
    ) -> list[StockEvent]:
        """Book a shipment in (see :func:`.ledger.receive_shipment`)."""
        day, today = self._today(date)
        with self._uow() as uow:
            events = ledger.receive_shipment(
                uow, transfer_id=transfer_id, received=received, date=day, as_of=today,
                by=self._registry.user, loss_reason=loss_reason,
            )  # fmt: skip
            uow.commit()
        return events

    def waste(
        self,
        event_id: str,
        facility_id: str,
        product_code: str,
        lot_number: str,
        doses: int,
        reason: WastageReason,
        *,
        date: dt.date | None = None,
    ) -> StockEvent:
        """Book wastage (see :func:`.ledger.record_wastage`)."""
        day, today = self._today(date)
        with self._uow() as uow:
            event = ledger.record_wastage(
                uow, event_id=event_id, facility_id=facility_id, product_code=product_code,
                lot_number=lot_number, doses=doses, reason=reason, date=day, as_of=today,
                by=self._registry.user,
            )  # fmt: skip
            uow.commit()
        return event

    def count(
        self,
        event_id: str,
        facility_id: str,
        product_code: str,
        lot_number: str,
        counted: int,
        *,
        reason: WastageReason | None = None,
        date: dt.date | None = None,
    ) -> StockEvent:
        """Book a physical count (see :func:`.ledger.count`)."""
        day, today = self._today(date)
        with self._uow() as uow:
            event = ledger.count(
                uow, event_id=event_id, facility_id=facility_id, product_code=product_code,
                lot_number=lot_number, counted=counted, reason=reason, date=day,
                as_of=today, by=self._registry.user,
            )  # fmt: skip
            uow.commit()
        return event

    def reverse(
        self, event_id: str, reversal_id: str, *, date: dt.date | None = None
    ) -> StockEvent:
        """Undo an event by its reversal (see :func:`.ledger.reverse`)."""
        day, today = self._today(date)
        with self._uow() as uow:
            event = ledger.reverse(
                uow, event_id=event_id, reversal_id=reversal_id, date=day, as_of=today,
                by=self._registry.user,
            )  # fmt: skip
            uow.commit()
        return event

    def monthly_report(
        self, facility_id: str, month: dt.date, *, rollup: bool = False
    ) -> dict[str, reports.MonthlyStockReport]:
        """The monthly stock report (see :func:`.reports.monthly_report`)."""
        with self._uow() as uow:
            return reports.monthly_report(uow, facility_id, month=month, rollup=rollup)

    def recall(self, product_code: str, lot_number: str) -> recall.RecallReport:
        """Everything a lot touched (see :func:`.recall.recall`)."""
        with self._uow() as uow:
            return recall.recall(uow, product_code, lot_number)

    def suggest_issue(
        self, facility_id: str, product_code: str, doses: int, *, as_of: dt.date | None = None
    ) -> list[policy.IssueSuggestion]:
        """Which lots to issue from: VVM stage 2 first, then earliest expiry.

        The VVM stage of each lot is the latest one read at the facility (see
        :func:`.policy.vvm_stages`); see :func:`.policy.suggest_issue`.
        """
        day = as_of or self._registry.clock.today()
        with self._uow() as uow:
            held = uow.stock.balances(facility_ids=[facility_id], product_code=product_code)
            lots = {
                b.lot_number: lot
                for b in held
                if (lot := uow.lots.find(product_code, b.lot_number)) is not None
            }
            events = uow.stock.events(facility_id=facility_id, product_code=product_code)
        vvm = {key[2]: stage for key, stage in policy.vvm_stages(events).items()}
        return policy.suggest_issue(held, lots, doses=doses, as_of=day, vvm=vvm)

    def expiry_alerts(
        self, root_id: str, *, days: int, as_of: dt.date | None = None
    ) -> list[policy.ExpiryAlert]:
        """Holdings in a subtree whose lot expires within ``days`` (see
        :func:`.policy.expiry_alerts`)."""
        day = as_of or self._registry.clock.today()
        with self._uow() as uow:
            tree = OrgTree(uow.org_units.list_all())
            held = uow.stock.balances(facility_ids=sorted(tree.subtree(root_id, on=day)))
            lots = {
                key: lot
                for key in {(b.product_code, b.lot_number) for b in held}
                if (lot := uow.lots.find(*key)) is not None
            }
        return policy.expiry_alerts(held, lots, as_of=day, days=days)

    def stock_out_days(
        self, facility_id: str, product_code: str, *, start: dt.date, end: dt.date
    ) -> int:
        """Days in ``[start, end)`` with no usable dose (see :func:`.policy.stock_out_days`)."""
        with self._uow() as uow:
            events = uow.stock.events(
                facility_id=facility_id, product_code=product_code, until=end
            )
            usable = {
                lot.lot_number: lot.expiry
                for n in {e.lot_number for e in events}
                if (lot := uow.lots.find(product_code, n)) is not None
            }
        return policy.stock_out_days(events, start=start, end=end, usable_until=usable)
