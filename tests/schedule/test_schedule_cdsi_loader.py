"""The CDSi supporting-data XML loader."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from immreg.errors import NotFoundError, ValidationError
from immreg.schedule import Schedule
from immreg.schedule.cdsi import load_cdsi


def test_loads_every_antigen_group_and_vaccine(cdsi: Schedule) -> None:
    idx = cdsi.index()
    assert cdsi.release == "4.64"
    assert len(cdsi.antigens) == 30
    assert idx.groups["MMR"].antigens == ("Measles", "Mumps", "Rubella")
    assert idx.groups["MMR"].administer_full
    assert not idx.groups["DTaP/Tdap/Td"].administer_full
    # CVX codes keep their leading zeros; DTaP-HepB-IPV splits into five antigens.
    assert {a.antigen for a in idx.associations["110"]} == {
        "Diphtheria",
        "Tetanus",
        "Pertussis",
        "HepB",
        "Polio",
    }
    assert "08" in idx.vaccines
    # Association ages: a zoster vaccine counts as varicella only before an age.
    assert any(a.end_age is not None or a.begin_age is not None for a in cdsi.vaccines)


def test_rules_carry_ids_sources_and_parsed_durations(cdsi: Schedule) -> None:
    hepb = cdsi.index().antigens["HepB"]
    dose2 = hepb.series[0].doses[1]
    assert dose2.rule_id == "HepB/HepB 3-dose series/dose 2"
    assert dose2.ages[0].rule_id == "HepB/HepB 3-dose series/dose 2/age"
    assert str(dose2.ages[0].abs_min) == "4 weeks - 4 days"
    assert dose2.ages[0].abs_min is not None
    assert dose2.ages[0].abs_min.days == 24
    assert dose2.intervals[0].reference == "previous"
    assert all(s.source for s in hepb.series)
    conflict = cdsi.conflicts[0]
    assert (conflict.previous, conflict.current) == ("03", "03")
    assert str(conflict.min_end) == "24 days"


def test_interval_kinds_are_read(cdsi: Schedule) -> None:
    kinds = {
        iv.reference
        for a in cdsi.antigens
        for s in a.series
        for d in s.doses
        for iv in d.intervals
    }
    assert kinds == {"previous", "target_dose", "most_recent", "observation"}
    assert any(
        iv.priority for a in cdsi.antigens for s in a.series for d in s.doses for iv in d.intervals
    )


def test_missing_directory_and_bad_xml(cdsi_path: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_cdsi(tmp_path)
    src = cdsi_path / "supporting-data-4.64"
    shutil.copy(src / "ScheduleSupportingData.xml", tmp_path)
    (tmp_path / "AntigenSupportingData- Broken-508.xml").write_text("<antigenSupportingData>")
    with pytest.raises(ValidationError) as info:
        load_cdsi(tmp_path)
    assert info.value.field == "AntigenSupportingData- Broken-508.xml"


def test_bad_duration_names_file_and_element(cdsi_path: Path, tmp_path: Path) -> None:
    src = cdsi_path / "supporting-data-4.64"
    shutil.copy(src / "ScheduleSupportingData.xml", tmp_path)
    text = (src / "AntigenSupportingData- HepB-508.xml").read_text(encoding="utf-8")
    broken = text.replace("<minAge>4 weeks</minAge>", "<minAge>4 wekks</minAge>", 1)
    (tmp_path / "AntigenSupportingData- HepB-508.xml").write_text(broken, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_cdsi(tmp_path)
    assert info.value.field.startswith("AntigenSupportingData- HepB-508.xml.series[0]")
    assert info.value.field.endswith("age.minAge")


def test_rule_ids_are_unique(cdsi: Schedule) -> None:
    import collections

    import attrs

    ids: collections.Counter[str] = collections.Counter()

    def walk(value: object) -> None:
        if attrs.has(type(value)):
            rid = getattr(value, "rule_id", "")
            if rid:
                ids[rid] += 1
            for a in attrs.fields(type(value)):  # type: ignore[arg-type]
                if a.init:
                    walk(getattr(value, a.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(cdsi)
    assert len(ids) > 8000
    assert [rid for rid, n in ids.items() if n > 1] == []
    # A second age rule of a target dose (another effective period) is told apart.
    assert any(rid.endswith("/age #2") for rid in ids)
