"""Indicators: the tally monoid, roll-ups that agree however the tree is cut, flags."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immreg.errors import ValidationError
from immreg.indicators import (
    DEFAULT_DROPOUT_PAIRS,
    DTP,
    MCV,
    DropoutPair,
    Indicators,
    ReportSpec,
    Tally,
    rollup,
)
from immreg.model import OrgUnit
from immreg.orgunits import OrgTree
from immreg.testing.strategies import org_trees

_KEYS = ("cohort", f"received:{DTP}:1", f"received:{DTP}:3", "fic", "zero_dose")
tallies = st.dictionaries(st.sampled_from(_KEYS), st.integers(-5, 50)).map(Tally)

BEFORE = dt.date(2025, 6, 30)
AFTER = dt.date(2025, 7, 1)


@given(tallies, tallies, tallies)
def test_tally_is_a_commutative_monoid(a: Tally, b: Tally, c: Tally) -> None:
    assert a + Tally.empty() == a == Tally.empty() + a
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert Tally.merge([a, b, c]) == a + b + c


def test_absent_counters_are_zero() -> None:
    assert Tally({"cohort": 0}) == Tally.empty()
    assert Tally.empty()["anything"] == 0
    assert Tally({"fic": 2}) + Tally({"fic": -2}) == Tally.empty()


def _cut(tree: OrgTree, root: str, on: dt.date, choices: st.DataObject) -> list[str]:
    """A random set of units that holds every childless unit under ``root`` exactly once."""
    kids = tree.children(root, on=on)
    if not kids or choices.draw(st.booleans()):
        return [root]
    return [u for k in kids for u in _cut(tree, k.id, on, choices)]


@settings(max_examples=60, deadline=None)
@given(org_trees(max_provinces=4, max_communes=4, max_sites=3), st.data())
def test_any_cut_of_the_tree_gives_the_same_total(
    units: list[OrgUnit], data: st.DataObject
) -> None:
    for on in (BEFORE, AFTER):
        tree = OrgTree(units)
        nation = units[0].id
        leaves = [u.id for u in units if not tree.children(u.id, on=on)]
        values = {leaf: data.draw(tallies) for leaf in leaves}
        cut = _cut(tree, nation, on, data)
        rolled = rollup(values, tree, on=on, units=[*cut, nation])
        assert (
            Tally.merge(rolled[u] for u in cut) == rolled[nation] == Tally.merge(values.values())
        )
        # Each unit of the cut is the merge of the leaves below it and no others.
        for u in cut:
            below = tree.subtree(u, on=on)
            assert rolled[u] == Tally.merge(v for k, v in values.items() if k in below)


def test_unknown_units_are_reported_only_under_their_own_id() -> None:
    tree = OrgTree([])
    got = rollup({"X": Tally({"cohort": 1})}, tree, on=AFTER, units=["X", "Y"])
    assert got == {"X": Tally({"cohort": 1}), "Y": Tally.empty()}


def _spec(**kw: object) -> ReportSpec:
    args: dict[str, object] = {
        "as_of": dt.date(2025, 12, 31),
        "birth_from": dt.date(2024, 1, 1),
        "birth_until": dt.date(2025, 1, 1),
    }
    args.update(kw)
    return ReportSpec(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"as_of": "2025-12-31"}, "as_of"),
        ({"birth_until": dt.date(2023, 1, 1)}, "birth_until"),
        ({"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2024, 1, 1)}, "period_end"),
        ({"antigens": (("Measles", 0),)}, "antigens[0]"),
        ({"antigens": ((DTP, 3), (DTP, 2))}, "antigens[1]"),
        ({"antigens": ((DTP, 1),)}, "dropout_pairs[0].second"),
        ({"fic": (("BCG-typo", 1),)}, "fic[0]"),
    ],
)
def test_bad_specs_name_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as e:
        _spec(**kw)
    assert e.value.field == field


def test_default_period_is_birth_from_to_as_of() -> None:
    s = _spec()
    assert (s.period_start, s.period_end) == (dt.date(2024, 1, 1), dt.date(2026, 1, 1))


DTP1_3, DTP1_MCV1, MCV1_2 = DEFAULT_DROPOUT_PAIRS


def test_indicator_values_and_flags() -> None:
    t = Tally(
        {
            "cohort": 100,
            f"received:{DTP}:1": 90,
            f"received:{DTP}:3": 75,
            f"received:{MCV}:1": 85,
            "dropped:DTP1-DTP3": 15,
            "dropped:DTP1-MCV1": 8,
            f"doses:{DTP}:1": 40,
            f"doses:{DTP}:3": 45,
            "fic": 70,
            "zero_dose": 10,
        }
    )
    ind = Indicators(t)
    assert ind.coverage(DTP, 1) == 0.9
    assert ind.dropout_per_child(DTP1_3) == pytest.approx(15 / 90)
    assert ind.dropout_from_totals(DTP1_3) == pytest.approx(-5 / 40)
    assert ind.fully_immunized == 0.7
    assert ind.zero_dose == 10
    assert ind.category() == 2  # good access, poor utilisation
    assert ind.flags() == ["dropout>=10%:DTP1-DTP3", "negative-dropout:DTP1-DTP3"]
    # Against an estimated target population instead of the registry's count.
    assert Indicators(t, target=120).coverage(DTP, 1) == 0.75
    assert Indicators(t, target=120).flags()[0] == "dtp1<80%"
    assert Indicators(t, target=120).category() == 4


def test_empty_values_have_no_ratios() -> None:
    ind = Indicators(Tally.empty())
    assert ind.coverage(DTP, 1) is None
    assert ind.dropout_per_child(MCV1_2) is None
    assert ind.dropout_from_totals(DTP1_MCV1) is None
    assert ind.category() is None
    assert ind.flags() == []


def test_a_pair_of_other_antigens() -> None:
    pair = DropoutPair("HepB1-HepB3", ("HepB", 1), ("HepB", 3))
    spec = _spec(dropout_pairs=(pair,))
    assert list(spec.child_counters({"HepB": 1})) == [
        "cohort",
        "received:HepB:1",
        "dropped:HepB1-HepB3",
        "zero_dose",
    ]


def test_a_cycle_in_the_tree_is_a_validation_error() -> None:
    from immreg.model import OrgLevel, ParentLink

    start = dt.date(2000, 1, 1)
    a = OrgUnit("A", "A", OrgLevel.PROVINCE, parents=(ParentLink("B", start),))
    b = OrgUnit("B", "B", OrgLevel.PROVINCE, parents=(ParentLink("A", start),))
    with pytest.raises(ValidationError) as e:
        rollup({"A": Tally({"cohort": 1})}, OrgTree([a, b]), on=AFTER, units=["A"])
    assert e.value.field == "org_units"
