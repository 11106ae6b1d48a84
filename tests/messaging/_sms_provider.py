"""A real SMS provider on loopback for the gateway and crash tests: an HTTP server that
checks the auth header, answers from a script of statuses, and counts deliveries per
idempotency key (a key already delivered is acknowledged and not delivered again)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "s3cret-token"


class Provider:
    """State shared with the request handler."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.script: list[int] = []  # statuses to answer before accepting
        self.retry_after: str | None = None
        self.delay = delay
        self.requests: Counter[str] = Counter()  # every POST, per key
        self.deliveries: Counter[str] = Counter()  # delivered messages, per key
        self.bodies: dict[str, dict[str, Any]] = {}
        self.headers: list[dict[str, str]] = []
        self.url = ""


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: dict[str, Any], **headers: str) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if provider.delay:
                time.sleep(provider.delay)
            with provider.lock:
                provider.headers.append(dict(self.headers.items()))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._answer(401, {"error": "bad token"})
                    return
                body = json.loads(raw.decode("utf-8"))
                key = self.headers["Idempotency-Key"]
                assert body["idempotency_key"] == key
                provider.requests[key] += 1
                if provider.script:
                    status = provider.script.pop(0)
                    extra = {"Retry-After": provider.retry_after} if provider.retry_after else {}
                    self._answer(status, {"error": f"scripted {status}"}, **extra)
                    return
                if provider.deliveries[key] == 0:
                    provider.bodies[key] = body
                provider.deliveries[key] = 1  # the provider delivers a key once
                self._answer(200, {"id": f"p-{key}", "status": "queued"})

    return Handler


@contextmanager
def running_provider(*, delay: float = 0.0) -> Iterator[Provider]:
    """A provider listening on 127.0.0.1 (a free port) for the length of the block."""
    provider = Provider(delay=delay)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
