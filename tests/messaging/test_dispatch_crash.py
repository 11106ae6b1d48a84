"""Crash test: a dispatcher process killed with SIGKILL at random points, 20 runs.

A real provider listens on loopback and counts deliveries per idempotency key; each run plans
a batch of messages, starts the dispatcher as a subprocess, kills it (SIGKILL) after a random
delay, then runs a dispatcher to completion in the test's own process. Every planned message
must reach the provider, and the provider must count exactly one delivery per key, however
often it was resent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import _dispatcher_process
import pytest
from _sms_provider import TOKEN, running_provider

from immreg.backends import open_backend
from immreg.backends.gateways import HttpSmsGateway
from immreg.messaging import OutboxMessage, OutboxStatus, dispatch
from immreg.services import LOCAL_TZ, FixedClock

RUNS = 20
PER_RUN = 20
PLANNED_AT = dt.datetime(2026, 5, 4, 8, 0, tzinfo=LOCAL_TZ)
CLOCK = FixedClock(dt.datetime(2026, 5, 4, 10, 0, tzinfo=LOCAL_TZ))


def _start(ctx: Any, url: str, endpoint: str) -> Any:
    """Start a dispatcher process; return it once it is connected."""
    ready = ctx.Event()
    proc = ctx.Process(target=_dispatcher_process.run, args=(url, endpoint, TOKEN, ready))
    proc.start()
    assert ready.wait(timeout=60), "the dispatcher did not start"
    return proc


@pytest.mark.slow
def test_sigkilled_dispatcher_neither_loses_nor_doubles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    backend = open_backend(url)
    rng = random.Random(20261122)
    interrupted = 0
    # forkserver: one clean, single-threaded server imports immreg once and forks each
    # dispatcher from it, so a process starts in milliseconds (a fresh interpreter: ~1 s).
    # The server must find the helper module to preload it (it fails silently otherwise).
    here = str(Path(__file__).parent)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    )
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["_dispatcher_process"])
    # 20 messages x 20 ms keeps a batch busy past the latest kill (0.25 s), so kills land
    # mid-batch even on a fast, idle machine.
    with running_provider(delay=0.02) as provider:
        for run in range(RUNS):
            keys = [f"run{run:02d}-msg{i:02d}" for i in range(PER_RUN)]
            with backend.unit_of_work() as uow:
                for k in keys:
                    uow.outbox.add(
                        OutboxMessage(
                            key=k,
                            to="+84912345678",
                            body=f"Nhắc lịch tiêm {k}",
                            created_at=PLANNED_AT,
                            not_before=PLANNED_AT,
                        )
                    )
                uow.commit()
            victim = _start(ctx, url, provider.url)
            time.sleep(rng.uniform(0.0, 0.25))
            # ProcessLookupError: it finished its whole batch before the kill and its parent
            # (the fork server) already reaped it: a run without a crash, counted below.
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim.pid, signal.SIGKILL)
            victim.join(timeout=30)
            assert victim.exitcode in (-signal.SIGKILL, 0)
            delivered_before = sum(provider.deliveries[k] for k in keys)
            if 0 < delivered_before < PER_RUN and victim.exitcode == -signal.SIGKILL:
                interrupted += 1
            # The next dispatcher (here, in this process) finishes the batch.
            gateway = HttpSmsGateway(provider.url, token=TOKEN, timeout=5, backoff=0.01)
            report = dispatch(backend, gateway, clock=CLOCK)
            assert report.sent + delivered_before >= PER_RUN
            # At least once: every key reached the provider; exactly once as it counts them.
            assert {k: provider.deliveries[k] for k in keys} == dict.fromkeys(keys, 1)
            with backend.unit_of_work() as uow:
                states = {uow.outbox.find(k).status for k in keys}  # type: ignore[union-attr]
            assert states == {OutboxStatus.SENT}
    backend.close()
    # The random kills did land mid-batch (otherwise the test proves nothing).
    assert interrupted >= RUNS // 4, interrupted
