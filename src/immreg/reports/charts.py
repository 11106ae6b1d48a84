"""PNG charts: coverage by age and dropout by unit (needs the ``charts`` extra: matplotlib).

Coverage by age is built from mergeable counters too: ``age:ANTIGEN:k:M`` counts the cohort
children whose ``k``-th dose came in their ``M``-th month of life (0-based), so the curve of
a province is the merge of its communes' counters; the cumulative sum over months, divided by
the cohort, is the coverage reached by each age.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path

from immreg.indicators import DEFAULT_DROPOUT_PAIRS, DTP, MCV, DropoutPair, ReportSpec, Tally
from immreg.ports import UnitOfWork
from immreg.reports import Report

__all__ = [
    "DEFAULT_CURVES",
    "age_key",
    "age_tallies",
    "coverage_by_age",
    "coverage_by_age_png",
    "dropout_png",
]

#: The doses drawn by default: the first and third DTP dose and the first measles dose.
DEFAULT_CURVES: tuple[tuple[str, int], ...] = ((DTP, 1), (DTP, 3), (MCV, 1))


def age_key(antigen: str, dose: int, month: int) -> str:
    """Counter name: children whose ``dose``-th dose of ``antigen`` came in month ``month``."""
    return f"age:{antigen}:{dose}:{month}"


def _months(born: dt.date, day: dt.date) -> int:
    months = (day.year - born.year) * 12 + day.month - born.month
    return months - 1 if day.day < born.day else months


def age_tallies(
    uow: UnitOfWork,
    spec: ReportSpec,
    *,
    units: Collection[str],
    curves: Sequence[tuple[str, int]] = DEFAULT_CURVES,
) -> dict[str, Tally]:
    """Per org unit: ``cohort`` and ``age:A:k:M`` for the cohort children living in ``units``.

    Doses are counted up to ``spec.as_of`` (voided ones never), for the child's unit on
    ``as_of``.
    """
    products = {p.code: set(p.antigens) for p in uow.catalogue.list_products()}
    out: dict[str, dict[str, int]] = {}
    for s in uow.subjects.list_resident(sorted(units), on=spec.as_of):
        if not spec.birth_from <= s.birth_date < spec.birth_until:
            continue
        if s.deceased_on is not None and s.deceased_on <= spec.as_of:
            continue
        unit = s.residence_on(spec.as_of)
        if unit is None:
            continue
        c = out.setdefault(unit, {})
        c["cohort"] = c.get("cohort", 0) + 1
        seen: dict[str, int] = {}
        for d in uow.doses.list_for_subject(s.id):
            if d.date > spec.as_of:
                break
            for antigen in products.get(d.product_code, ()):
                seen[antigen] = seen.get(antigen, 0) + 1
                if (antigen, seen[antigen]) in curves:
                    key = age_key(antigen, seen[antigen], _months(s.birth_date, d.date))
                    c[key] = c.get(key, 0) + 1
    return {u: Tally(c) for u, c in out.items()}


def coverage_by_age(
    tally: Tally, *, months: int = 24, curves: Sequence[tuple[str, int]] = DEFAULT_CURVES
) -> dict[tuple[str, int], list[float]]:
    """Coverage (0-1) reached by the end of each month of age, per curve."""
    cohort = tally["cohort"]
    out: dict[tuple[str, int], list[float]] = {}
    for antigen, dose in curves:
        total = 0
        points = []
        for m in range(months):
            total += tally[age_key(antigen, dose, m)]
            points.append(total / cohort if cohort else 0.0)
        out[(antigen, dose)] = points
    return out


def coverage_by_age_png(
    tally: Tally,
    path: Path,
    *,
    title: str = "Coverage by age",
    months: int = 24,
    curves: Sequence[tuple[str, int]] = DEFAULT_CURVES,
) -> Path:
    """Draw the coverage-by-age curves of ``tally`` (from :func:`age_tallies`) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=80)
    for (antigen, dose), points in coverage_by_age(tally, months=months, curves=curves).items():
        ax.plot(range(months), [100 * p for p in points], label=f"{antigen} {dose}")
    ax.set_xlabel("age (completed months)")
    ax.set_ylabel("coverage (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def dropout_png(
    report: Report, path: Path, *, pair: DropoutPair = DEFAULT_DROPOUT_PAIRS[0]
) -> Path:
    """Bar chart of a dropout rate per child by unit, with WHO's 10% line, to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in report.rows]
    values = [100 * (r.indicators.dropout_per_child(pair) or 0.0) for r in report.rows]
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.3), 4), dpi=80)
    ax.bar(range(len(names)), values, color=["#c0392b" if v >= 10 else "#2e86c1" for v in values])
    ax.axhline(10, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_ylabel(f"{pair.name} dropout per child (%)")
    ax.set_title(f"{pair.name} dropout by {report.level.value}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
