"""immreg's schedule file format: round trips, errors with field paths, load_schedule()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from immreg.errors import NotFoundError, ValidationError
from immreg.schedule import Schedule, load_schedule
from immreg.schedule.fileformat import FORMAT, VERSION, dump, dumps_dict, load

MINI = Path(__file__).parent / "data" / "mini-epi.json"


def test_cdsi_schedule_round_trips(cdsi: Schedule) -> None:
    text = dump(cdsi)
    assert json.loads(text)["format"] == FORMAT
    again = load(text)
    assert again == cdsi
    assert again.index().antigens.keys() == cdsi.index().antigens.keys()


def test_round_tripped_schedule_gives_the_same_answers(cdsi: Schedule, tmp_path: Path) -> None:
    import datetime as dt

    from immreg.schedule import Dose, Patient, assess

    path = tmp_path / "cdsi.json"
    path.write_text(dump(cdsi, indent=None), encoding="utf-8")
    copy = load_schedule(str(path))
    p = Patient(dt.date(2024, 1, 1), "F", (Dose("a", dt.date(2024, 3, 1), "110"),))
    as_of = dt.date(2024, 6, 1)
    assert assess(copy, p, as_of=as_of) == assess(cdsi, p, as_of=as_of)


def test_hand_written_schedule_round_trips() -> None:
    schedule = load(MINI.read_text(encoding="utf-8"))
    assert load(dump(schedule)) == schedule
    # Defaults are left out of the dump.
    series = dumps_dict(schedule)["antigens"][0]["series"][0]
    assert "required_sex" not in series
    assert "type" not in series


def _mini() -> dict[str, object]:
    data: dict[str, object] = json.loads(MINI.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.update(format="other"), "format", "immreg-schedule"),
        (lambda d: d.update(version=VERSION + 1), "version", "unsupported"),
        (
            lambda d: d["antigens"][0]["series"][0]["doses"][1]["ages"][0].update(min="6 wekks"),
            "antigens[0].series[0].doses[1].ages[0].min",
            "not a duration",
        ),
        (
            lambda d: d["antigens"][0]["series"][0].pop("name"),
            "antigens[0].series[0].name",
            "required",
        ),
        (
            lambda d: d["antigens"][1]["series"][0].update(colour="red"),
            "antigens[1].series[0]",
            "colour",
        ),
        (
            lambda d: d["antigens"][0]["series"][0].update(type="optional"),
            "antigens[0].series[0].type",
            "",
        ),
        (
            lambda d: d["antigens"][0]["series"][0]["doses"][0].update(season_start="2025-13-01"),
            "antigens[0].series[0].doses[0].season_start",
            "not a date",
        ),
    ],
)
def test_bad_files_name_the_field(mutate: object, field: str, words: str) -> None:
    data = _mini()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ValidationError) as info:
        load(json.dumps(data))
    assert field in [e.field for e in info.value.errors]
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["vaccines"][0].update(antigen="HepC"), "vaccines[0].antigen"),
        (
            lambda d: d["vaccine_groups"][1]["antigens"].append("Mumps"),
            "vaccine_groups[1].antigens[2]",
        ),
        (
            lambda d: d["antigens"][1]["series"][0].update(antigen="HepB"),
            "antigens[1].series[0].antigen",
        ),
        (
            lambda d: d["antigens"][0]["series"][0].update(vaccine_group="MR"),
            "antigens[0].series[0].vaccine_group",
        ),
        (
            lambda d: d["antigens"][0]["series"][0]["doses"][2].update(number=4),
            "antigens[0].series[0].doses[2].number",
        ),
        (
            lambda d: d["antigens"][0]["series"][0]["doses"][1]["preferable_vaccines"][0].update(
                vaccine="MR"
            ),
            "antigens[0].series[0].doses[1].preferable_vaccines[0].vaccine",
        ),
        (
            lambda d: d["antigens"][0]["series"][0]["doses"][1]["intervals"][0].update(
                reference="target_dose", target_dose=2
            ),
            "antigens[0].series[0].doses[1].intervals[0].target_dose",
        ),
    ],
)
def test_references_the_engine_would_ignore_are_errors(mutate: object, field: str) -> None:
    data = _mini()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ValidationError) as info:
        load(json.dumps(data))
    assert field in [e.field for e in info.value.errors], info.value.errors


def test_not_json() -> None:
    with pytest.raises(ValidationError) as info:
        load("{not json")
    assert info.value.field == "$"


def test_every_rule_must_cite_a_source() -> None:
    data = _mini()
    data["source"] = ""
    data["antigens"][0]["series"][0]["doses"][1].pop("source")  # type: ignore[index]
    with pytest.raises(ValidationError) as info:
        load(json.dumps(data))
    # The schedule's own source is missing, so the rule without one cites nothing.
    assert [e.field for e in info.value.errors] == [
        "source",
        "antigens[0].series[0].doses[1].source",
    ]


def test_load_schedule_specs(cdsi_path: Path, tmp_path: Path) -> None:
    spec = f"cdsi:{cdsi_path / 'supporting-data-4.64'}"
    assert load_schedule(spec) is load_schedule(spec)  # cached
    assert load_schedule(str(MINI)).name == "Mini EPI (test schedule)"
    with pytest.raises(NotFoundError) as info:
        load_schedule("no-such-pack")
    assert info.value.kind == "schedule pack"
    with pytest.raises(NotFoundError):
        load_schedule("../../tests/schedule/data/mini-epi")
    with pytest.raises(NotFoundError):
        load_schedule(str(tmp_path / "missing.json"))
    with pytest.raises(NotFoundError):
        load_schedule(f"cdsi:{tmp_path}")


def test_rules_without_ids_get_derived_ones() -> None:
    data = _mini()
    dose = data["antigens"][0]["series"][0]["doses"][1]  # type: ignore[index]
    dose.pop("rule_id")
    dose["ages"][0].pop("rule_id")
    dose["intervals"][0].pop("rule_id")
    schedule = load(json.dumps(data))
    loaded = schedule.antigens[0].series[0].doses[1]
    assert loaded.rule_id == "HepB/birth+3/dose 2"
    assert loaded.ages[0].rule_id == "HepB/birth+3/dose 2/age"
    assert loaded.intervals[0].rule_id == "HepB/birth+3/dose 2/interval 1"
    assert load(dump(schedule)) == schedule
