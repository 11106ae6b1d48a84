"""The report API and ``immreg report``: lines per unit, totals, the tree of either side of
2025-07-01, rendering as table, CSV and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from immreg.backends import open_backend
from immreg.cli import main
from immreg.errors import NotFoundError, ValidationError
from immreg.indicators import ReportSpec
from immreg.model import OrgLevel
from immreg.ports import Backend
from immreg.reports import build_report, render, table
from immreg.schedule.catalogue import PRODUCTS
from immreg.testing.reports_conformance import REFORM_TREE, ReportRepositoryContract

SPEC = ReportSpec(
    as_of=dt.date(2025, 12, 31),
    birth_from=dt.date(2024, 1, 1),
    birth_until=dt.date(2026, 1, 1),
    period_start=dt.date(2025, 1, 1),
    period_end=dt.date(2026, 1, 1),
)


def _fill(backend: Backend) -> None:
    with backend.unit_of_work() as uow:
        for u in REFORM_TREE:
            uow.org_units.add(u)
        for p in PRODUCTS:
            uow.catalogue.add_product(p)
        ReportRepositoryContract()._hand_world().store(uow)
        uow.commit()


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Backend, str]:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    backend = open_backend(url, create_schema=True)
    _fill(backend)
    return backend, url


def test_province_lines_before_and_after_the_merger(filled: tuple[Backend, str]) -> None:
    backend, _ = filled
    with backend.unit_of_work() as uow:
        old = build_report(uow, SPEC, level=OrgLevel.PROVINCE, on=dt.date(2025, 6, 30))
        new = build_report(uow, SPEC, level=OrgLevel.PROVINCE)
    assert [r.org_unit_id for r in old.rows] == ["PA", "PB", "PC"]
    assert [r.org_unit_id for r in new.rows] == ["PAB", "PC"]
    assert old.total.tally == new.total.tally
    assert new.rows[0].tally == old.rows[0].tally + old.rows[1].tally
    assert new.rows[0].indicators.coverage("Pertussis", 1) == pytest.approx(2 / 3)


def test_within_a_province_by_commune_with_targets(filled: tuple[Backend, str]) -> None:
    backend, _ = filled
    with backend.unit_of_work() as uow:
        rep = build_report(
            uow, SPEC, level=OrgLevel.COMMUNE, within="PAB", targets={"A1": 4, "PAB": 10}
        )
        with pytest.raises(NotFoundError):
            build_report(uow, SPEC, level=OrgLevel.COMMUNE, within="nowhere")
        with pytest.raises(ValidationError) as e:
            build_report(uow, SPEC, level=OrgLevel.COMMUNE, targets={"A1": -1})
        assert e.value.field == "targets[A1]"
    assert [r.org_unit_id for r in rep.rows] == ["A1", "A2", "B1"]
    assert rep.total.org_unit_id == "PAB"
    assert rep.rows[0].indicators.coverage("Pertussis", 1) == 0.5  # 2 of a target of 4
    assert rep.total.indicators.coverage("Pertussis", 1) == 0.2  # 2 of 10


def test_rendering(filled: tuple[Backend, str]) -> None:
    backend, _ = filled
    with backend.unit_of_work() as uow:
        rep = build_report(uow, SPEC, level=OrgLevel.PROVINCE)
    head, body = table(rep, "dropout")
    assert head[2] == "DTP1-DTP3 per child %"
    pab = body[0]
    assert pab[:4] == ["PAB", "PAB", "50.0", "0.0"]  # k2 dropped; totals 1 DTP1 / 1 DTP3
    rows = list(csv.DictReader(io.StringIO(render(rep, "summary", "csv"))))
    assert rows[0]["zero-dose"] == "1"
    assert rows[-1]["org_unit"] == "(unassigned)"
    assert json.loads(render(rep, "coverage", "json"))[1]["cohort"] == "1"
    text = render(rep, "coverage")
    assert text.splitlines()[0].split()[:3] == ["org_unit", "name", "cohort"]
    with pytest.raises(ValidationError):
        render(rep, "wastage")  # type: ignore[arg-type]


def test_cli_report(filled: tuple[Backend, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, url = filled
    argv = ["report", "coverage", url, "--born", "2024", "--as-of", "2025-12-31"]
    assert main([*argv, "--tree-on", "2025-06-30", "--format", "csv"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["org_unit"] for r in lines] == ["PA", "PB", "PC", "(unassigned)"]
    assert lines[0]["Pertussis 1 %"] == "100.0"
    assert main([*argv, "--level", "commune", "--within", "PC", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["org_unit"] == "C1"
    timely = ["report", "timeliness", url, "--born", "2024", "--as-of", "2025-12-31"]
    assert main([*timely, "--level", "commune", "--within", "PAB", "--format", "csv"]) == 0
    a1 = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert a1["org_unit"] == "A1"
    # k1's DTP1 at two months on time, k2's at nine months late; k1's DTP3 at fourteen
    # months late.
    assert a1["Pertussis 1 on_time %"] == "50.0"
    assert a1["Pertussis 1 late %"] == "50.0"
    assert a1["Pertussis 3 late %"] == "100.0"
    assert main(["report", "dropout", url, "--born", "24x", "--as-of", "2025-12-31"]) == 2
    assert "--born" in capsys.readouterr().err


def test_a_restriction_to_more_units_than_can_be_bound(filled: tuple[Backend, str]) -> None:
    backend, _ = filled
    many = {f"X{i}" for i in range(25_000)} | {"A1", "C1-S"}
    with backend.unit_of_work() as uow:
        every = uow.reports.leaf_tallies(SPEC)
        some = uow.reports.leaf_tallies(SPEC, units=many)
    assert some == {u: t for u, t in every.items() if u in many}
    assert set(some) == {"A1", "C1-S"}
