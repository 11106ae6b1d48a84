"""Every example program runs and prints what its docstring promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_record_doses_example_on_an_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "example.db"
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "record_doses.py"), f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    assert out == [
        "Nguyễn Ngọc Anh +84912345678",
        "2026-08-31 BCG -",
        "2026-10-31 PENTA CF5-0925",
    ]
    assert db.exists()


def test_demo_runs_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from immreg.cli import main

    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--today", "2026-11-22"]) == 0
    out = capsys.readouterr().out
    assert "D-001 sent again (a retry after a network error): already_recorded" in out
    assert "refused: product_code: 'XYZ' is not a vaccine in the catalogue" in out
    assert "run again: 5 batches skipped, 0 doses added" in out
    # Section 8: the due list and the reminders, one per reachable caregiver.
    assert "session 2026-11-24: 3 children due" in out
    assert "planned 2 reminders (E-003's mother opted out); planning again adds 0" in out
    assert out.count("   SMS to +84") == 2
    assert "dispatched: 2 sent, 0 to retry" in out
    assert db.exists()
    # The demo recreates its database: a second run gives the same tour (but for timings).
    assert main(["demo", "--db", str(db), "--today", "2026-11-22"]) == 0

    def untimed(text: str) -> list[str]:
        return [line for line in text.splitlines() if "doses/s" not in line]

    assert untimed(capsys.readouterr().out) == untimed(out)
