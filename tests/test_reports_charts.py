"""Charts: coverage-by-age counters merge like the others; the PNGs are written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from immreg.backends import open_backend
from immreg.indicators import ReportSpec, Tally
from immreg.model import OrgLevel
from immreg.reports import build_report
from immreg.reports.charts import (
    age_key,
    age_tallies,
    coverage_by_age,
    coverage_by_age_png,
    dropout_png,
)
from immreg.schedule.catalogue import PRODUCTS
from immreg.testing.reports_conformance import REFORM_TREE, ReportRepositoryContract

pytest.importorskip("matplotlib")  # the charts extra


SPEC = ReportSpec(
    as_of=dt.date(2025, 12, 31), birth_from=dt.date(2024, 1, 1), birth_until=dt.date(2025, 1, 1)
)


def test_coverage_by_age_and_dropout_charts(tmp_path: Path) -> None:
    backend = open_backend("memory://")
    with backend.unit_of_work() as uow:
        for u in REFORM_TREE:
            uow.org_units.add(u)
        for p in PRODUCTS:
            uow.catalogue.add_product(p)
        ReportRepositoryContract()._hand_world().store(uow)
        uow.commit()
    with backend.unit_of_work() as uow:
        leaves = age_tallies(uow, SPEC, units=["A1", "B1", "C1"])
        report = build_report(uow, SPEC, level=OrgLevel.COMMUNE, within="PAB")
    # k1 (born 2024-06-01): DTP1 on 2024-08-01, in its 2nd completed month; k2 in its 9th.
    assert leaves["A1"][age_key("Pertussis", 1, 2)] == 1
    assert leaves["A1"][age_key("Pertussis", 1, 9)] == 1
    curves = coverage_by_age(Tally.merge(leaves.values()), months=12)
    assert curves[("Pertussis", 1)][1] == 0.0
    assert curves[("Pertussis", 1)][2] == 0.25  # 1 of the 4 children by 3 months
    assert curves[("Pertussis", 1)][11] == 0.5
    for path in (
        coverage_by_age_png(Tally.merge(leaves.values()), tmp_path / "age.png"),
        dropout_png(report, tmp_path / "dropout.png"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
