"""Reports: side-by-side tables, byte-identical files, and the ``immreg simulate`` command."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from immreg.cli import main
from immreg.errors import ValidationError
from immreg.simulate import compare, simulate_cohort, write_report

START = dt.date(2027, 1, 1)


def _pair(seed: int) -> list[object]:
    return [
        simulate_cohort("vn-epi", births=2_000, start=START, seed=seed),
        simulate_cohort(
            "vn-epi", births=2_000, start=START, seed=seed, horizon_months=24, scenario="again"
        ),
    ]


def test_the_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    first = write_report(_pair(4), tmp_path / "a")  # type: ignore[arg-type]
    second = write_report(_pair(4), tmp_path / "b")  # type: ignore[arg-type]
    names = [p.name for p in first]
    assert names == [
        "coverage.csv",
        "coverage.parquet",
        "summary.csv",
        "summary.parquet",
        "coverage_by_age.png",
        "coverage_12_24.png",
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = write_report(_pair(5), tmp_path / "c")  # type: ignore[arg-type]
    assert other[0].read_bytes() != first[0].read_bytes()


def test_scenarios_are_side_by_side_with_differences(tmp_path: Path) -> None:
    results = _pair(4)
    coverage, summary = compare(results)  # type: ignore[arg-type]
    assert set(coverage[0]) == {
        *("vaccine_group", "antigen", "dose", "age_months"),
        *("baseline", "again", "again - baseline"),
    }
    # The same seed and schedule: the two scenarios are the same cohort.
    assert all(row["again - baseline"] == 0.0 for row in coverage + summary)
    write_report(results, tmp_path, parquet=False, charts=False)  # type: ignore[arg-type]
    with (tmp_path / "coverage.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(coverage)
    assert not (tmp_path / "coverage.parquet").exists()
    import pyarrow.parquet as pq

    write_report(results, tmp_path / "pq")  # type: ignore[arg-type]
    table = pq.read_table(tmp_path / "pq" / "summary.parquet")
    assert table.num_rows == len(summary)
    with pytest.raises(ValidationError) as e:
        compare([results[0], results[0]])  # type: ignore[list-item]
    assert e.value.field == "results"


def test_the_simulate_command_writes_tables_and_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    argv = ["simulate", "--births", "3000", "--out", str(out), "--no-progress"]
    argv += ["--move", "MR-MRVAC=15 months", "--extra-dropout", "PENTA-COMBE5:3=0.1"]
    assert main([*argv, "--check", "200"]) == 0
    text = capsys.readouterr().out
    assert "engine check on 200 children: largest coverage difference 0.000 pp" in text
    header = (out / "coverage.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == (
        "vaccine_group,antigen,dose,age_months,baseline,MR-MRVAC at 15 months,"
        "+0.1 PENTA-COMBE5 1-3 dropout,MR-MRVAC at 15 months - baseline,"
        "+0.1 PENTA-COMBE5 1-3 dropout - baseline"
    )
    assert (out / "coverage_by_age.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--births", "-4"], "births"),
        (["--births", "10", "--schedule", "nope"], "schedule"),
        (["--births", "10", "--move", "MR-MRVAC"], "--move"),
        (["--births", "10", "--extra-dropout", "PENTA-COMBE5:3=2"], "extra"),
    ],
)
def test_bad_arguments_are_refused_with_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["simulate", "--out", str(tmp_path), "--no-progress", *extra]) == 2
    assert f"error: {message}" in capsys.readouterr().err


def test_the_compare_scenarios_example_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "compare_scenarios.py"
    out = subprocess.run(
        [sys.executable, str(example), "3000", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.splitlines()
    assert out[0] == "engine check: 0.000 pp on 300 children"
    moved = [line for line in out if line.startswith("Rubella 1 at 18 months")]
    assert len(moved) == 1
    before, after = (float(x.rstrip("%")) for x in moved[0].split(": ")[1].split(" -> "))
    assert before < 10.0 < 60.0 < after
    assert (tmp_path / "out" / "coverage_12_24.png").exists()


def test_the_progress_bar_reaches_the_end_once() -> None:
    import io

    from immreg.simulate.cli import Progress

    stream = io.StringIO()
    bar = Progress(stream, width=10)
    simulate_cohort("vn-epi", births=100, start=START, seed=1, progress=bar)
    text = stream.getvalue()
    assert text.count("\r[") == len(text.split("\r")) - 1 > 10
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert "[##########]" in text.splitlines()[-1]
    quiet = io.StringIO()
    Progress(quiet, enabled=False)(1, 1, "done")
    assert quiet.getvalue() == ""
