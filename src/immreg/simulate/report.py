"""Scenario tables and charts: CSV, Parquet and PNG, byte for byte reproducible.

:func:`compare` puts the coverage and summary tables of several simulated scenarios side
by side; :func:`write_report` writes them to a directory:

* ``coverage.csv`` / ``.parquet``: coverage by age, one row per series, dose and age,
  one column per scenario (and the difference from the first one);
* ``summary.csv`` / ``.parquet``: fully immunized, dropout, timeliness, doses given;
* ``coverage_by_age.png``: each vaccine group's last dose by age, scenario by scenario;
* ``coverage_12_24.png``: each vaccine group's last dose at 12 and 24 months.

The same results give the same bytes: rows in a fixed order, numbers rounded and written
the same way, a Parquet file without creation times, PNG files without the software
version. Parquet needs pyarrow and charts need matplotlib (both in the ``simulate``
extra); without them those files are left out and the returned list says what was written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from immreg.errors import ValidationError
from immreg.simulate.cohort import CohortResult

__all__ = ["compare", "write_report"]


def _side_by_side(
    tables: Sequence[list[dict[str, Any]]],
    names: Sequence[str],
    keys: Sequence[str],
    value: str,
) -> list[dict[str, Any]]:
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for name, table in zip(names, tables, strict=True):
        for row in table:
            k = tuple(row[c] for c in keys)
            out = rows.setdefault(k, {c: row[c] for c in keys})
            out[name] = row[value]
    result = []
    for out in rows.values():
        for name in names:
            out.setdefault(name, None)
        base = out[names[0]]
        for name in names[1:]:
            other = out[name]
            out[f"{name} - {names[0]}"] = (
                None if base is None or other is None else round(float(other) - float(base), 3)
            )
        result.append(out)
    return result


def compare(
    results: Sequence[CohortResult], *, ages_months: list[int] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Coverage and summary tables of several scenarios side by side.

    Args:
        results: Simulated cohorts with distinct scenario names; the first is the
            baseline the differences are taken from.
        ages_months: Ages for the coverage table (default: every month to the horizon).

    Returns:
        ``(coverage, summary)``: coverage rows keyed by ``vaccine_group``, ``antigen``,
        ``dose`` and ``age_months``, summary rows by ``metric`` and ``key``; one column of
        values per scenario and one ``"NAME - BASELINE"`` difference column per other
        scenario.

    Raises:
        ValidationError: No results, or two with the same scenario name.
    """
    if not results:
        raise ValidationError("results", "needs at least one simulated scenario")
    names = [r.scenario for r in results]
    if len(set(names)) != len(names):
        raise ValidationError("results", "scenario names must differ")
    coverage = _side_by_side(
        [r.coverage(ages_months) for r in results],
        names,
        ("vaccine_group", "antigen", "dose", "age_months"),
        "coverage_pct",
    )
    summary = _side_by_side([r.summary() for r in results], names, ("metric", "key"), "value")
    return coverage, summary


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(rows[0]) if rows else []
    table = pa.table({c: [r[c] for r in rows] for c in columns})
    # No pandas metadata and a fixed writer: the bytes depend on the data only (and on
    # the pyarrow version, which the file names in its footer).
    pq.write_table(table, path, compression="snappy", store_schema=False)


def _last_doses(result: CohortResult) -> list[tuple[str, str, int]]:
    # Each vaccine group's last dose: the group row ("*") where the group has several
    # antigens, else its one antigen's row.
    out: dict[str, tuple[str, str, int]] = {}
    for group, antigen, dose, _ in result._series():
        current = out.get(group)
        same_kind = current is not None and (antigen == "*") == (current[1] == "*")
        if current is None or (same_kind and dose > current[2]):
            out[group] = (group, antigen, dose)
    return list(out.values())


def _charts(results: Sequence[CohortResult], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    series = _last_doses(results[0])
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=80)
    colours = [plt.get_cmap("tab20")(i) for i in range(20)]
    for si, r in enumerate(results):
        table = r.coverage()
        for ci, (group, antigen, dose) in enumerate(series):
            pts = [
                (row["age_months"], row["coverage_pct"])
                for row in table
                if (row["vaccine_group"], row["antigen"], row["dose"]) == (group, antigen, dose)
            ]
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                styles[si % len(styles)],
                color=colours[ci % len(colours)],
                label=f"{group} {dose}" if si == 0 else None,
                linewidth=1.2,
            )
    ax.set_xlabel("age (months)")
    ax.set_ylabel("valid-dose coverage (%)")
    names = " / ".join(f"{r.scenario} ({styles[i % len(styles)]})" for i, r in enumerate(results))
    ax.set_title(f"Coverage by age, last dose of each group: {names}", fontsize=9)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    path = out / "coverage_by_age.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    written.append(path)

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=80)
    width = 0.8 / (2 * len(results))
    for si, r in enumerate(results):
        table = r.coverage([12, 24])
        for ai, age in enumerate((12, 24)):
            values = []
            for group, antigen, dose in series:
                match = [
                    row["coverage_pct"]
                    for row in table
                    if (row["vaccine_group"], row["antigen"], row["dose"], row["age_months"])
                    == (group, antigen, dose, age)
                ]
                values.append(match[0] if match else 0.0)
            offset = (si * 2 + ai) * width - 0.4 + width / 2
            ax.bar(
                [i + offset for i in range(len(series))],
                values,
                width,
                label=f"{r.scenario}, {age} months",
                color=colours[(si * 2 + ai) % len(colours)],
            )
    ax.set_xticks(range(len(series)))
    ax.set_xticklabels([f"{g} {d}" for g, _, d in series], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("valid-dose coverage (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Coverage at 12 and 24 months", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "coverage_12_24.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    written.append(path)
    return written


def write_report(
    results: Sequence[CohortResult],
    out: Path,
    *,
    parquet: bool = True,
    charts: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the scenarios' tables and charts to directory ``out`` (created if needed).

    Args:
        results: Simulated cohorts; the first is the baseline.
        out: The directory.
        parquet: Also write Parquet tables (needs pyarrow).
        charts: Also draw PNG charts (needs matplotlib).
        progress: Called with the name of each file written.

    Returns:
        The files written, in order.

    Raises:
        ValidationError: As :func:`compare`.
    """
    coverage, summary = compare(results)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, rows in (("coverage", coverage), ("summary", summary)):
        path = out / f"{name}.csv"
        path.write_bytes(_csv_bytes(rows))
        written.append(path)
        if parquet:
            try:
                _write_parquet(rows, out / f"{name}.parquet")
            except ImportError:
                parquet = False
            else:
                written.append(out / f"{name}.parquet")
    if charts:
        try:
            written.extend(_charts(results, out))
        except ImportError:
            charts = False
    if progress:
        for p in written:
            progress(p.name)
    return written
