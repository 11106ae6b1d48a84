"""Message gateways: implementations of :class:`immreg.ports.MessageGateway`.

* :class:`RecordingGateway` keeps what it is sent, once per idempotency key, and can be told
  to fail: for tests and for applications that hand messages on themselves.
* :class:`ConsoleGateway` prints each message (the demo's gateway).
* :class:`HttpSmsGateway` POSTs each message as JSON to an SMS provider's endpoint with an
  auth header and the idempotency key, with timeouts, retrying 429 and 5xx answers and
  network failures with exponential backoff (honouring ``Retry-After``).

Every gateway raises :class:`~immreg.errors.BackendError` when the message was not accepted,
so :func:`immreg.messaging.dispatch` can retry it later.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from immreg.errors import BackendError, ValidationError
from immreg.messaging import sms_info
from immreg.ports import Clock, Message, Receipt

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["ConsoleGateway", "HttpSmsGateway", "RecordingGateway"]


def _utc_clock() -> Clock:
    from immreg.services import SystemClock

    return SystemClock(dt.UTC)


class RecordingGateway:
    """Keeps every message it accepts, once per idempotency key.

    Args:
        clock: Stamps receipts (the system clock by default).

    Attributes:
        sent: Accepted messages, in order, one per key.
        attempts: Every call to :meth:`send`, accepted or not.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or _utc_clock()
        self.sent: list[Message] = []
        self.attempts: list[Message] = []
        self._receipts: dict[str, Receipt] = {}
        self._failures = 0
        self._lock = threading.Lock()

    def fail_next(self, n: int = 1) -> None:
        """Make the next ``n`` sends fail with :class:`~immreg.errors.BackendError`."""
        self._failures = n

    def send(self, message: Message) -> Receipt:
        """Accept the message (once per key) and return its receipt.

        Raises:
            BackendError: A failure was asked for with :meth:`fail_next`.
        """
        with self._lock:
            self.attempts.append(message)
            if self._failures > 0:
                self._failures -= 1
                raise BackendError("recording gateway: failure requested by fail_next()")
            receipt = self._receipts.get(message.idempotency_key)
            if receipt is None:
                self.sent.append(message)
                receipt = Receipt(
                    message.idempotency_key, f"rec-{len(self.sent)}", self.clock.now()
                )
                self._receipts[message.idempotency_key] = receipt
            return receipt


class ConsoleGateway:
    """Prints each message (once per idempotency key) with its encoding and segments.

    Args:
        out: Where to print (any text stream).
        clock: Stamps receipts (the system clock by default).
    """

    def __init__(self, out: SupportsWrite[str], *, clock: Clock | None = None) -> None:
        self._recorder = RecordingGateway(clock=clock)
        self.out = out

    @property
    def sent(self) -> list[Message]:
        """Messages printed, in order."""
        return self._recorder.sent

    def send(self, message: Message) -> Receipt:
        """Print the message (the first time its key is seen) and return a receipt."""
        before = len(self._recorder.sent)
        receipt = self._recorder.send(message)
        if len(self._recorder.sent) > before:
            info = sms_info(message.body)
            print(
                f"   SMS to {message.to} ({info.encoding.value}, {info.segments} segment"
                f"{'s' if info.segments != 1 else ''}): {message.body}",
                file=self.out,
            )
        return receipt


# Statuses worth trying again: the provider is throttling (429) or failing (5xx).
def _retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


class HttpSmsGateway:
    """An SMS provider reached by one JSON POST per message.

    The request body is ``{"to": ..., "body": ..., "idempotency_key": ..., "sender": ...,
    "encoding": "gsm7"|"ucs2", "segments": n}``; the key also goes in the
    ``Idempotency-Key`` header, so a provider that deduplicates on either delivers a
    resent message once. A 2xx answer is acceptance; its JSON ``"id"`` (or
    ``"message_id"``) becomes the receipt's provider id. 429 and 5xx answers, timeouts and
    connection failures are retried up to ``max_attempts`` times, waiting ``backoff``,
    then twice that..., or the ``Retry-After`` seconds the provider asks for (capped at
    ``max_wait``). Other answers fail at once.

    Args:
        endpoint: The provider's URL (``http://`` or ``https://``).
        token: Credential put in the auth header.
        auth_header: Header name (``Authorization`` by default).
        auth_scheme: Prefix of the credential (``"Bearer"``; ``""`` for none).
        sender: Sender id or short code to ask for, if any.
        timeout: Seconds to wait for the provider on each attempt.
        max_attempts: Attempts per :meth:`send`.
        backoff: Seconds before the second attempt; doubled after each further failure.
        max_wait: Longest wait between attempts, in seconds.
        clock: Stamps receipts (the system clock by default).
        sleep: How to wait (``time.sleep``; tests pass a recorder).

    Raises:
        ValidationError: The endpoint is not an http(s) URL, or a number is out of range.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        token: str,
        auth_header: str = "Authorization",
        auth_scheme: str = "Bearer",
        sender: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValidationError("endpoint", "must be an http:// or https:// URL")
        if timeout <= 0:
            raise ValidationError("timeout", "must be more than 0 seconds")
        if max_attempts < 1:
            raise ValidationError("max_attempts", "must be at least 1")
        if backoff < 0 or max_wait < 0:
            raise ValidationError("backoff", "must not be negative")
        self.endpoint = endpoint
        self._auth = (auth_header, f"{auth_scheme} {token}".strip())
        self.sender = sender
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.clock = clock or _utc_clock()
        self._sleep = sleep

    def _request(self, message: Message) -> urllib.request.Request:
        info = sms_info(message.body)
        payload: dict[str, Any] = {
            "to": message.to,
            "body": message.body,
            "idempotency_key": message.idempotency_key,
            "encoding": info.encoding.value,
            "segments": info.segments,
        }
        if self.sender is not None:
            payload["sender"] = self.sender
        return urllib.request.Request(
            self.endpoint,
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": message.idempotency_key,
                self._auth[0]: self._auth[1],
            },
        )

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        wait = self.backoff * (2 ** (attempt - 1))
        if retry_after is not None and retry_after.strip().isdigit():
            wait = float(retry_after.strip())
        self._sleep(min(wait, self.max_wait))

    def send(self, message: Message) -> Receipt:
        """POST the message; return the receipt once the provider accepts it.

        Raises:
            BackendError: The provider refused it (a 4xx other than 429), or kept failing
                through every attempt; the message says which and with what status.
        """
        last = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            retry_after: str | None = None
            try:
                with urllib.request.urlopen(
                    self._request(message), timeout=self.timeout
                ) as response:
                    raw = response.read()
                    return Receipt(
                        message.idempotency_key, self._provider_id(raw, message), self.clock.now()
                    )
            except urllib.error.HTTPError as e:
                detail = e.read()[:200].decode("utf-8", "replace")
                e.close()
                last = f"provider answered {e.code}: {detail}"
                if not _retryable(e.code):
                    raise BackendError(f"SMS provider refused the message: {last}") from e
                retry_after = e.headers.get("Retry-After")
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as e:
                last = f"{type(e).__name__}: {e}"
            if attempt < self.max_attempts:
                self._wait(attempt, retry_after)
        raise BackendError(
            f"SMS provider failed {self.max_attempts} time(s) for "
            f"{message.idempotency_key!r}; last: {last}"
        )

    @staticmethod
    def _provider_id(raw: bytes, message: Message) -> str:
        try:
            data = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = {}
        if isinstance(data, dict):
            for name in ("id", "message_id"):
                value = data.get(name)
                if isinstance(value, str | int) and str(value):
                    return str(value)
        # A provider that says nothing useful: its acceptance of our key is the id.
        return message.idempotency_key
