"""Maternal tetanus reports: the contract on every backend kind, the CLI, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from _backend_kinds import KINDS, build_contract_tests
from immreg.backends import open_backend
from immreg.cli import main
from immreg.errors import NotFoundError, ValidationError
from immreg.model import OrgLevel
from immreg.reports.maternal import MaternalSpec, build_maternal_report
from immreg.schedule import load_schedule
from immreg.testing import maternal_conformance
from immreg.testing.maternal_conformance import HAND_SPEC, HAND_WORLD, MaternalRepositoryContract

CONTRACTS: list[type] = [maternal_conformance.MaternalRepositoryContract]

build_contract_tests(CONTRACTS, globals())


def test_every_maternal_contract_is_run_for_every_kind() -> None:
    every = {n for n in maternal_conformance.__all__ if n.endswith("Contract")}
    assert every == {c.__name__ for c in CONTRACTS}
    built = [n for n in globals() if n.startswith("Test") and n != "TestCase"]
    assert len(built) == len(CONTRACTS) * len(KINDS)


@pytest.fixture
def filled(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    backend = open_backend(url)
    MaternalRepositoryContract()._tree(backend)
    with backend.unit_of_work() as uow:
        HAND_WORLD.store(uow)
        uow.commit()
    backend.close()
    return url


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"period_end": dt.date(2025, 1, 1)}, "period_end"),
        ({"as_of": "2025-12-31"}, "as_of"),
        ({"min_days_before_birth": -1}, "min_days_before_birth"),
        ({"period_start": dt.datetime(2025, 1, 1)}, "period_start"),
    ],
)
def test_bad_specs_name_the_field(kw: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "as_of": dt.date(2025, 12, 31),
        "period_start": dt.date(2025, 1, 1),
        "period_end": dt.date(2026, 1, 1),
    }
    with pytest.raises(ValidationError) as e:
        MaternalSpec(**{**base, **kw})  # type: ignore[arg-type]
    assert e.value.field == field


def test_bad_report_arguments_name_the_field(filled: str) -> None:
    backend = open_backend(filled)
    schedule = load_schedule("vn-epi")
    with backend.unit_of_work() as uow:
        with pytest.raises(NotFoundError) as nf:
            build_maternal_report(uow, HAND_SPEC, schedule, level=OrgLevel.COMMUNE, within="XX")
        assert nf.value.field == "within"
        with pytest.raises(ValidationError) as ve:
            build_maternal_report(uow, HAND_SPEC, schedule, level="commune")  # type: ignore[arg-type]
        assert ve.value.field == "level"
        with pytest.raises(ValidationError) as ve:
            build_maternal_report(
                uow, HAND_SPEC, schedule, level=OrgLevel.COMMUNE, targets={"A1": -3}
            )
        assert ve.value.field == "targets[A1]"
    backend.close()


def test_targets_replace_the_registry_denominators(filled: str) -> None:
    backend = open_backend(filled)
    with backend.unit_of_work() as uow:
        report = build_maternal_report(
            uow,
            HAND_SPEC,
            load_schedule("vn-epi"),
            level=OrgLevel.COMMUNE,
            within="PAB",
            targets={"A1": 4},
        )
    backend.close()
    a1 = next(r for r in report.rows if r.org_unit_id == "A1")
    assert report.indicators(a1).td2plus == 1 / 4
    assert report.indicators(a1).protected_at_birth == 1 / 4


def test_a_stricter_protection_window(filled: str) -> None:
    # w1's dose 2 came 135 days before the birth: still protected with a 28-day rule.
    backend = open_backend(filled)
    spec = MaternalSpec(
        as_of=HAND_SPEC.as_of,
        period_start=HAND_SPEC.period_start,
        period_end=HAND_SPEC.period_end,
        min_days_before_birth=140,
    )
    with backend.unit_of_work() as uow:
        report = build_maternal_report(
            uow, spec, load_schedule("vn-epi"), level=OrgLevel.COMMUNE, within="PAB"
        )
    backend.close()
    a1 = next(r for r in report.rows if r.org_unit_id == "A1")
    assert a1.tally["maternal:pab"] == 0
    assert a1.tally["maternal:unprotected:too_few_doses"] == 1


def test_cli_maternal(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "maternal", filled, "--as-of", "2025-12-31", "--year", "2025"]
    assert main([*argv, "--level", "commune", "--within", "PAB", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["org_unit"] for r in rows] == ["A1", "A2", "B1", "PAB"]
    assert rows[0]["TT2+ %"] == "50.0"
    assert rows[0]["PAB %"] == "100.0"
    assert rows[-1]["live births"] == "2"
    assert main([*argv, "--tree-on", "2025-06-30", "--format", "json"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert [r["org_unit"] for r in lines] == ["PA", "PB", "PC", "(unassigned)"]
    assert lines[-1]["pregnant"] == "5"
    assert main([*argv, "--format", "table"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:3] == ["org_unit", "name", "pregnant"]
    assert main(["report", "maternal", filled, "--as-of", "2025-12-31", "--year", "20x5"]) == 2
    assert "--year" in capsys.readouterr().err
    assert main(["report", "maternal", filled, "--as-of", "2025-12-31"]) == 2
    assert "--period-start" in capsys.readouterr().err
    assert main([*argv, "--within", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
