"""The lines of a report: the org units of one level under one unit, and their rolled-up tallies.

Shared by every report built on :class:`~immreg.indicators.Tally` counters (coverage and
dropout, maternal tetanus, stock): pick the units of a level as the tree stood on a day,
optionally under one unit, and merge leaf tallies up to them with
:func:`immreg.indicators.rollup`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from immreg.errors import NotFoundError, ValidationError
from immreg.indicators import UNASSIGNED, Tally, rollup
from immreg.model import OrgLevel, OrgUnit
from immreg.orgunits import OrgTree
from immreg.ports import UnitOfWork

__all__ = ["Line", "Lines", "TreeCut", "check_date", "check_targets", "cut_tree", "pct"]


@attrs.frozen
class Line:
    """One org unit's merged tally.

    Attributes:
        org_unit_id: The unit (or :data:`~immreg.indicators.UNASSIGNED` for the total of
            everything).
        name: Its display name.
        level: Its level's name, ``""`` for the total of everything.
        tally: The merged counters.
    """

    org_unit_id: str
    name: str
    level: str
    tally: Tally


@attrs.frozen
class Lines:
    """The lines of a report and its total line.

    Attributes:
        rows: One line per unit of the level, ordered as the tree lists them.
        total: The line of ``within``, or the total of every leaf.
    """

    rows: tuple[Line, ...]
    total: Line


@attrs.frozen
class TreeCut:
    """The units a report covers.

    Attributes:
        tree: The org-unit tree.
        on: The day whose tree is used.
        units: The units of the level (under ``within``), one line each.
        within: The unit reported on, or ``None`` for everything.
        scope: Every unit under ``within`` on ``on`` (``None``: everything), the leaves
            whose data is needed.
    """

    tree: OrgTree
    on: dt.date
    units: tuple[OrgUnit, ...]
    within: str | None
    scope: frozenset[str] | None

    def lines(self, leaves: Mapping[str, Tally]) -> Lines:
        """Merge leaf tallies into one line per unit and the total line."""
        wanted = [u.id for u in self.units]
        if self.within is not None:
            wanted.append(self.within)
        merged = rollup(leaves, self.tree, on=self.on, units=wanted)
        rows = tuple(Line(u.id, u.name, u.level.value, merged[u.id]) for u in self.units)
        if self.within is not None:
            top = self.tree.get(self.within)
            return Lines(rows, Line(top.id, top.name, top.level.value, merged[top.id]))
        return Lines(rows, Line(UNASSIGNED, "total", "", Tally.merge(leaves.values())))


def cut_tree(uow: UnitOfWork, *, level: object, within: str | None, on: dt.date) -> TreeCut:
    """The units of ``level`` (under ``within``) open on ``on``.

    Raises:
        ValidationError: ``level`` is not an :class:`~immreg.model.OrgLevel` or ``on`` not
            a date.
        NotFoundError: ``within`` is not an org unit (field ``within``).
    """
    if not isinstance(level, OrgLevel):
        raise ValidationError("level", "must be an org level (nation, province, commune...)")
    check_date("on", on)
    tree = OrgTree(uow.org_units.list_all())
    if within is not None and within not in tree.units:
        raise NotFoundError("org unit", within, field="within")
    units = tree.at_level(level, on=on)
    scope = None
    if within is not None:
        scope = frozenset(tree.subtree(within, on=on))
        units = [u for u in units if u.id in scope]
    return TreeCut(tree, on, tuple(units), within, scope)


def check_targets(targets: Mapping[str, int] | None) -> dict[str, int]:
    """Targets (estimated populations) per org unit, checked.

    Raises:
        ValidationError: A target is not a whole number of 0 or more (field
            ``targets[UNIT]``).
    """
    out = dict(targets or {})
    for unit_id, value in out.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError(f"targets[{unit_id}]", "must be a whole number, 0 or more")
    return out


def check_date(field: str, value: object) -> None:
    """Raise ``ValidationError(field)`` unless ``value`` is a date (not a datetime)."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValidationError(field, "must be a date")


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal, ``""`` for none."""
    return "" if value is None else f"{100 * value:.1f}"
