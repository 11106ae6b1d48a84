"""Due summaries and the message outbox in SQL (SQLite and PostgreSQL).

Repositories over a :class:`~immreg.backends.sqlalchemy.uow.SqlAlchemyUnitOfWork`'s
connection, with the semantics of :class:`immreg.ports.DueSummaryRepository` and
:class:`immreg.ports.OutboxRepository` and of the reference in-memory backend (the same
contracts in :mod:`immreg.testing.messaging_conformance` run on both). Driver errors are
translated by the unit of work's ``run``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from immreg.backends.sqlalchemy.messaging_tables import due_summaries, outbox
from immreg.backends.sqlalchemy.tables import residences, subjects
from immreg.duelist import DueRow, DueSummary
from immreg.errors import NotFoundError
from immreg.messaging import OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from immreg.backends.sqlalchemy.uow import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyDueSummaryRepository", "SqlAlchemyOutboxRepository"]

_select_for_subject = (
    sa.select(due_summaries)
    .where(due_summaries.c.subject_id == sa.bindparam("subject_id"))
    .order_by(due_summaries.c.vaccine_group)
)
_delete_for_subject = sa.delete(due_summaries).where(
    due_summaries.c.subject_id == sa.bindparam("subject_id")
)
# The due list: residents on :on of :units (index ix_residences_org_unit), alive on :on,
# joined to their summaries (primary key prefix subject_id) recommended by :until.
_select_due = (
    sa.select(
        *due_summaries.c,
        subjects.c.family_name,
        subjects.c.given_name,
        subjects.c.birth_date,
    )
    .select_from(
        residences.join(subjects, subjects.c.id == residences.c.subject_id).join(
            due_summaries, due_summaries.c.subject_id == residences.c.subject_id
        )
    )
    .where(
        residences.c.org_unit_id.in_(sa.bindparam("units", expanding=True)),
        residences.c.start <= sa.bindparam("on"),
        sa.or_(residences.c.end.is_(None), residences.c.end > sa.bindparam("on")),
        sa.or_(subjects.c.deceased_on.is_(None), subjects.c.deceased_on > sa.bindparam("on")),
        due_summaries.c.recommended <= sa.bindparam("until"),
    )
    .order_by(due_summaries.c.subject_id, due_summaries.c.vaccine_group)
)
_ever = residences.alias("ever")
_select_due_scoped = _select_due.where(
    sa.exists().where(
        _ever.c.subject_id == residences.c.subject_id,
        _ever.c.org_unit_id.in_(sa.bindparam("scope_units", expanding=True)),
    )
)
_select_message = sa.select(outbox).where(outbox.c.key == sa.bindparam("b_key"))
_update_message = (
    sa.update(outbox)
    .where(outbox.c.key == sa.bindparam("b_key"))
    .values(
        {
            c.name: sa.bindparam(c.name)
            for c in outbox.columns
            if c.name not in ("key", "created_at", "subject_id", "episode", "kind")
        }
    )
)
_select_due_messages = (
    sa.select(outbox)
    .where(
        outbox.c.status == OutboxStatus.PENDING.value,
        outbox.c.next_attempt_at <= sa.bindparam("at"),
    )
    .order_by(outbox.c.next_attempt_at, outbox.c.key)
    .limit(sa.bindparam("limit"))
)
_count_by_status: Any = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)


def summary_to_row(s: DueSummary) -> dict[str, Any]:
    """A ``due_summaries`` row for a summary."""
    return {
        "subject_id": s.subject_id,
        "vaccine_group": s.vaccine_group,
        "dose_number": s.dose_number,
        "earliest": s.earliest,
        "recommended": s.recommended,
        "past_due": s.past_due,
        "latest": s.latest,
        "vaccines": " ".join(s.vaccines),
    }


def summary_from_row(r: Any) -> DueSummary:
    """The summary of a ``due_summaries`` row."""
    return DueSummary(
        r.subject_id,
        r.vaccine_group,
        r.dose_number,
        r.earliest,
        r.recommended,
        r.past_due,
        r.latest,
        tuple(r.vaccines.split()),
    )


def message_to_row(m: OutboxMessage) -> dict[str, Any]:
    """An ``outbox`` row for a message."""
    return {
        "key": m.key,
        "recipient": m.to,
        "body": m.body,
        "created_at": m.created_at,
        "not_before": m.not_before,
        "subject_id": m.subject_id,
        "episode": m.episode,
        "kind": m.kind,
        "status": m.status.value,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "sent_at": m.sent_at,
        "provider_id": m.provider_id,
        "last_error": m.last_error,
    }


def message_from_row(r: Any) -> OutboxMessage:
    """The message of an ``outbox`` row."""
    return OutboxMessage(
        key=r.key,
        to=r.recipient,
        body=r.body,
        created_at=r.created_at,
        not_before=r.not_before,
        subject_id=r.subject_id,
        episode=r.episode,
        kind=r.kind,
        status=OutboxStatus(r.status),
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        sent_at=r.sent_at,
        provider_id=r.provider_id,
        last_error=r.last_error,
    )


class SqlAlchemyDueSummaryRepository:
    """Due summaries in SQL (see :class:`immreg.ports.DueSummaryRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def replace(self, subject_id: str, summaries: Sequence[DueSummary]) -> None:
        """Replace the subject's stored summaries (a delete and one multi-row insert).

        Raises:
            ValidationError: A summary is about another subject, or names a group twice.
        """
        from immreg.backends.memory_messaging import check_summaries

        checked = check_summaries(subject_id, summaries)
        self._uow.run(_delete_for_subject, {"subject_id": subject_id})
        if checked:
            self._uow.run(sa.insert(due_summaries), [summary_to_row(s) for s in checked])

    def list_for_subject(self, subject_id: str) -> list[DueSummary]:
        """The subject's summaries, ordered by vaccine group."""
        rows = self._uow.run(_select_for_subject, {"subject_id": subject_id})
        return [summary_from_row(r) for r in rows]

    def list_due(
        self, org_unit_ids: Sequence[str], *, on: dt.date, until: dt.date
    ) -> list[DueRow]:
        """Summaries due by ``until`` of living residents of ``org_unit_ids`` on ``on``.

        One query. In a scoped unit of work, only org units inside the scope are listed.
        """
        units = list(dict.fromkeys(org_unit_ids))
        if not units:
            return []
        params: dict[str, Any] = {"units": units, "on": on, "until": until}
        stmt = _select_due
        if self._uow.scope is not None:
            # The scoping rule of every backend: a subject is inside if any of its
            # residences, at any time, is in the scope's subtree.
            stmt = _select_due_scoped
            params["scope_units"] = sorted(self._uow.subtree())
        # Positional tuples and no per-row helper calls: this loop is most of the due
        # list's time for a large commune.
        rows: Any = self._uow.run(stmt, params).all()
        return [
            DueRow(
                DueSummary(sid, group, n, earliest, rec, past, latest, tuple(vaccines.split())),
                f"{family} {given}",
                born,
            )
            for sid, group, n, earliest, rec, past, latest, vaccines, family, given, born in rows
        ]


class SqlAlchemyOutboxRepository:
    """The message outbox in SQL (see :class:`immreg.ports.OutboxRepository`).

    Args:
        uow: The unit of work whose connection it uses.
    """

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    def add(self, message: OutboxMessage) -> bool:
        """Store a planned message unless its key is taken (``INSERT ... ON CONFLICT DO
        NOTHING``, so the unit of work survives a taken key)."""
        stmt = self._uow.insert_ignore(outbox)
        return bool(self._uow.run(stmt, message_to_row(message)).rowcount == 1)

    def find(self, key: str) -> OutboxMessage | None:
        """Return the message or ``None``."""
        row = self._uow.run(_select_message, {"b_key": key}).first()
        return message_from_row(row) if row is not None else None

    def update(self, message: OutboxMessage) -> None:
        """Replace a stored message's state.

        Raises:
            NotFoundError: No message has this key.
        """
        row = message_to_row(message)
        params = {k: v for k, v in row.items() if k not in ("created_at", "subject_id")}
        params["b_key"] = params.pop("key")
        params.pop("episode")
        params.pop("kind")
        if self._uow.run(_update_message, params).rowcount != 1:
            raise NotFoundError("outbox message", message.key)

    def list_due(self, at: dt.datetime, *, limit: int) -> list[OutboxMessage]:
        """Pending messages due at ``at``, oldest first, at most ``limit``."""
        rows = self._uow.run(_select_due_messages, {"at": at, "limit": limit})
        return [message_from_row(r) for r in rows]

    def list_for_subject(
        self, subject_id: str, *, status: OutboxStatus | None = None
    ) -> list[OutboxMessage]:
        """Messages about one person, ordered by key."""
        stmt = sa.select(outbox).where(outbox.c.subject_id == subject_id)
        if status is not None:
            stmt = stmt.where(outbox.c.status == status.value)
        return [message_from_row(r) for r in self._uow.run(stmt.order_by(outbox.c.key))]

    def counts(self) -> dict[OutboxStatus, int]:
        """Messages per state."""
        rows: list[Any] = list(self._uow.run(_count_by_status))
        return {OutboxStatus(r[0]): int(r[1]) for r in rows}
