"""The SQLAlchemy backend: SQLite (file or in memory) and PostgreSQL through psycopg 3.

Open it by URL with :func:`immreg.open_backend` (or :func:`open_sqlalchemy_backend`), or
construct it from an engine of your own::

    engine = sqlalchemy.create_engine("postgresql+psycopg://registry@db/registry")
    backend = SqlAlchemyBackend(engine)
    backend.create_schema()          # apply the bundled Alembic migrations
    with backend.unit_of_work(scope="79") as uow:
        ...

URLs:

* ``sqlite:///path/registry.db``: an SQLite file, in WAL mode with foreign keys on.
* ``sqlite://`` or ``sqlite:///:memory:``: an in-memory SQLite database on one connection
  shared by the backend's units of work, one at a time; gone when the backend is closed.
* ``postgresql://...`` or ``postgresql+psycopg://...``: PostgreSQL through psycopg 3; units
  of work run at REPEATABLE READ, so a lost race surfaces as
  :class:`~immreg.errors.ConflictError` instead of a silently overwritten row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from immreg.backends.sqlalchemy import queries
from immreg.backends.sqlalchemy.bulk import load_batch
from immreg.backends.sqlalchemy.uow import (
    SqlAlchemyAuditRepository,
    SqlAlchemyCatalogueRepository,
    SqlAlchemyDoseRepository,
    SqlAlchemyLotRepository,
    SqlAlchemyOrgUnitRepository,
    SqlAlchemySubjectRepository,
    SqlAlchemyUnitOfWork,
    translate_error,
)
from immreg.errors import BackendError, ValidationError
from immreg.ports import BulkBatch

__all__ = [
    "MIGRATIONS",
    "SqlAlchemyAuditRepository",
    "SqlAlchemyBackend",
    "SqlAlchemyCatalogueRepository",
    "SqlAlchemyDoseRepository",
    "SqlAlchemyLotRepository",
    "SqlAlchemyOrgUnitRepository",
    "SqlAlchemySubjectRepository",
    "SqlAlchemyUnitOfWork",
    "configure_engine",
    "create_engine",
    "open_sqlalchemy_backend",
    "upgrade",
]

#: The bundled Alembic migrations (inside the package, so they ship in the wheel).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any constant will do: it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 0x1A3E_0001


def _is_memory_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    """Create an engine for an immreg URL, configured for this backend.

    ``postgresql://`` without a driver means psycopg 3; an in-memory SQLite database gets
    one shared connection (StaticPool) usable from any thread.

    Args:
        url: An ``sqlite`` or ``postgresql`` URL.
        **kwargs: Passed on to :func:`sqlalchemy.create_engine`.

    Raises:
        ValidationError: The URL cannot be parsed or names another database.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as e:
        raise ValidationError("url", f"is not a database URL: {e}") from e
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            # The bulk path speaks psycopg 3's COPY API.
            raise ValidationError("url", "PostgreSQL is reached through psycopg 3: postgresql://")
    elif backend == "sqlite":
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        if _is_memory_sqlite(parsed):
            kwargs.setdefault("poolclass", StaticPool)
            # The one connection is shared: returning it to the pool must not roll back
            # what another unit of work has open on it (each unit of work rolls back its
            # own transaction when it closes).
            kwargs.setdefault("pool_reset_on_return", None)
        else:
            # Seconds to wait for another writer's lock before failing.
            connect_args.setdefault("timeout", 30)
    else:
        raise ValidationError("url", f"names a {backend} database; use sqlite or postgresql")
    return configure_engine(sa.create_engine(parsed, **kwargs))


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (the
    # module's implicit BEGIN would run SELECTs outside any transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "memory":
            # WAL: readers do not block the writer and the writer does not block readers.
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    dbapi = conn.connection.driver_connection
    if dbapi is None:
        return
    if dbapi.in_transaction:
        # Only an in-memory database gets here: its one connection is shared by every unit
        # of work, and a second one would share (and on leaving, roll back) the first's
        # transaction. Refuse, rather than lose the first one's work silently.
        raise BackendError(
            "an in-memory SQLite database runs one unit of work at a time; "
            "use an SQLite file or PostgreSQL for concurrent units of work"
        )
    dbapi.execute("BEGIN")


def configure_engine(engine: sa.Engine) -> sa.Engine:
    """Install the connection settings the backend relies on, once per engine.

    SQLite: SQLAlchemy-controlled ``BEGIN``, foreign keys on, WAL for files. Engines made by
    :func:`create_engine` are configured already; call this on an engine of your own.

    Returns:
        The same engine.
    """
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class SqlAlchemyBackend:
    """A SQLite or PostgreSQL backend (see :class:`immreg.ports.Backend`).

    Args:
        engine: The engine to use; it is configured with :func:`configure_engine`.
        url: The URL to report as :attr:`url` (default: the engine's, password hidden).

    Attributes:
        url: The backend's URL.
        engine: The SQLAlchemy engine.
    """

    def __init__(self, engine: sa.Engine, *, url: str | None = None) -> None:
        self.engine = configure_engine(engine)
        self.url = url if url is not None else engine.url.render_as_string(hide_password=True)

    def unit_of_work(self, *, scope: str | None = None) -> SqlAlchemyUnitOfWork:
        """A new unit of work, optionally limited to an org-unit subtree."""
        return SqlAlchemyUnitOfWork(self.engine, scope=scope)

    def create_schema(self) -> None:
        """Apply the bundled Alembic migrations up to the newest; harmless when current.

        On PostgreSQL an advisory lock serializes processes that migrate at the same time.

        Raises:
            BackendError: The database failed, or its schema is at a revision this immreg
                does not know (migrated by a newer immreg).
        """
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    # READ COMMITTED: after waiting for the lock, see what the other
                    # migrating process committed.
                    conn = conn.execution_options(isolation_level="READ COMMITTED")
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _MIGRATION_LOCK_KEY},
                    )
                config.attributes["connection"] = conn
                # "heads": feature modules (stock, messaging, ...) ship their own migration
                # branches off the initial revision; every branch is applied.
                command.upgrade(config, "heads")
                conn.commit()
        except sa.exc.DBAPIError as e:
            raise translate_error(e) from e
        except CommandError as e:
            # Typically a database migrated by a newer immreg: its revision is unknown here.
            raise BackendError(f"cannot migrate the database schema: {e}") from e

    def loaded_batches(self, load_id: str) -> set[int]:
        """Numbers of the batches of ``load_id`` that are stored.

        Raises:
            BackendError: The database failed.
        """
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(queries.select_loaded_batches, {"load_id": load_id})
                return set(rows.scalars())
        except sa.exc.DBAPIError as e:
            raise translate_error(e) from e

    def load_batch(self, batch: BulkBatch) -> bool:
        """Store one bulk batch atomically (see :func:`.bulk.load_batch`)."""
        return load_batch(self.engine, batch)

    def close(self) -> None:
        """Close every pooled connection (an in-memory database is gone afterwards)."""
        self.engine.dispose()


def open_sqlalchemy_backend(url: str) -> SqlAlchemyBackend:
    """Open a backend for an ``sqlite`` or ``postgresql`` URL (the schema is not created).

    Raises:
        ValidationError: The URL is not an SQLite or PostgreSQL URL.
    """
    return SqlAlchemyBackend(create_engine(url), url=url)


def upgrade(url: str) -> None:
    """Migrate the database at ``url`` to the schema this immreg needs (``immreg db upgrade``).

    Raises:
        ValidationError: The URL is not an SQLite or PostgreSQL URL.
        BackendError: The database failed.
    """
    backend = open_sqlalchemy_backend(url)
    try:
        backend.create_schema()
    finally:
        backend.close()
