"""Storage backends, chosen by URL.

``open_backend("memory://")`` gives the in-memory reference backend,
``open_backend("sqlite:///registry.db")`` an SQLite file (``sqlite://`` alone is an
in-memory SQLite database), and ``open_backend("postgresql+psycopg://user@host/db")`` a
PostgreSQL server through psycopg 3.

Third-party backends register a factory under the ``immreg.backends`` entry-point group,
named by URL scheme::

    [project.entry-points."immreg.backends"]
    mystore = "mypackage.backend:open_mystore"

The factory takes the URL and returns an object implementing
:class:`immreg.ports.Backend`. Nothing is imported until a backend is opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import cast

from immreg.errors import NotFoundError, ValidationError
from immreg.ports import Backend

__all__ = ["BUILTIN_SCHEMES", "open_backend"]

#: Schemes served by immreg itself, mapped to ``module:factory``.
BUILTIN_SCHEMES: dict[str, str] = {
    "memory": "immreg.backends.memory:open_memory_backend",
    "sqlite": "immreg.backends.sqlalchemy:open_sqlalchemy_backend",
    "sqlite+pysqlite": "immreg.backends.sqlalchemy:open_sqlalchemy_backend",
    "postgresql": "immreg.backends.sqlalchemy:open_sqlalchemy_backend",
    "postgresql+psycopg": "immreg.backends.sqlalchemy:open_sqlalchemy_backend",
}


def _load(target: str) -> Callable[[str], Backend]:
    module, _, attr = target.partition(":")
    return cast(Callable[[str], Backend], getattr(importlib.import_module(module), attr))


def open_backend(url: str, *, create_schema: bool = True) -> Backend:
    """Open the backend that ``url`` names.

    Args:
        url: ``memory://``, ``sqlite:///path.db``, ``postgresql+psycopg://...`` or a
            scheme registered in the ``immreg.backends`` entry-point group.
        create_schema: Create or upgrade the storage schema (SQL: apply the bundled
            migrations) before returning.

    Returns:
        An open backend; close it with ``close()``.

    Raises:
        ValidationError: ``url`` has no scheme.
        NotFoundError: No backend is registered for the scheme.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValidationError("url", "must be a backend URL such as sqlite:///registry.db")
    scheme = url.split("://", 1)[0].lower()
    target = BUILTIN_SCHEMES.get(scheme)
    factory: Callable[[str], Backend] | None = _load(target) if target else None
    if factory is None:
        for ep in entry_points(group="immreg.backends"):
            if ep.name == scheme:
                factory = cast(Callable[[str], Backend], ep.load())
                break
    if factory is None:
        raise NotFoundError("backend for URL scheme", scheme, field="url")
    backend = factory(url)
    if create_schema:
        backend.create_schema()
    return backend
