"""Reports on PostgreSQL at national scale: the national report by province and a province's
report by commune, at growing numbers of doses.

The country: 63 provinces of ``communes / 63`` communes each; children born in 2024 spread
evenly over the communes, each with up to 12 doses of the Vietnamese EPI (BCG, HepB birth
dose, three pentavalent, three bOPV, IPV, measles, MR, DTP booster) dropped with growing
probability along the schedule, so that coverage falls from ~98% to ~80% and dropout is real.
Data is generated server-side (``INSERT ... SELECT`` over ``generate_series``, faster still
than COPY from Python) into a schema of its own that is dropped afterwards. The dataset
grows in steps (``children`` per step) and both reports are timed after each step, so that
the records show how report time grows with the number of doses.

The rows go in by SQL, outside any unit of work, as a bulk load's do: the database's
triggers mark the children dirty, and after each step
:func:`~immreg.backends.sqlalchemy.report_counters.refresh_report_counters` applies them to
the leaf counters (timed on its own). The reports then read the counters; the exact query
over the doses is timed too for the province (``province_by_commune_exact_s``), and for the
nation at the first step only (it takes tens of seconds).

Records: ``national_by_province_s`` (target 2 s at 20M doses), ``province_by_commune_s``
(target 0.5 s), with ``doses``, ``children`` and ``counter_rows`` beside each value;
``load_rows_per_s``; ``refresh_children_per_s``. ``IMMREG_BENCH_REPORTS_CHILDREN`` (e.g.
``190000,950000``) sets the steps of the full run.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from _util import drop_schema, median, postgres_url, record, scratch_schema
from immreg.backends import open_backend
from immreg.backends.sqlalchemy.report_counters import refresh_report_counters
from immreg.indicators import ReportSpec, Tally
from immreg.model import OrgLevel, OrgUnit, ParentLink
from immreg.orgunits import OrgTree
from immreg.reports import build_report
from immreg.schedule.catalogue import PRODUCTS

_SINCE = dt.date(2000, 1, 1)
# Row numbers of the children to add, and the commune a child lives in (and is vaccinated).
_SERIES = "generate_series(cast(:a as integer), cast(:b as integer)) g"
_COMMUNE = "'C' || lpad((g % cast(:n as integer))::text, 5, '0')"
# (product, age in days, per-mille chance that the dose is missing): dropout grows along
# the schedule, as it does in real programmes.
_PLAN = (
    ("BCG", 0, 20),
    ("HEPB-BD", 0, 60),
    ("PENTA-COMBE5", 60, 30),
    ("PENTA-COMBE5", 90, 80),
    ("PENTA-COMBE5", 120, 120),
    ("BOPV", 60, 30),
    ("BOPV", 90, 80),
    ("BOPV", 120, 120),
    ("IPV", 150, 150),
    ("MEASLES-MVVAC", 270, 150),
    ("MR-MRVAC", 540, 250),
    ("DTP", 540, 300),
)


def _tree(provinces: int, communes: int) -> list[OrgUnit]:
    units = [OrgUnit("VN", "Việt Nam", OrgLevel.NATION, opened=_SINCE)]
    for p in range(provinces):
        units.append(
            OrgUnit(f"P{p:02d}", f"Tỉnh {p}", OrgLevel.PROVINCE, (ParentLink("VN", _SINCE),))
        )
    for c in range(communes):
        units.append(
            OrgUnit(
                f"C{c:05d}",
                f"Xã {c}",
                OrgLevel.COMMUNE,
                (ParentLink(f"P{c % provinces:02d}", _SINCE),),
            )
        )
    return units


def _load(conn: sa.Connection, first: int, last: int, communes: int) -> int:
    """Children ``first..last`` (inclusive) with their residences and doses; rows written."""
    params = {"a": first, "b": last, "n": communes}
    conn.execute(
        sa.text(
            "insert into subjects (id, family_name, given_name, birth_date, sex, caregivers)"
            " select 'k' || g, 'Nguyễn', 'Bé', date '2024-01-01' + (g % 366), 'F', '[]'"
            f" from {_SERIES}"
        ),
        params,
    )
    conn.execute(
        sa.text(
            'insert into residences (subject_id, seq, org_unit_id, start, "end")'
            f" select 'k' || g, 0, {_COMMUNE},"
            f" date '2024-01-01' + (g % 366), null from {_SERIES}"
        ),
        params,
    )
    plan = ", ".join(f"({i}, '{p}', {age}, {miss})" for i, (p, age, miss) in enumerate(_PLAN))
    res = conn.execute(
        sa.text(
            "insert into doses (id, subject_id, product_code, date, facility_id, source,"
            " recorded_by, version, voided)"
            " select 'k' || g || '-' || i, 'k' || g, p,"
            " date '2024-01-01' + (g % 366) + age + (g % 7),"
            f" {_COMMUNE}, 'point_of_care', 'bench', 1, false"
            f" from {_SERIES} cross join (values {plan}) as plan(i, p, age, miss)"
            # A deterministic pseudo-random draw per (child, dose); a child who missed a
            # dose misses the later ones of the series more often (per-child dropout).
            " where abs(hashint8(g * 16 + i)) % 1000 >= miss"
        ),
        params,
    )
    return 2 * (last - first + 1) + int(res.rowcount)


_SPEC = ReportSpec(
    as_of=dt.date(2025, 12, 31),
    birth_from=dt.date(2024, 1, 1),
    birth_until=dt.date(2025, 1, 1),
)


def _time_reports(backend: Any, runs: int) -> tuple[float, float, Any]:
    national, province = [], []
    rep = None
    for _ in range(runs):
        started = time.perf_counter()
        with backend.unit_of_work() as uow:
            rep = build_report(uow, _SPEC, level=OrgLevel.PROVINCE)
        national.append(time.perf_counter() - started)
        started = time.perf_counter()
        with backend.unit_of_work() as uow:
            sub = build_report(uow, _SPEC, level=OrgLevel.COMMUNE, within="P07")
        province.append(time.perf_counter() - started)
        assert sub.rows
        assert sub.total.tally["cohort"] > 0
    return median(national), median(province), rep


def _exact(backend: Any, units: set[str] | None) -> tuple[float, dict[str, Any]]:
    """Leaf tallies by the exact query over the doses (seconds, tallies)."""
    started = time.perf_counter()
    with backend.unit_of_work() as uow:
        leaves = uow.reports.exact_leaf_tallies(_SPEC, units=units)
    return time.perf_counter() - started, leaves


def _nonzero(leaves: dict[str, Any]) -> dict[str, Any]:
    return {u: t for u, t in leaves.items() if t != Tally.empty()}


def run(quick: bool) -> Iterator[dict[str, Any]]:
    """Benchmark records (see the module docstring)."""
    base = postgres_url()
    if quick:
        communes, steps, runs = 126, (1_000, 3_000), 2
    else:
        # About 10.6 doses a child: 190,000 children ~ 2M doses; 950,000 ~ 10M;
        # 1,900,000 ~ 20M (the national scale asked for: >= 1.7M children, 20M doses).
        communes, steps, runs = 11_025, (190_000, 950_000, 1_900_000), 3
        if os.environ.get("IMMREG_BENCH_REPORTS_CHILDREN"):
            # e.g. "190000,950000" to stop before the 20M-dose step.
            steps = tuple(int(x) for x in os.environ["IMMREG_BENCH_REPORTS_CHILDREN"].split(","))
    url, schema = scratch_schema(base, "bench_reports")
    try:
        backend = open_backend(url, create_schema=True)
        with backend.unit_of_work() as uow:
            for u in _tree(63, communes):
                uow.org_units.add(u)
            for p in PRODUCTS:
                uow.catalogue.add_product(p)
            uow.commit()
        engine = backend.engine  # type: ignore[attr-defined]
        tree = OrgTree(_tree(63, communes))
        p07 = tree.subtree("P07", on=_SPEC.as_of)
        done = 0
        for step, children in enumerate(steps):
            started = time.perf_counter()
            with engine.begin() as conn:
                rows = _load(conn, done + 1, children, communes)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("analyze subjects, residences, doses"))
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            applied = refresh_report_counters(backend)
            refreshed = time.perf_counter() - started
            done = children
            with engine.connect() as conn:
                doses = int(conn.execute(sa.text("select count(*) from doses")).scalar_one())
                counter_rows = int(
                    conn.execute(sa.text("select count(*) from report_counters")).scalar_one()
                )
            national, province, rep = _time_reports(backend, runs)
            extra = {
                "children": done,
                "doses": doses,
                "communes": communes,
                "cohort": rep.total.tally["cohort"],
                "counter_rows": counter_rows,
            }
            yield record("reports", "load_rows_per_s", rows / loaded, "rows/s", n=rows, **extra)
            yield record(
                "reports",
                "refresh_children_per_s",
                applied / refreshed,
                "children/s",
                n=applied,
                seconds=round(refreshed, 1),
                **extra,
            )
            yield record(
                "reports", "national_by_province_s", national, "s", target=2.0, n=runs, **extra
            )
            yield record(
                "reports", "province_by_commune_s", province, "s", target=0.5, n=runs, **extra
            )
            # The exact query, for comparison and as a check: the same tallies.
            seconds, exact = _exact(backend, p07)
            with backend.unit_of_work() as uow:
                counted = uow.reports.leaf_tallies(_SPEC, units=p07)
            assert _nonzero(counted) == _nonzero(exact)
            yield record("reports", "province_by_commune_exact_s", seconds, "s", n=1, **extra)
            if step == 0:
                seconds, exact = _exact(backend, None)
                with backend.unit_of_work() as uow:
                    counted = uow.reports.leaf_tallies(_SPEC)
                assert _nonzero(counted) == _nonzero(exact)
                yield record("reports", "national_leaves_exact_s", seconds, "s", n=1, **extra)
        backend.close()
    finally:
        drop_schema(base, schema)
