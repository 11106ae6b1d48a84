"""The worked examples in docs/schedule.md run and print what the page shows."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "schedule.md"
DOC_DATA = "cdsi:/work/shared/cdsi/supporting-data-4.64"


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_worked_example_output_matches_the_page(cdsi_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split('## "Why is this child due?"', 1)[1].split("## The schedule file", 1)[0]
    code = _blocks(section, "python")
    shown = _blocks(section, "text")
    assert len(code) == 2
    assert len(shown) == 2
    data = f"cdsi:{cdsi_path / 'supporting-data-4.64'}"
    namespace: dict[str, object] = {}
    for snippet, expected in zip(code, shown, strict=True):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(snippet.replace(DOC_DATA, data), namespace)
        assert out.getvalue() == expected
