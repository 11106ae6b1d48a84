"""The maternal reports' backend contract (:class:`immreg.ports.MaternalRepository`).

Subclass :class:`MaternalRepositoryContract` with a ``backend`` fixture, as for
:mod:`immreg.testing.conformance`. Every backend must return the records of
:func:`immreg.reports.maternal.pregnancy_records` over the same data (random registries of
women who move, with pregnancies ended or not, voided and unrelated doses, over
:data:`~immreg.testing.reports_conformance.REFORM_TREE`), and a hand-counted report of TT2+
and protection at birth must come out the same under the trees before and after 2025-07-01.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from hypothesis import strategies as st

from immreg.indicators import UNASSIGNED, Tally
from immreg.model import AdministeredDose, OrgLevel, Residence, Sex, Subject
from immreg.ports import Backend, UnitOfWork
from immreg.registry.records import PregnancyEpisode, PregnancyOutcome
from immreg.reports.maternal import (
    LIVE_BIRTHS,
    PAB,
    PREGNANT,
    TD2PLUS,
    MaternalSpec,
    build_maternal_report,
    pregnancy_records,
    unprotected_key,
)
from immreg.schedule import load_schedule
from immreg.testing.conformance import ContractBase
from immreg.testing.reports_conformance import store_reform_tree

__all__ = ["MaternalRepositoryContract", "MaternalWorld", "maternal_worlds"]

_COMMUNES = ("A1", "A2", "B1", "C1")
_TETANUS = ("TT", "TD")
_D = dt.date


@attrs.frozen
class MaternalWorld:
    """Women, their pregnancy episodes and doses, to store over ``REFORM_TREE``.

    Attributes:
        women: The women.
        episodes: Their pregnancies.
        doses: Their doses.
    """

    women: tuple[Subject, ...]
    episodes: tuple[PregnancyEpisode, ...]
    doses: tuple[AdministeredDose, ...]

    def store(self, uow: UnitOfWork) -> None:
        """Add everything in ``uow`` (without committing)."""
        for s in self.women:
            uow.subjects.add(s)
        for e in self.episodes:
            uow.pregnancies.add(e)
        for d in self.doses:
            uow.doses.add(d)


def _woman(sid: str, born: dt.date, *homes: tuple[str, dt.date, dt.date | None]) -> Subject:
    return Subject(
        id=sid,
        family_name="Lê",
        given_name="Thị Hoa",
        birth_date=born,
        sex=Sex.FEMALE,
        residences=tuple(Residence(u, s, e) for u, s, e in homes),
    )


def _dose(
    did: str, sid: str, product: str, day: dt.date, voided: bool = False
) -> AdministeredDose:
    return AdministeredDose(
        id=did,
        subject_id=sid,
        product_code=product,
        date=day,
        facility_id="A1-S",
        voided=voided,
        void_reason="entered in error" if voided else None,
    )


@st.composite
def maternal_worlds(draw: st.DrawFn, *, max_women: int = 5) -> MaternalWorld:
    """A random registry of women over ``REFORM_TREE`` with ids unique to the example."""
    prefix = uuid.uuid4().hex[:8]
    women: list[Subject] = []
    episodes: list[PregnancyEpisode] = []
    doses: list[AdministeredDose] = []
    outcomes = st.sampled_from(list(PregnancyOutcome))
    for i in range(draw(st.integers(0, max_women))):
        sid = f"{prefix}-w{i}"
        born = _D(1985, 1, 1) + dt.timedelta(days=draw(st.integers(0, 5000)))
        homes: list[tuple[str, dt.date, dt.date | None]] = []
        if draw(st.booleans()):
            home = draw(st.sampled_from(_COMMUNES))
            moved = _D(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 900)))
            if draw(st.booleans()):
                homes = [(home, born, moved), (draw(st.sampled_from(_COMMUNES)), moved, None)]
            else:
                homes = [(home, born, None)]
        women.append(_woman(sid, born, *homes))
        start = _D(2024, 3, 1) + dt.timedelta(days=draw(st.integers(0, 500)))
        for j in range(draw(st.integers(0, 2))):
            edd = start + dt.timedelta(days=draw(st.integers(200, 290)))
            ended: dt.date | None = None
            outcome = None
            if draw(st.booleans()):
                ended = start + dt.timedelta(days=draw(st.integers(20, 290)))
                outcome = draw(outcomes)
            episodes.append(PregnancyEpisode(f"{sid}-e{j}", sid, start, edd, ended, outcome))
            start = (ended or edd) + dt.timedelta(days=draw(st.integers(30, 400)))
        for k in range(draw(st.integers(0, 5))):
            day = _D(2010, 1, 1) + dt.timedelta(days=draw(st.integers(0, 6200)))
            product = draw(st.sampled_from((*_TETANUS, "BCG")))
            doses.append(_dose(f"{sid}-d{k}", sid, product, day, draw(st.integers(0, 6)) == 0))
    return MaternalWorld(tuple(women), tuple(episodes), tuple(doses))


def _ep(
    eid: str, sid: str, start: dt.date, edd: dt.date, ended: dt.date | None, how: str | None
) -> PregnancyEpisode:
    outcome = None if how is None else PregnancyOutcome(how)
    return PregnancyEpisode(eid, sid, start, edd, ended, outcome)


#: A world counted by hand (see :meth:`MaternalRepositoryContract.test_hand_counted_report`).
HAND_WORLD = MaternalWorld(
    women=(
        _woman("w1", _D(1995, 1, 1), ("A1", _D(1995, 1, 1), None)),
        _woman("w2", _D(1990, 1, 1), ("B1", _D(1990, 1, 1), None)),
        _woman("w3", _D(1998, 1, 1), ("C1", _D(1998, 1, 1), None)),
        _woman("w4", _D(1985, 1, 1), ("A2", _D(1985, 1, 1), None)),
        _woman("w5", _D(1992, 1, 1), ("A1", _D(1992, 1, 1), None)),
    ),
    episodes=(
        # w1: two doses in this pregnancy, born alive 2025-07-28: TT2+ and protected.
        _ep("e1", "w1", _D(2025, 1, 10), _D(2025, 8, 1), _D(2025, 7, 28), "live_birth"),
        # w2: two doses in 2015, none now: not TT2+, protection expired (3 years after dose 2).
        _ep("e2", "w2", _D(2025, 3, 1), _D(2025, 12, 1), _D(2025, 11, 20), "live_birth"),
        # w3: her second dose came 9 days after the first (not valid), a third was voided.
        _ep("e3", "w3", _D(2025, 4, 1), _D(2025, 12, 10), _D(2025, 12, 8), "live_birth"),
        # w4: dose 4 in this pregnancy, still ongoing on as_of: TT2+, no birth yet.
        _ep("e4", "w4", _D(2025, 5, 1), _D(2025, 12, 20), None, None),
        # w5: a stillbirth (pregnant, no live birth), and a pregnancy due next year.
        _ep("e5", "w5", _D(2024, 10, 1), _D(2025, 7, 1), _D(2025, 6, 1), "stillbirth"),
        _ep("e6", "w5", _D(2025, 9, 1), _D(2026, 5, 1), None, None),
    ),
    doses=(
        _dose("w1-1", "w1", "TT", _D(2025, 2, 1)),
        _dose("w1-2", "w1", "TD", _D(2025, 3, 15)),
        _dose("w2-1", "w2", "TT", _D(2015, 1, 10)),
        _dose("w2-2", "w2", "TT", _D(2015, 2, 20)),
        _dose("w3-1", "w3", "TT", _D(2025, 5, 1)),
        _dose("w3-2", "w3", "TT", _D(2025, 5, 10)),
        _dose("w3-3", "w3", "TD", _D(2025, 7, 1), voided=True),
        _dose("w4-1", "w4", "TT", _D(2010, 1, 1)),
        _dose("w4-2", "w4", "TT", _D(2010, 2, 15)),
        _dose("w4-3", "w4", "TT", _D(2010, 9, 1)),
        _dose("w4-4", "w4", "TD", _D(2025, 6, 1)),
        _dose("w4-bcg", "w4", "BCG", _D(2025, 6, 1)),
    ),
)

#: The hand world's report period: births in 2025, as of its last day.
HAND_SPEC = MaternalSpec(
    as_of=_D(2025, 12, 31), period_start=_D(2025, 1, 1), period_end=_D(2026, 1, 1)
)


class MaternalRepositoryContract(ContractBase):
    """Pregnancy records equal to the reference selection; hand-counted report; scoped."""

    def _tree(self, backend: Backend) -> None:
        store_reform_tree(backend)

    def test_equals_the_reference_on_random_registries(self, backend: Backend) -> None:
        self._tree(backend)
        windows = st.sampled_from(
            (
                (_D(2025, 1, 1), _D(2026, 1, 1), _D(2025, 12, 31)),
                (_D(2025, 6, 1), _D(2025, 7, 1), _D(2025, 6, 30)),
                (_D(2024, 1, 1), _D(2027, 1, 1), _D(2025, 3, 1)),
            )
        )

        def check(args: tuple[MaternalWorld, tuple[dt.date, dt.date, dt.date]]) -> None:
            world, (since, until, on) = args
            with backend.unit_of_work() as uow:
                # Never committed: examples must not see each other; a report sees the unit
                # of work's own writes.
                world.store(uow)
                for units in (None, {"A1", "B1", UNASSIGNED}, {"C1"}):
                    got = uow.maternal.pregnancy_records(
                        since=since, until=until, on=on, product_codes=_TETANUS, units=units
                    )
                    expected = pregnancy_records(
                        episodes=world.episodes,
                        subjects={s.id: s for s in world.women},
                        doses=world.doses,
                        since=since,
                        until=until,
                        on=on,
                        product_codes=_TETANUS,
                        units=units,
                    )
                    assert got == expected

        self.check_examples(st.tuples(maternal_worlds(), windows), check)

    def test_hand_counted_report(self, backend: Backend) -> None:
        self._tree(backend)
        with backend.unit_of_work() as uow:
            HAND_WORLD.store(uow)
            uow.commit()
        schedule = load_schedule("vn-epi")
        with backend.unit_of_work() as uow:
            before = build_maternal_report(
                uow, HAND_SPEC, schedule, level=OrgLevel.PROVINCE, on=_D(2025, 6, 30)
            )
            after = build_maternal_report(uow, HAND_SPEC, schedule, level=OrgLevel.PROVINCE)
            communes = build_maternal_report(
                uow, HAND_SPEC, schedule, level=OrgLevel.COMMUNE, within="PAB"
            )
        by = {line.org_unit_id: line.tally for line in communes.rows}
        assert by["A1"] == Tally({PREGNANT: 2, TD2PLUS: 1, LIVE_BIRTHS: 1, PAB: 1})
        assert by["A2"] == Tally({PREGNANT: 1, TD2PLUS: 1})
        expired = unprotected_key("protection_expired")
        assert by["B1"] == Tally({PREGNANT: 1, LIVE_BIRTHS: 1, expired: 1})
        old = {line.org_unit_id: line.tally for line in before.rows}
        new = {line.org_unit_id: line.tally for line in after.rows}
        assert set(old) == {"PA", "PB", "PC"}
        assert set(new) == {"PAB", "PC"}
        assert new["PAB"] == old["PA"] + old["PB"] == communes.total.tally
        too_few = unprotected_key("too_few_doses")
        assert new["PC"] == old["PC"] == Tally({PREGNANT: 1, LIVE_BIRTHS: 1, too_few: 1})
        assert before.total.tally == after.total.tally
        total = after.indicators(after.total)
        assert (total.pregnant, total.live_births) == (5, 3)
        assert total.td2plus == 2 / 5
        assert total.protected_at_birth == 1 / 3

    def test_scoped_unit_of_work_sees_only_its_women(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self._tree(backend)
        with backend.unit_of_work() as uow:
            HAND_WORLD.store(uow)
            uow.commit()
        with backend.unit_of_work(scope="PC") as uow:
            got = uow.maternal.pregnancy_records(
                since=_D(2025, 1, 1),
                until=_D(2026, 1, 1),
                on=_D(2025, 12, 31),
                product_codes=_TETANUS,
            )
        assert [r.episode.id for r in got] == ["e3"]
        assert [d.id for d in got[0].doses] == ["w3-1", "w3-2"]  # the voided one left out
