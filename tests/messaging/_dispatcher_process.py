"""The dispatcher as its own process, for the crash test: python _dispatcher_process.py DB_URL
PROVIDER_URL TOKEN. Prints "ready" once imported and connected, then dispatches everything due
at a fixed 10:00 (outside quiet hours) and prints the report."""

from __future__ import annotations

import datetime as dt
import sys

from immreg.backends import open_backend
from immreg.backends.gateways import HttpSmsGateway
from immreg.messaging import dispatch
from immreg.services import LOCAL_TZ, FixedClock


def main() -> int:
    url, endpoint, token = sys.argv[1:4]
    backend = open_backend(url, create_schema=False)
    gateway = HttpSmsGateway(endpoint, token=token, timeout=5, backoff=0.01)
    clock = FixedClock(dt.datetime(2026, 5, 4, 10, 0, tzinfo=LOCAL_TZ))
    print("ready", flush=True)
    report = dispatch(backend, gateway, clock=clock)
    print(report, flush=True)
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
