"""The dispatcher as its own process, for the crash test.

:func:`run` is the process's body (started by multiprocessing's forkserver, whose server has
imported immreg once, so each process starts in milliseconds); ``python _dispatcher_process.py
DB_URL PROVIDER_URL TOKEN`` runs the same from a shell. Either says it is ready once connected,
then dispatches everything due at a fixed 10:00 (outside quiet hours)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import sqlalchemy.dialects.sqlite  # noqa: F401  (imported once, in the forkserver)

from immreg.backends.gateways import HttpSmsGateway
from immreg.backends.sqlalchemy import open_sqlalchemy_backend
from immreg.messaging import dispatch
from immreg.services import LOCAL_TZ, FixedClock

CLOCK = FixedClock(dt.datetime(2026, 5, 4, 10, 0, tzinfo=LOCAL_TZ))


def run(url: str, endpoint: str, token: str, ready: Any = None) -> None:
    """Dispatch everything due; set ``ready`` (an Event) once connected, or print "ready"."""
    # The SQL backend directly: open_backend's entry-point scan costs a second per process.
    backend = open_sqlalchemy_backend(url)
    gateway = HttpSmsGateway(endpoint, token=token, timeout=5, backoff=0.01)
    with backend.unit_of_work() as uow:
        uow.outbox.counts()  # connected and the schema is there
    if ready is not None:
        ready.set()
    else:
        print("ready", flush=True)
    report = dispatch(backend, gateway, clock=CLOCK)
    if ready is None:
        print(report, flush=True)
    backend.close()


def main() -> int:
    """The command-line entry point."""
    run(*sys.argv[1:4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
