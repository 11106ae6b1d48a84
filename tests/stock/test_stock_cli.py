"""``immreg stock ...`` on an SQLite file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from immreg.backends import open_backend
from immreg.cli import main
from immreg.model import Lot, VaccineProduct
from immreg.services import FixedClock, Registry
from immreg.testing.conformance import NOW, SEED, dose, subject

GTIN = "08901234567890"


def test_scan_without_a_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stock", "scan", f"(01){GTIN}(17)271200(10)AB(12)"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got == {"gtin": GTIN, "lot_number": "AB(12)", "expiry": "2027-12-31", "serial": None}
    assert main(["stock", "scan", "nonsense"]) == 2
    assert "scan:" in capsys.readouterr().err


def test_on_hand_report_and_recall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    backend = open_backend(url)
    SEED.store(backend)
    with backend.unit_of_work() as uow:
        uow.catalogue.add_product(VaccineProduct("MR", "MR", ("Measles",), gtins=(GTIN,)))
        uow.subjects.add(subject("s1"))
        uow.commit()
    reg = Registry(backend, clock=FixedClock(NOW), user="t")
    reg.stock.receive("r1", "HN-BD-S1", Lot("MR", "M1", dt.date(2027, 6, 30)), doses=10)
    reg.record_dose(dose("d1", "s1", product="MR", lot="M1", day=NOW.date()))
    backend.close()

    assert main(["stock", "scan", f"01{GTIN}10M1", "--db", url, "--as-of", "2026-03-15"]) == 0
    assert json.loads(capsys.readouterr().out)["product_code"] == "MR"
    assert main(["stock", "on-hand", url, "HN", "--on", "2026-03-15"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["HN", "MR", "M1", "9"]
    assert main(["stock", "report", url, "VN", "--month", "2026-03", "--rollup", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["received"], row["administered"], row["closing"]) == (10, 1, 9)
    assert main(["stock", "report", url, "HN-BD-S1", "--month", "2026-03"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["MR", "0", "10", "0", "1", "0", "0", "9"]
    assert main(["stock", "recall", url, "MR", "M1"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["subject_ids"] == ["s1"]
    assert got["holdings"] == [{"facility_id": "HN-BD-S1", "doses": 9}]
