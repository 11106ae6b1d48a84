"""The SQL backend's leaf counters: equal to the exact query and to the reference computation.

Random registries (children who move, die, have voided doses, doses across 2025-07-01) are
committed, then corrected, voided, moved and killed one committed unit of work at a time;
after every step the counters, the exact query over the doses and
:func:`immreg.indicators.leaf_tallies` must give the same tallies for cohorts of whole
years, of months, and of both, at several ``as_of`` month ends. Deleting everything must
bring every counter back to zero.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _backend_kinds import Postgres, SqliteFile
from immreg.backends.sqlalchemy import report_counters as rc
from immreg.backends.sqlalchemy.reports_tables import report_counters, report_dirty
from immreg.indicators import DTP, ReportSpec, Tally, leaf_tallies
from immreg.model import AdministeredDose, Residence, Sex, Subject
from immreg.orgunits import VN_REFORM_DATE
from immreg.ports import Backend
from immreg.schedule.catalogue import PRODUCTS
from immreg.testing.reports_conformance import REFORM_TREE, ReportWorld, report_worlds

_SPECS = [
    ReportSpec(as_of=as_of, birth_from=lo, birth_until=hi, period_start=ps, period_end=pe)
    for as_of in (dt.date(2024, 6, 30), dt.date(2025, 6, 30), dt.date(2026, 12, 31))
    for lo, hi in (
        (dt.date(2024, 1, 1), dt.date(2026, 1, 1)),  # whole years
        (dt.date(2024, 3, 1), dt.date(2025, 5, 1)),  # months only
        (dt.date(2023, 11, 1), dt.date(2025, 2, 1)),  # a year and months around it
    )
    for ps, pe in ((lo, as_of + dt.timedelta(days=1)), (VN_REFORM_DATE, dt.date(2026, 1, 1)))
]
# A spec within the counted definition but with fewer antigens (no DTP: all zero-dose).
_SPECS.append(
    ReportSpec(
        as_of=dt.date(2025, 12, 31),
        birth_from=dt.date(2024, 1, 1),
        birth_until=dt.date(2026, 1, 1),
        antigens=(("Tuberculosis", 1), ("Polio-OPV", 2)),
        dropout_pairs=(),
        fic=(),
    )
)
_FACILITIES = ("A1-S", "A2-S", "B1-S", "C1-S", "A1", "C1")
_COMMUNES = ("A1", "A2", "B1", "C1")


def _setup(backend: Backend) -> None:
    with backend.unit_of_work() as uow:
        for u in REFORM_TREE:
            uow.org_units.add(u)
        for p in PRODUCTS:
            uow.catalogue.add_product(p)
        uow.commit()


class _State:
    def __init__(self, world: ReportWorld) -> None:
        self.subjects = {s.id: s for s in world.subjects}
        self.doses = {d.id: d for d in world.doses}


def _check(backend: Backend, state: _State) -> None:
    with backend.unit_of_work() as uow:
        reports: Any = uow.reports
        assert not rc.pending(uow)  # type: ignore[arg-type]
        for spec in _SPECS:
            assert rc.answers(spec)
            expected = leaf_tallies(spec, state.subjects.values(), state.doses.values(), PRODUCTS)
            counted = {u: t for u, t in reports.leaf_tallies(spec).items() if t != Tally.empty()}
            exact = {
                u: t for u, t in reports.exact_leaf_tallies(spec).items() if t != Tally.empty()
            }
            assert counted == exact == expected, spec
            some = {"A1", "B1-S", "(unassigned)"}
            part = reports.leaf_tallies(spec, units=some)
            assert {u: t for u, t in part.items() if t != Tally.empty()} == {
                u: t for u, t in expected.items() if u in some
            }


_edits = st.lists(
    st.tuples(
        st.sampled_from(("correct", "void", "move", "die", "add")),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    max_size=6,
)


def _edit(backend: Backend, state: _State, what: str, i: int, j: int) -> None:
    day = dt.date(2024, 1, 1) + dt.timedelta(days=j % 900)
    with backend.unit_of_work() as uow:
        if what in ("correct", "void") and state.doses:
            old = sorted(state.doses.values(), key=lambda d: d.id)[i % len(state.doses)]
            if what == "void":
                new = attrs.evolve(
                    old, version=old.version + 1, voided=True, void_reason="entered in error"
                )
            else:
                new = attrs.evolve(
                    old,
                    version=old.version + 1,
                    date=day,
                    facility_id=_FACILITIES[j % len(_FACILITIES)],
                    product_code=("PENTA-COMBE5", "MR-MRVAC", "BCG", "BOPV")[i % 4],
                )
            uow.doses.replace(new, expected_version=old.version)
            state.doses[new.id] = new
        elif what in ("move", "die", "add") and state.subjects:
            s: Subject = sorted(state.subjects.values(), key=lambda s: s.id)[
                i % len(state.subjects)
            ]
            if what == "add":
                dose = AdministeredDose(
                    id=f"{s.id}-x{len(state.doses)}-{j}",
                    subject_id=s.id,
                    product_code=("PENTA-QUINVAXEM", "MEASLES-MVVAC", "DTP")[i % 3],
                    date=day,
                    facility_id=_FACILITIES[i % len(_FACILITIES)],
                )
                uow.doses.add(dose)
                state.doses[dose.id] = dose
            else:
                if what == "move":
                    moved = max(day, s.birth_date + dt.timedelta(days=1))
                    home = Residence(_COMMUNES[i % 4], s.birth_date, moved)
                    s = attrs.evolve(s, residences=(home, Residence(_COMMUNES[j % 4], moved)))
                else:
                    s = attrs.evolve(s, deceased_on=max(day, s.birth_date))
                uow.subjects.update(s)
                state.subjects[s.id] = s
        uow.commit()


def _clean(backend: Backend, state: _State) -> None:
    from immreg.backends.sqlalchemy.tables import doses, residences, subjects

    with backend.unit_of_work() as uow:
        ids = list(state.subjects)
        run: Any = uow.run  # type: ignore[attr-defined]
        for table, col in ((doses, "subject_id"), (residences, "subject_id"), (subjects, "id")):
            run(table.delete().where(table.c[col].in_(ids)))
        uow.commit()


class _CounterTests:
    """Counters against the exact query and the reference, on one SQL backend kind."""

    def test_counters_follow_every_change(self, backend: Backend) -> None:
        _setup(backend)

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        @given(report_worlds(max_children=6), _edits)
        def run(world: ReportWorld, edits: list[tuple[str, int, int]]) -> None:
            with backend.unit_of_work() as uow:
                world.store(uow)
                uow.commit()
            state = _State(world)
            try:
                _check(backend, state)
                for what, i, j in edits:
                    _edit(backend, state, what, i, j)
                _check(backend, state)
            finally:
                _clean(backend, state)
            with backend.unit_of_work() as uow:
                left = rc.counter_tallies(uow, _SPECS[-3], None)  # type: ignore[arg-type]
            assert left == {}

        run()
        # Every child gone: after compaction no counter row is left.
        assert rc.compact_report_counters(backend) == 0  # type: ignore[arg-type]

    def test_bulk_writes_wait_for_refresh_and_reports_stay_exact(self, backend: Backend) -> None:
        _setup(backend)
        world = ReportWorld(
            (
                Subject(
                    id="b1",
                    family_name="Lê",
                    given_name="An",
                    birth_date=dt.date(2024, 2, 3),
                    sex=Sex.FEMALE,
                    residences=(Residence("A1", dt.date(2024, 2, 3)),),
                ),
            ),
            (),
        )
        with backend.unit_of_work() as uow:
            world.store(uow)
            uow.commit()
        engine: sa.Engine = backend.engine  # type: ignore[attr-defined]
        # A write outside any unit of work (as a bulk load's COPY): the child stays dirty.
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "insert into doses (id, subject_id, product_code, date, facility_id,"
                    " source, recorded_by, version, voided)"
                    " values ('b1-1', 'b1', 'PENTA-COMBE5', '2024-04-03', 'A1-S',"
                    " 'point_of_care', 'bulk', 1, false)"
                )
            )
        spec = _SPECS[1]
        with backend.unit_of_work() as uow:
            assert rc.pending(uow)  # type: ignore[arg-type]
            # Not in the counters yet, but the report is exact: on PostgreSQL by the exact
            # query, on SQLite (one writer) by applying the pending child first.
            assert rc.counter_tallies(uow, spec, None)["A1"][f"received:{DTP}:1"] == 0  # type: ignore[arg-type]
            assert uow.reports.leaf_tallies(spec)["A1"][f"received:{DTP}:1"] == 1
        assert rc.refresh_report_counters(backend, chunk=1) == 1  # type: ignore[arg-type]
        with backend.unit_of_work() as uow:
            assert not rc.pending(uow)  # type: ignore[arg-type]
            assert rc.counter_tallies(uow, spec, None)["A1"][f"received:{DTP}:1"] == 1  # type: ignore[arg-type]
            run: Any = uow.run  # type: ignore[attr-defined]
            before = run(sa.select(sa.func.count()).select_from(report_counters)).scalar_one()
        # A rebuild from scratch gives the same counters, compacted.
        assert rc.rebuild_report_counters(backend) == 1  # type: ignore[arg-type]
        with backend.unit_of_work() as uow:
            assert rc.counter_tallies(uow, spec, None)["A1"][f"received:{DTP}:1"] == 1  # type: ignore[arg-type]
            run = uow.run  # type: ignore[attr-defined]
            assert run(sa.select(sa.func.count()).select_from(report_dirty)).scalar_one() == 0
            after = run(sa.select(sa.func.count()).select_from(report_counters)).scalar_one()
        assert after <= before

    def test_refresh_rejects_a_bad_chunk(self, backend: Backend) -> None:
        from immreg.errors import ValidationError

        with pytest.raises(ValidationError) as e:
            rc.refresh_report_counters(backend, chunk=0)  # type: ignore[arg-type]
        assert e.value.errors[0].field == "chunk"

    def test_specs_the_counters_cannot_answer(self) -> None:
        base: Any = {"birth_from": dt.date(2024, 1, 1), "birth_until": dt.date(2025, 1, 1)}
        assert rc.answers(ReportSpec(as_of=dt.date(2025, 12, 31), **base))
        assert not rc.answers(ReportSpec(as_of=dt.date(2025, 12, 30), **base))
        assert not rc.answers(
            ReportSpec(as_of=dt.date(2025, 12, 31), birth_from=dt.date(2024, 1, 2),
                       birth_until=dt.date(2025, 1, 1))
        )  # fmt: skip
        assert not rc.answers(
            ReportSpec(as_of=dt.date(2025, 12, 31), period_start=dt.date(2025, 1, 15), **base)
        )
        assert not rc.answers(
            ReportSpec(as_of=dt.date(2025, 12, 31), antigens=(("JE", 4),), fic=(),
                       dropout_pairs=(), **base)
        )  # fmt: skip


class TestCountersSqlite(SqliteFile, _CounterTests):
    """On SQLite (a file)."""


@pytest.mark.postgres
class TestCountersPostgres(Postgres, _CounterTests):
    """On PostgreSQL."""

    def test_two_writers_in_one_commune_do_not_conflict(self, backend: Backend) -> None:
        # Counter rows are appended, never updated: two transactions that overlap and add to
        # the same counters (same commune, birth month, dose month) both commit.
        _setup(backend)
        born = dt.date(2024, 3, 4)
        kids = [
            Subject(
                id=f"w{i}",
                family_name="Đỗ",
                given_name="Lan",
                birth_date=born,
                sex=Sex.FEMALE,
                residences=(Residence("A1", born),),
            )
            for i in range(2)
        ]
        with backend.unit_of_work() as uow:
            for k in kids:
                uow.subjects.add(k)
            uow.commit()
        given = [
            AdministeredDose(
                id=f"w{i}-1",
                subject_id=f"w{i}",
                product_code="PENTA-COMBE5",
                date=dt.date(2024, 5, 6),
                facility_id="A1-S",
            )
            for i in range(2)
        ]
        first, second = backend.unit_of_work(), backend.unit_of_work()
        with first, second:
            first.doses.add(given[0])
            second.doses.add(given[1])
            first.commit()
            second.commit()
        spec = _SPECS[4]
        with backend.unit_of_work() as uow:
            got = {u: t for u, t in uow.reports.leaf_tallies(spec).items() if t != Tally.empty()}
            assert not rc.pending(uow)  # type: ignore[arg-type]
        assert got == leaf_tallies(spec, kids, given, PRODUCTS)
        assert got["A1"][f"received:{DTP}:1"] == 2


def test_cli_refreshes_and_rebuilds_the_counters(tmp_path: Any, capsys: Any) -> None:
    from immreg.backends import open_backend
    from immreg.cli import main

    url = f"sqlite:///{tmp_path / 'r.db'}"
    backend = open_backend(url)
    _setup(backend)
    with backend.unit_of_work() as uow:
        uow.subjects.add(
            Subject(
                id="c1",
                family_name="Phạm",
                given_name="Bình",
                birth_date=dt.date(2024, 5, 6),
                sex=Sex.MALE,
                residences=(Residence("C1", dt.date(2024, 5, 6)),),
            )
        )
        uow.commit()
    engine: sa.Engine = backend.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:  # as a bulk load would: the child is left pending
        conn.execute(report_dirty.insert(), [{"subject_id": "c1", "txid": 0}])
    backend.close()
    assert main(["db", "report-counters", url]) == 0
    assert "1 children applied" in capsys.readouterr().out
    assert main(["db", "report-counters", url, "--rebuild"]) == 0
    assert "1 children applied" in capsys.readouterr().out
    backend = open_backend(url)
    with backend.unit_of_work() as uow:
        assert not rc.pending(uow)  # type: ignore[arg-type]
        leaves = rc.counter_tallies(uow, _SPECS[-1], None)  # type: ignore[arg-type]
    backend.close()
    assert leaves["C1"]["cohort"] == 1


def test_cli_rejects_a_database_without_counters(capsys: Any) -> None:
    from immreg.cli import main

    assert main(["db", "report-counters", "memory://"]) == 2
    assert "url" in capsys.readouterr().err
