"""The stock ledger in SQL (see :class:`immreg.ports.StockLedgerRepository`).

Appending an event is two statements in the unit of work's transaction: the event row
(``INSERT ... ON CONFLICT DO NOTHING``: a retried request finds its id taken and stores
nothing) and the balance change. The balance change is one conditional statement, so it is
atomic whatever the isolation level:

* a positive (or zero) change is an upsert (``INSERT ... ON CONFLICT DO UPDATE``);
* a negative one is ``UPDATE stock_balances SET quantity = quantity + :d WHERE ... AND
  quantity + :d >= 0``: when it matches no row, the stock is not there, the event row just
  inserted is deleted again, and :class:`~immreg.errors.StockError` is raised with nothing
  written.

On PostgreSQL the unit of work runs at REPEATABLE READ, so two transactions that change
the same balance row serialize on its row lock and the later one fails with a
serialization error, which surfaces as :class:`~immreg.errors.ConflictError`: the caller
retries it (an idempotent event id makes the retry safe), and no update is ever lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from immreg.backends.memory_stock import totals_order
from immreg.backends.sqlalchemy.stock_tables import stock_balances, stock_events, stock_profiles
from immreg.errors import ConflictError, StockError
from immreg.stock.model import (
    Balance,
    EventKind,
    KindTotal,
    StockEvent,
    SupplyProfile,
    VvmType,
    WastageReason,
)

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyStockLedger", "event_from_row", "event_to_row"]

# Facility ids per statement in IN lists: under SQLite's and PostgreSQL's bind limits.
_CHUNK = 500

_b = stock_balances.c
_e = stock_events.c
_balance_key = (
    (_b.facility_id == sa.bindparam("f"))
    & (_b.product_code == sa.bindparam("p"))
    & (_b.lot_number == sa.bindparam("l"))
)
_select_balance = sa.select(_b.quantity).where(_balance_key)
_take = (
    sa.update(stock_balances)
    .where(_balance_key, (_b.quantity + sa.bindparam("d")) >= 0)
    .values(quantity=_b.quantity + sa.bindparam("d"))
)
_delete_event = sa.delete(stock_events).where(_e.id == sa.bindparam("id"))
_select_event = sa.select(stock_events).where(_e.id == sa.bindparam("id"))
_select_reversal = sa.select(stock_events).where(_e.reverses == sa.bindparam("id"))
_select_tracks = sa.select(sa.literal(1)).where(
    _b.facility_id == sa.bindparam("f"), _b.product_code == sa.bindparam("p")
)


def _upsert(dialect: str) -> Any:
    ins: Any = (postgresql if dialect == "postgresql" else sqlite).insert(stock_balances)
    return ins.values(
        facility_id=sa.bindparam("f"),
        product_code=sa.bindparam("p"),
        lot_number=sa.bindparam("l"),
        quantity=sa.bindparam("d"),
    ).on_conflict_do_update(
        index_elements=["facility_id", "product_code", "lot_number"],
        set_={"quantity": _b.quantity + ins.excluded.quantity},
    )


def _insert_event(dialect: str) -> Any:
    # DO NOTHING on any unique index (id, reverses): the rowcount tells a lost race.
    ins: Any = (postgresql if dialect == "postgresql" else sqlite).insert(stock_events)
    return ins.on_conflict_do_nothing().execution_options(preserve_rowcount=True)


def event_to_row(e: StockEvent) -> dict[str, Any]:
    """The ``stock_events`` row of an event (without ``seq``)."""
    return {
        "id": e.id,
        "kind": e.kind.value,
        "facility_id": e.facility_id,
        "product_code": e.product_code,
        "lot_number": e.lot_number,
        "quantity": e.quantity,
        "date": e.date,
        "reason": None if e.reason is None else e.reason.value,
        "counterpart_id": e.counterpart_id,
        "transfer_id": e.transfer_id,
        "dose_id": e.dose_id,
        "reverses": e.reverses,
        "vvm_stage": e.vvm_stage,
        "at": e.at,
        "recorded_by": e.recorded_by,
    }


def event_from_row(r: Any) -> StockEvent:
    """Rebuild an event from its row (through its validating constructor)."""
    return StockEvent(
        id=r.id,
        kind=EventKind(r.kind),
        facility_id=r.facility_id,
        product_code=r.product_code,
        lot_number=r.lot_number,
        quantity=r.quantity,
        date=r.date,
        reason=None if r.reason is None else WastageReason(r.reason),
        counterpart_id=r.counterpart_id,
        transfer_id=r.transfer_id,
        dose_id=r.dose_id,
        reverses=r.reverses,
        vvm_stage=r.vvm_stage,
        at=r.at,
        recorded_by=r.recorded_by,
    )


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    unique = sorted(set(ids))
    for i in range(0, len(unique), _CHUNK):
        yield unique[i : i + _CHUNK]


class SqlAlchemyStockLedger:
    """The stock ledger on a unit of work's connection.

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow
        self._dialect = uow.engine.dialect.name

    def append(self, event: StockEvent) -> bool:
        """Append an event and apply it to its balance (see the module docstring).

        Raises:
            StockError: The balance would go below zero; nothing was written.
            ConflictError: Same id with other content; a missing or already reversed
                original; a concurrent writer won.
        """
        run = self._uow.run
        if event.reverses is not None and self.find_event(event.reverses) is None:
            raise ConflictError(f"stock event {event.reverses!r} to reverse does not exist")
        if run(_insert_event(self._dialect), event_to_row(event)).rowcount != 1:
            old = self.find_event(event.id)
            if old == event:
                return False
            if old is not None:
                raise ConflictError(f"stock event {event.id!r} exists with other content")
            raise ConflictError(f"stock event {event.reverses!r} is reversed already")
        params = {
            "f": event.facility_id,
            "p": event.product_code,
            "l": event.lot_number,
            "d": event.quantity,
        }
        if event.quantity >= 0:
            run(_upsert(self._dialect), params)
        elif run(_take, params).rowcount != 1:
            # Our own uncommitted row: taking it back leaves the transaction as it was.
            run(_delete_event, {"id": event.id})
            held = self.balance(event.facility_id, event.product_code, event.lot_number)
            raise StockError(
                f"{event.facility_id} holds {held} doses of {event.product_code}"
                f" lot {event.lot_number}; cannot take {-event.quantity}"
            )
        return True

    def find_event(self, event_id: str) -> StockEvent | None:
        """Return the event or ``None``."""
        row = self._uow.run(_select_event, {"id": event_id}).first()
        return event_from_row(row) if row is not None else None

    def reversal_of(self, event_id: str) -> StockEvent | None:
        """The event reversing ``event_id``, or ``None``."""
        row = self._uow.run(_select_reversal, {"id": event_id}).first()
        return event_from_row(row) if row is not None else None

    def balance(self, facility_id: str, product_code: str, lot_number: str) -> int:
        """Doses on hand of one lot at one facility."""
        params = {"f": facility_id, "p": product_code, "l": lot_number}
        q = self._uow.run(_select_balance, params).scalar()
        return int(q or 0)

    def balances(
        self,
        *,
        facility_ids: Sequence[str] | None = None,
        product_code: str | None = None,
        lot_number: str | None = None,
    ) -> list[Balance]:
        """Non-zero balances, filtered, ordered by facility, product and lot."""
        base = sa.select(stock_balances).where(_b.quantity != 0)
        if product_code is not None:
            base = base.where(_b.product_code == product_code)
        if lot_number is not None:
            base = base.where(_b.lot_number == lot_number)
        base = base.order_by(_b.facility_id, _b.product_code, _b.lot_number)
        stmts = (
            [base]
            if facility_ids is None
            else [base.where(_b.facility_id.in_(c)) for c in _chunks(facility_ids)]
        )
        return [
            Balance(r.facility_id, r.product_code, r.lot_number, r.quantity)
            for stmt in stmts
            for r in self._uow.run(stmt)
        ]

    def tracks(self, facility_id: str, product_code: str) -> bool:
        """Whether the facility has a balance row (so a ledger) for the product."""
        params = {"f": facility_id, "p": product_code}
        return self._uow.run(_select_tracks.limit(1), params).first() is not None

    def events(
        self,
        *,
        facility_id: str | None = None,
        product_code: str | None = None,
        lot_number: str | None = None,
        kind: EventKind | None = None,
        transfer_id: str | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> list[StockEvent]:
        """Events matching every filter, in append order."""
        stmt = sa.select(stock_events).order_by(_e.seq)
        for column, value in (
            (_e.facility_id, facility_id),
            (_e.product_code, product_code),
            (_e.lot_number, lot_number),
            (_e.kind, None if kind is None else kind.value),
            (_e.transfer_id, transfer_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(_e.date >= since)
        if until is not None:
            stmt = stmt.where(_e.date < until)
        return [event_from_row(r) for r in self._uow.run(stmt)]

    def totals(
        self, facility_ids: Sequence[str], *, since: dt.date | None, until: dt.date
    ) -> list[KindTotal]:
        """Sums per (facility, product, kind, reason) over ``[since, until)``."""
        out: list[KindTotal] = []
        for chunk in _chunks(facility_ids):
            stmt = (
                sa.select(
                    _e.facility_id,
                    _e.product_code,
                    _e.kind,
                    _e.reason,
                    sa.func.sum(_e.quantity),
                    sa.func.count(),
                )
                .where(_e.facility_id.in_(chunk), _e.date < until)
                .group_by(_e.facility_id, _e.product_code, _e.kind, _e.reason)
            )
            if since is not None:
                stmt = stmt.where(_e.date >= since)
            for row in self._uow.run(stmt):
                f, p, k, r, q, n = tuple(row)
                reason = None if r is None else WastageReason(r)
                out.append(KindTotal(f, p, EventKind(k), reason, int(q), int(n)))
        out.sort(key=totals_order)
        return out

    def put_profile(self, profile: SupplyProfile) -> None:
        """Store (or replace) a product's supply profile."""
        row = {
            "product_code": profile.product_code,
            "vvm_type": profile.vvm_type.value,
            "diluent_code": profile.diluent_code,
            "vial_volume_cm3": profile.vial_volume_cm3,
        }
        ins: Any = (postgresql if self._dialect == "postgresql" else sqlite).insert(stock_profiles)
        stmt = ins.values(**row).on_conflict_do_update(
            index_elements=["product_code"],
            set_={k: ins.excluded[k] for k in row if k != "product_code"},
        )
        self._uow.run(stmt)

    def find_profile(self, product_code: str) -> SupplyProfile | None:
        """The product's supply profile, or ``None``."""
        stmt = sa.select(stock_profiles).where(stock_profiles.c.product_code == product_code)
        r = self._uow.run(stmt).first()
        if r is None:
            return None
        return SupplyProfile(
            product_code=r.product_code,
            vvm_type=VvmType(r.vvm_type),
            diluent_code=r.diluent_code,
            vial_volume_cm3=r.vial_volume_cm3,
        )
