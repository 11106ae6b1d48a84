"""Render a schedule pack for people: a plain-text table, Markdown, or JSON.

One row per target dose: vaccine group, antigen, series, dose number, the vaccines that
count (preferable, then allowable in brackets), the ages (minimum, recommended, late from,
maximum), the interval from the previous dose and any skip, and the rule's source.
Markdown adds the pack's sources; JSON is the pack in immreg's schedule file format
(:func:`immreg.schedule.fileformat.dump`). ``immreg schedule show NAME --format ...``
prints these, and ``docs/packs.md`` holds the Markdown of every bundled pack.
"""

from __future__ import annotations

from typing import Literal

import attrs

from immreg.errors import ValidationError
from immreg.schedule.dates import Duration
from immreg.schedule.rules import Schedule, SeriesDose

__all__ = [
    "BEGIN",
    "COLUMNS",
    "END",
    "Row",
    "bundled_packs",
    "docs_tables",
    "markdown",
    "pack_list",
    "render",
    "rows",
    "table",
    "update_docs",
]

Format = Literal["table", "markdown", "json"]

#: Column titles, in order.
COLUMNS = (
    "group",
    "antigen",
    "series",
    "dose",
    "vaccines",
    "age",
    "interval",
    "notes",
    "source",
)


@attrs.frozen
class Row:
    """One target dose, as shown.

    Attributes:
        group: Vaccine group.
        antigen: Antigen.
        series: Series name (``(risk)`` appended for a risk series).
        dose: Dose number.
        vaccines: Vaccine codes that count.
        age: The age rule(s) in words.
        interval: The interval rule(s) in words.
        notes: Skips, effective dates, seasons.
        source: The target dose's source.
    """

    group: str
    antigen: str
    series: str
    dose: str
    vaccines: str
    age: str
    interval: str
    notes: str
    source: str

    def cells(self) -> tuple[str, ...]:
        """The cells in :data:`COLUMNS` order."""
        return tuple(getattr(self, c) for c in COLUMNS)


def _d(value: Duration | None) -> str:
    return "-" if value is None else str(value)


def _window(effective: object, cessation: object) -> str:
    if not effective and not cessation:
        return ""
    return f" (doses {effective or '…'} to {cessation or '…'})"


def _join(parts: list[tuple[str, str]]) -> str:
    """Join rule texts; effective windows are shown only where the texts differ."""
    texts = list(dict.fromkeys(text for text, _ in parts))
    if len(texts) <= 1:
        return texts[0] if texts else "-"
    return "; ".join(text + window for text, window in parts)


def _age(dose: SeriesDose) -> str:
    return _join(
        [
            (
                f"min {_d(a.min)}, rec {_d(a.earliest_rec)}, late {_d(a.latest_rec)}, "
                f"max {_d(a.max)}",
                _window(a.effective, a.cessation),
            )
            for a in dose.ages
        ]
    )


def _interval(dose: SeriesDose) -> str:
    parts = []
    for iv in dose.intervals:
        ref = {
            "previous": "previous dose",
            "target_dose": f"dose {iv.target_dose}",
            "most_recent": "last " + "/".join(iv.vaccines),
            "observation": f"observation {iv.observation}",
        }[iv.reference]
        text = f"{_d(iv.min)} after {ref}"
        if iv.earliest_rec is not None:
            text += f", rec {iv.earliest_rec}"
        if iv.latest_rec is not None:
            text += f", late {iv.latest_rec}"
        parts.append((text, _window(iv.effective, iv.cessation)))
    return _join(parts)


def _notes(dose: SeriesDose) -> str:
    notes = []
    for skip in dose.skips:
        descriptions = "; ".join(s.description for s in skip.sets if s.description)
        notes.append(f"skip ({skip.context}): {descriptions}")
    notes = list(dict.fromkeys(notes))
    if dose.season_start:
        notes.append(f"not forecast before {dose.season_start}")
    if dose.recurring:
        notes.append("recurring")
    return "; ".join(notes)


def _sources(dose: SeriesDose) -> str:
    """The target dose's source, then its rules' sources where they say more."""
    found: list[str] = []
    texts = [dose.source]
    texts += [a.source for a in dose.ages]
    texts += [iv.source for iv in dose.intervals]
    texts += [s.source for s in dose.skips]
    for text in texts:
        if text and not any(text in seen for seen in found):
            found.append(text)
    return " — ".join(found)


def rows(schedule: Schedule) -> list[Row]:
    """The schedule's target doses as rows, by vaccine group order."""
    order = {g.name: i for i, g in enumerate(schedule.vaccine_groups)}
    out = []
    for antigen in schedule.antigens:
        for series in antigen.series:
            name = series.name + (" (risk)" if series.type == "risk" else "")
            for dose in series.doses:
                pref = [v.vaccine for v in dose.preferable_vaccines]
                allow = [v.vaccine for v in dose.allowable_vaccines]
                vaccines = ", ".join(dict.fromkeys(pref))
                if allow:
                    vaccines += " [" + ", ".join(dict.fromkeys(allow)) + "]"
                out.append(
                    Row(
                        series.vaccine_group,
                        antigen.name,
                        name,
                        str(dose.number),
                        vaccines,
                        _age(dose),
                        _interval(dose),
                        _notes(dose),
                        _sources(dose) or series.source or schedule.source,
                    )
                )
    out.sort(key=lambda r: order.get(r.group, len(order)))
    return out


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def markdown(schedule: Schedule, *, sources: bool = True) -> str:
    """A Markdown section: the pack's name, a table of its doses and its sources."""
    lines = [f"### {schedule.name}", ""]
    if schedule.release:
        lines += [f"Release: {schedule.release}", ""]
    shown = [c for c in COLUMNS if c != "source"]
    lines.append("| " + " | ".join(shown) + " | source |")
    lines.append("|" + "---|" * (len(shown) + 1))
    notes: dict[str, int] = {}
    for row in rows(schedule):
        number = notes.setdefault(row.source, len(notes) + 1)
        cells = [_escape(getattr(row, c)) for c in shown]
        lines.append("| " + " | ".join(cells) + f" | [{number}] |")
    if sources:
        lines += ["", f"Sources of *{schedule.name}*:", ""]
        lines += [f"{n}. {_escape(text)}" for text, n in notes.items()]
    return "\n".join(lines) + "\n"


def table(schedule: Schedule) -> str:
    """A plain-text table for a terminal (sources left out; see the Markdown)."""
    shown = [c for c in COLUMNS if c != "source"]
    data = [list(shown)] + [[getattr(r, c) for c in shown] for r in rows(schedule)]
    widths = [max(len(row[i]) for row in data) for i in range(len(shown))]
    lines = [f"{schedule.name} ({schedule.release})" if schedule.release else schedule.name]
    for i, row in enumerate(data):
        lines.append(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def render(schedule: Schedule, fmt: str) -> str:
    """Render in one of ``"table"``, ``"markdown"`` or ``"json"``.

    Raises:
        ValidationError: An unknown format.
    """
    if fmt == "table":
        return table(schedule)
    if fmt == "markdown":
        return markdown(schedule)
    if fmt == "json":
        from immreg.schedule.fileformat import dump

        return dump(schedule) + "\n"
    raise ValidationError("format", f"{fmt!r} is not one of table, markdown, json")


def bundled_packs() -> list[str]:
    """The names of the bundled packs (``load_schedule(name)`` loads each), sorted."""
    from pathlib import Path

    packs = Path(__file__).resolve().parent / "packs"
    return sorted(p.stem for p in packs.glob("*.json"))


def pack_list() -> str:
    """One line per bundled pack: name, schedule name and release (``immreg schedule list``)."""
    from immreg.schedule import load_schedule

    lines = []
    for name in bundled_packs():
        s = load_schedule(name)
        lines.append(f"{name}\t{s.name}\t{s.release}")
    return "\n".join(lines) + "\n"


BEGIN = "<!-- BEGIN GENERATED PACK TABLES: python -m immreg.schedule.render docs/packs.md -->"
END = "<!-- END GENERATED PACK TABLES -->"


def docs_tables() -> str:
    """The Markdown of every bundled pack but the composed ``vn-epi``, for ``docs/packs.md``."""
    from immreg.schedule import load_schedule

    parts = [markdown(load_schedule(name)) for name in bundled_packs() if name != "vn-epi"]
    return "\n".join(parts)


def update_docs(text: str) -> str:
    """Replace the generated section of ``docs/packs.md`` (between the markers).

    Raises:
        ValidationError: The markers are missing.
    """
    if BEGIN not in text or END not in text:
        raise ValidationError("docs", "the generated-section markers are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{docs_tables()}\n{END}{tail}"


if __name__ == "__main__":  # pragma: no cover
    import sys
    from pathlib import Path

    target = Path(sys.argv[1])
    target.write_text(update_docs(target.read_text(encoding="utf-8")), encoding="utf-8")
