"""``immreg due-list`` and ``immreg reminders plan|dispatch`` on an SQLite file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from immreg.backends import open_backend
from immreg.cli import main
from immreg.model import AdministeredDose
from immreg.services import FixedClock, Registry
from immreg.testing.messaging_conformance import NOW, MessagingContractBase, child


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    backend = open_backend(url)
    MessagingContractBase().seed(backend)
    # Filled without a schedule: the due list needs --refresh first.
    reg = Registry(backend, clock=FixedClock(NOW))
    reg.register_subject(child("a"))
    reg.register_subject(child("b", opted_out=True))
    reg.record_dose(AdministeredDose("a1", "a", "HEPB-BD", dt.date(2026, 1, 31), "S1"))
    backend.close()
    return url


def test_due_list_then_reminders(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", db, "--today", "2026-05-04"]
    assert main(["due-list", *base, "--org-unit", "C1", "--date", "2026-05-05"]) == 0
    assert "0 people" in capsys.readouterr().out
    assert main(["due-list", *base, "--org-unit", "C1", "--date", "2026-05-05", "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "Due list of C1 for 2026-05-05: 2 people" in out
    assert "Viêm gan B (2)" in out
    assert "PENTA-COMBE5" in out
    assert main(["reminders", "plan", *base, "--org-unit", "C1"]) == 0
    assert capsys.readouterr().out == "1 reminders planned for 2 people (0 already planned)\n"
    assert main(["reminders", "refresh", *base, "--org-unit", "VN"]) == 0
    assert capsys.readouterr().out == "due summaries refreshed for 2 people\n"
    assert main(["reminders", "plan", *base, "--org-unit", "VN"]) == 0
    assert capsys.readouterr().out == "0 reminders planned for 2 people (1 already planned)\n"
    late = ["--db", db, "--at", "2026-05-04T21:30"]
    assert main(["reminders", "dispatch", *late]) == 0
    assert "quiet hours: nothing sent" in capsys.readouterr().out
    assert main(["reminders", "dispatch", "--db", db, "--at", "2026-05-05T07:00"]) == 0
    out = capsys.readouterr().out
    assert "SMS to +84912345678 (gsm7" in out
    assert out.endswith("sent 1, to retry 0, failed 0, skipped 0\n")


def test_http_dispatch_needs_endpoint_and_token(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMMREG_SMS_TOKEN", raising=False)
    assert main(["reminders", "dispatch", "--db", db, "--gateway", "http"]) == 2
    assert "endpoint: is required" in capsys.readouterr().err
    args = ["reminders", "dispatch", "--db", db, "--gateway", "http", "--endpoint", "http://x/"]
    assert main(args) == 2
    assert "token: set the environment variable IMMREG_SMS_TOKEN" in capsys.readouterr().err
