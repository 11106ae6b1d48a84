"""The reports' backend contract (:class:`immreg.ports.ReportRepository`).

Subclass :class:`ReportRepositoryContract` with a ``backend`` fixture, as for
:mod:`immreg.testing.conformance`; the same capability flags apply. Every test compares the
backend's leaf tallies with the reference computation :func:`immreg.indicators.leaf_tallies`
over the same data, and some with numbers worked out by hand; since the in-memory backend
passes the same contract, every backend gives the same reports.

:func:`report_worlds` draws random registries (children who move, die, have voided doses,
doses given before, across and after 2025-07-01) over :data:`REFORM_TREE`, a small tree
where two provinces merge on 2025-07-01, as Viet Nam's did.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from hypothesis import strategies as st

from immreg.indicators import (
    DTP,
    MCV,
    UNASSIGNED,
    ReportSpec,
    Tally,
    leaf_tallies,
)
from immreg.model import (
    AdministeredDose,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
)
from immreg.orgunits import VN_REFORM_DATE, OrgTree
from immreg.ports import Backend, UnitOfWork
from immreg.schedule.catalogue import PRODUCTS
from immreg.testing.conformance import ContractBase

__all__ = [
    "REFORM_TREE",
    "ReportRepositoryContract",
    "ReportWorld",
    "report_worlds",
    "store_reform_tree",
]

_START = dt.date(2000, 1, 1)


def _unit(uid: str, level: OrgLevel, *links: tuple[str, dt.date, dt.date | None]) -> OrgUnit:
    opened = min((s for _, s, _ in links), default=_START)
    closed = None
    if links and links[-1][2] is not None:
        closed = links[-1][2]
    return OrgUnit(
        uid,
        uid,
        level,
        parents=tuple(ParentLink(p, s, e) for p, s, e in links),
        opened=opened,
        closed=closed,
    )


_R = VN_REFORM_DATE

#: ``N`` (nation); provinces ``PA`` and ``PB`` until 2025-07-01, merged into ``PAB`` from
#: then; ``PC`` unchanged. Communes ``A1``, ``A2`` (under ``PA``, then ``PAB``), ``B1``
#: (``PB``, then ``PAB``), ``C1`` (``PC``); one site under each commune (``A1-S`` ...).
REFORM_TREE: tuple[OrgUnit, ...] = (
    _unit("N", OrgLevel.NATION),
    _unit("PA", OrgLevel.PROVINCE, ("N", _START, _R)),
    _unit("PB", OrgLevel.PROVINCE, ("N", _START, _R)),
    _unit("PAB", OrgLevel.PROVINCE, ("N", _R, None)),
    _unit("PC", OrgLevel.PROVINCE, ("N", _START, None)),
    _unit("A1", OrgLevel.COMMUNE, ("PA", _START, _R), ("PAB", _R, None)),
    _unit("A2", OrgLevel.COMMUNE, ("PA", _START, _R), ("PAB", _R, None)),
    _unit("B1", OrgLevel.COMMUNE, ("PB", _START, _R), ("PAB", _R, None)),
    _unit("C1", OrgLevel.COMMUNE, ("PC", _START, None)),
    _unit("A1-S", OrgLevel.SITE, ("A1", _START, None)),
    _unit("A2-S", OrgLevel.SITE, ("A2", _START, None)),
    _unit("B1-S", OrgLevel.SITE, ("B1", _START, None)),
    _unit("C1-S", OrgLevel.SITE, ("C1", _START, None)),
)

_COMMUNES = ("A1", "A2", "B1", "C1")
_FACILITIES = ("A1-S", "A2-S", "B1-S", "C1-S", "A1", "C1")
_PRODUCTS = ("BCG", "PENTA-COMBE5", "PENTA-QUINVAXEM", "BOPV", "MEASLES-MVVAC", "MR-MRVAC", "DTP")


@attrs.frozen
class ReportWorld:
    """Subjects and doses to store over :data:`REFORM_TREE`.

    Attributes:
        subjects: Children.
        doses: Their doses (some voided).
    """

    subjects: tuple[Subject, ...]
    doses: tuple[AdministeredDose, ...]

    def store(self, uow: UnitOfWork) -> None:
        """Add everything in ``uow`` (without committing)."""
        for s in self.subjects:
            uow.subjects.add(s)
        for d in self.doses:
            uow.doses.add(d)


@st.composite
def report_worlds(draw: st.DrawFn, *, max_children: int = 8) -> ReportWorld:
    """A random registry over :data:`REFORM_TREE` with ids unique to the example."""
    prefix = uuid.uuid4().hex[:8]
    subjects: list[Subject] = []
    doses: list[AdministeredDose] = []
    for i in range(draw(st.integers(0, max_children))):
        sid = f"{prefix}-s{i}"
        born = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 700)))
        home = draw(st.sampled_from(_COMMUNES))
        residences: tuple[Residence, ...] = ()
        if draw(st.booleans()):
            residences = (Residence(home, born),)
            if draw(st.booleans()):
                moved = born + dt.timedelta(days=draw(st.integers(1, 500)))
                other = draw(st.sampled_from(_COMMUNES))
                residences = (Residence(home, born, moved), Residence(other, moved))
        deceased = None
        if draw(st.integers(0, 9)) == 0:
            deceased = born + dt.timedelta(days=draw(st.integers(0, 600)))
        subjects.append(
            Subject(
                id=sid,
                family_name="Nguyễn",
                given_name=f"Bé {i}",
                birth_date=born,
                sex=Sex.MALE,
                residences=residences,
                deceased_on=deceased,
            )
        )
        for j in range(draw(st.integers(0, 7))):
            voided = draw(st.integers(0, 7)) == 0
            doses.append(
                AdministeredDose(
                    id=f"{prefix}-s{i}-d{j}",
                    subject_id=sid,
                    product_code=draw(st.sampled_from(_PRODUCTS)),
                    # Same-day doses happen, so the (date, id) order is exercised.
                    date=born
                    + dt.timedelta(days=draw(st.sampled_from((0, 30, 60, 300, 400, 600)))),
                    facility_id=draw(st.sampled_from(_FACILITIES)),
                    voided=voided,
                    void_reason="entered in error" if voided else None,
                )
            )
    return ReportWorld(tuple(subjects), tuple(doses))


def store_reform_tree(backend: Backend) -> None:
    """Store :data:`REFORM_TREE` and the programme's catalogue, committed."""
    with backend.unit_of_work() as uow:
        for u in REFORM_TREE:
            uow.org_units.add(u)
        for p in PRODUCTS:
            uow.catalogue.add_product(p)
        uow.commit()


def _spec(as_of: dt.date = dt.date(2025, 12, 31)) -> ReportSpec:
    return ReportSpec(
        as_of=as_of,
        birth_from=dt.date(2024, 1, 1),
        birth_until=dt.date(2026, 1, 1),
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2026, 1, 1),
    )


def _child(sid: str, home: str, born: dt.date = dt.date(2024, 6, 1)) -> Subject:
    return Subject(
        id=sid,
        family_name="Trần",
        given_name="Minh",
        birth_date=born,
        sex=Sex.FEMALE,
        residences=(Residence(home, born),),
    )


def _dose(did: str, sid: str, product: str, day: dt.date, facility: str) -> AdministeredDose:
    return AdministeredDose(
        id=did, subject_id=sid, product_code=product, date=day, facility_id=facility
    )


class ReportRepositoryContract(ContractBase):
    """Leaf tallies: equal to the reference computation, real-time, transactional, scoped."""

    def _world(self, backend: Backend) -> None:
        store_reform_tree(backend)

    def _hand_world(self) -> ReportWorld:
        d = dt.date
        subjects = (
            _child("k1", "A1"),
            _child("k2", "A1"),
            _child("k3", "B1"),
            _child("k4", "C1"),
            _child("old", "C1", born=d(2023, 5, 1)),  # outside the cohort
        )
        doses = (
            # k1: DTP1-3 and MCV1 (fully immunized but for BCG/OPV: not FIC).
            _dose("k1-1", "k1", "PENTA-COMBE5", d(2024, 8, 1), "A1-S"),
            _dose("k1-2", "k1", "PENTA-COMBE5", d(2024, 9, 1), "A1-S"),
            _dose("k1-3", "k1", "PENTA-QUINVAXEM", d(2025, 8, 1), "A1-S"),
            _dose("k1-4", "k1", "MR-MRVAC", d(2025, 9, 1), "A1-S"),
            # k2: DTP1 only, given in 2025 before the reform at B1's site.
            _dose("k2-1", "k2", "PENTA-COMBE5", d(2025, 3, 1), "B1-S"),
            # k3: measles without DTP (a zero-dose child with MCV1).
            _dose("k3-1", "k3", "MEASLES-MVVAC", d(2025, 6, 30), "B1-S"),
            # k4: nothing.
            # old: DTP3 in the period, counted administratively only.
            _dose("old-1", "old", "PENTA-COMBE5", d(2023, 7, 1), "C1-S"),
            _dose("old-2", "old", "PENTA-COMBE5", d(2023, 8, 1), "C1-S"),
            _dose("old-3", "old", "PENTA-COMBE5", d(2025, 2, 1), "C1-S"),
        )
        return ReportWorld(subjects, doses)

    def _check(self, uow: UnitOfWork, world: ReportWorld, spec: ReportSpec) -> None:
        expected = leaf_tallies(spec, world.subjects, world.doses, PRODUCTS)
        got = uow.reports.leaf_tallies(spec)
        got = {u: t for u, t in got.items() if t != Tally.empty()}
        assert got == expected
        # Restricted to some units: the same values, for those units only.
        some = {"A1", "A1-S", "B1-S", UNASSIGNED}
        part = uow.reports.leaf_tallies(spec, units=some)
        part = {u: t for u, t in part.items() if t != Tally.empty()}
        assert part == {u: t for u, t in expected.items() if u in some}

    def test_hand_counted_report(self, backend: Backend) -> None:
        self._world(backend)
        world = self._hand_world()
        spec = _spec()
        with backend.unit_of_work() as uow:
            world.store(uow)
            uow.commit()
        with backend.unit_of_work() as uow:
            leaves = uow.reports.leaf_tallies(spec)
        self._check_hand_numbers(leaves, spec)

    def _check_hand_numbers(self, leaves: dict[str, Tally], spec: ReportSpec) -> None:
        a1, b1, c1 = leaves["A1"], leaves["B1"], leaves["C1"]
        assert (a1["cohort"], b1["cohort"], c1["cohort"]) == (2, 1, 1)
        assert a1[f"received:{DTP}:1"] == 2
        assert a1[f"received:{DTP}:3"] == 1
        assert a1[f"received:{MCV}:1"] == 1
        assert a1["received:Rubella:1"] == 1
        assert a1["dropped:DTP1-DTP3"] == 1
        assert a1["dropped:DTP1-MCV1"] == 1
        assert b1[f"received:{MCV}:1"] == 1
        assert b1["zero_dose"] == 1
        assert c1["zero_dose"] == 1
        assert a1["zero_dose"] == 0
        assert a1["fic"] == 0
        # Administrative counters, where the doses were given, in 2025 only.
        assert leaves["A1-S"][f"doses:{DTP}:3"] == 1
        assert leaves["A1-S"][f"doses:{DTP}:2"] == 0
        assert leaves["B1-S"][f"doses:{DTP}:1"] == 1
        assert leaves["B1-S"][f"doses:{MCV}:1"] == 1
        assert leaves["C1-S"][f"doses:{DTP}:3"] == 1
        assert leaves["C1-S"][f"doses:{DTP}:1"] == 0

    def test_the_reform_sums_under_both_trees(self, backend: Backend) -> None:
        from immreg.indicators import rollup

        self._world(backend)
        world = self._hand_world()
        spec = _spec()
        with backend.unit_of_work() as uow:
            world.store(uow)
            uow.commit()
        with backend.unit_of_work() as uow:
            leaves = uow.reports.leaf_tallies(spec)
        tree = OrgTree(REFORM_TREE)
        before = rollup(leaves, tree, on=dt.date(2025, 6, 30), units=["N", "PA", "PB", "PC"])
        after = rollup(leaves, tree, on=dt.date(2025, 7, 1), units=["N", "PAB", "PC"])
        assert (
            before["N"]
            == after["N"]
            == Tally.merge(t for u, t in leaves.items() if u != UNASSIGNED)
        )
        assert after["PAB"] == before["PA"] + before["PB"]
        assert after["PC"] == before["PC"]
        # k2's DTP1 was given at B1's site in March 2025: Province B before, PAB after.
        assert before["PB"][f"doses:{DTP}:1"] == 1
        assert after["PAB"][f"doses:{DTP}:1"] == 1
        assert before["PA"]["cohort"] == 2
        assert after["PAB"]["cohort"] == 3

    def test_equals_the_reference_on_random_registries(self, backend: Backend) -> None:
        self._world(backend)
        as_ofs = st.sampled_from(
            (dt.date(2025, 6, 30), dt.date(2025, 12, 31), dt.date(2026, 6, 1))
        )

        def check(args: tuple[ReportWorld, dt.date]) -> None:
            world, as_of = args
            with backend.unit_of_work() as uow:
                # Never committed: the examples share the backend and must not see each
                # other; this also shows a report sees the unit of work's own writes.
                world.store(uow)
                self._check(uow, world, _spec(as_of))

        self.check_examples(st.tuples(report_worlds(), as_ofs), check)

    def test_a_dose_counts_once_committed_and_not_after_rollback(self, backend: Backend) -> None:
        self._world(backend)
        spec = _spec()
        with backend.unit_of_work() as uow:
            uow.subjects.add(_child("rt", "A2"))
            uow.commit()
        with backend.unit_of_work() as uow:
            uow.doses.add(_dose("rt-1", "rt", "PENTA-COMBE5", dt.date(2025, 2, 1), "A2-S"))
            # Rolled back on leaving the block.
        with backend.unit_of_work() as uow:
            assert uow.reports.leaf_tallies(spec)["A2"][f"received:{DTP}:1"] == 0
            uow.doses.add(_dose("rt-1", "rt", "PENTA-COMBE5", dt.date(2025, 2, 1), "A2-S"))
            uow.commit()
        with backend.unit_of_work() as uow:
            leaves = uow.reports.leaf_tallies(spec)
            assert leaves["A2"][f"received:{DTP}:1"] == 1
            assert leaves["A2-S"][f"doses:{DTP}:1"] == 1

    def test_a_voided_dose_stops_counting(self, backend: Backend) -> None:
        self._world(backend)
        spec = _spec()
        first = _dose("v-1", "v", "PENTA-COMBE5", dt.date(2025, 2, 1), "A2-S")
        with backend.unit_of_work() as uow:
            uow.subjects.add(_child("v", "A2"))
            uow.doses.add(first)
            uow.commit()
        with backend.unit_of_work() as uow:
            voided = attrs.evolve(first, version=2, voided=True, void_reason="wrong child")
            uow.doses.replace(voided, expected_version=1)
            uow.commit()
        with backend.unit_of_work() as uow:
            leaves = uow.reports.leaf_tallies(spec)
        assert leaves["A2"]["zero_dose"] == 1
        assert leaves.get("A2-S", Tally.empty())[f"doses:{DTP}:1"] == 0

    def test_scoped_unit_of_work_counts_only_its_subtree(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self._world(backend)
        world = self._hand_world()
        spec = _spec()
        with backend.unit_of_work() as uow:
            world.store(uow)
            uow.commit()
        with backend.unit_of_work(scope="PC") as uow:
            leaves = {
                u: t for u, t in uow.reports.leaf_tallies(spec).items() if t != Tally.empty()
            }
        inside = [s for s in world.subjects if s.residences[0].org_unit_id == "C1"]
        ids = {s.id for s in inside}
        expected = leaf_tallies(
            spec, inside, [d for d in world.doses if d.subject_id in ids], PRODUCTS
        )
        assert leaves == expected
        assert set(leaves) == {"C1", "C1-S"}
