"""The JSON-lines contract of ``forecast_jsonl`` and the batch API."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from immreg.schedule import Dose, Patient, Schedule, assess
from immreg.schedule.batch import assess_many, forecast_jsonl, forecast_many

MINI = str(Path(__file__).parent / "data" / "mini-epi.json")


def _run(spec: str, lines: list[str]) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    status = forecast_jsonl(spec, io.StringIO("\n".join(lines) + "\n"), out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def _child(cid: str, **extra: Any) -> str:
    body: dict[str, Any] = {
        "id": cid,
        "birth_date": "2024-01-15",
        "sex": "F",
        "as_of": "2024-04-01",
        "doses": [
            {"id": "a", "date": "2024-01-15", "vaccine": "HB", "mvx": None},
            {"id": "b", "date": "2024-03-15", "vaccine": "PENTA", "mvx": "SKB"},
        ],
        "observations": [],
    }
    body.update(extra)
    return json.dumps(body)


def test_good_lines_are_answered_in_order() -> None:
    status, out = _run(MINI, [_child("one"), _child("two", as_of="2024-05-01")])
    assert status == 0
    assert [o["id"] for o in out] == ["one", "two"]
    first = out[0]
    assert [d["id"] for d in first["doses"]] == ["a", "b"]
    assert first["doses"][1]["evaluations"] == [
        {"antigen": "HepB", "vaccine_group": "HepB", "status": "valid", "reason": None}
    ]
    groups = {g["vaccine_group"]: g for g in first["vaccine_groups"]}
    assert set(groups) == {"HepB", "MR", "Varicella"}
    assert groups["HepB"] == {
        "vaccine_group": "HepB",
        "status": "not_complete",
        "forecast_dose_number": 3,
        "earliest": "2024-04-12",
        "recommended": "2024-04-15",
        "past_due": "2024-05-14",
        "latest": "2029-01-14",
        "reason": "min_interval",
    }


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("{not json", "$"),
        ('["a list"]', "id"),
        (json.dumps({"birth_date": "2024-01-15", "as_of": "2024-02-01"}), "id"),
        (_child("x", birth_date="15/01/2024"), "birth_date"),
        (_child("x", as_of=None), "as_of"),
        (_child("x", sex="X"), "sex"),
        (json.dumps({k: v for k, v in json.loads(_child("x")).items() if k != "sex"}), "sex"),
        (json.dumps({k: v for k, v in json.loads(_child("x")).items() if k != "doses"}), "doses"),
        (_child("x", doses="none"), "doses"),
        (
            _child("x", doses=[{"id": "a", "date": "2024-02-01", "vaccine": "HB"}] * 2),
            "doses[1].id",
        ),
        (_child("x", doses=[{"id": "a", "date": "2024-02-30", "vaccine": "HB"}]), "doses[0].date"),
        (_child("x", doses=[{"id": "a", "date": "2023-12-31", "vaccine": "HB"}]), "doses[0].date"),
        (_child("x", doses=[{"id": "a", "date": "2024-06-01", "vaccine": "HB"}]), "doses[0].date"),
        (
            _child("x", doses=[{"id": "a", "date": "2024-02-01", "vaccine": "ZZ"}]),
            "doses[0].vaccine",
        ),
        (_child("x", doses=[{"date": "2024-02-01", "vaccine": "HB"}]), "doses[0].id"),
        (_child("x", observations=[{"date": None}]), "observations[0].code"),
    ],
)
def test_a_bad_line_is_answered_with_an_error_and_the_rest_go_on(line: str, field: str) -> None:
    status, out = _run(MINI, [_child("before"), line, _child("after")])
    assert status == 1
    assert len(out) == 3
    assert out[0]["id"] == "before"
    assert "vaccine_groups" in out[0]
    assert set(out[1]) == {"id", "error"}
    assert out[1]["error"]["field"] == field
    assert out[1]["error"]["message"]
    assert out[2]["id"] == "after"
    assert "vaccine_groups" in out[2]


def test_error_line_keeps_the_id_when_there_is_one() -> None:
    _, out = _run(MINI, [_child("mine", sex="?")])
    assert out[0]["id"] == "mine"


def test_output_is_flushed_line_by_line() -> None:
    class Recorder(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Recorder.flushes += 1
            super().flush()

    out = Recorder()
    forecast_jsonl(MINI, io.StringIO(_child("a") + "\n" + _child("b") + "\n"), out)
    assert Recorder.flushes >= 2


def test_cdsi_vaccine_codes_keep_leading_zeros(cdsi_path: Path) -> None:
    spec = f"cdsi:{cdsi_path / 'supporting-data-4.64'}"
    line = json.dumps(
        {
            "id": "c",
            "birth_date": "2025-01-01",
            "sex": "M",
            "as_of": "2025-03-01",
            "doses": [{"id": "hb", "date": "2025-01-01", "vaccine": "08", "mvx": None}],
            "observations": [],
        }
    )
    status, out = _run(spec, [line])
    assert status == 0
    groups = {g["vaccine_group"]: g for g in out[0]["vaccine_groups"]}
    assert {"DTaP/Tdap/Td", "HepB", "MMR"} <= set(groups)
    assert out[0]["doses"][0]["evaluations"][0]["antigen"] == "HepB"
    assert groups["HepB"]["forecast_dose_number"] == 2
    bad = json.dumps(
        {**json.loads(line), "doses": [{"id": "x", "date": "2025-01-02", "vaccine": "8"}]}
    )
    status, out = _run(spec, [bad])
    assert status == 1
    assert out[0]["error"]["field"] == "doses[0].vaccine"


def test_batch_api_matches_single_calls(cdsi: Schedule) -> None:
    items = [
        (
            Patient(dt.date(2024, 1, 1), "F", (Dose("a", dt.date(2024, 3, 1), "110"),)),
            dt.date(2024, 6, 1),
        ),
        (Patient(dt.date(2020, 5, 5), "M"), dt.date(2025, 1, 1)),
    ]
    many = list(assess_many(cdsi, items))
    assert many == [assess(cdsi, p, as_of=d) for p, d in items]
    assert list(forecast_many(cdsi, items)) == [a.forecasts for a in many]


def test_assess_can_be_limited_to_some_vaccine_groups(cdsi: Schedule) -> None:
    p = Patient(dt.date(2024, 1, 1), "F", (Dose("a", dt.date(2024, 3, 1), "110"),))
    as_of = dt.date(2024, 6, 1)
    full = assess(cdsi, p, as_of=as_of)
    part = assess(cdsi, p, as_of=as_of, vaccine_groups=["HepB", "Polio"])
    assert [f.vaccine_group for f in part.forecasts] == ["HepB", "Polio"]
    assert part.forecast_for("HepB") == full.forecast_for("HepB")
    assert {e.antigen for e in part.evaluations} == {"HepB", "Polio"}


def test_batch_keeps_the_callers_collector_state(cdsi: Schedule) -> None:
    import gc

    items = [(Patient(dt.date(2024, 1, 1), "F"), dt.date(2024, 6, 1))] * 3
    assert gc.isenabled()
    for _ in assess_many(cdsi, items):
        assert gc.isenabled()  # the caller's code runs with the collector on
    gc.disable()
    try:
        list(assess_many(cdsi, items))
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_the_engine_makes_no_reference_cycles(cdsi: Schedule) -> None:
    # Everything is freed by reference counting: the cyclic collector finds nothing.
    import gc

    history = (
        Dose("a", dt.date(2024, 1, 1), "08"),
        Dose("b", dt.date(2024, 3, 1), "110"),
        Dose("c", dt.date(2024, 3, 1), "03"),
        Dose("d", dt.date(2024, 3, 20), "21"),
    )
    gc.collect()
    gc.disable()
    try:
        for as_of in (dt.date(2024, 6, 1), dt.date(2025, 6, 1)):
            assess(cdsi, Patient(dt.date(2024, 1, 1), "M", history), as_of=as_of)
        assert gc.collect() == 0
    finally:
        gc.enable()
