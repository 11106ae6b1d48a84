"""Backend contracts for due summaries, the message outbox and the outreach use cases.

Like :mod:`immreg.testing.conformance`: subclass a contract together with a class that
provides a ``backend`` fixture (a fresh, empty backend with its schema) and set the
capability flags your backend needs::

    class TestOutboxMyBackend(OutboxRepositoryContract):
        supports_concurrent_units_of_work = False

        @pytest.fixture
        def backend(self): ...

The in-memory reference backend passes the same contracts as the SQL ones.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immreg.backends.gateways import RecordingGateway
from immreg.duelist import DueStatus, DueSummary, ReminderPolicy
from immreg.errors import ConflictError, NotFoundError, ValidationError
from immreg.messaging import OutboxMessage, OutboxStatus, QuietHours, RetryPolicy, dispatch
from immreg.model import (
    AdministeredDose,
    Caregiver,
    OrgLevel,
    OrgUnit,
    ParentLink,
    Residence,
    Sex,
    Subject,
)
from immreg.ports import Backend
from immreg.schedule.catalogue import PRODUCTS
from immreg.services import FixedClock, Registry
from immreg.testing import messaging_strategies as ms

__all__ = [
    "NOW",
    "DueSummaryRepositoryContract",
    "MessagingContractBase",
    "OutboxRepositoryContract",
    "OutreachContract",
    "child",
]

_TZ = dt.timezone(dt.timedelta(hours=7))
#: The instant the contracts' registries run at: a Monday morning in Vietnam.
NOW = dt.datetime(2026, 5, 4, 9, 0, tzinfo=_TZ)
_SINCE = dt.date(2025, 7, 1)
_BORN = dt.date(2026, 1, 31)


def _units() -> list[OrgUnit]:
    return [
        OrgUnit("VN", "Việt Nam", OrgLevel.NATION, opened=_SINCE),
        OrgUnit("C1", "Xã Minh Xuân", OrgLevel.COMMUNE, parents=[ParentLink("VN", _SINCE)]),
        OrgUnit("C2", "Xã Tân Trào", OrgLevel.COMMUNE, parents=[ParentLink("VN", _SINCE)]),
        OrgUnit("S1", "Trạm Y tế Minh Xuân", OrgLevel.SITE, parents=[ParentLink("C1", _SINCE)]),
    ]


def child(
    sid: str,
    *,
    unit: str = "C1",
    born: dt.date = _BORN,
    moved_on: dt.date | None = None,
    died: dt.date | None = None,
    opted_out: bool = False,
) -> Subject:
    """A child living in ``unit`` since birth (moving to C2 on ``moved_on``)."""
    residences = [Residence(unit, born, moved_on)]
    if moved_on is not None:
        residences.append(Residence("C2", moved_on))
    return Subject(
        sid,
        "Nguyễn",
        f"Bé {sid}",
        born,
        Sex.FEMALE,
        caregivers=[Caregiver("Trần Thị Hoa", phone="0912345678", sms_opt_out=opted_out)],
        residences=residences,
        deceased_on=died,
    )


class MessagingContractBase:
    """Capability flags and helpers shared by the messaging contracts.

    Attributes:
        supports_concurrent_units_of_work: Two units of work can be open at once, isolated.
        hypothesis_max_examples: Examples per hypothesis-driven test.
    """

    supports_concurrent_units_of_work: ClassVar[bool] = True
    hypothesis_max_examples: ClassVar[int] = 10

    def require(self, flag: str) -> None:
        """Skip the running test unless capability ``flag`` is on."""
        if not getattr(self, flag):
            pytest.skip(f"{type(self).__name__}.{flag} is False")

    def seed(self, backend: Backend, *subjects: Subject) -> None:
        """Store the org units, the EPI catalogue and ``subjects``."""
        with backend.unit_of_work() as uow:
            for u in _units():
                uow.org_units.add(u)
            for p in PRODUCTS:
                uow.catalogue.add_product(p)
            for s in subjects:
                uow.subjects.add(s)
            uow.commit()

    def examples(self) -> settings:
        """Hypothesis settings for tests that share one backend across examples."""
        return settings(
            max_examples=self.hypothesis_max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )


def _message(key: str, *, at: dt.datetime = NOW, subject_id: str | None = "a") -> OutboxMessage:
    return OutboxMessage(
        key=key,
        to="+84912345678",
        body=f"Nhắc lịch tiêm {key}",
        created_at=at,
        not_before=at,
        subject_id=subject_id,
        episode="Sởi#1",
        kind="before",
    )


class DueSummaryRepositoryContract(MessagingContractBase):
    """:class:`immreg.ports.DueSummaryRepository`."""

    def test_replace_and_read_back(self, backend: Backend) -> None:
        self.seed(backend, child("a"))

        @self.examples()
        @given(
            st.lists(
                ms.due_summaries(subject_id="a"), max_size=5, unique_by=lambda s: s.vaccine_group
            )
        )
        def check(summaries: list[DueSummary]) -> None:
            with backend.unit_of_work() as uow:
                uow.due.replace("a", summaries)
                uow.commit()
            with backend.unit_of_work() as uow:
                got = uow.due.list_for_subject("a")
            assert got == sorted(summaries, key=lambda s: s.vaccine_group)

        check()

    def test_rollback_leaves_no_trace(self, backend: Backend) -> None:
        self.seed(backend, child("a"))
        s = DueSummary("a", "Sởi", 1, _BORN, _BORN)
        with backend.unit_of_work() as uow:
            uow.due.replace("a", [s])
            assert uow.due.list_for_subject("a") == [s]
        with backend.unit_of_work() as uow:
            assert uow.due.list_for_subject("a") == []

    def test_refuses_summaries_of_someone_else(self, backend: Backend) -> None:
        self.seed(backend, child("a"))
        with backend.unit_of_work() as uow, pytest.raises(ValidationError) as e:
            uow.due.replace("a", [DueSummary("b", "Sởi", 1, _BORN, _BORN)])
        assert e.value.field == "summaries[0].subject_id"

    def test_list_due_takes_living_residents_on_the_day(self, backend: Backend) -> None:
        day = dt.date(2026, 5, 20)
        people = [
            child("here"),
            child("site", unit="S1"),
            child("moved", moved_on=dt.date(2026, 5, 1)),
            child("moves-later", moved_on=dt.date(2026, 6, 1)),
            child("died", died=dt.date(2026, 5, 10)),
            child("other", unit="C2"),
        ]
        self.seed(backend, *people)
        with backend.unit_of_work() as uow:
            for p in people:
                uow.due.replace(
                    p.id,
                    [
                        DueSummary(p.id, "Sởi", 1, day, day),
                        DueSummary(p.id, "Rubella", 1, day, day + dt.timedelta(days=1)),
                    ],
                )
            uow.commit()
        with backend.unit_of_work() as uow:
            rows = sorted(uow.due.list_due(["C1", "S1"], on=day, until=day))
        assert [(r.subject_id, r.vaccine_group) for r in rows] == [
            ("here", "Sởi"),
            ("moves-later", "Sởi"),
            ("site", "Sởi"),
        ]
        assert rows[0].name == "Nguyễn Bé here"
        assert rows[0].birth_date == _BORN
        assert rows[0].summary == DueSummary("here", "Sởi", 1, day, day)

    def test_list_due_takes_what_can_be_given_on_the_day(self, backend: Backend) -> None:
        day = dt.date(2026, 5, 20)
        week = dt.timedelta(days=7)
        self.seed(backend, child("a"))
        with backend.unit_of_work() as uow:
            uow.due.replace(
                "a",
                [
                    DueSummary("a", "Bạch hầu", 2, day - week, day - week, latest=day),
                    DueSummary("a", "Ho gà", 2, day + week, day - week),  # not valid yet
                    DueSummary("a", "Rota", 3, day - week, day - week, latest=day - week),
                    DueSummary("a", "Uốn ván", 2, day, day, day + week, None, ("DTP",)),
                ],
            )
            uow.commit()
        with backend.unit_of_work() as uow:
            rows = sorted(uow.due.list_due(["C1"], on=day, until=day))
        assert [r.vaccine_group for r in rows] == ["Bạch hầu", "Uốn ván"]
        assert rows[1].vaccines == ("DTP",)
        assert rows[1].past_due == day + week

    def test_replace_many_replaces_each_subject(self, backend: Backend) -> None:
        day = dt.date(2026, 5, 20)
        self.seed(backend, child("a"), child("b"), child("c"))
        with backend.unit_of_work() as uow:
            uow.due.replace("a", [DueSummary("a", "Lao (BCG)", 1, day, day)])
            uow.due.replace("c", [DueSummary("c", "Sởi", 1, day, day)])
            uow.commit()
        new_a = [DueSummary("a", "Sởi", 2, day, day), DueSummary("a", "Rubella", 1, day, day)]
        with backend.unit_of_work() as uow:
            uow.due.replace_many({"a": new_a, "b": [DueSummary("b", "Sởi", 1, day, day)]})
            uow.due.replace_many({})
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.due.list_for_subject("a") == sorted(new_a, key=lambda s: s.vaccine_group)
            assert [s.subject_id for s in uow.due.list_for_subject("b")] == ["b"]
            assert [s.vaccine_group for s in uow.due.list_for_subject("c")] == ["Sởi"]
            with pytest.raises(ValidationError) as err:
                uow.due.replace_many({"a": [], "b": [DueSummary("a", "Sởi", 1, day, day)]})
            assert err.value.errors[0].field == "summaries[0].subject_id"
        with backend.unit_of_work() as uow:
            uow.due.replace_many({"a": []})
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.due.list_for_subject("a") == []
            assert len(uow.due.list_for_subject("c")) == 1

    def test_list_targets_keeps_the_window_and_picks_the_phone(self, backend: Backend) -> None:
        day = dt.date(2026, 5, 20)
        two = Caregiver("Lê Văn Nam", "father", phone="0987654321")
        people = [
            child("here"),
            child("out", opted_out=True),
            attrs.evolve(
                child("second"), caregivers=[*child("out", opted_out=True).caregivers, two]
            ),
            child("moved", moved_on=dt.date(2026, 5, 1)),
            child("died", died=dt.date(2026, 5, 10)),
            child("old"),
        ]
        self.seed(backend, *people)
        week = dt.timedelta(days=7)
        with backend.unit_of_work() as uow:
            for p in people:
                uow.due.replace(
                    p.id,
                    [
                        DueSummary(p.id, "Sởi", 1, day - week, day),
                        DueSummary(p.id, "Rubella", 1, day, day + week),  # after until
                        DueSummary(p.id, "Lao (BCG)", 1, day - 9 * week, day - 8 * week),
                    ],
                )
            # Past its latest day: no reminder can bring it in time.
            uow.due.replace(
                "old", [DueSummary("old", "Sởi", 1, day - week, day, None, day - week)]
            )
            uow.commit()
        since = day - 4 * week
        with backend.unit_of_work() as uow:
            targets = uow.due.list_targets(["C1", "S1"], on=day, since=since, until=day)
            everything = uow.due.list_targets(["C1"], on=day, since=None, until=day)
        assert [(t.subject_id, t.to) for t in targets] == [
            ("here", "+84912345678"),
            ("out", None),
            ("second", "+84987654321"),
        ]
        assert targets[0].name == "Nguyễn Bé here"
        assert targets[0].summaries == (DueSummary("here", "Sởi", 1, day - week, day),)
        assert [g.vaccine_group for g in everything[0].summaries] == ["Lao (BCG)", "Sởi"]
        assert [t.subject_id for t in everything] == ["here", "out", "second"]

    def test_list_due_in_a_scope_follows_the_scoping_rule(self, backend: Backend) -> None:
        day = dt.date(2026, 5, 20)
        moved = dt.date(2026, 4, 1)
        came = attrs.evolve(
            child("came"), residences=[Residence("C2", _BORN, moved), Residence("C1", moved)]
        )
        self.seed(backend, came, child("local"))
        with backend.unit_of_work() as uow:
            for sid in ("came", "local"):
                uow.due.replace(sid, [DueSummary(sid, "Sởi", 1, day, day)])
            uow.commit()
        # Scoped to C2: the child who lived there once is visible (any residence, ever),
        # and is listed where she lives now; the child who never lived there is not.
        with backend.unit_of_work(scope="C2") as uow:
            rows = list(uow.due.list_due(["C1"], on=day, until=day))
            targets = uow.due.list_targets(["C1"], on=day, since=None, until=day)
        assert [r.subject_id for r in rows] == ["came"]
        assert [t.subject_id for t in targets] == ["came"]


class OutboxRepositoryContract(MessagingContractBase):
    """:class:`immreg.ports.OutboxRepository`: one message per key, states kept."""

    def test_round_trip(self, backend: Backend) -> None:
        @self.examples()
        @given(ms.outbox_messages())
        def check(message: OutboxMessage) -> None:
            with backend.unit_of_work() as uow:
                if uow.outbox.find(message.key) is not None:
                    return
                assert uow.outbox.add(message)
                uow.commit()
            with backend.unit_of_work() as uow:
                assert uow.outbox.find(message.key) == message

        check()

    def test_a_key_is_stored_once(self, backend: Backend) -> None:
        first = _message("k1")
        with backend.unit_of_work() as uow:
            assert uow.outbox.add(first)
            assert not uow.outbox.add(attrs.evolve(first, body="another text"))
            uow.commit()
        with backend.unit_of_work() as uow:
            assert not uow.outbox.add(attrs.evolve(first, body="yet another"))
            uow.outbox.update(attrs.evolve(first, status=OutboxStatus.CANCELLED))
            assert not uow.outbox.add(first)  # even once cancelled
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.outbox.find("k1") == attrs.evolve(first, status=OutboxStatus.CANCELLED)
            assert uow.outbox.counts() == {OutboxStatus.CANCELLED: 1}

    def test_add_many_stores_each_key_once(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            assert uow.outbox.add(_message("k1"))
            uow.commit()
        batch = [_message("k2"), _message("k1"), attrs.evolve(_message("k2"), body="second")]
        with backend.unit_of_work() as uow:
            assert uow.outbox.add_many(batch) == 1
            assert uow.outbox.add_many([]) == 0
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.outbox.find("k2") == _message("k2")
            uow.outbox.add_many([_message("k3")])  # rolled back
        # Enough messages for more than one bulk statement, half of them planned already.
        many = [_message(f"m{i:05d}") for i in range(6_000)]
        with backend.unit_of_work() as uow:
            assert uow.outbox.add_many(many[::2]) == 3_000
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.outbox.add_many(many) == 3_000
            uow.commit()
        with backend.unit_of_work() as uow:
            assert uow.outbox.find("k3") is None
            assert uow.outbox.counts() == {OutboxStatus.PENDING: 6_002}
            assert uow.outbox.find("m05999") == many[-1]

    def test_rollback_leaves_no_trace(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            uow.outbox.add(_message("k1"))
            uow.commit()
        with backend.unit_of_work() as uow:
            uow.outbox.add(_message("k2"))
            uow.outbox.update(attrs.evolve(_message("k1"), status=OutboxStatus.SENT, attempts=1))
        with backend.unit_of_work() as uow:
            assert uow.outbox.find("k2") is None
            assert uow.outbox.find("k1") == _message("k1")

    def test_update_of_a_missing_key(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.outbox.update(_message("nope"))

    def test_list_due_oldest_first_pending_only(self, backend: Backend) -> None:
        later = NOW + dt.timedelta(hours=1)
        with backend.unit_of_work() as uow:
            uow.outbox.add(_message("b", at=NOW))
            uow.outbox.add(_message("a", at=NOW))
            uow.outbox.add(_message("c", at=NOW - dt.timedelta(minutes=5)))
            uow.outbox.add(_message("future", at=later))
            uow.outbox.add(attrs.evolve(_message("sent"), status=OutboxStatus.SENT))
            uow.commit()
        with backend.unit_of_work() as uow:
            # The same instant in another time zone compares equal.
            assert [m.key for m in uow.outbox.list_due(NOW.astimezone(dt.UTC), limit=10)] == [
                "c",
                "a",
                "b",
            ]
            assert [m.key for m in uow.outbox.list_due(later, limit=2)] == ["c", "a"]
            assert [m.key for m in uow.outbox.list_for_subject("a")] == [
                "a",
                "b",
                "c",
                "future",
                "sent",
            ]
            pending = uow.outbox.list_for_subject("a", status=OutboxStatus.PENDING)
            assert "sent" not in {m.key for m in pending}
            assert uow.outbox.counts() == {OutboxStatus.PENDING: 4, OutboxStatus.SENT: 1}

    def test_list_for_subjects_merges_the_people_by_key(self, backend: Backend) -> None:
        with backend.unit_of_work() as uow:
            uow.outbox.add(_message("b2", subject_id="b"))
            uow.outbox.add(_message("a1", subject_id="a"))
            uow.outbox.add(_message("c1", subject_id="c"))
            uow.outbox.add(_message("B1", subject_id="b"))
            uow.outbox.add(_message("none", subject_id=None))
            uow.outbox.add(attrs.evolve(_message("a0", subject_id="a"), status=OutboxStatus.SENT))
            uow.commit()
        with backend.unit_of_work() as uow:
            # Uncommitted changes of the unit of work are seen.
            uow.outbox.add(_message("b0", subject_id="b"))
            listed = uow.outbox.list_for_subjects(["b", "a", "nobody", "b"])
            assert [m.key for m in listed] == ["B1", "a0", "a1", "b0", "b2"]
            assert listed == sorted(
                uow.outbox.list_for_subject("a") + uow.outbox.list_for_subject("b"),
                key=lambda m: m.key,
            )
            pending = uow.outbox.list_for_subjects(["a", "b"], status=OutboxStatus.PENDING)
            assert [m.key for m in pending] == ["B1", "a1", "b0", "b2"]
            sent = uow.outbox.list_for_subjects(("a", "c"), status=OutboxStatus.SENT)
            assert [m.key for m in sent] == ["a0"]
            assert uow.outbox.list_for_subjects([]) == []
            assert uow.outbox.list_for_subjects(iter(["c"])) == [_message("c1", subject_id="c")]

    def test_two_units_of_work_planning_one_key_keep_one(self, backend: Backend) -> None:
        self.require("supports_concurrent_units_of_work")
        one = backend.unit_of_work()
        two = backend.unit_of_work()
        with one, two:
            assert one.outbox.add(_message("k"))
            one.commit()
            try:
                two.outbox.add(attrs.evolve(_message("k"), body="second"))
                two.commit()
            except ConflictError:
                pass
        with backend.unit_of_work() as uow:
            assert uow.outbox.find("k") == _message("k")


class _Provider(RecordingGateway):
    """A recording gateway that checks, as each message goes out, that it is still due."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(clock=FixedClock(NOW))
        self.backend = backend
        self.violations: list[str] = []

    def send(self, message):  # type: ignore[no-untyped-def]  # same signature as the base
        from immreg.duelist import parse_episode

        with self.backend.unit_of_work() as uow:
            stored = uow.outbox.find(message.idempotency_key)
            assert stored is not None
            assert stored.subject_id is not None
            due = {
                (s.vaccine_group, s.dose_number)
                for s in uow.due.list_for_subject(stored.subject_id)
            }
            if not parse_episode(stored.episode) <= due:
                self.violations.append(message.idempotency_key)
        return super().send(message)


class OutreachContract(MessagingContractBase):
    """The use cases over a backend: summaries kept with the record, due lists, reminders."""

    def registry(self, backend: Backend, at: dt.datetime = NOW) -> Registry:
        """A registry with the ``vn-epi`` schedule and a clock fixed at ``at``."""
        return Registry(backend, clock=FixedClock(at), user="nv.lan", schedule="vn-epi")

    def test_due_list_follows_the_record(self, backend: Backend) -> None:
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(child("a"))
        reg.register_subject(child("b", died=dt.date(2026, 5, 1)))
        reg.record_dose(AdministeredDose("a1", "a", "HEPB-BD", _BORN, "S1"))
        due = reg.due_list("C1", session_date=dt.date(2026, 5, 5))
        groups = {g.vaccine_group: g for g in due.groups}
        assert {e.subject_id for g in due.groups for e in g.entries} == {"a"}
        assert groups["Viêm gan B"].entries[0].dose_number == 2
        assert groups["Lao (BCG)"].entries[0].status is DueStatus.DEFAULTER
        reg.record_dose(AdministeredDose("a2", "a", "BCG", dt.date(2026, 5, 4), "S1"))
        after = reg.due_list("C1", session_date=dt.date(2026, 5, 5))
        assert "Lao (BCG)" not in {g.vaccine_group for g in after.groups}
        assert {d.product_code for d in after.demand} >= {"PENTA-COMBE5", "BOPV"}

    def test_a_dose_cancels_pending_reminders_in_the_same_transaction(
        self, backend: Backend
    ) -> None:
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(child("a"))
        report = reg.plan_reminders("C1")
        assert report.planned == 1
        assert reg.plan_reminders("C1").planned == 0
        with backend.unit_of_work() as uow:
            (planned,) = uow.outbox.list_for_subject("a")
        assert "Bại liệt uống (bOPV)#1" in planned.episode  # the missed 31/03 visit
        reg.record_dose(AdministeredDose("a1", "a", "BOPV", dt.date(2026, 5, 4), "S1"))
        with backend.unit_of_work() as uow:
            statuses = {m.status for m in uow.outbox.list_for_subject("a")}
        assert statuses == {OutboxStatus.CANCELLED}
        gateway = RecordingGateway()
        assert reg.dispatch_reminders(gateway).sent == 0
        assert gateway.sent == []

    def test_dispatch_cancels_a_reminder_its_summaries_no_longer_list(
        self, backend: Backend
    ) -> None:
        # The race a nightly plan can lose: it read the summaries, then a dose recorded
        # elsewhere refreshed them (and cancelled what it could see) before the plan's
        # message was committed.
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(child("a"))
        reg.register_subject(child("b"))
        assert reg.plan_reminders("C1").planned == 2
        with backend.unit_of_work() as uow:
            uow.due.replace("a", [])  # as if the dose were recorded, without the cancelling
            uow.commit()
        gateway = RecordingGateway()
        report = reg.dispatch_reminders(
            gateway, quiet_hours=QuietHours(start=NOW.time(), end=NOW.time())
        )
        assert (report.sent, report.skipped) == (1, 1)
        assert [m.idempotency_key.split(":")[1] for m in gateway.sent] == ["b"]
        with backend.unit_of_work() as uow:
            (moot,) = uow.outbox.list_for_subject("a")
        assert moot.status is OutboxStatus.CANCELLED

    def test_a_failed_dose_keeps_the_reminder(self, backend: Backend) -> None:
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(child("a"))
        reg.plan_reminders("C1")
        with pytest.raises(ValidationError):
            reg.record_dose(AdministeredDose("x", "a", "BCG", dt.date(2027, 1, 1), "S1"))
        with backend.unit_of_work() as uow:
            assert {m.status for m in uow.outbox.list_for_subject("a")} == {OutboxStatus.PENDING}

    def test_a_bulk_load_stores_the_due_summaries_with_the_batch(self, backend: Backend) -> None:
        self.seed(backend, child("stored"))
        reg = self.registry(backend)
        records = [
            (child("a"), [AdministeredDose("a1", "a", "HEPB-BD", _BORN, "S1")]),
            (child("b", died=dt.date(2026, 4, 1)), []),
            (child("c"), [AdministeredDose("c1", "c", "BCG", _BORN, "S1")]),
            (child("d"), []),
        ]
        reg.bulk_load(records, load_id="L", batch_size=2)
        with backend.unit_of_work() as uow:
            loaded = {s: uow.due.list_for_subject(s) for s in ("a", "b", "c", "d", "stored")}
        reg.refresh_due(["a", "b", "c", "d"])  # the same as recomputing from the record
        with backend.unit_of_work() as uow:
            assert loaded == {s: uow.due.list_for_subject(s) for s in loaded}
        assert loaded["b"] == []
        assert "Viêm gan B" in {s.vaccine_group for s in loaded["c"]}
        assert "Lao (BCG)" not in {s.vaccine_group for s in loaded["c"]}
        assert "Lao (BCG)" in {s.vaccine_group for s in loaded["d"]}
        assert loaded["stored"] == []  # not loaded: refreshed only by refresh_due

    def test_planning_in_batches_plans_what_one_transaction_plans(self, backend: Backend) -> None:
        from immreg.outreach import plan_reminders, plan_reminders_in_batches

        self.seed(backend)
        reg = self.registry(backend)
        for i, unit in enumerate(["C1", "C2", "S1", "C1", "C2"]):
            reg.register_subject(child(f"p{i}", unit=unit))
        report = plan_reminders_in_batches(
            backend, "VN", as_of=NOW.date(), at=NOW, units_per_batch=1
        )
        assert report.planned == 5
        with backend.unit_of_work() as uow:
            keys = {m.key for i in range(5) for m in uow.outbox.list_for_subject(f"p{i}")}
            again = plan_reminders(uow, "VN", as_of=NOW.date(), at=NOW)
        assert len(keys) == 5
        assert (again.people, again.planned, again.already_planned) == (5, 0, 5)
        with pytest.raises(ValidationError):
            plan_reminders_in_batches(backend, "VN", as_of=NOW.date(), at=NOW, units_per_batch=0)

    def test_opted_out_and_moved_people_get_nothing(self, backend: Backend) -> None:
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(child("out", opted_out=True))
        reg.register_subject(child("moved", moved_on=dt.date(2026, 4, 1)))
        assert reg.plan_reminders("C1").planned == 0

    def test_dispatch_retries_with_backoff_then_gives_up(self, backend: Backend) -> None:
        self.seed(backend)
        reg = self.registry(backend)
        reg.register_subject(child("a"))
        reg.plan_reminders("C1")
        gateway = RecordingGateway()
        gateway.fail_next(10)
        retry = RetryPolicy(max_attempts=3, base_delay=dt.timedelta(minutes=10))
        clock = FixedClock(NOW)
        assert dispatch(backend, gateway, clock=clock, retry=retry).retried == 1
        # Not due again until the backoff has passed.
        assert dispatch(backend, gateway, clock=clock, retry=retry).retried == 0
        later = FixedClock(NOW + dt.timedelta(minutes=10))
        assert dispatch(backend, gateway, clock=later, retry=retry).retried == 1
        latest = FixedClock(NOW + dt.timedelta(minutes=30))
        assert dispatch(backend, gateway, clock=latest, retry=retry).failed == 1
        with backend.unit_of_work() as uow:
            (m,) = uow.outbox.list_for_subject("a")
        assert m.status is OutboxStatus.FAILED
        assert m.attempts == 3
        assert m.last_error is not None
        assert "fail_next" in m.last_error
        assert gateway.sent == []

    def test_nothing_is_sent_in_quiet_hours(self, backend: Backend) -> None:
        self.seed(backend)
        late = NOW.replace(hour=22)
        reg = self.registry(backend, late)
        reg.register_subject(child("a"))
        reg.plan_reminders("C1")
        gateway = RecordingGateway()
        report = reg.dispatch_reminders(gateway)
        assert report.quiet
        assert gateway.sent == []
        morning = late + dt.timedelta(hours=9)  # 07:00 the next day
        assert dispatch(backend, gateway, clock=FixedClock(morning)).sent == 1
        assert not QuietHours().is_quiet(morning)

    def test_never_after_the_dose_never_in_quiet_hours(self, backend: Backend) -> None:
        """Random days of planning, dosing and dispatching: no message goes out in quiet
        hours, and none names a dose that was recorded before it went out."""
        self.seed(backend)
        counter = iter(range(10**6))
        provider = _Provider(backend)
        quiet = QuietHours()
        policy = ReminderPolicy(days_before=3, missed_after_days=2)

        step = st.tuples(
            st.integers(0, 4),  # days forward
            st.integers(0, 23 * 60 + 59),  # minute of the day
            st.sampled_from(["plan", "dose", "dispatch", "plan+dispatch"]),
        )

        @self.examples()
        @given(st.lists(step, min_size=1, max_size=12))
        def check(steps: list[tuple[int, int, str]]) -> None:
            sid = f"p{next(counter)}"
            reg = self.registry(backend)
            reg.register_subject(child(sid, born=dt.date(2026, 3, 1)))
            day = dt.date(2026, 4, 20)
            for forward, minute, action in steps:
                day += dt.timedelta(days=forward)
                at = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), _TZ)
                reg = self.registry(backend, at)
                if "plan" in action:
                    reg.plan_reminders("C1", policy=policy)
                if action == "dose":
                    with backend.unit_of_work() as uow:
                        due = uow.due.list_for_subject(sid)
                    for s in due:
                        if s.earliest <= day and s.vaccines:
                            reg.record_dose(
                                AdministeredDose(
                                    f"{sid}-{next(counter)}", sid, s.vaccines[0], day, "S1"
                                )
                            )
                            break
                if "dispatch" in action:
                    before = len(provider.sent)
                    reg.dispatch_reminders(provider)
                    if len(provider.sent) > before:
                        assert not quiet.is_quiet(at)
            assert provider.violations == []

        check()
