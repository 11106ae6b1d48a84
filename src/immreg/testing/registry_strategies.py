"""Hypothesis strategies for the registry feature (merges, national codes).

Example::

    from hypothesis import given
    from immreg.testing import registry_strategies as rst

    @given(rst.merge_cases())
    def test_merge_round_trip(case): ...
"""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import strategies as st

from immreg.registry.codes import issue_code

__all__ = ["DoseSpec", "MergeCase", "merge_cases", "national_codes"]

_FIRST = dt.date(2024, 3, 1)
_LAST = dt.date(2026, 3, 1)


def national_codes() -> st.SearchStrategy[str]:
    """Valid national immunization codes (:func:`immreg.registry.codes.issue_code`)."""
    return st.builds(
        issue_code, st.integers(0, 99).map(lambda p: f"{p:02d}"), st.integers(0, 10**9 - 1)
    )


@attrs.frozen
class DoseSpec:
    """A dose to give one of the two records: product, date, and whether it is voided."""

    product: str
    day: dt.date
    voided: bool


@attrs.frozen
class MergeCase:
    """Two records of one person to merge, with their doses.

    Attributes:
        survivor_doses: Doses of the record that survives.
        absorbed_doses: Doses of the record merged into it; some repeat the survivor's
            (same product, same date), as real duplicates do.
        survivor_has_code: Whether the survivor has a national code.
        absorbed_has_code: Whether the absorbed record has one.
        same_commune: Whether both live in the same commune (else the absorbed one lives
            in the other province of the contracts' seed).
    """

    survivor_doses: tuple[DoseSpec, ...]
    absorbed_doses: tuple[DoseSpec, ...]
    survivor_has_code: bool
    absorbed_has_code: bool
    same_commune: bool


def _specs(products: tuple[str, ...]) -> st.SearchStrategy[DoseSpec]:
    return st.builds(
        DoseSpec,
        st.sampled_from(products),
        st.dates(_FIRST, _LAST),
        # Voided doses are rarer than valid ones.
        st.sampled_from((False, False, False, True)),
    )


@st.composite
def merge_cases(draw: st.DrawFn, products: tuple[str, ...] = ("BCG", "PENTA")) -> MergeCase:
    """Two records with up to five doses each, often sharing a product and date."""
    survivor = draw(st.lists(_specs(products), max_size=5))
    absorbed = draw(st.lists(_specs(products), max_size=5))
    # Copy some of the survivor's doses into the absorbed record: the duplicates a merge
    # has to count once.
    copies = draw(st.lists(st.sampled_from(survivor), max_size=3)) if survivor else []
    absorbed.extend(attrs.evolve(c, voided=draw(st.booleans())) for c in copies)
    return MergeCase(
        survivor_doses=tuple(survivor),
        absorbed_doses=tuple(absorbed),
        survivor_has_code=draw(st.booleans()),
        absorbed_has_code=draw(st.booleans()),
        same_commune=draw(st.booleans()),
    )
