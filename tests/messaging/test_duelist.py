"""Due lists and reminder planning as pure functions (immreg.duelist)."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immreg.duelist import (
    DueRow,
    DueStatus,
    DueSummary,
    ReminderKind,
    ReminderPolicy,
    build_due_list,
    episode_of,
    parse_episode,
    plan_reminders,
)
from immreg.errors import ValidationError
from immreg.messaging import QuietHours
from immreg.model import Caregiver, OpenVialRule, Residence, Sex, Subject, VaccineProduct
from immreg.services import LOCAL_TZ
from immreg.testing import messaging_strategies as ms

SESSION = dt.date(2026, 5, 20)
PENTA = VaccineProduct("PENTA", "Penta", ["Diphtheria"], doses_per_vial=1)
MR = VaccineProduct(
    "MR", "MR", ["Measles"], doses_per_vial=10, open_vial_rule=OpenVialRule.DISCARD_6_HOURS
)
PRODUCTS = {"PENTA": PENTA, "MR": MR}


def _row(
    sid: str,
    group: str,
    rec: dt.date,
    *,
    vaccines: tuple[str, ...] = ("PENTA",),
    past_due: dt.date | None = None,
    earliest: dt.date | None = None,
) -> DueRow:
    s = DueSummary(sid, group, 2, earliest or rec, rec, past_due, None, vaccines)
    return DueRow.of(s, f"Name {sid}", dt.date(2026, 1, 1))


def test_due_list_groups_demand_and_defaulters() -> None:
    rows = [
        _row("a", "Hib", SESSION, past_due=SESSION + dt.timedelta(days=14)),
        _row("a", "Viêm gan B", SESSION),
        _row(
            "b", "Hib", SESSION - dt.timedelta(days=60), past_due=SESSION - dt.timedelta(days=40)
        ),
        _row("c", "Hib", SESSION - dt.timedelta(days=10), past_due=SESSION - dt.timedelta(days=3)),
        *[_row(f"m{i}", "Sởi", SESSION, vaccines=("MEASLES-X", "MR")) for i in range(11)],
        _row(
            "later", "Hib", SESSION + dt.timedelta(days=3), earliest=SESSION
        ),  # 0-day window: out
        _row("early", "Hib", SESSION, earliest=SESSION + dt.timedelta(days=1)),  # too early
    ]
    due = build_due_list(rows, org_unit_id="C1", session_date=SESSION, products=PRODUCTS)
    assert [g.vaccine_group for g in due.groups] == ["Hib", "Sởi", "Viêm gan B"]
    hib = {e.subject_id: e for e in due.groups[0].entries}
    assert set(hib) == {"a", "b", "c"}
    assert hib["a"].status is DueStatus.DUE
    assert hib["a"].days_overdue == 0
    assert hib["c"].status is DueStatus.OVERDUE
    assert hib["c"].days_overdue == 3
    assert hib["b"].status is DueStatus.DEFAULTER
    assert hib["b"].days_overdue == 40
    assert [e.subject_id for e in due.defaulters] == ["b"]
    # Child "a" needs PENTA for two groups: one dose. MR: 11 doses, 10 a vial, 2 vials.
    demand = {d.product_code: (d.doses, d.vials) for d in due.demand}
    assert demand == {"PENTA": (3, 3), "MR": (11, 2)}
    assert due.people == 14
    wider = build_due_list(
        rows, org_unit_id="C1", session_date=SESSION, window_days=3, products=PRODUCTS
    )
    assert "later" in {e.subject_id for g in wider.groups for e in g.entries}


def test_due_list_refuses_negative_windows() -> None:
    with pytest.raises(ValidationError) as e:
        build_due_list([], org_unit_id="C1", session_date=SESSION, window_days=-1)
    assert e.value.field == "window_days"
    with pytest.raises(ValidationError) as e:
        ReminderPolicy(days_before=-2)
    assert e.value.field == "days_before"


def test_episodes_round_trip() -> None:
    items = {("Viêm gan B", 3), ("Hib", 2), ("Bạch hầu - Ho gà - Uốn ván", 2)}
    assert parse_episode(episode_of(items)) == items
    assert parse_episode("") == set()


def _child(
    *, opted_out: bool = False, phone: str | None = "0912345678", died: dt.date | None = None
) -> Subject:
    born = dt.date(2026, 1, 31)
    return Subject(
        "c1",
        "Nguyễn",
        "Ngọc Anh",
        born,
        Sex.FEMALE,
        caregivers=[
            Caregiver("Trần Thị Hoa", phone=phone, sms_opt_out=opted_out),
        ],
        residences=[Residence("C1", born)],
        deceased_on=died,
    )


DUE = DueSummary(
    "c1", "Sởi", 1, dt.date(2026, 10, 31), dt.date(2026, 10, 31), dt.date(2026, 11, 14)
)
AT = dt.datetime(2026, 10, 29, 10, 0, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (dt.date(2026, 10, 28), None),
        (dt.date(2026, 10, 29), ReminderKind.BEFORE),
        (dt.date(2026, 10, 30), ReminderKind.BEFORE),
        (dt.date(2026, 10, 31), ReminderKind.SESSION_DAY),
        (dt.date(2026, 11, 6), None),
        (dt.date(2026, 11, 7), ReminderKind.MISSED),
        (dt.date(2026, 12, 7), ReminderKind.MISSED),
        (dt.date(2026, 12, 8), None),
    ],
)
def test_reminder_kind_by_day(day: dt.date, kind: ReminderKind | None) -> None:
    at = dt.datetime.combine(day, dt.time(10), LOCAL_TZ)
    planned = plan_reminders(_child(), [DUE], as_of=day, at=at, place="Xã A")
    assert [m.kind for m in planned] == ([] if kind is None else [kind.value])
    if planned:
        assert planned[0].to == "+84912345678"
        assert planned[0].episode == "Sởi#1"
        assert planned[0].subject_id == "c1"


def test_no_reminder_to_opted_out_phoneless_or_dead() -> None:
    day = dt.date(2026, 10, 31)
    for child in (_child(opted_out=True), _child(phone=None), _child(died=dt.date(2026, 6, 1))):
        assert plan_reminders(child, [DUE], as_of=day, at=AT, place="X") == []


def test_session_day_gathers_doses_due_by_then() -> None:
    other = attrs.evolve(
        DUE,
        vaccine_group="Viêm não Nhật Bản",
        recommended=dt.date(2026, 10, 20),
        earliest=dt.date(2026, 10, 20),
    )
    day = dt.date(2026, 11, 2)
    at = dt.datetime.combine(day, dt.time(8), LOCAL_TZ)
    planned = plan_reminders(_child(), [DUE, other], as_of=day, at=at, place="X", session_date=day)
    assert len(planned) == 1
    assert planned[0].episode == "Sởi#1;Viêm não Nhật Bản#1"
    assert planned[0].kind == "session_day"


@settings(max_examples=200)
@given(
    summaries=st.lists(
        ms.due_summaries(subject_id="c1"), max_size=6, unique_by=lambda s: s.vaccine_group
    ),
    at=ms.local_instants(),
    quiet=st.tuples(st.integers(0, 23), st.integers(0, 23)),
)
def test_planned_reminders_never_go_out_in_quiet_hours(
    summaries: list[DueSummary], at: dt.datetime, quiet: tuple[int, int]
) -> None:
    hours = QuietHours(dt.time(quiet[0]), dt.time(quiet[1]))
    policy = ReminderPolicy(quiet_hours=hours)
    planned = plan_reminders(_child(), summaries, as_of=at.date(), at=at, place="X", policy=policy)
    keys = [m.key for m in planned]
    assert len(keys) == len(set(keys))
    for m in planned:
        assert not hours.is_quiet(m.not_before)
        assert m.not_before >= at
        assert m.not_before - at <= dt.timedelta(hours=24)
        # Planning again is the same plan: same keys, so the outbox stores each once.
    again = plan_reminders(_child(), summaries, as_of=at.date(), at=at, place="X", policy=policy)
    assert [m.key for m in again] == keys
