"""``immreg schedule list|show`` and ``immreg forecast --schedule vn-epi --jsonl``."""

from __future__ import annotations

import io
import json

import pytest

from immreg.cli import main
from immreg.schedule import load_schedule
from immreg.schedule.fileformat import load


def test_schedule_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "vn-epi",
        "vn-epi-2018",
        "vn-epi-2024",
        "vn-epi-2026",
        "who",
    ]


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_schedule_show(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "vn-epi-2024", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert load(out) == load_schedule("vn-epi-2024")
    else:
        assert "Bạch hầu - Ho gà - Uốn ván" in out
        assert "PENTA-COMBE5" in out
    if fmt == "markdown":
        assert "Thông tư 10/2024/TT-BYT" in out


def test_schedule_show_unknown_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "nope"]) == 2
    assert "schedule pack 'nope' not found" in capsys.readouterr().err


def test_forecast_jsonl_with_vn_epi(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {
            "id": "c1",
            "birth_date": "2026-01-31",
            "sex": "F",
            "as_of": "2026-03-10",
            "doses": [{"id": "d1", "date": "2026-01-31", "vaccine": "HEPB-BD"}],
        },
        {
            "id": "c2",
            "birth_date": "2026-01-31",
            "sex": "M",
            "as_of": "2026-03-10",
            "doses": [{"id": "d1", "date": "2026-01-31", "vaccine": "08"}],
        },
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(x) + "\n" for x in lines)))
    assert main(["forecast", "--schedule", "vn-epi", "--jsonl"]) == 1
    first, second = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert first["doses"] == [
        {
            "id": "d1",
            "evaluations": [
                {
                    "antigen": "HepB",
                    "vaccine_group": "Viêm gan B",
                    "status": "valid",
                    "reason": None,
                }
            ],
        }
    ]
    groups = {g["vaccine_group"]: g for g in first["vaccine_groups"]}
    assert list(groups)[:3] == ["Lao (BCG)", "Viêm gan B", "Bạch hầu - Ho gà - Uốn ván"]
    # Born 2026-01-31: 2 months = 03-31 (52/2025 in force on 2026-03-10).
    assert groups["Phế cầu"]["earliest"] == "2026-03-31"
    assert groups["Viêm gan B"]["forecast_dose_number"] == 2
    # A CVX code is not one of the pack's codes.
    assert second["error"]["field"] == "doses[0].vaccine"


def test_vn_epi_round_trips_through_the_file_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "show", "vn-epi", "--format", "json"]) == 0
    assert load(capsys.readouterr().out) == load_schedule("vn-epi")


def test_why_cites_the_circular_behind_a_vn_epi_forecast() -> None:
    import datetime as dt

    from immreg.schedule import Dose, Patient, assess
    from immreg.schedule.explain import why

    s = load_schedule("vn-epi")
    child = Patient(dt.date(2026, 1, 31), "F", (Dose("d1", dt.date(2026, 3, 31), "PCV10"),))
    lines = why(s, assess(s, child, as_of=dt.date(2026, 4, 10)), "Phế cầu")
    assert lines[0] == "Phế cầu: dose 2 is next."
    assert "vn2026/Pneumococcal/PCV 3-dose/dose 2/" in lines[1]
    assert "52/2025/TT-BYT" in lines[1]
