"""Contracts for the registry's ports: merges, historical doses, AEFI, pregnancies, scoping.

Subclass them beside the main contracts (:mod:`immreg.testing.conformance`), with the same
``backend`` fixture and capability flags::

    from immreg.testing.registry_conformance import MergeContract

    class TestMergeMyStore(MergeContract):
        @pytest.fixture
        def backend(self): ...

The merge properties are checked on hypothesis-generated pairs of records
(:func:`immreg.testing.registry_strategies.merge_cases`): merge then unmerge restores the
exact prior state of both records and every dose; a merge never loses a dose and counts
each (vaccine, date) once; a rolled-back merge leaves no trace; a scoped unit of work
cannot merge, read or undo outside its subtree.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from typing import Any

import attrs
import pytest

from immreg.errors import ConflictError, NotFoundError, ScopeError, ValidationError
from immreg.model import AdministeredDose, DoseSource, Sex, Subject
from immreg.ports import Backend
from immreg.registry.aefi import record_outcome, report_aefi
from immreg.registry.history import record_historical_dose, split_doses, verify_dose
from immreg.registry.merge import merge_subjects, merged_into, unmerge
from immreg.registry.pregnancy import end_pregnancy, register_newborn, start_pregnancy
from immreg.registry.records import (
    AefiReport,
    DoseVerification,
    Outcome,
    PregnancyEpisode,
    PregnancyOutcome,
    Severity,
    VerificationStatus,
)
from immreg.testing import registry_strategies as rst
from immreg.testing.conformance import AS_OF, NOW, ContractBase, dose, subject

__all__ = [
    "AefiContract",
    "HistoricalDoseContract",
    "MergeContract",
    "MergeScopingContract",
    "PregnancyContract",
]

_ids = itertools.count()
_WHEN: dict[str, Any] = {"as_of": AS_OF, "at": NOW, "by": "nv.lan"}

Snapshot = dict[str, tuple[Subject | None, list[AdministeredDose]]]


def _snapshot(backend: Backend, *subject_ids: str) -> Snapshot:
    out: Snapshot = {}
    with backend.unit_of_work() as uow:
        for sid in subject_ids:
            s = uow.subjects.find(sid)
            doses = uow.doses.list_for_subject(sid, include_voided=True) if s else []
            out[sid] = (s, doses)
    return out


class _MergeBase(ContractBase):
    def store_case(self, backend: Backend, case: rst.MergeCase) -> tuple[str, str]:
        """Store a merge case's two records and doses under fresh ids; return the ids."""
        n = next(_ids)
        a, b = f"m{n}-a", f"m{n}-b"
        survivor = subject(a, code=f"CODE-{n}-A" if case.survivor_has_code else None)
        absorbed = subject(
            b,
            unit="HN-BD" if case.same_commune else "HCM-Q1",
            code=f"CODE-{n}-B" if case.absorbed_has_code else None,
            given_name="Thi Lan",
        )
        with backend.unit_of_work() as uow:
            uow.subjects.add(survivor)
            uow.subjects.add(absorbed)
            for owner, specs in ((a, case.survivor_doses), (b, case.absorbed_doses)):
                for i, spec in enumerate(specs):
                    d = dose(f"{owner}-d{i}", owner, day=spec.day, product=spec.product)
                    uow.doses.add(d)
                    if spec.voided:
                        voided = attrs.evolve(d, version=2, voided=True, void_reason="error")
                        uow.doses.replace(voided, expected_version=1)
            uow.commit()
        return a, b

    def merge(self, backend: Backend, a: str, b: str, *, scope: str | None = None) -> Any:
        with backend.unit_of_work(scope=scope) as uow:
            record = merge_subjects(uow, a, b, merge_id=f"merge-{a}", at=NOW, by="nv.lan")
            uow.commit()
        return record

    def unmerge(self, backend: Backend, merge_id: str, *, scope: str | None = None) -> Any:
        with backend.unit_of_work(scope=scope) as uow:
            record = unmerge(uow, merge_id, at=NOW, by="nv.lan")
            uow.commit()
        return record


class MergeContract(_MergeBase):
    """:class:`~immreg.ports.MergeRepository` and the merge use cases over it."""

    def test_merge_then_unmerge_restores_the_exact_prior_state(self, backend: Backend) -> None:
        self.seed(backend)

        def check(case: rst.MergeCase) -> None:
            a, b = self.store_case(backend, case)
            before = _snapshot(backend, a, b)
            record = self.merge(backend, a, b)
            assert _snapshot(backend, a, b) != before
            undone = self.unmerge(backend, record.id)
            assert undone.undone
            assert _snapshot(backend, a, b) == before

        self.check_examples(rst.merge_cases(), check)

    def test_a_merge_never_loses_a_dose(self, backend: Backend) -> None:
        self.seed(backend)

        def check(case: rst.MergeCase) -> None:
            a, b = self.store_case(backend, case)
            before = _snapshot(backend, a, b)
            self.merge(backend, a, b)
            after = _snapshot(backend, a, b)
            assert after[b] == (None, [])
            survivor, doses = after[a]
            assert survivor is not None
            assert {d.id for d in doses} == {d.id for _, ds in before.values() for d in ds}
            # Every valid (vaccine, date) of either record is still valid, counted once
            # more than the survivor already had it only when the survivor did not.
            own = Counter((d.product_code, d.date) for d in before[a][1] if not d.voided)
            brought = Counter(
                (d.product_code, d.date)
                for d in before[b][1]
                if not d.voided and (d.product_code, d.date) not in own
            )
            assert Counter((d.product_code, d.date) for d in doses if not d.voided) == (
                own + brought
            )
            old_survivor, old_absorbed = before[a][0], before[b][0]
            assert old_survivor is not None
            assert old_absorbed is not None
            assert survivor.national_code == (
                old_survivor.national_code or old_absorbed.national_code
            )

        self.check_examples(rst.merge_cases(), check)

    def test_merged_away_id_redirects_and_the_record_is_stored(self, backend: Backend) -> None:
        self.seed(backend)
        a, b = self.store_case(backend, rst.MergeCase((), (), True, True, True))
        record = self.merge(backend, a, b)
        with backend.unit_of_work() as uow:
            assert uow.subjects.find(b) is None
            assert merged_into(uow, b) == a
            assert merged_into(uow, a) is None
            assert uow.merges.get(record.id) == record
            assert [r.id for r in uow.merges.list_for_subject(b)] == [record.id]
            assert [e.action for e in uow.audit.list_for("subject", b)] == ["merged_into"]
        self.unmerge(backend, record.id)
        with backend.unit_of_work() as uow:
            assert merged_into(uow, b) is None
            assert uow.merges.get(record.id).undone_by == "nv.lan"

    def test_a_rolled_back_merge_leaves_no_trace(self, backend: Backend) -> None:
        self.seed(backend)
        case = rst.MergeCase(
            (rst.DoseSpec("BCG", dose("x", "x").date, False),),
            (rst.DoseSpec("BCG", dose("x", "x").date, False),),
            True,
            True,
            True,
        )
        a, b = self.store_case(backend, case)
        before = _snapshot(backend, a, b)
        with backend.unit_of_work() as uow:
            merge_subjects(uow, a, b, merge_id="m-rolled-back", at=NOW, by="x")
        assert _snapshot(backend, a, b) == before
        with backend.unit_of_work() as uow:
            assert uow.merges.find("m-rolled-back") is None

    def test_bad_merges_are_refused(self, backend: Backend) -> None:
        self.seed(backend)
        a, b = self.store_case(backend, rst.MergeCase((), (), False, False, True))
        with backend.unit_of_work() as uow:
            with pytest.raises(ValidationError) as info:
                merge_subjects(uow, a, a, merge_id="m1", at=NOW, by="x")
            assert info.value.field == "absorbed_id"
            with pytest.raises(ValidationError) as info:
                merge_subjects(uow, a, b, merge_id="bad id!", at=NOW, by="x")
            assert info.value.field == "merge_id"
            with pytest.raises(NotFoundError):
                merge_subjects(uow, a, "nobody", merge_id="m2", at=NOW, by="x")
        record = self.merge(backend, a, b)
        with pytest.raises(ConflictError):
            self.merge(backend, a, b)  # same merge id
        with backend.unit_of_work() as uow:
            uow.subjects.update(attrs.evolve(uow.subjects.get(a), given_name="Khác"))
            uow.commit()
        with pytest.raises(ConflictError, match="changed since"):
            self.unmerge(backend, record.id)


class MergeScopingContract(_MergeBase):
    """Merges in a unit of work opened with ``scope=``: nothing outside the subtree."""

    def test_merging_a_record_outside_the_scope_is_refused(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self.seed(backend)
        case = rst.MergeCase(
            (), (rst.DoseSpec("BCG", dose("x", "x").date, False),), False, False, False
        )
        a, b = self.store_case(backend, case)  # b lives in HCM-Q1
        before = _snapshot(backend, a, b)
        with pytest.raises(ScopeError):
            self.merge(backend, a, b, scope="HN")
        with pytest.raises(ScopeError):
            self.merge(backend, b, a, scope="HN")
        assert _snapshot(backend, a, b) == before
        record = self.merge(backend, a, b, scope="VN")
        with backend.unit_of_work(scope="HCM") as uow:
            # The record holds the absorbed HCM resident but also the HN survivor.
            with pytest.raises(ScopeError):
                uow.merges.get(record.id)
            with pytest.raises(ScopeError):
                uow.merges.retire_subject(a)
            with pytest.raises(ScopeError):
                uow.merges.move_doses([f"{b}-d0"], to_subject_id=a)
        with pytest.raises(ScopeError):
            self.unmerge(backend, record.id, scope="HN")
        with backend.unit_of_work(scope="HN") as uow:
            # Listings leave out a record holding anyone the scope may not see.
            assert uow.merges.list_for_subject(a) == []
        self.unmerge(backend, record.id, scope="VN")
        assert _snapshot(backend, a, b) == before


_ONSET = dt.datetime(2024, 4, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def _report(report_id: str, dose_id: str, **changes: Any) -> AefiReport:
    base = AefiReport(
        id=report_id,
        dose_id=dose_id,
        onset=_ONSET,
        severity=Severity.MILD,
        outcome=Outcome.RECOVERING,
        description="Sốt 38,5 °C, sưng đau chỗ tiêm",
        reported_by="nv.lan",
    )
    return attrs.evolve(base, **changes)


class HistoricalDoseContract(ContractBase):
    """:class:`~immreg.ports.DoseVerificationRepository` and historical doses."""

    def _setup(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("north"), subject("south", unit="HCM-Q1"))

    def test_historical_doses_count_and_reports_separate_them(self, backend: Backend) -> None:
        self._setup(backend)
        card = attrs.evolve(dose("h1", "north"), source=DoseSource.HISTORICAL_CARD)
        paper = attrs.evolve(
            dose("h2", "north", product="PENTA"), source=DoseSource.HISTORICAL_PAPER
        )
        with backend.unit_of_work() as uow:
            record_historical_dose(uow, card, verified=True, evidence="thẻ", **_WHEN)
            record_historical_dose(uow, paper, evidence="sổ tiêm chủng", **_WHEN)
            uow.doses.add(dose("p1", "north", day=dt.date(2024, 5, 2)))
            uow.commit()
        with backend.unit_of_work() as uow:
            doses = uow.doses.list_for_subject("north")
            assert [d.id for d in doses] == ["h1", "h2", "p1"]  # all count for the schedule
            found = {v.dose_id: v for v in uow.verifications.list_for_subject("north")}
            assert found["h1"].status is VerificationStatus.VERIFIED
            assert found["h2"] == DoseVerification(
                "h2", VerificationStatus.UNVERIFIED, "sổ tiêm chủng", "nv.lan", NOW
            )
            split = split_doses(doses, found)
            assert [d.id for d in split.point_of_care] == ["p1"]
            assert [d.id for d in split.historical_verified] == ["h1"]
            assert [d.id for d in split.historical_unverified] == ["h2"]
            verify_dose(uow, "h2", at=NOW, by="bs.minh")
            uow.commit()
        with backend.unit_of_work() as uow:
            v = uow.verifications.find("h2")
            assert v is not None
            assert (v.status, v.evidence, v.by) == (
                VerificationStatus.VERIFIED,
                "sổ tiêm chủng",
                "bs.minh",
            )
            assert uow.verifications.find("p1") is None

    def test_bad_historical_input_is_refused_and_nothing_is_written(
        self, backend: Backend
    ) -> None:
        self._setup(backend)
        with backend.unit_of_work() as uow:
            with pytest.raises(ValidationError) as info:
                record_historical_dose(uow, dose("x1", "north"), **_WHEN)
            assert info.value.field == "source"
            bad = attrs.evolve(dose("x2", "north", product="NOPE"), source=DoseSource.IMPORT)
            with pytest.raises(ValidationError) as info:
                record_historical_dose(uow, bad, **_WHEN)
            assert info.value.field == "product_code"
            with pytest.raises(NotFoundError):
                verify_dose(uow, "missing", at=NOW, by="x")
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.doses.find("x1") is None
            assert uow.doses.find("x2") is None

    def test_verifications_are_scoped(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self._setup(backend)
        south = attrs.evolve(dose("hs", "south", facility="HCM-Q1"), source=DoseSource.IMPORT)
        with backend.unit_of_work() as uow:
            record_historical_dose(uow, south, **_WHEN)
            uow.commit()
        with backend.unit_of_work(scope="HN") as uow:
            with pytest.raises(ScopeError):
                uow.verifications.find("hs")
            with pytest.raises(ScopeError):
                uow.verifications.list_for_subject("south")
            with pytest.raises(ScopeError):
                verify_dose(uow, "hs", at=NOW, by="x")
            with pytest.raises(ScopeError):
                uow.verifications.put(
                    DoseVerification("hs", VerificationStatus.VERIFIED, None, "x", NOW)
                )
            uow.commit()
        with backend.unit_of_work() as uow:
            v = uow.verifications.find("hs")
            assert v is not None
            assert v.status is VerificationStatus.UNVERIFIED


class AefiContract(ContractBase):
    """:class:`~immreg.ports.AefiRepository` and the AEFI use cases."""

    def _setup(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(backend, subject("north"), subject("south", unit="HCM-Q1"))
        self.add_doses(
            backend,
            dose("dn", "north", product="PENTA", lot="L001"),
            dose("dn2", "north", product="BCG", day=dt.date(2024, 3, 1)),
            dose("ds", "south", product="PENTA", lot="L001", facility="HCM-Q1"),
        )

    def test_reports_listed_per_lot_and_per_facility(self, backend: Backend) -> None:
        self._setup(backend)
        late = _ONSET + dt.timedelta(hours=5)
        with backend.unit_of_work() as uow:
            report_aefi(uow, _report("a2", "ds", onset=late), **_WHEN)
            report_aefi(uow, _report("a1", "dn", severity=Severity.SERIOUS), **_WHEN)
            report_aefi(uow, _report("a3", "dn2"), **_WHEN)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert [r.id for r in uow.aefi.list_for_lot("PENTA", "L001")] == ["a1", "a2"]
            assert uow.aefi.list_for_lot("PENTA", "OLD1") == []
            assert [r.id for r in uow.aefi.list_for_facility("HN-BD-S1")] == ["a1", "a3"]
            assert uow.aefi.get("a1").severity is Severity.SERIOUS
            record_outcome(uow, "a1", Outcome.RECOVERED, at=NOW, by="bs.minh")
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.aefi.get("a1") == _report(
                "a1", "dn", severity=Severity.SERIOUS, outcome=Outcome.RECOVERED
            )
            assert [e.action for e in uow.audit.list_for("aefi", "a1")] == ["report", "outcome"]

    def test_bad_reports_are_refused(self, backend: Backend) -> None:
        self._setup(backend)
        with backend.unit_of_work() as uow:
            with pytest.raises(NotFoundError):
                report_aefi(uow, _report("b1", "missing"), **_WHEN)
            early = _report("b2", "dn", onset=_ONSET - dt.timedelta(days=30))
            with pytest.raises(ValidationError) as info:
                report_aefi(uow, early, **_WHEN)
            assert info.value.field == "onset"
            report_aefi(uow, _report("b3", "dn"), **_WHEN)
            with pytest.raises(ConflictError):
                uow.aefi.add(_report("b3", "dn2"))
            with pytest.raises(ConflictError):
                uow.aefi.update(_report("b3", "dn2"))
            uow.commit()
        with pytest.raises(ValidationError) as info:
            _report("b4", "dn", description=" ")
        assert info.value.field == "description"
        with backend.unit_of_work() as uow:
            assert [r.id for r in uow.aefi.list_for_facility("HN-BD-S1")] == ["b3"]

    def test_reports_are_scoped(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self._setup(backend)
        with backend.unit_of_work() as uow:
            report_aefi(uow, _report("s1", "ds"), **_WHEN)
            report_aefi(uow, _report("n1", "dn"), **_WHEN)
            uow.commit()
        with backend.unit_of_work(scope="HN") as uow:
            assert [r.id for r in uow.aefi.list_for_lot("PENTA", "L001")] == ["n1"]
            assert uow.aefi.list_for_facility("HCM-Q1") == []
            with pytest.raises(ScopeError):
                uow.aefi.get("s1")
            with pytest.raises(ScopeError):
                report_aefi(uow, _report("s2", "ds"), **_WHEN)
            with pytest.raises(ScopeError):
                uow.aefi.update(_report("s1", "ds", outcome=Outcome.DIED))
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.aefi.get("s1").outcome is Outcome.RECOVERING
            assert [r.id for r in uow.aefi.list_for_lot("PENTA", "L001")] == ["n1", "s1"]


class PregnancyContract(ContractBase):
    """:class:`~immreg.ports.PregnancyRepository`, pregnancies and newborns."""

    def _setup(self, backend: Backend) -> None:
        self.seed(backend)
        self.add_subjects(
            backend,
            subject("mother", born=dt.date(1995, 5, 20)),
            subject("south-mother", born=dt.date(1990, 1, 1), unit="HCM-Q1"),
        )

    def test_episode_then_newborn_closes_it(self, backend: Backend) -> None:
        self._setup(backend)
        episode = PregnancyEpisode("p1", "mother", dt.date(2025, 6, 1), dt.date(2026, 3, 8))
        with backend.unit_of_work() as uow:
            start_pregnancy(uow, episode, as_of=AS_OF)
            uow.commit()
        baby = subject("baby", born=dt.date(2026, 3, 10))
        with backend.unit_of_work() as uow:
            register_newborn(uow, baby, mother_id="mother", **_WHEN)
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.subjects.get("baby").mother_id == "mother"
            assert uow.pregnancies.list_for_subject("mother") == [
                attrs.evolve(
                    episode, ended_on=dt.date(2026, 3, 10), outcome=PregnancyOutcome.LIVE_BIRTH
                )
            ]
            assert not uow.pregnancies.get("p1").ongoing_on(dt.date(2026, 3, 10))

    def test_bad_episodes_are_refused(self, backend: Backend) -> None:
        self._setup(backend)
        self.add_subjects(backend, attrs.evolve(subject("man"), sex=Sex.MALE))
        with backend.unit_of_work() as uow:
            for bad, field in [
                (
                    PregnancyEpisode("x1", "man", dt.date(2025, 6, 1), dt.date(2026, 3, 8)),
                    "subject_id",
                ),
                (
                    PregnancyEpisode("x2", "mother", dt.date(2004, 6, 1), dt.date(2005, 3, 8)),
                    "start",
                ),
                (
                    PregnancyEpisode("x3", "mother", dt.date(2026, 6, 1), dt.date(2027, 3, 8)),
                    "start",
                ),
            ]:
                with pytest.raises(ValidationError) as info:
                    start_pregnancy(uow, bad, as_of=AS_OF)
                assert field in {e.field for e in info.value.errors}
            start_pregnancy(
                uow,
                PregnancyEpisode("ok", "mother", dt.date(2025, 9, 1), dt.date(2026, 6, 8)),
                as_of=AS_OF,
            )
            with pytest.raises(ValidationError):
                start_pregnancy(
                    uow,
                    PregnancyEpisode("twice", "mother", dt.date(2025, 9, 2), dt.date(2026, 6, 8)),
                    as_of=AS_OF,
                )
            with pytest.raises(ConflictError):
                uow.pregnancies.add(
                    PregnancyEpisode(
                        "ok", "south-mother", dt.date(2025, 9, 1), dt.date(2026, 6, 8)
                    )
                )
            end_pregnancy(
                uow, "ok", PregnancyOutcome.MISCARRIAGE, on=dt.date(2025, 11, 1), as_of=AS_OF
            )
            with pytest.raises(ConflictError):
                end_pregnancy(uow, "ok", PregnancyOutcome.LIVE_BIRTH, on=AS_OF, as_of=AS_OF)
            uow.commit()
        with pytest.raises(ValidationError) as info:
            PregnancyEpisode("y", "mother", dt.date(2025, 1, 1), dt.date(2024, 1, 1))
        assert info.value.field == "expected_delivery"
        with backend.unit_of_work() as uow:
            assert [e.id for e in uow.pregnancies.list_for_subject("mother")] == ["ok"]

    def test_episodes_are_scoped(self, backend: Backend) -> None:
        self.require("supports_scoping")
        self._setup(backend)
        south = PregnancyEpisode("ps", "south-mother", dt.date(2025, 6, 1), dt.date(2026, 3, 8))
        with backend.unit_of_work() as uow:
            uow.pregnancies.add(south)
            uow.commit()
        with backend.unit_of_work(scope="HN") as uow:
            with pytest.raises(ScopeError):
                uow.pregnancies.get("ps")
            with pytest.raises(ScopeError):
                uow.pregnancies.list_for_subject("south-mother")
            with pytest.raises(ScopeError):
                uow.pregnancies.update(attrs.evolve(south, expected_delivery=dt.date(2026, 3, 1)))
            with pytest.raises(ScopeError):
                uow.pregnancies.add(attrs.evolve(south, id="ps2"))
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.pregnancies.list_for_subject("south-mother") == [south]
