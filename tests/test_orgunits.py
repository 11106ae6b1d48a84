"""The org-unit tree: import from CSV and JSON, levels, re-parenting, the bundled provinces."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from immreg.errors import ValidationError
from immreg.indicators import Tally, rollup
from immreg.model import OrgLevel, OrgUnit, ParentLink
from immreg.orgunits import (
    VN_REFORM_DATE,
    OrgTree,
    dump_csv,
    dump_json,
    load_csv,
    load_json,
    reparent,
    vn_province_successors,
    vn_provinces,
)
from immreg.testing.strategies import org_trees

BEFORE = VN_REFORM_DATE - dt.timedelta(days=1)

CSV = """id,name,level,parent_id,start,end,opened,closed
VN,Việt Nam,nation,,,,,
P1,Tỉnh Một,province,VN,2000-01-01,2025-07-01,,2025-07-01
P2,Tỉnh Hai,province,VN,2000-01-01,,,
C1,Xã Một,commune,P1,2000-01-01,2025-07-01,,
C1,Xã Một,commune,P2,2025-07-01,,,
"""


def test_csv_import_builds_an_effective_dated_tree() -> None:
    units = load_csv(CSV)
    tree = OrgTree(units)
    assert tree.path("C1", on=BEFORE) == ["VN", "P1", "C1"]
    assert tree.path("C1", on=VN_REFORM_DATE) == ["VN", "P2", "C1"]
    assert [u.id for u in tree.at_level(OrgLevel.PROVINCE, on=BEFORE)] == ["P1", "P2"]
    assert [u.id for u in tree.at_level(OrgLevel.PROVINCE, on=VN_REFORM_DATE)] == ["P2"]
    assert tree.ancestor_at("C1", OrgLevel.PROVINCE, on=BEFORE) == "P1"
    assert tree.ancestor_at("VN", OrgLevel.PROVINCE, on=BEFORE) is None


@settings(max_examples=40, deadline=None)
@given(org_trees())
def test_csv_and_json_round_trip(units: list[OrgUnit]) -> None:
    assert load_csv(dump_csv(units)) == units
    assert load_json(dump_json(units)) == units


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("id,name,level\nVN,Việt Nam,nation\n", "header"),
        (CSV.replace("commune,P1", "hamlet,P1"), "rows[4].level"),
        (CSV.replace("P1,2000-01-01,2025-07-01", "P1,2000-13-01,2025-07-01"), "rows[4].start"),
        (CSV.replace("C1,Xã Một,commune,P2", "C1,Xã Khác,commune,P2"), "rows[5].name"),
        (CSV.replace(",P2,2025-07-01", ",P9,2025-07-01"), "rows[4].parents[1].parent_id"),
        (
            CSV.replace("2000-01-01,2025-07-01,,\n", "2000-01-01,2025-08-01,,\n"),
            "rows[4].parents[1]",
        ),
        (
            CSV.replace("VN,2000-01-01,,,", "VN,2000-01-01,2030-01-01,,")
            + "P2,Tỉnh Hai,province,C1,2030-01-01,,,\n",
            "rows[3].parents",
        ),
    ],
)
def test_bad_csv_names_the_field(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        load_csv(text)
    assert e.value.field == field


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"units": "VN"}, "units"),
        ([{"id": "VN", "name": "Việt Nam", "level": "country"}], "units[0].level"),
        ([{"id": "", "name": "Việt Nam", "level": "nation"}], "units[0].id"),
        (
            [{"id": "A", "name": "A", "level": "nation", "parents": [{"parent_id": "B"}]}],
            "units[0].parents[0].start",
        ),
        (
            [
                {"id": "A", "name": "A", "level": "nation"},
                {"id": "A", "name": "A", "level": "nation"},
            ],
            "units[1].id",
        ),
    ],
)
def test_bad_json_names_the_field(doc: object, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        load_json(doc)  # type: ignore[arg-type]
    assert e.value.field == field


def test_reparent_ends_the_old_link() -> None:
    c = OrgUnit("C", "C", OrgLevel.COMMUNE, parents=(ParentLink("P", dt.date(2000, 1, 1)),))
    moved = reparent(c, "Q", on=VN_REFORM_DATE)
    assert moved.parent_on(BEFORE) == "P"
    assert moved.parent_on(VN_REFORM_DATE) == "Q"
    with pytest.raises(ValidationError) as e:
        reparent(moved, "R", on=BEFORE)
    assert e.value.field == "on"


def test_bundled_provinces_before_and_after_the_reform() -> None:
    units = vn_provinces()
    tree = OrgTree(units)
    before = tree.at_level(OrgLevel.PROVINCE, on=BEFORE)
    after = tree.at_level(OrgLevel.PROVINCE, on=VN_REFORM_DATE)
    assert len(before) == 63
    assert len(after) == 34
    assert [c.id for c in tree.children("VN", on=VN_REFORM_DATE)] == [u.id for u in after]
    successors = vn_province_successors()
    assert set(successors) == {u.id for u in before}
    assert set(successors.values()) == {u.id for u in after}
    # Resolution 202/2025/QH15: 11 provinces unchanged, the rest merged two or three.
    unchanged = [old for old, new in successors.items() if old == new]
    assert len(unchanged) == 11
    assert successors["VN-74"] == successors["VN-77"] == successors["VN-79"]  # HCMC
    assert successors["VN-35"] == successors["VN-36"] == successors["VN-37"]  # Ninh Bình
    assert tree.get(successors["VN-46"]).name == "Huế"


def test_bundled_reform_sums_under_both_trees() -> None:
    # Two synthetic communes per old province follow it into its new province.
    provinces = vn_provinces()
    successors = vn_province_successors()
    communes = []
    for old, new in successors.items():
        for i in range(2):
            c = OrgUnit(
                f"{old}-c{i}",
                f"Xã {i}",
                OrgLevel.COMMUNE,
                parents=(ParentLink(old, dt.date(2000, 1, 1)),),
            )
            communes.append(c if old == new else reparent(c, new, on=VN_REFORM_DATE))
    tree = OrgTree([*provinces, *communes])
    leaves = {c.id: Tally({"doses:Pertussis:1": 1 + len(c.id)}) for c in communes}
    old_ids = [u.id for u in tree.at_level(OrgLevel.PROVINCE, on=BEFORE)]
    new_ids = [u.id for u in tree.at_level(OrgLevel.PROVINCE, on=VN_REFORM_DATE)]
    before = rollup(leaves, tree, on=BEFORE, units=[*old_ids, "VN"])
    after = rollup(leaves, tree, on=VN_REFORM_DATE, units=[*new_ids, "VN"])
    assert before["VN"] == after["VN"] == Tally.merge(leaves.values())
    for new in new_ids:
        assert after[new] == Tally.merge(before[old] for old, n in successors.items() if n == new)
