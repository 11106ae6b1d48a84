"""Shared fixtures: one backend fixture per storage engine, each fresh for every test.

PostgreSQL tests take their server from ``IMMREG_TEST_POSTGRES_URL``; every test gets a
schema of its own (dropped afterwards) through the URL's ``search_path`` option. Without a
reachable server they skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from immreg.ports import Backend

POSTGRES_ENV = "IMMREG_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return url


_reachable: dict[str, str | None] = {}


def _check_reachable(url: str) -> None:
    if url not in _reachable:
        try:
            import sqlalchemy as sa

            engine = sa.create_engine(url)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _reachable[url] = None
        except Exception as e:  # any failure to connect means: no server here
            _reachable[url] = f"PostgreSQL at {url} is not reachable: {e}"
    reason = _reachable[url]
    if reason is not None:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    base = _postgres_base_url()
    _check_reachable(base)
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


BackendFactory = Callable[[], Backend]

BACKEND_KINDS = ["memory", "sqlite_file", "sqlite_memory", "postgres"]


@pytest.fixture(params=BACKEND_KINDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty backend of each kind in turn."""
    kind = request.param
    if kind == "memory":
        return "memory://"
    if kind == "sqlite_file":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    if kind == "sqlite_memory":
        return "sqlite://"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def backend(backend_url: str) -> Iterator[Backend]:
    """A fresh backend of each kind in turn, with its schema created."""
    from immreg.backends import open_backend

    b = open_backend(backend_url)
    yield b
    b.close()
