"""docs/packs.md shows every bundled pack as generated from the pack files."""

from __future__ import annotations

from pathlib import Path

from immreg.schedule.render import update_docs

DOC = Path(__file__).resolve().parents[2] / "docs" / "packs.md"


def test_the_pack_tables_in_the_docs_match_the_packs() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update_docs(text) == text, "run: python -m immreg.schedule.render docs/packs.md"


def test_the_docs_show_every_pack_with_its_sources() -> None:
    text = DOC.read_text(encoding="utf-8")
    for title in (
        "### Vietnam EPI, Thông tư 38/2017/TT-BYT",
        "### Vietnam EPI, Thông tư 10/2024/TT-BYT",
        "### Vietnam EPI, Thông tư 52/2025/TT-BYT",
        "### WHO routine immunization baseline",
    ):
        assert title in text
    assert text.count("Sources of *") == 4


def test_the_example_on_the_page_runs_and_says_what_the_comment_says() -> None:
    import datetime as dt
    import re

    text = DOC.read_text(encoding="utf-8")
    (snippet,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    namespace: dict[str, object] = {}
    exec(snippet, namespace)
    result = namespace["result"]
    f = result.forecast_for("Phế cầu")  # type: ignore[attr-defined]
    assert (f.forecast_dose_number, f.earliest) == (1, dt.date(2026, 3, 31))
