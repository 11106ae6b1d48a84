"""``immreg report coverage|dropout --chart FILE`` writes a PNG beside the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from immreg.backends import open_backend
from immreg.cli import main
from immreg.testing.reports_conformance import ReportRepositoryContract, store_reform_tree

pytest.importorskip("matplotlib")  # the charts extra


def test_charts_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    backend = open_backend(url)
    store_reform_tree(backend)
    with backend.unit_of_work() as uow:
        ReportRepositoryContract()._hand_world().store(uow)
        uow.commit()
    backend.close()
    argv = ["--born", "2024", "--as-of", "2025-12-31", "--level", "commune", "--within", "PAB"]
    age, drop = tmp_path / "age.png", tmp_path / "dropout.png"
    assert main(["report", "coverage", url, *argv, "--chart", str(age)]) == 0
    assert main(["report", "dropout", url, *argv, "--chart", str(drop)]) == 0
    assert "DTP1-DTP3" in capsys.readouterr().out
    for path in (age, drop):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
