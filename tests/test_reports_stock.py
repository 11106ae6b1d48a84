"""Stock usage and wastage reports: every backend kind, both trees, the CLI, bad input."""

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
from immreg.indicators import Tally
from immreg.model import OrgLevel
from immreg.ports import Backend
from immreg.reports.stock import (
    StockFigures,
    build_stock_report,
    stock_key,
    stock_table,
    stock_tallies,
)
from immreg.stock.model import EventKind, StockEvent, WastageReason
from immreg.testing.conformance import ContractBase
from immreg.testing.reports_conformance import store_reform_tree

D = dt.date
JUNE = (D(2025, 6, 1), D(2025, 7, 1))
R = EventKind.RECEIPT
A = EventKind.ADMINISTERED
W = EventKind.WASTAGE
ADJ = EventKind.ADJUSTMENT
OPEN = WastageReason.OPEN_VIAL_LIMIT


def _ev(
    eid: str,
    kind: EventKind,
    unit: str,
    product: str,
    qty: int,
    day: dt.date,
    reason: WastageReason | None = None,
) -> StockEvent:
    return StockEvent(eid, kind, unit, product, "L1", qty, day, reason=reason)


LEDGER = (
    _ev("e1", R, "A1-S", "BOPV", 100, D(2025, 5, 20)),  # opening stock for June
    _ev("e2", R, "A1-S", "BOPV", 40, D(2025, 6, 2)),
    _ev("e3", A, "A1-S", "BOPV", -50, D(2025, 6, 10)),
    _ev("e4", W, "A1-S", "BOPV", -10, D(2025, 6, 10), OPEN),
    _ev("e5", W, "A1-S", "BOPV", -5, D(2025, 6, 20), WastageReason.EXPIRED),
    _ev("e6", ADJ, "A1-S", "BOPV", 3, D(2025, 6, 25), WastageReason.FOUND),
    _ev("e7", A, "A1-S", "BOPV", -5, D(2025, 7, 2)),  # after the month
    _ev("e8", R, "B1-S", "MR-MRVAC", 20, D(2025, 6, 3)),
    _ev("e9", A, "B1-S", "MR-MRVAC", -8, D(2025, 6, 3)),
    _ev("e10", W, "B1-S", "MR-MRVAC", -2, D(2025, 6, 3), OPEN),
    _ev("e11", R, "C1", "BOPV", 10, D(2025, 6, 5)),
    _ev("e12", A, "C1", "BOPV", -10, D(2025, 6, 6)),
)


def _fill(backend: Backend) -> None:
    store_reform_tree(backend)
    with backend.unit_of_work() as uow:
        for e in LEDGER:
            uow.stock.append(e)
        uow.commit()


class StockReportContract(ContractBase):
    """The hand-counted June report, the same on every backend and under both trees."""

    def test_hand_counted_month(self, backend: Backend) -> None:
        _fill(backend)
        with backend.unit_of_work() as uow:
            old = build_stock_report(
                uow, period_start=JUNE[0], period_end=JUNE[1], level=OrgLevel.PROVINCE
            )
            new = build_stock_report(
                uow,
                period_start=JUNE[0],
                period_end=JUNE[1],
                level=OrgLevel.PROVINCE,
                on=D(2025, 7, 1),
            )
            communes = build_stock_report(
                uow,
                period_start=JUNE[0],
                period_end=JUNE[1],
                level=OrgLevel.COMMUNE,
                within="PAB",
                on=D(2025, 7, 1),
            )
        assert old.on == D(2025, 6, 30)
        assert old.products == new.products == ("BOPV", "MR-MRVAC")
        by = {line.org_unit_id: line.tally for line in old.rows}
        after = {line.org_unit_id: line.tally for line in new.rows}
        assert after["PAB"] == by["PA"] + by["PB"] == communes.total.tally
        assert old.total.tally == new.total.tally
        a1 = StockFigures(by["PA"], "BOPV")
        got = {f: a1.get(f) for f in ("opening", "received", "administered", "wasted")}
        assert got == {"opening": 100, "received": 40, "administered": 50, "wasted": 15}
        assert (a1.get("adjusted"), a1.closing, a1.used) == (3, 78, 65)
        assert a1.wasted_by(OPEN) == 10
        assert a1.wasted_by(WastageReason.EXPIRED) == 5
        assert a1.wastage_rate == pytest.approx(15 / 65)
        assert a1.usage_rate == pytest.approx(50 / 65)
        assert a1.wastage_factor == pytest.approx(65 / 50)
        c1 = StockFigures(by["PC"], "BOPV")
        assert (c1.wastage_rate, c1.usage_rate, c1.closing) == (0.0, 1.0, 0)
        nothing = StockFigures(by["PC"], "MR-MRVAC")
        assert (nothing.used, nothing.wastage_rate, nothing.wastage_factor) == (0, None, None)
        # July: A1-S's opening is June's closing.
        with backend.unit_of_work() as uow:
            july = stock_tallies(
                uow, period_start=D(2025, 7, 1), period_end=D(2025, 8, 1), facility_ids=["A1-S"]
            )
        assert july["A1-S"][stock_key("BOPV", "opening")] == 78
        assert july["A1-S"][stock_key("BOPV", "administered")] == 5


CONTRACTS: list[type] = [StockReportContract]
build_contract_tests(CONTRACTS, globals())


def test_every_kind_runs() -> None:
    built = [n for n in globals() if n.startswith("TestStockReport")]
    assert len(built) == len(KINDS)


@pytest.fixture
def url(tmp_path: Path) -> str:
    u = f"sqlite:///{tmp_path / 'registry.db'}"
    backend = open_backend(u)
    _fill(backend)
    backend.close()
    return u


def test_bad_input_names_the_field(url: str) -> None:
    backend = open_backend(url)
    with backend.unit_of_work() as uow:
        with pytest.raises(ValidationError) as e:
            build_stock_report(
                uow, period_start=JUNE[1], period_end=JUNE[0], level=OrgLevel.COMMUNE
            )
        assert e.value.field == "period_end"
        with pytest.raises(ValidationError) as e:
            build_stock_report(
                uow,
                period_start="2025-06-01",  # type: ignore[arg-type]
                period_end=JUNE[1],
                level=OrgLevel.COMMUNE,
            )
        assert e.value.field == "period_start"
        with pytest.raises(NotFoundError) as nf:
            build_stock_report(
                uow, period_start=JUNE[0], period_end=JUNE[1], level=OrgLevel.COMMUNE, within="Z"
            )
        assert nf.value.field == "within"
        with pytest.raises(ValidationError) as e:
            build_stock_report(
                uow,
                period_start=JUNE[0],
                period_end=JUNE[1],
                level="commune",  # type: ignore[arg-type]
            )
        assert e.value.field == "level"
        with pytest.raises(ValidationError) as e:
            StockFigures(Tally.empty(), "BOPV").get("stolen")
        assert e.value.field == "field"
    backend.close()


def test_product_filter_and_table(url: str) -> None:
    backend = open_backend(url)
    with backend.unit_of_work() as uow:
        report = build_stock_report(
            uow,
            period_start=JUNE[0],
            period_end=JUNE[1],
            level=OrgLevel.COMMUNE,
            products=["MR-MRVAC"],
        )
    backend.close()
    assert report.products == ("MR-MRVAC",)
    head, body = stock_table(report)
    rows = [dict(zip(head, line, strict=True)) for line in body]
    b1 = next(r for r in rows if r["org_unit"] == "B1")
    assert (b1["used"], b1["wastage %"], b1["usage %"], b1["wastage factor"]) == (
        "10",
        "20.0",
        "80.0",
        "1.25",
    )


def test_cli_stock(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "stock", url, "--month", "2025-06"]
    assert main([*argv, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    a1 = next(r for r in rows if r["org_unit"] == "A1" and r["product"] == "BOPV")
    assert (a1["opening"], a1["closing"], a1["wastage %"]) == ("100", "78", "23.1")
    total = [r for r in rows if r["org_unit"] == "(unassigned)"]
    assert [r["administered"] for r in total] == ["60", "8"]
    assert main([*argv, "--level", "province", "--tree-on", "2025-07-01", "--format", "json"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert {r["org_unit"] for r in lines} == {"PAB", "PC", "(unassigned)"}
    assert main([*argv, "--product", "BOPV", "--within", "PA"]) == 0
    out = capsys.readouterr().out
    assert "MR-MRVAC" not in out
    assert "A1" in out
    assert main(["report", "stock", url, "--month", "2025-13"]) == 2
    assert "--month" in capsys.readouterr().err
    assert main(["report", "stock", url]) == 2
    assert "--period-start" in capsys.readouterr().err
    assert main(["report", "stock", url, "--year", "2025", "--level", "village"]) == 2
    assert "--level" in capsys.readouterr().err
