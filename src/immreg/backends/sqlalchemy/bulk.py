"""Bulk loading: one batch of subjects and doses per transaction, resumable after a crash.

:func:`load_batch` writes the batch's ``load_batches`` row first, then its rows, and
commits them together. A rerun of a load killed midway finds the batches that committed
in ``load_batches`` and skips them (``load_batch`` returns ``False``), and the batch that
was in flight left nothing behind, so every row ends up stored exactly once.

On PostgreSQL rows go in through psycopg's ``COPY ... FROM STDIN`` on the SQLAlchemy
connection's driver connection; on SQLite through the driver's ``executemany`` of the
INSERT that SQLAlchemy Core compiles, on positional rows. Input
is trusted to be valid (the bulk service validates and batches it); the only checks here
are the ones the database does not make itself: every dose's subject exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from immreg.backends.sqlalchemy import mapping, queries
from immreg.backends.sqlalchemy.messaging import insert_due
from immreg.backends.sqlalchemy.tables import (
    doses,
    load_batches,
    residences,
    subjects,
)
from immreg.backends.sqlalchemy.uow import translate_error
from immreg.errors import ImmregError, NotFoundError
from immreg.model import AdministeredDose, DoseSource, Subject
from immreg.ports import BulkBatch

__all__ = ["COPY_TYPES", "copy_rows", "dose_rows", "load_batch"]

#: PostgreSQL type names of the columns of the tables copied in binary format, in order.
COPY_TYPES: dict[str, list[str]] = {
    "residences": ["varchar", "int4", "varchar", "date", "date"],
    "doses": [
        "varchar", "varchar", "varchar", "date", "varchar", "varchar", "varchar", "varchar",
        "int4", "bool", "varchar",
    ],
}  # fmt: skip

_select_existing = sa.select(subjects.c.id).where(
    subjects.c.id.in_(sa.bindparam("ids", expanding=True))
)


def _residence_tuples(batch_subjects: Sequence[Subject]) -> list[tuple[Any, ...]]:
    return [
        (s.id, i, r.org_unit_id, r.start, r.end)
        for s in batch_subjects
        for i, r in enumerate(s.residences)
    ]


def _check_subjects(
    conn: sa.Connection, batch_subjects: Sequence[Subject], batch_doses: Sequence[AdministeredDose]
) -> None:
    # Doses have no database foreign key (see tables.py); check set-wise instead: only the
    # subject ids the batch does not bring itself need a look-up, usually none, and the
    # doses are walked one by one only to name the first one whose subject is missing.
    own = {s.id for s in batch_subjects}
    outside = {d.subject_id for d in batch_doses} - own
    if not outside:
        return
    ordered = sorted(outside)
    for i in range(0, len(ordered), 1000):
        outside.difference_update(
            conn.execute(_select_existing, {"ids": ordered[i : i + 1000]}).scalars()
        )
    for i, d in enumerate(batch_doses):
        if d.subject_id in outside:
            raise NotFoundError("subject", d.subject_id, field=f"doses[{i}].subject_id")


@contextmanager
def _copy(
    driver_connection: Any, table: str, columns: Sequence[str], *, into: str | None, binary: bool
) -> Iterator[Any]:
    # A psycopg Copy object for ``COPY target (columns) FROM STDIN``; leaving the block
    # waits for the server to take in everything written.
    cols = ", ".join(f'"{c}"' for c in columns)
    target = into if into is not None else f'"{table}"'
    options = " (FORMAT BINARY)" if binary else ""
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {target} ({cols}) FROM STDIN{options}") as copy,
    ):
        if binary:
            copy.set_types(COPY_TYPES[table])
        yield copy


def copy_rows(
    driver_connection: Any,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    into: str | None = None,
    binary: bool = True,
) -> None:
    """COPY rows into a PostgreSQL table through a psycopg connection.

    Args:
        driver_connection: A :class:`psycopg.Connection` (inside the caller's transaction).
        table: The table; for binary format, one of :data:`COPY_TYPES`.
        columns: The table's columns, in the order of the values in each row.
        rows: The rows.
        into: The table to copy into, when it is not ``table``: a table of the same
            columns, as SQL (e.g. ``'"scratch"."doses"'``, a benchmark's baseline).
        binary: Binary format (the fastest for dates and numbers); text format otherwise,
            where each value is dumped by its Python type.
    """
    with _copy(driver_connection, table, columns, into=into, binary=binary) as copy:
        for row in rows:
            copy.write_row(row)


#: The stored text of each dose source, looked up per row (``DoseSource.value`` is a
#: descriptor call, a tenth of the cost of building a row).
_SOURCES = {s: s.value for s in DoseSource}


def dose_rows(batch_doses: Iterable[AdministeredDose]) -> Iterator[tuple[Any, ...]]:
    """The ``doses`` rows of ``batch_doses`` in column order, made as they are consumed.

    The same rows as :func:`.mapping.dose_tuple` (a test checks it), built inline: at a
    million rows the function call per row is measurable.
    """
    sources = _SOURCES
    return (
        (d.id, d.subject_id, d.product_code, d.date, d.facility_id, d.lot_number,
         sources[d.source], d.recorded_by, d.version, d.voided, d.void_reason)
        for d in batch_doses
    )  # fmt: skip


def _write_postgresql(
    conn: sa.Connection, batch_subjects: Sequence[Subject], batch_doses: Sequence[AdministeredDose]
) -> None:
    # The server takes in a COPY's rows while the client is still sending them, and after
    # the last row the client waits for it to catch up. The doses go first (the most
    # work for the server), and the client builds the subject and residence rows during
    # that wait instead of before or after it.
    driver = conn.connection.driver_connection
    with _copy(driver, "doses", doses.c.keys(), into=None, binary=True) as copy:
        for row in dose_rows(batch_doses):
            copy.write_row(row)
        subject_rows = [mapping.subject_tuple(s) for s in batch_subjects]
        residence_rows = _residence_tuples(batch_subjects)
    if subject_rows:
        # Text format: the caregivers' JSON goes in as text, which jsonb's input parses
        # (binary jsonb made psycopg serialize the JSON itself, measurably slower).
        copy_rows(driver, "subjects", subjects.c.keys(), subject_rows, binary=False)
    if residence_rows:
        copy_rows(driver, "residences", residences.c.keys(), residence_rows)


# SQLAlchemy's SQLite Date type stores ISO text; these rows carry the same, so that the
# driver's executemany can take them without SQLAlchemy's per-row parameter processing
# (two thirds of the load time).


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _sqlite_dose(d: AdministeredDose) -> tuple[Any, ...]:
    row = mapping.dose_tuple(d)
    return (*row[:3], d.date.isoformat(), *row[4:])


def _sqlite_subject(s: Subject) -> tuple[Any, ...]:
    row = mapping.subject_tuple(s)
    return (*row[:3], s.birth_date.isoformat(), *row[4:7], _iso(s.deceased_on), row[8])


def _sqlite_residences(batch_subjects: Sequence[Subject]) -> list[tuple[Any, ...]]:
    return [
        (s.id, i, r.org_unit_id, r.start.isoformat(), _iso(r.end))
        for s in batch_subjects
        for i, r in enumerate(s.residences)
    ]


def _executemany(conn: sa.Connection, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
    # The INSERT compiled by SQLAlchemy Core for this dialect, run by the driver's
    # executemany on positional rows in column order.
    if rows:
        conn.exec_driver_sql(str(sa.insert(table).compile(dialect=conn.dialect)), rows)


def _write_executemany(
    conn: sa.Connection, batch_subjects: Sequence[Subject], batch_doses: Sequence[AdministeredDose]
) -> None:
    _executemany(conn, subjects, [_sqlite_subject(s) for s in batch_subjects])
    _executemany(conn, residences, _sqlite_residences(batch_subjects))
    _executemany(conn, doses, [_sqlite_dose(d) for d in batch_doses])


def load_batch(engine: sa.Engine, batch: BulkBatch) -> bool:
    """Store one batch and its ``load_batches`` row in one transaction.

    Args:
        engine: The backend's engine.
        batch: The batch, already validated.

    Returns:
        ``True`` if the batch was stored now, ``False`` (having written nothing) if an
        earlier run stored it.

    Raises:
        ConflictError: A subject or dose of the batch exists already, or two subjects share
            a national code; nothing of the batch was kept.
        NotFoundError: A dose's subject is neither in the batch nor stored.
        BackendError: The database failed; nothing of the batch was kept.
    """
    mark = {
        "load_id": batch.load_id,
        "batch_no": batch.batch_no,
        "loaded_at": dt.datetime.now(dt.UTC),
    }
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # READ COMMITTED: a second loader of the same batch waits on the first's
                # uncommitted mark and then sees it (returning False) instead of failing
                # with a serialization error.
                conn = conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                # The mark goes first: a concurrent duplicate loader stops at its key.
                insert = queries.insert_ignore(load_batches, conn.dialect.name)
                if conn.execute(insert, mark).rowcount == 0:
                    return False
                _check_subjects(conn, batch.subjects, batch.doses)
                if conn.dialect.name == "postgresql":
                    _write_postgresql(conn, batch.subjects, batch.doses)
                else:
                    _write_executemany(conn, batch.subjects, batch.doses)
                # The batch's due summaries (immreg.outreach), in the same transaction.
                insert_due(conn, batch.due)
        return True
    except ImmregError:
        raise
    except sa.exc.DBAPIError as e:
        raise translate_error(e) from e
    except Exception as e:
        # psycopg errors raised by COPY on the driver connection bypass SQLAlchemy.
        if type(e).__module__.startswith("psycopg"):
            raise translate_error(e) from e
        raise
