"""examples/stock_commune.py runs and prints the month it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stock_commune.py"


def test_the_stock_example_runs_on_an_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "stock.db"
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    assert out == [
        "MR 2026-03 Phường Ba Đình: opening 0, received 30, administered 3, wasted 7, closing 20",
        "wastage rate 70%",
        "recall MR2501(A): 3 children; held 01: 170, 01-00004: 20",
    ]
