"""Alembic environment for immreg's SQL schema.

:meth:`immreg.backends.sqlalchemy.SqlAlchemyBackend.create_schema` runs the migrations on
a connection it passes in ``config.attributes["connection"]`` (there is no alembic.ini, so
they work from an installed wheel); the ``sqlalchemy.url`` option is the fallback for
running Alembic by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from immreg.backends.sqlalchemy.tables import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on one to ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from immreg.backends.sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url, or use `immreg db upgrade URL`")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("immreg's migrations run online only (immreg db upgrade URL)")
run_migrations_online()
