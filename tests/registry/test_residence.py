"""Transfers between communes keep one record and its history, on every backend."""

from __future__ import annotations

import datetime as dt

import pytest

from immreg.errors import ScopeError, ValidationError
from immreg.ports import Backend
from immreg.registry.residence import transfer
from immreg.services import list_subjects
from immreg.testing.conformance import NOW, SEED, dose, subject

MOVE = dt.date(2025, 1, 10)
AS_OF = dt.date(2026, 3, 15)


@pytest.fixture
def seeded(backend: Backend) -> Backend:
    backend.create_schema()
    SEED.store(backend)
    with backend.unit_of_work() as uow:
        uow.subjects.add(subject("child", code="C-1"))
        uow.doses.add(dose("d1", "child"))
        uow.commit()
    return backend


def _move(backend: Backend, to: str, *, on: dt.date = MOVE, scope: str | None = None) -> None:
    with backend.unit_of_work(scope=scope) as uow:
        transfer(uow, "child", to, on=on, as_of=AS_OF, at=NOW, by="nv.lan")
        uow.commit()


def test_transfer_out_and_in_keeps_one_record_and_its_history(seeded: Backend) -> None:
    _move(seeded, "HCM-Q1", scope="HN")  # the sending province records the move
    with seeded.unit_of_work() as uow:
        moved = uow.subjects.get("child")
        assert moved.national_code == "C-1"
        assert [(r.org_unit_id, r.start, r.end) for r in moved.residences] == [
            ("HN-BD", dt.date(2024, 2, 29), MOVE),
            ("HCM-Q1", MOVE, None),
        ]
        assert [d.id for d in uow.doses.list_for_subject("child")] == ["d1"]
        # Due lists and reports follow the date concerned.
        assert [s.id for s in list_subjects(uow, "HN", on=dt.date(2024, 12, 31))] == ["child"]
        assert list_subjects(uow, "HN", on=MOVE) == []
        assert [s.id for s in list_subjects(uow, "HCM", on=MOVE)] == ["child"]
        assert [e.action for e in uow.audit.list_for("subject", "child")] == ["transfer"]


def test_bad_moves_are_refused_by_field_and_write_nothing(seeded: Backend) -> None:
    for to, on, field in [
        ("nowhere", MOVE, "to_org_unit_id"),
        ("HN-BD", MOVE, "to_org_unit_id"),
        ("HCM-Q1", dt.date(2027, 1, 1), "on"),
        ("HCM-Q1", dt.date(2024, 2, 29), "on"),
        ("HCM-Q1", dt.date(2020, 1, 1), "on"),
    ]:
        with pytest.raises(ValidationError) as info:
            _move(seeded, to, on=on)
        assert field in {e.field for e in info.value.errors}
    with seeded.unit_of_work() as uow:
        assert len(uow.subjects.get("child").residences) == 1


def test_a_scope_that_never_saw_the_person_cannot_move_them(seeded: Backend) -> None:
    with pytest.raises(ScopeError):
        _move(seeded, "HCM-Q1", scope="HCM")
