"""The bundled Alembic migrations create exactly the schema tables.py describes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from immreg.backends.sqlalchemy import MIGRATIONS, open_sqlalchemy_backend, upgrade
from immreg.backends.sqlalchemy.tables import metadata
from immreg.errors import BackendError

TABLES = {t.name for t in metadata.sorted_tables}


def _heads() -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return sorted(ScriptDirectory.from_config(config).get_heads())


def _check_schema(url: str) -> None:
    backend = open_sqlalchemy_backend(url)
    try:
        backend.create_schema()
        backend.create_schema()  # twice is harmless
        with backend.engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            assert names >= TABLES | {"alembic_version"}
            version = conn.execute(sa.text("select version_num from alembic_version")).all()
            # Every branch head (feature modules ship their own branches off 0001).
            assert sorted(v for (v,) in version) == _heads()
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
            assert diff == []
    finally:
        backend.close()


def test_migrations_live_inside_the_package() -> None:
    assert MIGRATIONS.is_dir()
    assert (MIGRATIONS / "env.py").is_file()
    assert any(MIGRATIONS.joinpath("versions").glob("0001_*.py"))
    assert "immreg" in MIGRATIONS.parts


def test_fresh_sqlite_file(tmp_path: Path) -> None:
    _check_schema(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_fresh_sqlite_memory() -> None:
    _check_schema("sqlite://")


@pytest.mark.postgres
def test_fresh_postgres_schema(postgres_url: str) -> None:
    _check_schema(postgres_url)


def test_upgrade_function_for_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) >= TABLES
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_create_schema_on_postgres(postgres_url: str) -> None:
    import threading

    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(postgres_url)
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_schema_newer_than_this_immreg_is_a_backend_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        # One row per branch head: make one of them unknown.
        conn.execute(
            sa.text(
                "UPDATE alembic_version SET version_num = '9999' "
                "WHERE version_num = (SELECT min(version_num) FROM alembic_version)"
            )
        )
    engine.dispose()
    with pytest.raises(BackendError, match="9999"):
        upgrade(url)
