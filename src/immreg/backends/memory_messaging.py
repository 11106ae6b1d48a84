"""Due summaries and the message outbox in the in-memory backend.

Like the rest of :mod:`immreg.backends.memory`: a unit of work writes into pending
dictionaries of its own, reads through them, and on commit :meth:`MemoryOutboxRepository.check`
re-checks against what others committed meanwhile before
:meth:`~MemoryOutboxRepository.apply` makes the writes visible; a rollback drops them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from immreg.duelist import DueRow, DueSummary, ReminderTarget, reminder_phone
from immreg.errors import ConflictError, NotFoundError, ValidationError
from immreg.messaging import OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from immreg.backends.memory import MemoryUnitOfWork

__all__ = ["MemoryDueSummaryRepository", "MemoryOutboxRepository", "MessagingStore"]


@attrs.define
class MessagingStore:
    """Committed due summaries (by subject) and outbox messages (by key)."""

    due: dict[str, tuple[DueSummary, ...]] = attrs.field(factory=dict)
    outbox: dict[str, OutboxMessage] = attrs.field(factory=dict)


def check_summaries(subject_id: str, summaries: Sequence[DueSummary]) -> tuple[DueSummary, ...]:
    """The summaries sorted by group; raise ValidationError if one is about someone else.

    Raises:
        ValidationError: A summary names another subject, or a group appears twice.
    """
    seen: set[str] = set()
    for i, s in enumerate(summaries):
        if not isinstance(s, DueSummary) or s.subject_id != subject_id:
            raise ValidationError(f"summaries[{i}].subject_id", f"is not {subject_id!r}")
        if s.vaccine_group in seen:
            raise ValidationError(f"summaries[{i}].vaccine_group", "appears twice")
        seen.add(s.vaccine_group)
    return tuple(sorted(summaries, key=lambda s: s.vaccine_group))


class MemoryDueSummaryRepository:
    """Due summaries in memory (see :class:`immreg.ports.DueSummaryRepository`).

    Args:
        uow: The unit of work it belongs to.
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._store: MessagingStore = uow.store.messaging
        self.writes: dict[str, tuple[DueSummary, ...]] = {}

    def replace(self, subject_id: str, summaries: Sequence[DueSummary]) -> None:
        """Replace the subject's stored summaries."""
        self.writes[subject_id] = check_summaries(subject_id, summaries)

    def replace_many(self, summaries: Mapping[str, Sequence[DueSummary]]) -> None:
        """Replace the stored summaries of every subject in ``summaries``."""
        checked = {sid: check_summaries(sid, ss) for sid, ss in summaries.items()}
        self.writes.update(checked)

    def list_for_subject(self, subject_id: str) -> list[DueSummary]:
        """The subject's summaries, ordered by vaccine group."""
        if subject_id in self.writes:
            return list(self.writes[subject_id])
        return list(self._store.due.get(subject_id, ()))

    def list_due(
        self, org_unit_ids: Sequence[str], *, on: dt.date, until: dt.date
    ) -> list[DueRow]:
        """Summaries due by ``until`` that can be given on ``on``, of living residents of
        ``org_unit_ids`` on ``on``."""
        out = []
        for subject in self._uow.subjects.list_resident(org_unit_ids, on=on):
            if subject.deceased_on is not None and subject.deceased_on <= on:
                continue
            for s in self.list_for_subject(subject.id):
                givable = s.earliest <= on and (s.latest is None or s.latest >= on)
                if s.recommended <= until and givable:
                    out.append(DueRow.of(s, subject.full_name, subject.birth_date))
        return out

    def list_targets(
        self,
        org_unit_ids: Sequence[str],
        *,
        on: dt.date,
        since: dt.date | None,
        until: dt.date,
    ) -> list[ReminderTarget]:
        """Living residents on ``on`` with summaries recommended in ``[since, until]`` and
        not past their latest day, ordered by subject id."""
        out = []
        for subject in self._uow.subjects.list_resident(org_unit_ids, on=on):
            if subject.deceased_on is not None and subject.deceased_on <= on:
                continue
            kept = tuple(
                s
                for s in self.list_for_subject(subject.id)
                if s.recommended <= until
                and (since is None or s.recommended >= since)
                and (s.latest is None or s.latest >= on)
            )
            if kept:
                target = ReminderTarget(
                    subject.id, subject.full_name, reminder_phone(subject.caregivers), kept
                )
                out.append(target)
        return out

    def apply(self) -> None:
        """Make the pending writes visible (called by the commit, under the store lock)."""
        self._store.due.update(self.writes)


class MemoryOutboxRepository:
    """The message outbox in memory (see :class:`immreg.ports.OutboxRepository`).

    Args:
        uow: The unit of work it belongs to.
    """

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._store: MessagingStore = uow.store.messaging
        self.writes: dict[str, OutboxMessage] = {}
        # Key -> the committed message this unit of work saw before writing (None: added).
        self.expected: dict[str, OutboxMessage | None] = {}

    def _get(self, key: str) -> OutboxMessage | None:
        if key in self.writes:
            return self.writes[key]
        return self._store.outbox.get(key)

    def add(self, message: OutboxMessage) -> bool:
        """Store a planned message unless its key is taken."""
        if self._get(message.key) is not None:
            return False
        self.expected.setdefault(message.key, None)
        self.writes[message.key] = message
        return True

    def add_many(self, messages: Sequence[OutboxMessage]) -> int:
        """Store each message whose key is not taken; how many were stored."""
        return sum(self.add(m) for m in messages)

    def find(self, key: str) -> OutboxMessage | None:
        """Return the message or ``None``."""
        return self._get(key)

    def update(self, message: OutboxMessage) -> None:
        """Replace a stored message's state."""
        old = self._get(message.key)
        if old is None:
            raise NotFoundError("outbox message", message.key)
        if message.key not in self.writes:
            self.expected.setdefault(message.key, old)
        self.writes[message.key] = message

    def _all(self) -> list[OutboxMessage]:
        merged = dict(self._store.outbox)
        merged.update(self.writes)
        return list(merged.values())

    def list_due(self, at: dt.datetime, *, limit: int) -> list[OutboxMessage]:
        """Pending messages due at ``at``, oldest first, at most ``limit``."""
        due = [
            m
            for m in self._all()
            if m.status is OutboxStatus.PENDING
            and m.next_attempt_at is not None
            and m.next_attempt_at <= at
        ]
        due.sort(key=lambda m: (m.next_attempt_at, m.key))
        return due[:limit]

    def list_for_subject(
        self, subject_id: str, *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about one person, ordered by key."""
        found = [
            m
            for m in self._all()
            if m.subject_id == subject_id and (status is None or m.status is status)
        ]
        return sorted(found, key=lambda m: m.key)

    def list_for_subjects(
        self, subject_ids: Iterable[str], *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about any of these people, ordered by key."""
        wanted = set(subject_ids)
        found = [
            m
            for m in self._all()
            if m.subject_id in wanted and (status is None or m.status is status)
        ]
        return sorted(found, key=lambda m: m.key)

    def counts(self) -> dict[OutboxStatus, int]:
        """Messages per state."""
        out: dict[OutboxStatus, int] = {}
        for m in self._all():
            out[m.status] = out.get(m.status, 0) + 1
        return out

    def check(self) -> None:
        """Raise ConflictError if another unit of work committed over what this one saw.

        Raises:
            ConflictError: A key this one added was added meanwhile, or a message it
                updated was changed meanwhile; nothing is kept.
        """
        for key, seen in self.expected.items():
            if self._store.outbox.get(key) != seen:
                raise ConflictError(
                    f"outbox message {key!r} was changed by another unit of work; nothing was kept"
                )

    def apply(self) -> None:
        """Make the pending writes visible (called by the commit, under the store lock)."""
        self._store.outbox.update(self.writes)
