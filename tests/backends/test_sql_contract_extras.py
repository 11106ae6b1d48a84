"""Contract tests the shared conformance run skips for SQLite files, run here with the flag on.

tests/test_conformance.py declares ``supports_concurrent_writers = False`` for SQLite files;
in WAL mode the backend does meet that contract (a stale snapshot's write becomes
ConflictError), which this module proves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from immreg.testing.conformance import UnitOfWorkContract


class TestSqliteFileConcurrentWriters(UnitOfWorkContract):
    """The unit-of-work contract on an SQLite file, concurrent writers included."""

    persistent = True
    supports_concurrent_writers = True

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'registry.db'}"
