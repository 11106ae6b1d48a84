"""The org-unit tree: nation, regions, provinces, districts, communes, sites.

Parent links are effective-dated, so the tree is a function of the date: Vietnam merged 63
provinces into 34 and abolished districts on 2025-07-01, and a report for 2024 must use the
tree as it stood then. :class:`OrgTree` answers tree questions for a given day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from immreg.errors import NotFoundError
from immreg.model import OrgUnit

__all__ = ["OrgTree"]


class OrgTree:
    """An index over a set of org units for answering questions about a given day.

    Args:
        units: Every org unit (links to units not given are treated as roots).
    """

    def __init__(self, units: Iterable[OrgUnit]) -> None:
        self.units: dict[str, OrgUnit] = {u.id: u for u in units}
        self._children: dict[str, list[OrgUnit]] = {}
        for u in self.units.values():
            for link in u.parents:
                if link.parent_id is not None:
                    self._children.setdefault(link.parent_id, []).append(u)

    def get(self, org_unit_id: str) -> OrgUnit:
        """The org unit with this id.

        Raises:
            NotFoundError: No such org unit.
        """
        try:
            return self.units[org_unit_id]
        except KeyError:
            raise NotFoundError("org unit", org_unit_id) from None

    def children(self, org_unit_id: str, *, on: dt.date) -> list[OrgUnit]:
        """Units whose parent on ``on`` is ``org_unit_id``, ordered by id."""
        return sorted(
            (c for c in self._children.get(org_unit_id, ()) if c.parent_on(on) == org_unit_id),
            key=lambda u: u.id,
        )

    def subtree(self, org_unit_id: str, *, on: dt.date) -> set[str]:
        """The unit and every unit below it on ``on``."""
        self.get(org_unit_id)
        seen = {org_unit_id}
        todo = [org_unit_id]
        while todo:
            for child in self.children(todo.pop(), on=on):
                if child.id not in seen:
                    seen.add(child.id)
                    todo.append(child.id)
        return seen

    def path(self, org_unit_id: str, *, on: dt.date) -> list[str]:
        """Ids from the root down to the unit, as the tree stood on ``on``."""
        path = [self.get(org_unit_id).id]
        while (parent := self.units[path[-1]].parent_on(on)) is not None:
            if parent in path:
                raise ValueError(f"org unit {parent!r} is its own ancestor on {on}")
            path.append(parent)
            if parent not in self.units:
                break
        return list(reversed(path))
