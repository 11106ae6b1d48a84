"""The in-memory stock ledger (see :class:`immreg.ports.StockLedgerRepository`).

A unit of work keeps its appended events and their balance changes pending; reads go
through them. :meth:`MemoryStockLedger.apply` (called by the unit of work's ``commit``
under the store lock) re-checks ids and balances against what other units of work
committed meanwhile, so two units of work that both took the last dose cannot both commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from immreg.errors import ConflictError, StockError
from immreg.stock.model import Balance, EventKind, KindTotal, StockEvent, SupplyProfile

__all__ = ["MemoryStockLedger", "StockStore", "totals_order"]

_Key = tuple[str, str, str]


@attrs.define
class StockStore:
    """The committed ledger of one memory backend.

    Attributes:
        events: Every event, in append order.
        by_id: Events by id.
        reversed_by: Reversed event id -> id of its reversal.
        balances: Doses on hand per (facility, product, lot).
        tracked: (facility, product) pairs that have a ledger.
        profiles: Supply profiles by product code.
    """

    events: list[StockEvent] = attrs.field(factory=list)
    by_id: dict[str, StockEvent] = attrs.field(factory=dict)
    reversed_by: dict[str, str] = attrs.field(factory=dict)
    balances: dict[_Key, int] = attrs.field(factory=dict)
    tracked: set[tuple[str, str]] = attrs.field(factory=set)
    profiles: dict[str, SupplyProfile] = attrs.field(factory=dict)


def _key(e: StockEvent) -> _Key:
    return (e.facility_id, e.product_code, e.lot_number)


def totals_order(total: KindTotal) -> tuple[str, str, str, str]:
    """The sort key of ``totals``: facility, product, kind, then reason (none first).

    Every backend returns :meth:`~immreg.ports.StockLedgerRepository.totals` in this order.
    """
    return (
        total.facility_id,
        total.product_code,
        total.kind.value,
        "" if total.reason is None else total.reason.value,
    )


class MemoryStockLedger:
    """One unit of work's view of the in-memory ledger.

    Args:
        store: The backend's committed ledger.
    """

    def __init__(self, store: StockStore) -> None:
        self._store = store
        self.pending: list[StockEvent] = []
        self._by_id: dict[str, StockEvent] = {}
        self._delta: dict[_Key, int] = {}
        # The committed balance of each key when this unit of work first read or changed
        # it: at commit a key changed meanwhile by another unit of work is a conflict, as a
        # REPEATABLE READ transaction on PostgreSQL gets on writing a row changed since its
        # snapshot (so a count or a decrement never rests on a stale balance).
        self._seen: dict[_Key, int] = {}
        self._profiles: dict[str, SupplyProfile] = {}

    def _find(self, event_id: str) -> StockEvent | None:
        return self._by_id.get(event_id) or self._store.by_id.get(event_id)

    def _reversal_id(self, event_id: str) -> str | None:
        for e in self.pending:
            if e.reverses == event_id:
                return e.id
        return self._store.reversed_by.get(event_id)

    def append(self, event: StockEvent) -> bool:
        """Append an event; ``False`` if the same event is stored already."""
        old = self._find(event.id)
        if old is not None:
            if old == event:
                return False
            raise ConflictError(f"stock event {event.id!r} exists with other content")
        if event.reverses is not None:
            original = self._find(event.reverses)
            if original is None:
                raise ConflictError(f"stock event {event.reverses!r} to reverse does not exist")
            if self._reversal_id(event.reverses) is not None:
                raise ConflictError(f"stock event {event.reverses!r} is reversed already")
        key = _key(event)
        after = self.balance(*key) + event.quantity
        if after < 0:
            raise StockError(
                f"{event.facility_id} holds {after - event.quantity} doses of {event.product_code}"
                f" lot {event.lot_number}; cannot take {-event.quantity}"
            )
        self._delta[key] = self._delta.get(key, 0) + event.quantity
        self._by_id[event.id] = event
        self.pending.append(event)
        return True

    def find_event(self, event_id: str) -> StockEvent | None:
        """Return the event or ``None``."""
        return self._find(event_id)

    def reversal_of(self, event_id: str) -> StockEvent | None:
        """The event reversing ``event_id``, or ``None``."""
        rid = self._reversal_id(event_id)
        return self._find(rid) if rid is not None else None

    def balance(self, facility_id: str, product_code: str, lot_number: str) -> int:
        """Doses on hand of one lot at one facility."""
        key = (facility_id, product_code, lot_number)
        committed = self._seen.setdefault(key, self._store.balances.get(key, 0))
        return committed + self._delta.get(key, 0)

    def balances(
        self,
        *,
        facility_ids: Sequence[str] | None = None,
        product_code: str | None = None,
        lot_number: str | None = None,
    ) -> list[Balance]:
        """Non-zero balances, filtered, ordered by facility, product and lot."""
        wanted = set(facility_ids) if facility_ids is not None else None
        out = []
        for key in sorted(set(self._store.balances) | set(self._delta)):
            f, p, lot = key
            if wanted is not None and f not in wanted:
                continue
            if product_code is not None and p != product_code:
                continue
            if lot_number is not None and lot != lot_number:
                continue
            q = self.balance(*key)
            if q:
                out.append(Balance(f, p, lot, q))
        return out

    def tracks(self, facility_id: str, product_code: str) -> bool:
        """Whether any event was ever appended for the facility and product."""
        return (facility_id, product_code) in self._store.tracked or any(
            k[0] == facility_id and k[1] == product_code for k in self._delta
        )

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
        return [
            e
            for e in [*self._store.events, *self.pending]
            if (facility_id is None or e.facility_id == facility_id)
            and (product_code is None or e.product_code == product_code)
            and (lot_number is None or e.lot_number == lot_number)
            and (kind is None or e.kind is kind)
            and (transfer_id is None or e.transfer_id == transfer_id)
            and (since is None or e.date >= since)
            and (until is None or e.date < until)
        ]

    def totals(
        self, facility_ids: Sequence[str], *, since: dt.date | None, until: dt.date
    ) -> list[KindTotal]:
        """Sums per (facility, product, kind, reason) over ``[since, until)``."""
        wanted = set(facility_ids)
        sums: dict[tuple[str, str, EventKind, object], list[int]] = {}
        for e in [*self._store.events, *self.pending]:
            if e.facility_id not in wanted or e.date >= until:
                continue
            if since is not None and e.date < since:
                continue
            acc = sums.setdefault((e.facility_id, e.product_code, e.kind, e.reason), [0, 0])
            acc[0] += e.quantity
            acc[1] += 1
        out = [KindTotal(f, p, k, r, q, n) for (f, p, k, r), (q, n) in sums.items()]  # type: ignore[arg-type]
        out.sort(key=totals_order)
        return out

    def put_profile(self, profile: SupplyProfile) -> None:
        """Store (or replace) a product's supply profile."""
        self._profiles[profile.product_code] = profile

    def find_profile(self, product_code: str) -> SupplyProfile | None:
        """The product's supply profile, or ``None``."""
        return self._profiles.get(product_code) or self._store.profiles.get(product_code)

    def check(self) -> None:
        """Raise unless the pending events still fit what is committed (store lock held).

        Raises:
            ConflictError: An event id or a reversal was committed by another unit of work,
                or another unit of work changed a balance this one changes (as a
                concurrent writer's serialization failure does on PostgreSQL).
        """
        store = self._store
        for e in self.pending:
            if e.id in store.by_id:
                raise ConflictError(f"stock event {e.id!r} was appended by another unit of work")
            if e.reverses is not None and e.reverses in store.reversed_by:
                raise ConflictError(f"stock event {e.reverses!r} was reversed meanwhile")
        for key in self._delta:
            if store.balances.get(key, 0) != self._seen[key]:
                raise ConflictError(
                    f"another unit of work changed the stock of {key[1]} lot {key[2]}"
                    f" at {key[0]}; nothing was kept"
                )

    def apply(self) -> None:
        """Make the pending events committed (store lock held, after :meth:`check`)."""
        store = self._store
        for e in self.pending:
            store.events.append(e)
            store.by_id[e.id] = e
            if e.reverses is not None:
                store.reversed_by[e.reverses] = e.id
            store.tracked.add((e.facility_id, e.product_code))
        for key, delta in self._delta.items():
            store.balances[key] = store.balances.get(key, 0) + delta
        store.profiles.update(self._profiles)
