"""The SQL statements of the SQLAlchemy backend, built once at import.

Statements are module-level Core constructs with named bind parameters, so SQLAlchemy's
compiled-statement cache compiles each one once per dialect, and psycopg prepares them on
the server after a few executions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from immreg.backends.sqlalchemy.tables import (
    audit,
    doses,
    load_batches,
    lots,
    org_unit_parents,
    org_units,
    products,
    residences,
    subjects,
)

__all__ = [
    "in_listed",
    "insert_ignore",
    "many_queries",
    "resident_queries",
    "subject_in_scope",
    "subtree",
    "units_param",
    "update_by_id",
]


def update_by_id(table: sa.Table, *unchanged: str) -> sa.Update:
    """``UPDATE`` of the ``table`` row whose ``id`` is the parameter ``b_id``.

    It sets every column but ``id`` and the ``unchanged`` ones, each from the parameter of
    the column's name, so the parameters are the row's dictionary with ``id`` renamed
    ``b_id`` (and the unchanged columns left out or renamed).
    """
    kept = {"id", *unchanged}
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values({c.name: sa.bindparam(c.name) for c in table.columns if c.name not in kept})
    )


@functools.cache
def insert_ignore(table: sa.Table, dialect_name: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``table`` in the dialect's own syntax.

    Writers use it instead of catching a unique violation because on PostgreSQL a failed
    statement aborts the whole transaction, while the ports promise that a unit of work
    survives a :class:`~immreg.errors.ConflictError` from ``add``. The rowcount says
    whether the row went in.
    """
    stmt: Any
    if dialect_name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect_name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"no INSERT ... ON CONFLICT DO NOTHING for {dialect_name}")
    # SQLAlchemy keeps the rowcount of an INSERT only when asked.
    return stmt.execution_options(preserve_rowcount=True)


def _subtree_cte() -> sa.CTE:
    # The scope unit, then every unit that had a parent link (at any time) to a unit already
    # in the set. UNION (not UNION ALL) removes duplicates, which also ends the recursion on
    # a cycle in bad data.
    base = sa.select(org_units.c.id).where(org_units.c.id == sa.bindparam("scope"))
    cte = base.cte("subtree", recursive=True)
    step = sa.select(org_unit_parents.c.org_unit_id).join(
        cte, org_unit_parents.c.parent_id == cte.c.id
    )
    return cte.union(step)


_SUBTREE = _subtree_cte()


def _subtree_on_cte() -> sa.CTE:
    # The unit ``root``, then every unit whose parent link holding on ``on`` is to a unit
    # already in the set (ix_org_unit_parents_parent): the tree of one day, as OrgTree.
    base = sa.select(org_units.c.id).where(org_units.c.id == sa.bindparam("root"))
    cte = base.cte("subtree_on", recursive=True)
    step = (
        sa.select(org_unit_parents.c.org_unit_id)
        .join(cte, org_unit_parents.c.parent_id == cte.c.id)
        .where(
            org_unit_parents.c.start <= sa.bindparam("on"),
            sa.or_(org_unit_parents.c.end.is_(None), org_unit_parents.c.end > sa.bindparam("on")),
        )
    )
    return cte.union(step)


#: The ids of the subtree of ``root`` on the day ``on`` (empty when there is no such unit).
subtree_on = sa.select(_subtree_on_cte().c.id)

#: The ids of the scope unit's subtree (parameter ``scope``).
subtree = sa.select(_SUBTREE.c.id)


def subject_in_scope(subject_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """Whether the subject ``subject_id`` has any residence in the subtree of ``scope``."""
    sub = _subtree_cte()
    return (
        sa.select(sa.literal(1))
        .where(
            residences.c.subject_id == subject_id,
            residences.c.org_unit_id.in_(sa.select(sub.c.id)),
        )
        .exists()
    )


# --- subjects ---------------------------------------------------------------------------

select_subject = sa.select(subjects).where(subjects.c.id == sa.bindparam("id"))
# A subject and its residences in one round trip: one row per residence (or one row with
# NULL residence columns), residences oldest first.
select_subject_and_residences = (
    sa.select(
        subjects,
        residences.c.org_unit_id.label("r_org_unit_id"),
        residences.c.start.label("r_start"),
        residences.c.end.label("r_end"),
    )
    .select_from(subjects.outerjoin(residences, residences.c.subject_id == subjects.c.id))
    .where(subjects.c.id == sa.bindparam("id"))
    .order_by(residences.c.seq)
)
select_subject_id_by_code = sa.select(subjects.c.id).where(
    subjects.c.national_code == sa.bindparam("code")
)
select_code_owner_other = sa.select(subjects.c.id).where(
    subjects.c.national_code == sa.bindparam("code"), subjects.c.id != sa.bindparam("id")
)
# Existence and residences of a subject in one round trip (a LEFT JOIN keeps a subject
# without residences).
select_subject_units = (
    sa.select(subjects.c.id, residences.c.org_unit_id)
    .select_from(subjects.outerjoin(residences, residences.c.subject_id == subjects.c.id))
    .where(subjects.c.id == sa.bindparam("id"))
)
update_subject = update_by_id(subjects)
delete_residences = sa.delete(residences).where(residences.c.subject_id == sa.bindparam("id"))
insert_residences = sa.insert(residences)


def in_listed(
    column: sa.ColumnElement[str], name: str, dialect_name: str
) -> sa.ColumnElement[bool]:
    """Whether ``column`` is one of the strings of the parameter ``name``.

    Any number of strings in ONE parameter (a country has tens of thousands of communes, a
    refresh thousands of people; drivers cap a statement's parameters at 32,766 or 65,535):
    an array on PostgreSQL, a JSON array read by ``json_each`` on SQLite. The parameter's
    value is :func:`units_param` of the strings.
    """
    if dialect_name == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(sa.String())))
    listed = sa.func.json_each(sa.bindparam(name, type_=sa.String())).table_valued("value")
    return column.in_(sa.select(listed.c.value))


def _units_filter(dialect_name: str) -> sa.ColumnElement[bool]:
    # The residence is in one of the org units of the parameter ``units``.
    return in_listed(residences.c.org_unit_id, "units", dialect_name)


def units_param(dialect_name: str, units: Sequence[str]) -> object:
    """The value of a :func:`in_listed` parameter (such as ``units`` of
    :func:`resident_queries`) for the strings ``units``."""
    return list(units) if dialect_name == "postgresql" else json.dumps(list(units))


@functools.cache
def resident_queries(dialect_name: str) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """Subjects resident on ``on`` in one of ``units``, and their residences.

    Parameters ``units`` (see :func:`units_param`) and ``on``. A subject matches when any
    of its residences holds on that day in one of the units.
    """
    resident_ids = sa.select(residences.c.subject_id).where(
        _units_filter(dialect_name),
        residences.c.start <= sa.bindparam("on"),
        sa.or_(residences.c.end.is_(None), residences.c.end > sa.bindparam("on")),
    )
    people = sa.select(subjects).where(subjects.c.id.in_(resident_ids)).order_by(subjects.c.id)
    homes = (
        sa.select(residences)
        .where(residences.c.subject_id.in_(resident_ids))
        .order_by(residences.c.subject_id, residences.c.seq)
    )
    return people, homes


@functools.cache
def many_queries(dialect_name: str) -> dict[str, sa.Select[Any]]:
    """The bulk reads of subjects and doses by subject id, each taking the ids as the one
    parameter ``ids`` (see :func:`in_listed`).

    ``subjects``: the subjects' rows; ``subject_ids``: their ids. ``residences``: their
    residences, by subject then oldest first. ``doses`` and ``unvoided_doses``: their doses,
    by date then id.
    """
    return {
        "subjects": sa.select(subjects).where(in_listed(subjects.c.id, "ids", dialect_name)),
        "subject_ids": sa.select(subjects.c.id).where(
            in_listed(subjects.c.id, "ids", dialect_name)
        ),
        "residences": sa.select(residences)
        .where(in_listed(residences.c.subject_id, "ids", dialect_name))
        .order_by(residences.c.subject_id, residences.c.seq),
        "doses": sa.select(doses)
        .where(in_listed(doses.c.subject_id, "ids", dialect_name))
        .order_by(doses.c.date, doses.c.id),
        "unvoided_doses": sa.select(doses)
        .where(in_listed(doses.c.subject_id, "ids", dialect_name), doses.c.voided.is_(False))
        .order_by(doses.c.date, doses.c.id),
    }


count_subjects = sa.select(sa.func.count()).select_from(subjects)
count_subjects_in_scope = (
    sa.select(sa.func.count()).select_from(subjects).where(subject_in_scope(subjects.c.id))
)

# --- doses ------------------------------------------------------------------------------

select_dose = sa.select(doses).where(doses.c.id == sa.bindparam("id"))
update_dose = update_by_id(doses, "subject_id").where(
    doses.c.version == sa.bindparam("expected"),
    doses.c.subject_id == sa.bindparam("b_subject_id"),
)
select_doses_for_subject = (
    sa.select(doses)
    .where(doses.c.subject_id == sa.bindparam("subject_id"))
    .order_by(doses.c.date, doses.c.id)
)
select_unvoided_doses_for_subject = (
    sa.select(doses)
    .where(doses.c.subject_id == sa.bindparam("subject_id"), doses.c.voided.is_(False))
    .order_by(doses.c.date, doses.c.id)
)
count_doses = sa.select(sa.func.count()).select_from(doses)
count_doses_in_scope = (
    sa.select(sa.func.count()).select_from(doses).where(subject_in_scope(doses.c.subject_id))
)

# --- catalogue, org units, lots, audit, loads -------------------------------------------

select_product = sa.select(products).where(products.c.code == sa.bindparam("code"))
select_products = sa.select(products).order_by(products.c.code)
# An org unit and its parent links in one round trip (see select_subject_and_residences).
select_org_unit_and_parents = (
    sa.select(
        org_units,
        org_unit_parents.c.seq.label("p_seq"),
        org_unit_parents.c.parent_id.label("p_parent_id"),
        org_unit_parents.c.start.label("p_start"),
        org_unit_parents.c.end.label("p_end"),
    )
    .select_from(
        org_units.outerjoin(org_unit_parents, org_unit_parents.c.org_unit_id == org_units.c.id)
    )
    .where(org_units.c.id == sa.bindparam("id"))
    .order_by(org_unit_parents.c.seq)
)
select_org_units = sa.select(org_units).order_by(org_units.c.id)
select_all_org_unit_parents = sa.select(org_unit_parents).order_by(
    org_unit_parents.c.org_unit_id, org_unit_parents.c.seq
)
insert_org_unit_parents = sa.insert(org_unit_parents)
select_lot = sa.select(lots).where(
    lots.c.product_code == sa.bindparam("product_code"),
    lots.c.lot_number == sa.bindparam("lot_number"),
)
insert_audit = sa.insert(audit)
select_audit = (
    sa.select(audit)
    .where(
        audit.c.entity == sa.bindparam("entity"), audit.c.entity_id == sa.bindparam("entity_id")
    )
    .order_by(audit.c.seq)
)
select_loaded_batches = sa.select(load_batches.c.batch_no).where(
    load_batches.c.load_id == sa.bindparam("load_id")
)
