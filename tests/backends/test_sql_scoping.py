"""Scoping, on every backend kind: the SQL backends must agree with the memory backend."""

from __future__ import annotations

import datetime as dt

import pytest
from _data import dose, subject, tree

from immreg.errors import NotFoundError, ScopeError
from immreg.model import OrgLevel, OrgUnit, ParentLink, Residence
from immreg.ports import Backend

ON = dt.date(2024, 6, 1)


@pytest.fixture
def seeded(backend: Backend) -> Backend:
    """A backend with the tree and one subject per commune, each with one dose."""
    with backend.unit_of_work() as uow:
        for unit in tree():
            uow.org_units.add(unit)
        for c in ("C1", "C2", "C3"):
            uow.subjects.add(subject(f"s{c}", c))
            uow.doses.add(dose(f"d{c}", f"s{c}"))
        uow.commit()
    return backend


def test_scope_sees_its_subtree_through_any_parent_link(seeded: Backend) -> None:
    # C2 belonged to P1 before 2025-07-01 and to P2 after: both provinces see it.
    for scope, visible in {
        "VN": {"sC1", "sC2", "sC3"},
        "P1": {"sC1", "sC2"},
        "P2": {"sC2", "sC3"},
        "C3": {"sC3"},
    }.items():
        with seeded.unit_of_work(scope=scope) as uow:
            assert uow.subjects.count() == len(visible)
            assert uow.doses.count() == len(visible)
            listed = uow.subjects.list_resident(["C1", "C2", "C3"], on=ON)
            assert {s.id for s in listed} == visible
            for sid in visible:
                assert uow.subjects.get(sid).id == sid
                assert [d.id for d in uow.doses.list_for_subject(sid)] == [f"d{sid[1:]}"]


def test_out_of_scope_reads_and_writes_raise(seeded: Backend) -> None:
    with seeded.unit_of_work(scope="P1") as uow:
        with pytest.raises(ScopeError):
            uow.subjects.get("sC3")
        with pytest.raises(ScopeError):
            uow.subjects.find("sC3")
        with pytest.raises(ScopeError):
            uow.doses.get("dC3")
        with pytest.raises(ScopeError):
            uow.doses.find("dC3")
        with pytest.raises(ScopeError):
            uow.doses.list_for_subject("sC3")
        with pytest.raises(ScopeError):
            uow.doses.add(dose("new", "sC3"))
        with pytest.raises(ScopeError):
            uow.doses.replace(dose("dC3", "sC3", version=2), expected_version=1)
        with pytest.raises(ScopeError):
            uow.subjects.update(subject("sC3", "C3", given_name="Khác"))
        with pytest.raises(ScopeError):
            uow.subjects.add(subject("s-new", "C3"))
        with pytest.raises(ScopeError):
            # Moving an in-scope subject out of the scope is a write outside it.
            uow.subjects.update(subject("sC1", "C3"))
        assert uow.subjects.find("missing") is None
        assert uow.doses.find("missing") is None
        uow.subjects.add(subject("s-new", "C1"))
        uow.commit()
    with seeded.unit_of_work() as uow:
        assert uow.subjects.count() == 4


def test_a_subject_is_in_scope_through_any_residence(seeded: Backend) -> None:
    moved = subject(
        "mover",
        "C3",
        residences=[
            Residence("C1", dt.date(2024, 1, 1), dt.date(2024, 3, 1)),
            Residence("C3", dt.date(2024, 3, 1)),
        ],
    )
    with seeded.unit_of_work() as uow:
        uow.subjects.add(moved)
        uow.commit()
    with seeded.unit_of_work(scope="P1") as uow:
        assert uow.subjects.get("mover") == moved
        # Listed by residence on the day: in C3 now, so not a C1 resident on ON.
        assert "mover" not in {s.id for s in uow.subjects.list_resident(["C1"], on=ON)}
        assert "mover" in {
            s.id for s in uow.subjects.list_resident(["C1"], on=dt.date(2024, 2, 1))
        }


def test_org_units_added_in_the_unit_of_work_widen_the_scope(
    seeded: Backend, backend_url: str
) -> None:
    with seeded.unit_of_work(scope="P2") as uow:
        assert uow.subjects.count() == 2
        uow.org_units.add(
            OrgUnit(id="C9", name="C9", level=OrgLevel.COMMUNE, parents=[ParentLink("P2", ON)])
        )
        uow.subjects.add(subject("s9", "C9"))
        assert uow.subjects.count() == 3


def test_scope_must_exist(seeded: Backend) -> None:
    with pytest.raises(NotFoundError), seeded.unit_of_work(scope="nowhere"):
        pass


def test_catalogue_org_units_and_lots_are_not_scoped(seeded: Backend) -> None:
    with seeded.unit_of_work(scope="C3") as uow:
        assert len(uow.org_units.list_all()) == 6
        assert uow.org_units.get("C1").id == "C1"


def test_a_cycle_in_parent_links_does_not_hang_the_scope(seeded: Backend) -> None:
    # Bad data: X and Y each name the other as parent (at different times).
    with seeded.unit_of_work() as uow:
        uow.org_units.add(
            OrgUnit(
                id="X",
                name="X",
                level=OrgLevel.DISTRICT,
                parents=[ParentLink("Y", dt.date(2001, 1, 1))],
            )
        )
        uow.org_units.add(
            OrgUnit(
                id="Y",
                name="Y",
                level=OrgLevel.DISTRICT,
                parents=[ParentLink("X", dt.date(2000, 1, 1), dt.date(2001, 1, 1))],
            )
        )
        uow.subjects.add(subject("sX", "X"))
        uow.commit()
    for scope in ("X", "Y"):
        with seeded.unit_of_work(scope=scope) as uow:
            assert uow.subjects.count() == 1
            assert uow.subjects.get("sX").id == "sX"
