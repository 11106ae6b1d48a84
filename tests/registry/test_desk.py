"""The registry desk: Registry(backend).registry, each call one committed unit of work."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from immreg.backends import open_backend
from immreg.model import DoseSource
from immreg.ports import Backend
from immreg.registry.records import AefiReport, Outcome, Severity
from immreg.services import FixedClock, Registry
from immreg.testing.conformance import NOW, SEED, dose, subject


@pytest.fixture(params=["memory", "sqlite_file"])
def registry(request: pytest.FixtureRequest, tmp_path: object) -> Registry:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/r.db"
    backend: Backend = open_backend(url)
    backend.create_schema()
    SEED.store(backend)
    reg = Registry(backend, clock=FixedClock(NOW), user="nv.lan")
    reg.register_subject(subject("lan", code="C-1"))
    reg.register_subject(attrs.evolve(subject("lan-2", given_name="Thi Lan"), caregivers=()))
    reg.record_dose(dose("d1", "lan", product="PENTA", lot="L001"))
    reg.record_dose(dose("d2", "lan-2", product="PENTA", lot="L001"))
    return reg


def test_find_merge_and_unmerge_a_duplicate(registry: Registry) -> None:
    desk = registry.registry
    [pair] = desk.duplicates("VN")
    assert (pair.left_id, pair.right_id) == ("lan", "lan-2")
    assert [p.left_id for p in desk.matches_for(subject("new", given_name="Thị Lan"))] == [
        "lan",
        "lan-2",
    ]
    record = desk.merge("lan", "lan-2", merge_id="m1", reason=f"score {pair.score}")
    history = registry.history("lan", include_voided=True)
    assert [(d.id, d.voided) for d in history.doses] == [("d1", False), ("d2", True)]
    assert desk.duplicates("VN") == []
    desk.unmerge(record.id)
    assert [d.id for d in registry.history("lan-2").doses] == ["d2"]


def test_moves_history_and_aefi(registry: Registry) -> None:
    desk = registry.registry
    moved = desk.transfer("lan", "HCM-Q1", on=dt.date(2025, 6, 1))
    assert moved.residence_on(dt.date(2025, 6, 1)) == "HCM-Q1"
    card = attrs.evolve(dose("h1", "lan", product="BCG"), source=DoseSource.HISTORICAL_CARD)
    desk.record_historical_dose(card, evidence="thẻ tiêm chủng")
    assert desk.verify_dose("h1").by == "nv.lan"
    onset = dt.datetime(2024, 4, 1, 9, tzinfo=dt.UTC)
    desk.report_aefi(
        AefiReport("a1", "d1", onset, Severity.MODERATE, Outcome.RECOVERING, "Sốt cao", "bs")
    )
    assert desk.record_aefi_outcome("a1", Outcome.RECOVERED).outcome is Outcome.RECOVERED
    assert [r.id for r in desk.aefi_for_lot("PENTA", "L001")] == ["a1"]
    assert [r.id for r in desk.aefi_for_facility("HN-BD-S1")] == ["a1"]


def test_register_checks_the_national_code_and_reports_likely_duplicates(
    registry: Registry,
) -> None:
    from immreg.errors import ValidationError
    from immreg.registry import codes

    code = codes.issue_code("01", 42)
    with pytest.raises(ValidationError) as info:
        registry.registry.register(subject("bad", code=code[:-1] + str((int(code[-1]) + 1) % 10)))
    assert info.value.field == "national_code"
    spaced = "-".join(code[i : i + 4] for i in range(0, 12, 4))
    stored, candidates = registry.registry.register(subject("new", code=spaced))
    assert stored.national_code == code
    assert {p.left_id for p in candidates} == {"lan", "lan-2"}
    assert registry.history("new").subject.national_code == code
