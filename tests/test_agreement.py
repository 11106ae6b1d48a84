"""Random operation sequences agree across backends: memory, SQLite file and PostgreSQL.

Runs :mod:`immreg.testing.machines` for the pairs memory–SQLite file, memory–PostgreSQL and
SQLite file–PostgreSQL. ``IMMREG_AGREEMENT_EXAMPLES`` sets the examples per pair (25 by
default; CI sets 200); each example is at most 15 steps. Every example gets empty stores:
a new memory backend, a new SQLite file, and a PostgreSQL schema (one per test process,
dropped at exit) emptied with TRUNCATE.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings

from immreg.backends import open_backend
from immreg.ports import Backend, BulkBatch, UnitOfWork
from immreg.testing.machines import agreement_machine

EXAMPLES = int(os.environ.get("IMMREG_AGREEMENT_EXAMPLES", "25"))
POSTGRES_URL = os.environ.get("IMMREG_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"

SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class _Disposable:
    """A backend that runs ``cleanup`` after closing (drops its file or schema)."""

    def __init__(self, backend: Backend, cleanup: Callable[[], None]) -> None:
        self._backend = backend
        self._cleanup = cleanup
        self.url = backend.url

    def unit_of_work(self, *, scope: str | None = None) -> UnitOfWork:
        return self._backend.unit_of_work(scope=scope)

    def create_schema(self) -> None:
        self._backend.create_schema()

    def loaded_batches(self, load_id: str) -> set[int]:
        return self._backend.loaded_batches(load_id)

    def load_batch(self, batch: BulkBatch) -> bool:
        return self._backend.load_batch(batch)

    def close(self) -> None:
        try:
            self._backend.close()
        finally:
            self._cleanup()


def memory() -> Backend:
    """A fresh memory backend."""
    return open_backend("memory://")


def sqlite_file() -> Backend:
    """A fresh SQLite file in a temporary directory, removed on close."""
    directory = tempfile.mkdtemp(prefix="immreg-agree-")
    backend = open_backend(f"sqlite:///{directory}/registry.db")
    return _Disposable(backend, lambda: shutil.rmtree(directory, ignore_errors=True))


class _PostgresSchema:
    """One schema per test process: migrated once, emptied with TRUNCATE before each example.

    Creating and migrating a schema for every example costs more than the example itself;
    TRUNCATE of every table but Alembic's gives the same empty store.
    """

    def __init__(self) -> None:
        self.url = ""
        self.tables: list[str] = []
        self.admin: Any = None
        self.schema = f"agree_{uuid.uuid4().hex[:12]}"

    def open(self) -> Backend:
        if not POSTGRES_URL:
            raise RuntimeError("IMMREG_TEST_POSTGRES_URL is not set")
        import sqlalchemy as sa

        if self.admin is None:
            self.admin = sa.create_engine(POSTGRES_URL, poolclass=sa.NullPool)
            with self.admin.begin() as conn:
                conn.execute(sa.text(f'create schema "{self.schema}"'))
            atexit.register(self.drop)
            sep = "&" if "?" in POSTGRES_URL else "?"
            self.url = f"{POSTGRES_URL}{sep}options={quote(f'-csearch_path={self.schema}')}"
            backend = open_backend(self.url)
            with self.admin.connect() as conn:
                self.tables = list(
                    conn.execute(
                        sa.text(
                            "select tablename from pg_tables where schemaname = :s"
                            " and tablename <> 'alembic_version' order by tablename"
                        ),
                        {"s": self.schema},
                    ).scalars()
                )
            return backend
        names = ", ".join(f'"{self.schema}"."{t}"' for t in self.tables)
        with self.admin.begin() as conn:
            conn.execute(sa.text(f"truncate {names} restart identity cascade"))
        return open_backend(self.url, create_schema=False)

    def drop(self) -> None:
        import sqlalchemy as sa

        with self.admin.begin() as conn:
            conn.execute(sa.text(f'drop schema if exists "{self.schema}" cascade'))
        self.admin.dispose()


_SCHEMA = _PostgresSchema()


def postgres() -> Backend:
    """An emptied PostgreSQL schema (see :class:`_PostgresSchema`)."""
    return _SCHEMA.open()


def _postgres_skip_reason() -> str | None:
    if IN_CI:
        return None  # in CI a missing server fails the tests instead
    if not POSTGRES_URL:
        return "IMMREG_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against"
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(POSTGRES_URL, poolclass=sa.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as e:  # any failure to connect means: no server here
        return f"PostgreSQL is not reachable: {e}"
    return None


_PG_SKIP = _postgres_skip_reason()
needs_postgres = pytest.mark.skipif(_PG_SKIP is not None, reason=_PG_SKIP or "")


def _case(first: Callable[[], Backend], second: Callable[[], Backend]) -> Any:
    case = agreement_machine(first, second).TestCase
    case.settings = SETTINGS
    return case


TestMemoryAgreesWithSqliteFile = _case(memory, sqlite_file)
TestMemoryAgreesWithPostgres = pytest.mark.postgres(needs_postgres(_case(memory, postgres)))
TestSqliteFileAgreesWithPostgres = pytest.mark.postgres(
    needs_postgres(_case(sqlite_file, postgres))
)
