"""The SQL due-list query's planner settings on PostgreSQL (immreg.backends.sqlalchemy)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from immreg.backends import open_backend
from immreg.duelist import DueSummary
from immreg.model import OrgLevel, OrgUnit, ParentLink
from immreg.testing.messaging_conformance import child

DAY = dt.date(2026, 5, 20)
_SETTINGS = sa.text(
    "SELECT current_setting('random_page_cost'), "
    "current_setting('max_parallel_workers_per_gather')"
)


def test_list_due_puts_the_planner_settings_back(postgres_url: str) -> None:
    backend = open_backend(postgres_url)
    since = dt.date(2020, 1, 1)
    with backend.unit_of_work() as uow:
        uow.org_units.add(OrgUnit("P", "Tỉnh", OrgLevel.PROVINCE, opened=since))
        uow.org_units.add(
            OrgUnit("C1", "Xã 1", OrgLevel.COMMUNE, parents=[ParentLink("P", since)])
        )
        uow.subjects.add(child("a"))
        uow.due.replace("a", [DueSummary("a", "Sởi", 1, DAY, DAY)])
        uow.commit()
    try:
        with backend.unit_of_work() as uow:
            # The transaction's own values, which the due-list query must leave as they were.
            uow.run(sa.text("SELECT set_config('random_page_cost', '3.5', true)"))
            uow.run(sa.text("SELECT set_config('max_parallel_workers_per_gather', '1', true)"))
            rows = uow.due.list_due(["C1"], on=DAY, until=DAY)
            assert tuple(uow.run(_SETTINGS).one()) == ("3.5", "1")
        assert [(r.summary.subject_id, r.summary.vaccine_group) for r in rows] == [("a", "Sởi")]
    finally:
        backend.close()
