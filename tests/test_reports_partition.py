"""Maternal and stock counters agree however the tree is cut (property test).

On random trees (communes that change province on 2025-07-01 included), with women and
stock events attached to random units: for a random cut of the tree, each unit's rolled-up
tally equals the tally computed directly over its subtree only, and the cut's units add up
to the nation's, under the tree before and after the reform.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from immreg.backends import open_backend
from immreg.indicators import Tally, rollup
from immreg.model import AdministeredDose, OrgUnit, Residence, Sex, Subject
from immreg.orgunits import OrgTree
from immreg.registry.records import PregnancyEpisode, PregnancyOutcome
from immreg.reports.maternal import MaternalSpec, maternal_tallies
from immreg.reports.stock import stock_tallies
from immreg.schedule import load_schedule
from immreg.schedule.catalogue import PRODUCTS
from immreg.stock.model import EventKind, StockEvent, WastageReason
from immreg.testing.strategies import org_trees

D = dt.date
SPEC = MaternalSpec(as_of=D(2025, 12, 31), period_start=D(2025, 1, 1), period_end=D(2026, 1, 1))
SCHEDULE = load_schedule("vn-epi")
#: The last day of the old tree and the first of the new.
DAYS = (D(2025, 6, 30), D(2025, 7, 1))


def _cut(tree: OrgTree, root: str, on: dt.date, data: st.DataObject) -> list[str]:
    kids = tree.children(root, on=on)
    if not kids or data.draw(st.booleans()):
        return [root]
    return [u for k in kids for u in _cut(tree, k.id, on, data)]


@settings(max_examples=25, deadline=None)
@given(org_trees(max_provinces=3, max_communes=3, max_sites=2), st.data())
def test_any_cut_gives_the_tallies_of_its_subtrees(
    units: list[OrgUnit], data: st.DataObject
) -> None:
    backend = open_backend("memory://")
    ids = [u.id for u in units]
    tree = OrgTree(units)
    # Data sits on units with no children (a site, or a commune without sites) on both
    # days: a cut holds each of those exactly once.
    leaves = [
        u
        for u in ids
        if not any(tree.children(u, on=on) for on in (D(2025, 6, 30), D(2025, 7, 1)))
    ]
    with backend.unit_of_work() as uow:
        for u in units:
            uow.org_units.add(u)
        for p in PRODUCTS:
            uow.catalogue.add_product(p)
        for i in range(data.draw(st.integers(0, 4))):
            sid = f"w{i}"
            home = data.draw(st.sampled_from(leaves))
            uow.subjects.add(
                Subject(
                    id=sid,
                    family_name="Phạm",
                    given_name="Thị Lan",
                    birth_date=D(1995, 1, 1),
                    sex=Sex.FEMALE,
                    residences=(Residence(home, D(1995, 1, 1)),),
                )
            )
            start = D(2025, 1, 1) + dt.timedelta(days=data.draw(st.integers(0, 200)))
            born = start + dt.timedelta(days=data.draw(st.integers(150, 270)))
            uow.pregnancies.add(
                PregnancyEpisode(f"{sid}-e", sid, start, born, born, PregnancyOutcome.LIVE_BIRTH)
            )
            for k in range(data.draw(st.integers(0, 3))):
                day = start - dt.timedelta(days=data.draw(st.integers(-150, 2000)))
                uow.doses.add(AdministeredDose(f"{sid}-d{k}", sid, "TT", day, home))
        for j in range(data.draw(st.integers(0, 8))):
            unit = data.draw(st.sampled_from(leaves))
            day = D(2025, 5, 1) + dt.timedelta(days=data.draw(st.integers(0, 90)))
            qty = data.draw(st.integers(1, 30))
            uow.stock.append(StockEvent(f"r{j}", EventKind.RECEIPT, unit, "BOPV", "L", qty, day))
            used = data.draw(st.integers(0, qty))
            if used:
                kind = data.draw(st.sampled_from((EventKind.ADMINISTERED, EventKind.WASTAGE)))
                reason = WastageReason.OPEN_VIAL_LIMIT if kind is EventKind.WASTAGE else None
                uow.stock.append(
                    StockEvent(f"u{j}", kind, unit, "BOPV", "L", -used, day, reason=reason)
                )
        uow.commit()
    nation = units[0].id
    with backend.unit_of_work() as uow:
        mat = maternal_tallies(uow, SPEC, SCHEDULE)
        stock = stock_tallies(
            uow, period_start=D(2025, 6, 1), period_end=D(2025, 7, 1), facility_ids=ids
        )
        for on in DAYS:
            cut = _cut(tree, nation, on, data)
            for leaves in (mat, stock):
                rolled = rollup(leaves, tree, on=on, units=[*cut, nation])
                merged = Tally.merge(rolled[u] for u in cut)
                assert merged == rolled[nation] == Tally.merge(leaves.values())
            for u in cut:
                below = tree.subtree(u, on=on)
                direct = maternal_tallies(uow, SPEC, SCHEDULE, units=below)
                assert rollup(mat, tree, on=on, units=[u])[u] == Tally.merge(direct.values())
                direct = stock_tallies(
                    uow,
                    period_start=D(2025, 6, 1),
                    period_end=D(2025, 7, 1),
                    facility_ids=sorted(below),
                )
                assert rollup(stock, tree, on=on, units=[u])[u] == Tally.merge(direct.values())
