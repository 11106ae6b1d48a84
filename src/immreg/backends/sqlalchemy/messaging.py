"""Due summaries and the message outbox in SQL (SQLite and PostgreSQL).

Repositories over a :class:`~immreg.backends.sqlalchemy.uow.SqlAlchemyUnitOfWork`'s
connection, with the semantics of :class:`immreg.ports.DueSummaryRepository` and
:class:`immreg.ports.OutboxRepository` and of the reference in-memory backend (the same
contracts in :mod:`immreg.testing.messaging_conformance` run on both). Driver errors are
translated by the unit of work's ``run``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from immreg.backends.sqlalchemy import queries
from immreg.backends.sqlalchemy.messaging_tables import due_summaries, outbox
from immreg.backends.sqlalchemy.queries import _units_filter, in_listed, units_param
from immreg.backends.sqlalchemy.tables import residences, subjects
from immreg.duelist import DueRow, DueSummary, ReminderTarget
from immreg.errors import NotFoundError
from immreg.messaging import OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = [
    "BULK_ROWS",
    "SqlAlchemyDueSummaryRepository",
    "SqlAlchemyOutboxRepository",
    "bulk_insert",
    "insert_due",
    "message_from_row",
    "message_to_row",
    "message_tuple",
    "summary_from_row",
    "summary_to_row",
    "summary_tuple",
]

_select_for_subject = (
    sa.select(due_summaries)
    .where(due_summaries.c.subject_id == sa.bindparam("subject_id"))
    .order_by(due_summaries.c.vaccine_group)
)
_delete_for_subject = sa.delete(due_summaries).where(
    due_summaries.c.subject_id == sa.bindparam("subject_id")
)
#: Rows per bulk statement (``add_many``, ``replace_many``): PostgreSQL takes each column as
#: one array parameter, so this bounds memory, not the driver's parameter cap.
BULK_ROWS = 5_000


_ever = residences.alias("ever")


_SPACE = sa.literal_column("' '", sa.Text)  # a constant, not a parameter per query


@functools.cache
def _resident_summaries(dialect: str, kind: str, scoped: bool) -> sa.Select[Any]:
    # Summaries of the people resident on :on in one of :units (ix_residences_org_unit, the
    # units as ONE parameter: see queries.units_param) and alive then, joined by primary
    # key, not past their latest day on :on, with the person's full name (joined by the
    # server, family name first as Subject.full_name) and birth date ("due", which keeps
    # the summaries that can be given on :on) or names and caregivers ("targets", which
    # keeps the summaries from :since).
    # No ORDER BY: the callers group and sort in Python, in byte order as the memory
    # backend does (PostgreSQL's collation order of the group names differs, and costs).
    # Caregivers as their JSON text: decoded once per person, not once per summary row.
    full_name = subjects.c.family_name.op("||")(_SPACE).op("||")(subjects.c.given_name)
    person: tuple[Any, ...] = (
        (full_name, subjects.c.birth_date)
        if kind == "due"
        else (
            subjects.c.family_name,
            subjects.c.given_name,
            sa.cast(subjects.c.caregivers, sa.Text),
        )
    )
    stmt = (
        sa.select(*due_summaries.c, *person)
        .select_from(
            residences.join(subjects, subjects.c.id == residences.c.subject_id).join(
                due_summaries, due_summaries.c.subject_id == residences.c.subject_id
            )
        )
        .where(
            _units_filter(dialect),
            residences.c.start <= sa.bindparam("on"),
            sa.or_(residences.c.end.is_(None), residences.c.end > sa.bindparam("on")),
            sa.or_(subjects.c.deceased_on.is_(None), subjects.c.deceased_on > sa.bindparam("on")),
            due_summaries.c.recommended <= sa.bindparam("until"),
            sa.or_(due_summaries.c.latest.is_(None), due_summaries.c.latest >= sa.bindparam("on")),
        )
    )
    if kind == "targets":
        stmt = stmt.where(due_summaries.c.recommended >= sa.bindparam("since"))
    else:  # a due list gives what can be given on the day
        stmt = stmt.where(due_summaries.c.earliest <= sa.bindparam("on"))
    if scoped:
        # The scoping rule of every backend: a subject is inside if any of its residences,
        # at any time, is in the scope's subtree.
        inside = in_listed(_ever.c.org_unit_id, "scope_units", dialect)
        stmt = stmt.where(sa.exists().where(_ever.c.subject_id == residences.c.subject_id, inside))
    return stmt


#: The planner settings as they were, then set for the due-list query (one round trip: the
#: subquery, not flattened under OFFSET 0, reads them before the outer select sets them).
_swap_planner = sa.text(
    "SELECT old.page, old.workers, old.joins, "
    "set_config('random_page_cost', :page, true), "
    "set_config('max_parallel_workers_per_gather', :workers, true), "
    "set_config('join_collapse_limit', :joins, true) "
    "FROM (SELECT current_setting('random_page_cost') AS page, "
    "current_setting('max_parallel_workers_per_gather') AS workers, "
    "current_setting('join_collapse_limit') AS joins OFFSET 0) AS old"
)

_select_message = sa.select(outbox).where(outbox.c.key == sa.bindparam("b_key"))
_update_message = (
    sa.update(outbox)
    .where(outbox.c.key == sa.bindparam("b_key"))
    .values(
        {
            c.name: sa.bindparam(c.name)
            for c in outbox.columns
            if c.name not in ("key", "created_at", "subject_id", "episode", "kind")
        }
    )
)
_select_due_messages = (
    sa.select(outbox)
    .where(
        outbox.c.status == OutboxStatus.PENDING.value,
        outbox.c.next_attempt_at <= sa.bindparam("at"),
    )
    .order_by(outbox.c.next_attempt_at, outbox.c.key)
    .limit(sa.bindparam("limit"))
)
_count_by_status: Any = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)


def summary_to_row(s: DueSummary) -> dict[str, Any]:
    """A ``due_summaries`` row for a summary."""
    return {
        "subject_id": s.subject_id,
        "vaccine_group": s.vaccine_group,
        "dose_number": s.dose_number,
        "earliest": s.earliest,
        "recommended": s.recommended,
        "past_due": s.past_due,
        "latest": s.latest,
        "vaccines": " ".join(s.vaccines),
    }


def summary_from_row(r: Any) -> DueSummary:
    """The summary of a ``due_summaries`` row."""
    return DueSummary(
        r.subject_id,
        r.vaccine_group,
        r.dose_number,
        r.earliest,
        r.recommended,
        r.past_due,
        r.latest,
        tuple(r.vaccines.split()),
    )


def message_to_row(m: OutboxMessage) -> dict[str, Any]:
    """An ``outbox`` row for a message."""
    return {
        "key": m.key,
        "recipient": m.to,
        "body": m.body,
        "created_at": m.created_at,
        "not_before": m.not_before,
        "subject_id": m.subject_id,
        "episode": m.episode,
        "kind": m.kind,
        "status": m.status.value,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "sent_at": m.sent_at,
        "provider_id": m.provider_id,
        "last_error": m.last_error,
    }


def message_from_row(r: Any) -> OutboxMessage:
    """The message of an ``outbox`` row."""
    return OutboxMessage(
        key=r.key,
        to=r.recipient,
        body=r.body,
        created_at=r.created_at,
        not_before=r.not_before,
        subject_id=r.subject_id,
        episode=r.episode,
        kind=r.kind,
        status=OutboxStatus(r.status),
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        sent_at=r.sent_at,
        provider_id=r.provider_id,
        last_error=r.last_error,
    )


def summary_tuple(s: DueSummary) -> tuple[Any, ...]:
    """A ``due_summaries`` row as a tuple in column order."""
    return (
        s.subject_id,
        s.vaccine_group,
        s.dose_number,
        s.earliest,
        s.recommended,
        s.past_due,
        s.latest,
        " ".join(s.vaccines),
    )


def message_tuple(m: OutboxMessage) -> tuple[Any, ...]:
    """An ``outbox`` row as a tuple in column order."""
    return tuple(message_to_row(m).values())


_by_subject_and_group = itemgetter(0, 1)

#: PostgreSQL array types of the columns of the tables written by :func:`bulk_insert`.
_ARRAY_TYPES: dict[str, tuple[str, ...]] = {
    "due_summaries": ("varchar", "varchar", "int4", "date", "date", "date", "date", "text"),
    "outbox": (
        "varchar", "varchar", "text", "timestamptz", "timestamptz", "varchar", "text",
        "varchar", "varchar", "int4", "timestamptz", "timestamptz", "varchar", "text",
    ),
}  # fmt: skip


@functools.cache
def _unnest_insert(table: sa.Table, ignore: bool) -> str:
    # INSERT ... SELECT FROM unnest(column arrays): one statement and one parameter per
    # column, however many rows (executemany sends a statement per row). The arrays go in
    # psycopg's binary format (%b): its text format quotes every element in Python, five
    # to ten times slower.
    types = _ARRAY_TYPES[table.name]
    cols = ", ".join(f'"{c.name}"' for c in table.columns)
    arrays = ", ".join(f"%b::{t}[]" for t in types)
    conflict = " ON CONFLICT DO NOTHING" if ignore else ""
    return f'INSERT INTO "{table.name}" ({cols}) SELECT * FROM unnest({arrays}){conflict}'


@functools.cache
def _delete_for_subjects(dialect: str) -> sa.Delete:
    if dialect == "postgresql":
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String()))
        return sa.delete(due_summaries).where(due_summaries.c.subject_id == sa.any_(ids))
    return sa.delete(due_summaries).where(
        due_summaries.c.subject_id.in_(sa.bindparam("ids", expanding=True))
    )


def bulk_insert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[tuple[Any, ...]],
    *,
    ignore: bool = False,
) -> int:
    """Insert rows (tuples in column order) in statements of :data:`BULK_ROWS`.

    On PostgreSQL each statement is an ``INSERT ... SELECT FROM unnest(...)`` of column
    arrays; elsewhere the driver's executemany of the Core INSERT. With ``ignore``, rows
    whose key is taken are skipped (``ON CONFLICT DO NOTHING``). Driver errors are raised
    as they are (the caller translates them).

    Args:
        conn: A connection inside the caller's transaction.
        table: ``due_summaries`` or ``outbox``.
        rows: The rows.
        ignore: Skip rows whose key is taken.

    Returns:
        How many rows were inserted.
    """
    dialect = conn.dialect.name
    names = [c.name for c in table.columns]
    inserted = 0
    batch: list[tuple[Any, ...]] = []

    def flush() -> int:
        if not batch:
            return 0
        if dialect == "postgresql":
            arrays = tuple(list(col) for col in zip(*batch, strict=True))
            return int(conn.exec_driver_sql(_unnest_insert(table, ignore), arrays).rowcount)
        stmt = queries.insert_ignore(table, dialect) if ignore else sa.insert(table)
        return int(conn.execute(stmt, [dict(zip(names, r, strict=True)) for r in batch]).rowcount)

    for row in rows:
        batch.append(row)
        if len(batch) >= BULK_ROWS:
            inserted += flush()
            batch = []
    return inserted + flush()


def insert_due(conn: sa.Connection, summaries: Mapping[str, Sequence[DueSummary]]) -> None:
    """Insert the due summaries of people who have none stored yet (a bulk load's new
    people), on a connection inside the caller's transaction."""
    from immreg.backends.memory_messaging import check_summaries

    rows = (summary_tuple(s) for sid, ss in summaries.items() for s in check_summaries(sid, ss))
    bulk_insert(conn, due_summaries, rows)


def _bulk_in_uow(
    uow: SqlAlchemyUnitOfWork, table: sa.Table, rows: Iterable[tuple[Any, ...]], *, ignore: bool
) -> int:
    # bulk_insert on a unit of work's connection; a failure rolls the unit of work back
    # (as its run does) and is raised as an immreg error.
    from immreg.backends.sqlalchemy.uow import translate_error  # (it imports this module)

    try:
        return bulk_insert(uow.connection, table, rows, ignore=ignore)
    except sa.exc.DBAPIError as e:
        uow.rollback()
        raise translate_error(e) from e


def _due_rows(rows: list[Any]) -> Iterator[DueRow]:
    # One named tuple per fetched row, made as the due list consumes it, so none outlives
    # its turn: thousands of rows built at once would survive into the collector's oldest
    # generation and set off full collections (a third of a large commune's list). The
    # fetched rows are plain tuples of atoms, which the collector stops tracking at once.
    # A commune's rows name a few dozen vaccine lists.
    codes: dict[str, tuple[str, ...]] = {}
    for sid, group, n, earliest, rec, past, latest, vaccines, name, born in rows:
        listed = codes.get(vaccines)
        if listed is None:
            listed = codes[vaccines] = tuple(vaccines.split())
        yield DueRow(sid, group, n, earliest, rec, past, latest, listed, name, born)


class SqlAlchemyDueSummaryRepository:
    """Due summaries in SQL (see :class:`immreg.ports.DueSummaryRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def replace(self, subject_id: str, summaries: Sequence[DueSummary]) -> None:
        """Replace the subject's stored summaries (a delete and one multi-row insert).

        Raises:
            ValidationError: A summary is about another subject, or names a group twice.
        """
        from immreg.backends.memory_messaging import check_summaries

        checked = check_summaries(subject_id, summaries)
        self._uow.run(_delete_for_subject, {"subject_id": subject_id})
        if checked:
            self._uow.run(sa.insert(due_summaries), [summary_to_row(s) for s in checked])

    def list_for_subject(self, subject_id: str) -> list[DueSummary]:
        """The subject's summaries, ordered by vaccine group."""
        rows = self._uow.run(_select_for_subject, {"subject_id": subject_id})
        return [summary_from_row(r) for r in rows]

    def replace_many(self, summaries: Mapping[str, Sequence[DueSummary]]) -> None:
        """Replace the summaries of every subject in ``summaries``: one delete and one
        insert per :data:`BULK_ROWS` (``unnest`` of column arrays on PostgreSQL).

        Raises:
            ValidationError: A summary is about another subject, or names a group twice.
        """
        from immreg.backends.memory_messaging import check_summaries

        checked = [check_summaries(sid, ss) for sid, ss in summaries.items()]
        ids = list(summaries)
        delete = _delete_for_subjects(self._uow.dialect)
        for i in range(0, len(ids), BULK_ROWS):
            self._uow.run(delete, {"ids": ids[i : i + BULK_ROWS]})
        rows = (summary_tuple(s) for ss in checked for s in ss)
        _bulk_in_uow(self._uow, due_summaries, rows, ignore=False)

    def _rows(self, kind: str, org_unit_ids: Sequence[str], params: dict[str, Any]) -> Any:
        # The query's rows, in no order, as plain tuples.
        units = list(dict.fromkeys(org_unit_ids))
        if not units:
            return []
        dialect = self._uow.dialect
        params["units"] = units_param(dialect, units)
        scoped = self._uow.scope is not None
        if scoped:
            params["scope_units"] = units_param(dialect, sorted(self._uow.subtree()))
        stmt = _resident_summaries(dialect, kind, scoped)
        if kind == "due" and dialect == "postgresql":
            return self._few_people(stmt, params)
        return self._uow.fetch_tuples(stmt, params)

    def _few_people(self, stmt: sa.Select[Any], params: dict[str, Any]) -> Any:
        # A due list reads a few thousand people of a table of up to millions, all in
        # cache. Costed with the default random_page_cost (4), the planner hashes the whole
        # subjects table on a mid-sized registry (100,000 people) rather than fetching the
        # residents by primary key, and on a large one (1,000,000) gathers parallel workers,
        # which on a busy machine wait for a core. With the cost of a cached page (1.1) and
        # no workers it takes one nested loop, whose time does not grow with the registry.
        # And the joins in the order written (join_collapse_limit 1): residents, then their
        # subject rows (one probe per person), then their summaries. Left free, the planner
        # probes the subject once per summary row, about 2.3 times as many probes (8 ms
        # against 11 of server time on 1,000,000 children).
        # The settings are the transaction's (set_config(..., true)), put back after.
        run = self._uow.run
        old: Any = run(_swap_planner, {"page": "1.1", "workers": "0", "joins": "1"}).one()
        try:
            return self._uow.fetch_tuples(stmt, params)
        finally:
            run(_swap_planner, {"page": old[0], "workers": old[1], "joins": old[2]})

    def list_due(
        self, org_unit_ids: Sequence[str], *, on: dt.date, until: dt.date
    ) -> Iterator[DueRow]:
        """Summaries due by ``until`` that can be given on ``on``, of living residents of
        ``org_unit_ids`` on ``on`` (see the port).

        One query, run by this call; the rows are made as they are consumed. In a scoped
        unit of work, only org units inside the scope are listed.
        """
        return _due_rows(self._rows("due", org_unit_ids, {"on": on, "until": until}))

    def list_targets(
        self,
        org_unit_ids: Sequence[str],
        *,
        on: dt.date,
        since: dt.date | None,
        until: dt.date,
    ) -> list[ReminderTarget]:
        """The people to plan reminders for (see the port): one query, grouped in Python.

        The phone is picked from the stored caregivers' JSON as it is (numbers are stored
        in E.164 form), without rebuilding the person.
        """
        params = {"on": on, "until": until, "since": since or dt.date.min}
        rows = sorted(self._rows("targets", org_unit_ids, params), key=_by_subject_and_group)
        codes: dict[str, tuple[str, ...]] = {}
        out = []
        for sid, group in itertools.groupby(rows, itemgetter(0)):
            person = list(group)
            family, given, cgs = person[0][8:]
            summaries = []
            for _, g, n, earliest, rec, past, latest, vaccines, _, _, _ in person:
                listed = codes.get(vaccines)
                if listed is None:
                    listed = codes[vaccines] = tuple(vaccines.split())
                summaries.append(DueSummary(sid, g, n, earliest, rec, past, latest, listed))
            phone = next(
                (
                    c["phone"]
                    for c in json.loads(cgs)
                    if c.get("phone") and not c.get("sms_opt_out")
                ),
                None,
            )
            out.append(ReminderTarget(sid, f"{family} {given}", phone, tuple(summaries)))
        return out


@functools.cache
def _select_for_subjects(dialect: str, with_status: bool) -> sa.Select[Any]:
    # The messages about the people of the parameter ``ids`` (see queries.in_listed), of
    # the status of the parameter ``status`` if ``with_status``, ordered by key.
    stmt = sa.select(outbox).where(in_listed(outbox.c.subject_id, "ids", dialect))
    if with_status:
        stmt = stmt.where(outbox.c.status == sa.bindparam("status"))
    return stmt.order_by(outbox.c.key)


class SqlAlchemyOutboxRepository:
    """The message outbox in SQL (see :class:`immreg.ports.OutboxRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def add(self, message: OutboxMessage) -> bool:
        """Store a planned message unless its key is taken (``INSERT ... ON CONFLICT DO
        NOTHING``, so the unit of work survives a taken key)."""
        stmt = self._uow.insert_ignore(outbox)
        return bool(self._uow.run(stmt, message_to_row(message)).rowcount == 1)

    def add_many(self, messages: Sequence[OutboxMessage]) -> int:
        """Store the messages whose key is not taken, :data:`BULK_ROWS` a statement
        (``ON CONFLICT DO NOTHING``); how many were stored."""
        first: dict[str, OutboxMessage] = {}
        for m in messages:
            first.setdefault(m.key, m)
        rows = map(message_tuple, first.values())
        return _bulk_in_uow(self._uow, outbox, rows, ignore=True)

    def find(self, key: str) -> OutboxMessage | None:
        """Return the message or ``None``."""
        row = self._uow.run(_select_message, {"b_key": key}).first()
        return message_from_row(row) if row is not None else None

    def update(self, message: OutboxMessage) -> None:
        """Replace a stored message's state.

        Raises:
            NotFoundError: No message has this key.
        """
        row = message_to_row(message)
        params = {k: v for k, v in row.items() if k not in ("created_at", "subject_id")}
        params["b_key"] = params.pop("key")
        params.pop("episode")
        params.pop("kind")
        if self._uow.run(_update_message, params).rowcount != 1:
            raise NotFoundError("outbox message", message.key)

    def list_due(self, at: dt.datetime, *, limit: int) -> list[OutboxMessage]:
        """Pending messages due at ``at``, oldest first, at most ``limit``."""
        rows = self._uow.run(_select_due_messages, {"at": at, "limit": limit})
        return [message_from_row(r) for r in rows]

    def list_for_subject(
        self, subject_id: str, *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about one person, ordered by key."""
        stmt = sa.select(outbox).where(outbox.c.subject_id == subject_id)
        if status is not None:
            stmt = stmt.where(outbox.c.status == status.value)
        return [message_from_row(r) for r in self._uow.run(stmt.order_by(outbox.c.key))]

    def list_for_subjects(
        self, subject_ids: Iterable[str], *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about any of these people, ordered by key: one query, the ids in one
        parameter."""
        ids = list(dict.fromkeys(subject_ids))
        if not ids:
            return []
        dialect = self._uow.dialect
        stmt = _select_for_subjects(dialect, status is not None)
        params: dict[str, object] = {"ids": units_param(dialect, ids)}
        if status is not None:
            params["status"] = status.value
        return [message_from_row(r) for r in self._uow.run(stmt, params)]

    def counts(self) -> dict[OutboxStatus, int]:
        """Messages per state."""
        rows: list[Any] = list(self._uow.run(_count_by_status))
        return {OutboxStatus(r[0]): int(r[1]) for r in rows}
