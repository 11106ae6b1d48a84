"""SQLAlchemy-backend behaviour beyond the generic contract: files, drivers, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from _data import dose, subject, tree

from immreg.backends import open_backend
from immreg.backends.sqlalchemy import (
    SqlAlchemyBackend,
    SqlAlchemyUnitOfWork,
    create_engine,
    open_sqlalchemy_backend,
)
from immreg.backends.sqlalchemy.tables import doses, subjects
from immreg.errors import BackendError, ConflictError, NotFoundError, ValidationError
from immreg.ports import Backend, UnitOfWork


def _seed(backend: Backend) -> None:
    with backend.unit_of_work() as uow:
        for unit in tree():
            uow.org_units.add(unit)
        uow.subjects.add(subject("s1", "C1"))
        uow.doses.add(dose("d1", "s1"))
        uow.commit()


@pytest.fixture(params=["sqlite_file", "postgres"])
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAlchemyBackend]:
    """A fresh SQLite-file or PostgreSQL backend with its schema."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    backend = open_sqlalchemy_backend(url)
    backend.create_schema()
    yield backend
    backend.close()


def test_units_of_work_are_the_protocol(sql_backend: SqlAlchemyBackend) -> None:
    uow = sql_backend.unit_of_work()
    assert isinstance(uow, UnitOfWork)
    assert isinstance(uow, SqlAlchemyUnitOfWork)


def test_explicit_construction_from_an_engine(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    backend = SqlAlchemyBackend(engine)
    backend.create_schema()
    _seed(backend)
    with backend.unit_of_work() as uow:
        assert uow.doses.get("d1").subject_id == "s1"
    backend.close()


def test_sqlite_file_persists_across_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    first = open_backend(url)
    _seed(first)
    first.close()
    second = open_backend(url)
    with second.unit_of_work() as uow:
        assert uow.subjects.get("s1") == subject("s1", "C1")
        assert uow.doses.list_for_subject("s1") == [dose("d1", "s1")]
        assert [u.id for u in uow.org_units.list_all()] == ["C1", "C2", "C3", "P1", "P2", "VN"]
    second.close()


def test_sqlite_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    backend = open_sqlalchemy_backend(f"sqlite:///{tmp_path / 'wal.db'}")
    with backend.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    backend.close()


def test_in_memory_sqlite_is_shared_by_units_of_work() -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        backend = open_backend(url)
        _seed(backend)
        with backend.unit_of_work() as uow:
            assert uow.subjects.count() == 1
        backend.close()


def test_in_memory_sqlite_refuses_a_second_open_unit_of_work() -> None:
    # Its one connection would make the second share, and roll back, the first's work.
    backend = open_backend("sqlite://")
    _seed(backend)
    with backend.unit_of_work() as first:
        first.doses.add(dose("d2", "s1"))
        with backend.unit_of_work() as second, pytest.raises(BackendError, match="one unit"):
            second.doses.find("d1")
        first.commit()
    with backend.unit_of_work() as uow:
        assert uow.doses.count() == 2
    backend.close()


def test_uncommitted_work_is_invisible_and_rolled_back(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    with sql_backend.unit_of_work() as uow:
        uow.doses.add(dose("d2", "s1"))
        with sql_backend.unit_of_work() as other:
            assert other.doses.find("d2") is None

    def fail_midway() -> None:
        with sql_backend.unit_of_work() as uow:
            uow.doses.add(dose("d3", "s1"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with sql_backend.unit_of_work() as uow:
        assert uow.doses.find("d2") is None
        assert uow.doses.find("d3") is None


def test_usable_after_commit(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    with sql_backend.unit_of_work() as uow:
        uow.doses.add(dose("d2", "s1"))
        uow.commit()
        uow.doses.add(dose("d3", "s1"))
        uow.commit()
        uow.doses.add(dose("d4", "s1"))
    with sql_backend.unit_of_work() as uow:
        assert [d.id for d in uow.doses.list_for_subject("s1")] == ["d1", "d2", "d3"]


def test_conflicts_leave_the_unit_of_work_usable(sql_backend: SqlAlchemyBackend) -> None:
    # On PostgreSQL a failed statement would abort the transaction; the writers avoid it.
    _seed(sql_backend)
    with sql_backend.unit_of_work() as uow:
        with pytest.raises(ConflictError):
            uow.doses.add(dose("d1", "s1", day=5))
        with pytest.raises(ConflictError):
            uow.subjects.add(subject("s1", "C1"))
        uow.subjects.add(subject("s2", "C1", national_code="X1"))
        with pytest.raises(ConflictError):
            uow.subjects.add(subject("s3", "C1", national_code="X1"))
        with pytest.raises(ConflictError):
            uow.subjects.update(subject("s1", "C1", national_code="X1"))
        with pytest.raises(NotFoundError):
            uow.doses.add(dose("d9", "nobody"))
        uow.doses.add(dose("d2", "s1"))
        uow.commit()
    with sql_backend.unit_of_work() as uow:
        assert uow.doses.count() == 2
        assert uow.subjects.find_by_code("X1") == subject("s2", "C1", national_code="X1")


def test_integrity_error_becomes_conflict_error(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    with sql_backend.unit_of_work() as uow:
        raw = sa.insert(doses).values(
            id="d1", subject_id="s1", product_code="BCG", date=dose("x", "s1").date,
            facility_id="C1", source="import", recorded_by="x", version=1, voided=False,
        )  # fmt: skip
        with pytest.raises(ConflictError) as info:
            uow.run(raw)
        assert isinstance(info.value.__cause__, sa.exc.IntegrityError)


def test_database_failure_becomes_backend_error(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    with sql_backend.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE doses"))
    with sql_backend.unit_of_work() as uow, pytest.raises(BackendError) as info:
        uow.doses.find("d1")
    assert isinstance(info.value.__cause__, sa.exc.DBAPIError)


def test_unreachable_server_is_a_backend_error() -> None:
    backend = open_backend("postgresql://nobody@127.0.0.1:1/none", create_schema=False)
    with pytest.raises(BackendError), backend.unit_of_work() as uow:
        uow.subjects.count()
    with pytest.raises(BackendError):
        backend.create_schema()
    with pytest.raises(BackendError):
        backend.loaded_batches("x")
    backend.close()


def test_bad_urls_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        create_engine("mysql://x@y/z")
    with pytest.raises(ValidationError):
        create_engine("::not a url::")
    with pytest.raises(ValidationError):
        create_engine("postgresql+psycopg2://x@y/z")


def test_postgresql_without_driver_means_psycopg() -> None:
    engine = create_engine("postgresql://postgres@127.0.0.1/test")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_optimistic_replace(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    with sql_backend.unit_of_work() as uow:
        old = uow.doses.get("d1")
        new = dose("d1", "s1", day=3, version=2)
        uow.doses.replace(new, expected_version=1)
        with pytest.raises(ConflictError):
            uow.doses.replace(dose("d1", "s1", day=4, version=2), expected_version=1)
        with pytest.raises(ConflictError):
            uow.doses.replace(dose("d1", "s2", version=3), expected_version=2)
        with pytest.raises(NotFoundError):
            uow.doses.replace(dose("nope", "s1", version=2), expected_version=1)
        uow.commit()
    with sql_backend.unit_of_work() as uow:
        assert uow.doses.get("d1") == new != old


def test_two_units_of_work_replace_the_same_dose(sql_backend: SqlAlchemyBackend) -> None:
    # PostgreSQL: the second UPDATE matches no row (or fails to serialize); SQLite in WAL
    # mode: the second writer's snapshot is stale (SQLITE_BUSY_SNAPSHOT).
    backend = sql_backend
    _seed(backend)
    first, second = backend.unit_of_work(), backend.unit_of_work()
    with first, second:
        v1 = first.doses.get("d1").version
        v2 = second.doses.get("d1").version
        first.doses.replace(dose("d1", "s1", day=2, version=v1 + 1), expected_version=v1)
        first.commit()
        with pytest.raises(ConflictError):
            second.doses.replace(dose("d1", "s1", day=3, version=v2 + 1), expected_version=v2)
    with backend.unit_of_work() as uow:
        assert uow.doses.get("d1").date.day == 2


@pytest.mark.postgres
def test_concurrent_replacers_on_postgres_one_wins(postgres_url: str) -> None:
    # Many threads race to move the dose from version 1 to 2: exactly one may win.
    backend = open_backend(postgres_url)
    _seed(backend)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def replace(day: int) -> None:
        with backend.unit_of_work() as uow:
            uow.doses.get("d1")
            barrier.wait()
            try:
                uow.doses.replace(dose("d1", "s1", day=day, version=2), expected_version=1)
                uow.commit()
                outcomes.append("won")
            except ConflictError:
                outcomes.append("conflict")

    threads = [threading.Thread(target=replace, args=(d,)) for d in range(2, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
    with backend.unit_of_work() as uow:
        assert uow.doses.get("d1").version == 2
    backend.close()


@pytest.mark.postgres
@pytest.mark.parametrize("own_engine", [False, True])
def test_lost_subject_update_is_a_conflict_on_postgres(
    postgres_url: str, own_engine: bool
) -> None:
    # Also with an engine the caller built (default isolation READ COMMITTED).
    if own_engine:
        backend: Backend = SqlAlchemyBackend(sa.create_engine(postgres_url))
        backend.create_schema()
    else:
        backend = open_backend(postgres_url)
    _seed(backend)
    first, second = backend.unit_of_work(), backend.unit_of_work()
    with first, second:
        first.subjects.get("s1")
        second.subjects.get("s1")
        first.subjects.update(subject("s1", "C1", given_name="Lan Anh"))
        first.commit()
        with pytest.raises(ConflictError):
            second.subjects.update(subject("s1", "C1", given_name="Ngọc"))
        # The failed unit of work was rolled back and goes on with a fresh snapshot.
        assert second.subjects.get("s1").given_name == "Lan Anh"
        second.subjects.update(subject("s1", "C1", given_name="Ngọc"))
        second.commit()
    with backend.unit_of_work() as uow:
        assert uow.subjects.get("s1").given_name == "Ngọc"
    backend.close()


def test_ids_sort_by_code_point(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    ids = ["a", "B", "a-b", "Z9", "z", "0", "a.b", "aB", "a_b"]
    with sql_backend.unit_of_work() as uow:
        for i in ids:
            uow.subjects.add(subject(i, "C1"))
        uow.commit()
        listed = uow.subjects.list_resident(["C1"], on=dose("x", "s1").date)
    assert [s.id for s in listed] == sorted([*ids, "s1"])


def test_raw_rows_match_the_domain(sql_backend: SqlAlchemyBackend) -> None:
    _seed(sql_backend)
    with sql_backend.engine.connect() as conn:
        row = conn.execute(sa.select(subjects).where(subjects.c.id == "s1")).one()
    assert row.sex == "F"
    assert row.birth_date.isoformat() == "2024-01-01"


class _DriverError(Exception):
    """Stands in for a driver exception with a SQLSTATE or an SQLite error code."""

    def __init__(self, sqlstate: str | None = None, sqlite_errorcode: int | None = None) -> None:
        super().__init__(f"driver says {sqlstate or sqlite_errorcode}")
        self.sqlstate = sqlstate
        self.sqlite_errorcode = sqlite_errorcode


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (_DriverError("40001"), ConflictError),  # serialization failure
        (_DriverError("40P01"), ConflictError),  # deadlock detected
        (_DriverError("23505"), ConflictError),  # unique violation (psycopg, through COPY)
        (_DriverError(sqlite_errorcode=517), ConflictError),  # SQLITE_BUSY_SNAPSHOT
        (_DriverError("08006"), BackendError),  # connection failure
        (_DriverError(sqlite_errorcode=5), BackendError),  # SQLITE_BUSY after the timeout
    ],
)
def test_translate_error(orig: Exception, expected: type[Exception]) -> None:
    from immreg.backends.sqlalchemy.uow import translate_error

    wrapped = sa.exc.OperationalError("SELECT 1", {}, orig)
    assert type(translate_error(wrapped)) is expected
    assert type(translate_error(orig)) is expected
    assert type(translate_error(sa.exc.IntegrityError("INSERT", {}, Exception()))) is ConflictError


@pytest.mark.postgres
def test_concurrent_adds_of_one_dose_id_on_postgres_store_it_once(postgres_url: str) -> None:
    backend = open_backend(postgres_url)
    _seed(backend)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def add(day: int) -> None:
        with backend.unit_of_work() as uow:
            uow.subjects.get("s1")  # take the snapshot before the race
            barrier.wait()
            try:
                uow.doses.add(dose("race", "s1", day=day))
                uow.commit()
                outcomes.append("stored")
            except ConflictError:
                outcomes.append("conflict")

    threads = [threading.Thread(target=add, args=(d,)) for d in range(2, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 4 + ["stored"]
    with backend.unit_of_work() as uow:
        assert uow.doses.count() == 2
    backend.close()
