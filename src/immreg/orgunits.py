"""The org-unit tree: nation, regions, provinces, districts, communes, sites.

Parent links are effective-dated, so the tree is a function of the date: Vietnam merged 63
provinces into 34 and abolished districts on 2025-07-01, and a report for 2024 must use the
tree as it stood then. :class:`OrgTree` answers tree questions for a given day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

import attrs

from immreg.errors import NotFoundError, ValidationError
from immreg.model import OrgLevel, OrgUnit, ParentLink

__all__ = [
    "CSV_COLUMNS",
    "VN_REFORM_DATE",
    "OrgTree",
    "dump_csv",
    "dump_json",
    "load_csv",
    "load_json",
    "reparent",
    "vn_province_successors",
    "vn_provinces",
]

#: The day Vietnam's 34 provinces replaced the 63 and the district level ended
#: (Resolution 202/2025/QH15 of the National Assembly, 12 June 2025).
VN_REFORM_DATE = dt.date(2025, 7, 1)

#: Columns of the CSV format: one row per parent link (a root has one row with an empty
#: ``parent_id``); a unit's name, level, opened and closed repeat on each of its rows.
CSV_COLUMNS = ("id", "name", "level", "parent_id", "start", "end", "opened", "closed")


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

    def at_level(self, level: OrgLevel, *, on: dt.date) -> list[OrgUnit]:
        """Units of ``level`` that are open on ``on``, ordered by id."""
        return sorted(
            (
                u
                for u in self.units.values()
                if u.level is level and u.opened <= on and (u.closed is None or on < u.closed)
            ),
            key=lambda u: u.id,
        )

    def ancestor_at(self, org_unit_id: str, level: OrgLevel, *, on: dt.date) -> str | None:
        """The unit's ancestor (or itself) at ``level`` on ``on``, or ``None``."""
        for uid in self.path(org_unit_id, on=on):
            unit = self.units.get(uid)
            if unit is not None and unit.level is level:
                return uid
        return None


def reparent(unit: OrgUnit, parent_id: str | None, *, on: dt.date) -> OrgUnit:
    """The unit with its current parent link ended on ``on`` and a new one from ``on``.

    This is how a commune follows its province into a merger: before ``on`` it stays
    under the old parent, from ``on`` under the new one.

    Raises:
        ValidationError: ``on`` is not after the start of the link that holds on it.
    """
    links: list[ParentLink] = []
    for link in unit.parents:
        if link.covers(on):
            if link.start >= on:
                raise ValidationError("on", "must be after the start of the current parent link")
            links.append(ParentLink(link.parent_id, link.start, on))
        elif link.start >= on:
            raise ValidationError("on", "the unit already has a parent link after this day")
        else:
            links.append(link)
    links.append(ParentLink(parent_id, on, None))
    return attrs.evolve(unit, parents=tuple(links))


# --- import and export ------------------------------------------------------------------


def _date(value: Any, field: str, *, required: bool) -> dt.date | None:
    if value is None or value == "":
        if required:
            raise ValidationError(field, "is required")
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(field, "must be a date written YYYY-MM-DD")


def _level(value: Any, field: str) -> OrgLevel:
    try:
        return OrgLevel(str(value).strip().lower())
    except ValueError:
        names = ", ".join(level.value for level in OrgLevel)
        raise ValidationError(field, f"must be one of {names}") from None


def _check_tree(units: Sequence[OrgUnit], where: Mapping[str, str]) -> None:
    ids = {u.id for u in units}
    for u in units:
        for i, link in enumerate(u.parents):
            if link.parent_id is not None and link.parent_id not in ids:
                raise ValidationError(
                    f"{where[u.id]}.parents[{i}].parent_id",
                    f"org unit {link.parent_id!r} is not in the file",
                )
    tree = OrgTree(units)
    days = sorted({link.start for u in units for link in u.parents} | {dt.date(1900, 1, 1)})
    for u in units:
        for day in days:
            try:
                tree.path(u.id, on=day)
            except ValueError:
                raise ValidationError(
                    f"{where[u.id]}.parents", f"makes a cycle in the tree on {day.isoformat()}"
                ) from None


def _unit(data: Mapping[str, Any], field: str, links: Sequence[ParentLink]) -> OrgUnit:
    try:
        return OrgUnit(
            id=str(data.get("id") or "").strip(),
            name=str(data.get("name") or "").strip(),
            level=_level(data.get("level"), f"{field}.level"),
            parents=tuple(links),
            opened=_date(data.get("opened"), f"{field}.opened", required=False)
            or dt.date(1900, 1, 1),
            closed=_date(data.get("closed"), f"{field}.closed", required=False),
        )
    except ValidationError as e:
        if e.field.startswith(field):
            raise
        raise e.prefixed(field) from None


def load_json(source: str | bytes | Mapping[str, Any] | Sequence[Any]) -> list[OrgUnit]:
    """Read org units from JSON: a list of units, or an object with a ``units`` list.

    Each unit is ``{"id", "name", "level", "parents": [{"parent_id", "start", "end"}],
    "opened", "closed"}``; ``parents``, ``end``, ``opened`` and ``closed`` may be left out.
    Every parent must be in the same document, and no day may have a cycle.

    Raises:
        ValidationError: Naming the offending field, e.g. ``units[3].parents[0].start``;
            nothing is returned, so nothing can be half-imported.
    """
    data: Any = json.loads(source) if isinstance(source, str | bytes) else source
    if isinstance(data, Mapping):
        data = data.get("units")
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise ValidationError("units", "must be a list of org units")
    units: list[OrgUnit] = []
    where: dict[str, str] = {}
    for i, item in enumerate(data):
        field = f"units[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError(field, "must be an object")
        raw_links = item.get("parents") or []
        if not isinstance(raw_links, Sequence) or isinstance(raw_links, str):
            raise ValidationError(f"{field}.parents", "must be a list of parent links")
        links = []
        for j, raw in enumerate(raw_links):
            lf = f"{field}.parents[{j}]"
            if not isinstance(raw, Mapping):
                raise ValidationError(lf, "must be an object")
            try:
                links.append(
                    ParentLink(
                        parent_id=raw.get("parent_id") or None,
                        start=_date(raw.get("start"), f"{lf}.start", required=True),  # type: ignore[arg-type]
                        end=_date(raw.get("end"), f"{lf}.end", required=False),
                    )
                )
            except ValidationError as e:
                raise (e if e.field.startswith(lf) else e.prefixed(lf)) from None
        unit = _unit(item, field, links)
        if unit.id in where:
            raise ValidationError(f"{field}.id", f"org unit {unit.id!r} appears twice")
        where[unit.id] = field
        units.append(unit)
    _check_tree(units, where)
    return units


def load_csv(source: str) -> list[OrgUnit]:
    """Read org units from CSV text with the header :data:`CSV_COLUMNS`.

    One row per parent link; rows of one unit must agree on its name, level, opened and
    closed. Field paths in errors are ``rows[n].column`` with ``n`` counted from 1 after
    the header.

    Raises:
        ValidationError: A missing column, a bad value, a dangling parent or a cycle.
    """
    reader = csv.DictReader(io.StringIO(source))
    missing = [
        c
        for c in ("id", "name", "level", "parent_id", "start")
        if c not in (reader.fieldnames or ())
    ]
    if missing:
        raise ValidationError("header", f"missing column(s): {', '.join(missing)}")
    order: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    links: dict[str, list[ParentLink]] = {}
    where: dict[str, str] = {}
    for n, row in enumerate(reader, start=1):
        field = f"rows[{n}]"
        uid = (row.get("id") or "").strip()
        if not uid:
            raise ValidationError(f"{field}.id", "is required")
        facts = {k: (row.get(k) or "").strip() for k in ("name", "level", "opened", "closed")}
        _level(facts["level"], f"{field}.level")
        if uid in rows:
            for k, v in facts.items():
                if rows[uid][k] != v:
                    raise ValidationError(
                        f"{field}.{k}", f"differs from an earlier row of {uid!r}"
                    )
        else:
            rows[uid] = {"id": uid, **facts}
            order.append(uid)
            where[uid] = field
            links[uid] = []
        parent = (row.get("parent_id") or "").strip()
        start = _date(row.get("start"), f"{field}.start", required=bool(parent))
        if start is None:
            continue
        try:
            links[uid].append(
                ParentLink(
                    parent or None, start, _date(row.get("end"), f"{field}.end", required=False)
                )
            )
        except ValidationError as e:
            raise (e if e.field.startswith(field) else e.prefixed(field)) from None
    units = [_unit(rows[u], where[u], links[u]) for u in order]
    _check_tree(units, where)
    return units


def _jsonable(unit: OrgUnit) -> dict[str, Any]:
    out: dict[str, Any] = {"id": unit.id, "name": unit.name, "level": unit.level.value}
    out["parents"] = [
        {"parent_id": p.parent_id, "start": p.start.isoformat()}
        | ({"end": p.end.isoformat()} if p.end else {})
        for p in unit.parents
    ]
    out["opened"] = unit.opened.isoformat()
    if unit.closed is not None:
        out["closed"] = unit.closed.isoformat()
    return out


def dump_json(units: Iterable[OrgUnit]) -> str:
    """The units as JSON that :func:`load_json` reads back."""
    return json.dumps({"units": [_jsonable(u) for u in units]}, ensure_ascii=False, indent=1)


def dump_csv(units: Iterable[OrgUnit]) -> str:
    """The units as CSV that :func:`load_csv` reads back (one row per parent link)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for u in units:
        base = [u.id, u.name, u.level.value]
        tail = [u.opened.isoformat(), u.closed.isoformat() if u.closed else ""]
        if not u.parents:
            w.writerow([*base, "", "", "", *tail])
        for p in u.parents:
            w.writerow(
                [
                    *base,
                    p.parent_id or "",
                    p.start.isoformat(),
                    p.end.isoformat() if p.end else "",
                    *tail,
                ]
            )
    return buf.getvalue()


# --- bundled data: Viet Nam's provinces before and after 2025-07-01 ---------------------


def _bundled() -> dict[str, Any]:
    text = resources.files("immreg").joinpath("data/vn_provinces.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def vn_provinces() -> list[OrgUnit]:
    """Viet Nam (``"VN"``) with its 63 provinces until 2025-06-30 and 34 from 2025-07-01.

    Old provinces are ``"VN-"`` + their GSO code (``"VN-79"`` is Ho Chi Minh City); the 23
    provinces formed by merger have ids of immreg's own scheme, ``"VN25-"`` + the GSO code
    of the province whose name they keep (the official new codes are not bundled); the 11
    unchanged provinces keep their id. The data file's ``source_notes`` say what is
    uncertain.
    """
    return load_json(_bundled())


def vn_province_successors() -> dict[str, str]:
    """Old province id to the id of the province it belongs to from 2025-07-01 (63 keys)."""
    return dict(_bundled()["successors"])
