"""The ``immreg due-list`` and ``immreg reminders plan|dispatch`` commands (part of the CLI).

* ``immreg due-list --db URL --org-unit ID [--date D] [--window N] [--defaulter-days N]
  [--schedule SPEC --refresh]``: a session's due list, grouped by vaccine group, with the
  demand per product and the defaulters. ``--refresh`` first recomputes the residents' due
  summaries with the schedule (for a database filled without one).
* ``immreg reminders refresh --db URL --org-unit ID [--schedule SPEC]``: recompute the due
  summaries of the org unit's residents, 500 people a transaction (after a schedule change,
  or for people stored before the registry had a schedule; bulk loads given a schedule and
  every dose recorded keep them current on their own).
* ``immreg reminders plan --db URL --org-unit ID [--session-date D] [--language vi|en]
  [--diacritics auto|keep|strip]``: plan today's reminders into the outbox, one transaction
  per 20 org units of the subtree.
* ``immreg reminders dispatch --db URL [--gateway console|http] [--endpoint URL]
  [--token-env VAR] [--limit N]``: send what is due; the HTTP gateway's token is read from
  the environment variable named by ``--token-env`` (``IMMREG_SMS_TOKEN`` by default).

Like the rest of the CLI, these read argv, the environment and the system clock (``--today``
and ``--at`` fix the date and instant instead); everything below them takes them as
arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any, TextIO

from immreg.errors import ValidationError

__all__ = ["add_messaging_commands"]


def _registry(args: argparse.Namespace, *, schedule: str | None = None) -> Any:
    from immreg.backends import open_backend
    from immreg.services import LOCAL_TZ, FixedClock, Registry, SystemClock

    clock: Any = SystemClock()
    if args.at:
        at = dt.datetime.fromisoformat(args.at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=LOCAL_TZ)
        clock = FixedClock(at)
    elif args.today:
        clock = FixedClock(dt.datetime.combine(_date(args.today, "today"), dt.time(8), LOCAL_TZ))
    return Registry(open_backend(args.db), clock=clock, user="cli", schedule=schedule)


def _date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(field, f"{text!r} is not a date written YYYY-MM-DD") from None


def _cmd_due_list(args: argparse.Namespace, out: TextIO) -> int:
    reg = _registry(args, schedule=args.schedule if args.refresh else None)
    try:
        day = _date(args.date, "date") if args.date else reg.clock.today()
        if args.refresh:
            reg.refresh_due(s.id for s in reg.subjects_in(args.org_unit, on=day))
        due = reg.due_list(
            args.org_unit,
            session_date=day,
            window_days=args.window,
            defaulter_days=args.defaulter_days,
        )
    finally:
        reg.backend.close()
    print(f"Due list of {due.org_unit_id} for {due.session_date}: {due.people} people", file=out)
    for group in due.groups:
        print(f"\n{group.vaccine_group} ({len(group.entries)})", file=out)
        for e in group.entries:
            late = f", {e.days_overdue} days overdue" if e.days_overdue else ""
            print(
                f"  {e.subject_id:<12} {e.name:<28} dose {e.dose_number} "
                f"due {e.recommended} [{e.status.value}{late}]",
                file=out,
            )
    if due.demand:
        print("\nDemand:", file=out)
        for d in due.demand:
            print(f"  {d.product_code:<14} {d.doses:>5} doses {d.vials:>5} vials", file=out)
    print(f"\nDefaulters: {len(due.defaulters)}", file=out)
    return 0


def _cmd_refresh(args: argparse.Namespace, out: TextIO) -> int:
    reg = _registry(args, schedule=args.schedule)
    try:
        ids = [s.id for s in reg.subjects_in(args.org_unit)]
        for i in range(0, len(ids), 500):
            reg.refresh_due(ids[i : i + 500])
    finally:
        reg.backend.close()
    print(f"due summaries refreshed for {len(ids)} people", file=out)
    return 0


def _cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.duelist import ReminderPolicy

    reg = _registry(args)
    policy = ReminderPolicy(language=args.language, diacritics=args.diacritics)
    session = _date(args.session_date, "session_date") if args.session_date else None
    try:
        report = reg.plan_reminders(args.org_unit, policy=policy, session_date=session)
    finally:
        reg.backend.close()
    print(
        f"{report.planned} reminders planned for {report.people} people "
        f"({report.already_planned} already planned)",
        file=out,
    )
    return 0


def _cmd_dispatch(args: argparse.Namespace, out: TextIO) -> int:
    from immreg.backends.gateways import ConsoleGateway, HttpSmsGateway

    gateway: Any
    if args.gateway == "http":
        if not args.endpoint:
            raise ValidationError("endpoint", "is required with --gateway http")
        token = os.environ.get(args.token_env)
        if not token:
            raise ValidationError("token", f"set the environment variable {args.token_env}")
        gateway = HttpSmsGateway(args.endpoint, token=token)
    else:
        gateway = ConsoleGateway(out)
    reg = _registry(args)
    try:
        report = reg.dispatch_reminders(gateway, limit=args.limit)
    finally:
        reg.backend.close()
    quiet = " (quiet hours: nothing sent)" if report.quiet else ""
    print(
        f"sent {report.sent}, to retry {report.retried}, failed {report.failed}, "
        f"skipped {report.skipped}{quiet}",
        file=out,
    )
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, help="backend URL, e.g. sqlite:///registry.db")
    p.add_argument("--today", help="run as of this date (YYYY-MM-DD; default: today)")
    p.add_argument("--at", help="run at this instant (ISO 8601; local time if no offset)")


def add_messaging_commands(sub: Any) -> None:
    """Add ``due-list`` and ``reminders`` to the ``immreg`` parser's subcommands."""
    due = sub.add_parser("due-list", help="who is due or overdue at a session")
    _common(due)
    due.add_argument("--org-unit", required=True, help="facility or commune id")
    due.add_argument("--date", help="session date (default: today)")
    due.add_argument("--window", type=int, default=0, help="also list doses due N days after")
    due.add_argument("--defaulter-days", type=int, default=28, help="overdue days of a defaulter")
    due.add_argument("--schedule", default="vn-epi", help="schedule for --refresh")
    due.add_argument(
        "--refresh", action="store_true", help="recompute the residents' due summaries first"
    )
    due.set_defaults(func=_cmd_due_list)

    reminders = sub.add_parser("reminders", help="plan and send SMS reminders")
    rsub = reminders.add_subparsers(dest="reminders_command", required=True)
    refresh = rsub.add_parser("refresh", help="recompute the residents' due summaries")
    _common(refresh)
    refresh.add_argument("--org-unit", required=True, help="org unit whose residents to refresh")
    refresh.add_argument("--schedule", default="vn-epi", help="the schedule to forecast with")
    refresh.set_defaults(func=_cmd_refresh)
    plan = rsub.add_parser("plan", help="plan today's reminders into the outbox")
    _common(plan)
    plan.add_argument("--org-unit", required=True, help="facility or commune id")
    plan.add_argument("--session-date", help="the facility's next session (YYYY-MM-DD)")
    plan.add_argument("--language", choices=("vi", "en"), default="vi")
    plan.add_argument("--diacritics", choices=("auto", "keep", "strip"), default="auto")
    plan.set_defaults(func=_cmd_plan)
    send = rsub.add_parser("dispatch", help="send the outbox's due messages")
    _common(send)
    send.add_argument("--gateway", choices=("console", "http"), default="console")
    send.add_argument("--endpoint", help="the SMS provider's URL (--gateway http)")
    send.add_argument(
        "--token-env", default="IMMREG_SMS_TOKEN", help="environment variable with the token"
    )
    send.add_argument("--limit", type=int, default=1000, help="most messages to send")
    send.set_defaults(func=_cmd_dispatch)
