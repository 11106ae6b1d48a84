"""``import immreg`` stays light: no SQL, driver or test library is imported with it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "psycopg", "psycopg2", "alembic", "hypothesis", "pytest")


def _imported_after(code: str) -> list[str]:
    probe = (
        f"{code}\n"
        "import json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import immreg",
        "import immreg.services, immreg.serialization, immreg.ports, immreg.orgunits",
        "import immreg; immreg.open_backend('memory://').close()",
    ],
)
def test_no_heavy_module_is_imported(code: str) -> None:
    assert _imported_after(code) == []


def test_the_probe_sees_a_heavy_import() -> None:
    # Keeps the test above honest: opening an SQL backend does import SQLAlchemy.
    assert "sqlalchemy" in _imported_after("import immreg; immreg.open_backend('sqlite://')")
