"""Fixtures for the schedule engine tests: the CDC CDSi files and the loaded schedule.

The CDSi files are located through ``IMMREG_CDSI_DIR`` (default ``<repo root>/../shared/cdsi``).
Without them the tests that need them skip with the reason, except under ``CI=true``, where
they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from immreg.schedule import Schedule, load_schedule

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO_ROOT = Path(__file__).resolve().parents[2]


def cdsi_dir() -> Path:
    """Return the CDSi directory, skipping (or failing in CI) when it is absent."""
    path = Path(os.environ.get("IMMREG_CDSI_DIR", REPO_ROOT.parent / "shared" / "cdsi"))
    if not (path / "supporting-data-4.64" / "ScheduleSupportingData.xml").is_file():
        reason = (
            f"CDC CDSi files not found under {path} (set IMMREG_CDSI_DIR to the directory "
            "holding supporting-data-4.64/ and testcases-healthy-v4.45.json)"
        )
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def cdsi_path() -> Path:
    """The CDSi directory."""
    return cdsi_dir()


@pytest.fixture(scope="session")
def cdsi(cdsi_path: Path) -> Schedule:
    """The CDSi schedule, loaded once."""
    return load_schedule(f"cdsi:{cdsi_path / 'supporting-data-4.64'}")
