"""The gateways: contract on each, and HttpSmsGateway against a real server on loopback."""

from __future__ import annotations

import datetime as dt
import io
import socket
from collections.abc import Iterator, Sequence

import pytest
from _sms_provider import TOKEN, Provider, running_provider

from immreg.backends.gateways import ConsoleGateway, HttpSmsGateway, RecordingGateway
from immreg.errors import BackendError, ValidationError
from immreg.ports import Message
from immreg.services import LOCAL_TZ, FixedClock
from immreg.testing.conformance import MessageGatewayContract

CLOCK = FixedClock(dt.datetime(2026, 5, 4, 9, 0, tzinfo=LOCAL_TZ))


class TestRecordingGateway(MessageGatewayContract):
    @pytest.fixture
    def gateway(self) -> RecordingGateway:
        return RecordingGateway(clock=CLOCK)

    def delivered(self, gateway: RecordingGateway) -> Sequence[Message]:  # type: ignore[override]
        return gateway.sent


class TestConsoleGateway(MessageGatewayContract):
    @pytest.fixture
    def gateway(self) -> ConsoleGateway:
        return ConsoleGateway(io.StringIO(), clock=CLOCK)

    def delivered(self, gateway: ConsoleGateway) -> Sequence[Message]:  # type: ignore[override]
        return gateway.sent


def test_console_gateway_prints_encoding_and_segments() -> None:
    out = io.StringIO()
    gw = ConsoleGateway(out, clock=CLOCK)
    gw.send(Message("k", "+84912345678", "Nhắc lịch tiêm"))
    gw.send(Message("k", "+84912345678", "Nhắc lịch tiêm"))
    assert out.getvalue() == "   SMS to +84912345678 (ucs2, 1 segment): Nhắc lịch tiêm\n"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running_provider() as p:
        yield p


class TestHttpSmsGateway(MessageGatewayContract):
    @pytest.fixture
    def gateway(self, provider: Provider) -> HttpSmsGateway:
        gw = HttpSmsGateway(provider.url, token=TOKEN, clock=CLOCK, sleep=lambda s: None)
        gw.provider = provider  # type: ignore[attr-defined]
        return gw

    def delivered(self, gateway: HttpSmsGateway) -> Sequence[Message]:  # type: ignore[override]
        p: Provider = gateway.provider  # type: ignore[attr-defined]
        return [Message(k, b["to"], b["body"]) for k, b in p.bodies.items()]


def _gateway(provider: Provider, **kwargs: object) -> tuple[HttpSmsGateway, list[float]]:
    waits: list[float] = []
    gw = HttpSmsGateway(
        provider.url,
        token=TOKEN,
        clock=CLOCK,
        sleep=waits.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return gw, waits


def test_posts_json_with_auth_and_idempotency_key(provider: Provider) -> None:
    gw, _ = _gateway(provider, sender="TYT-MX")
    receipt = gw.send(Message("rem:c1:x", "+84912345678", "Nhắc lịch tiêm: bé Lan"))
    assert receipt.provider_id == "p-rem:c1:x"
    assert receipt.accepted_at == CLOCK.now()
    body = provider.bodies["rem:c1:x"]
    assert body == {
        "to": "+84912345678",
        "body": "Nhắc lịch tiêm: bé Lan",
        "idempotency_key": "rem:c1:x",
        "encoding": "ucs2",
        "segments": 1,
        "sender": "TYT-MX",
    }
    assert provider.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert provider.headers[0]["Content-Type"].startswith("application/json")


def test_retries_429_and_5xx_with_backoff_and_retry_after(provider: Provider) -> None:
    gw, waits = _gateway(provider, max_attempts=4, backoff=0.25)
    provider.script = [503, 500]
    gw.send(Message("k1", "+84912345678", "a"))
    assert provider.requests["k1"] == 3
    assert provider.deliveries["k1"] == 1
    assert waits == [0.25, 0.5]
    provider.script = [429]
    provider.retry_after = "7"
    gw.send(Message("k2", "+84912345678", "b"))
    assert waits[-1] == 7.0


def test_gives_up_after_max_attempts(provider: Provider) -> None:
    gw, waits = _gateway(provider, max_attempts=2)
    provider.script = [502, 503, 200]
    with pytest.raises(BackendError, match="failed 2 time"):
        gw.send(Message("k", "+84912345678", "a"))
    assert provider.deliveries["k"] == 0
    assert len(waits) == 1


@pytest.mark.parametrize("status", [400, 401, 422])
def test_other_client_errors_fail_at_once(provider: Provider, status: int) -> None:
    gw, waits = _gateway(provider)
    provider.script = [status]
    with pytest.raises(BackendError, match=f"refused the message: provider answered {status}"):
        gw.send(Message("k", "+84912345678", "a"))
    assert waits == []
    assert provider.requests["k"] == 1


def test_a_wrong_token_is_refused(provider: Provider) -> None:
    gw = HttpSmsGateway(provider.url, token="wrong", clock=CLOCK, sleep=lambda s: None)
    with pytest.raises(BackendError, match="401"):
        gw.send(Message("k", "+84912345678", "a"))


def test_timeouts_and_closed_ports_are_retried_then_reported() -> None:
    # A listening socket that never answers: the gateway's timeout fires.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/sms"
        waits: list[float] = []
        gw = HttpSmsGateway(url, token=TOKEN, timeout=0.2, max_attempts=2, sleep=waits.append)
        with pytest.raises(BackendError, match=r"timed out|TimeoutError"):
            gw.send(Message("k", "+84912345678", "a"))
        assert len(waits) == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = HttpSmsGateway(f"http://127.0.0.1:{port}/", token=TOKEN, max_attempts=1)
    with pytest.raises(BackendError, match=r"refused|URLError"):
        gw.send(Message("k", "+84912345678", "a"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"endpoint": "ftp://x"}, "endpoint"),
        ({"timeout": 0}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_configuration_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"endpoint": "http://127.0.0.1:1/", "token": "t"}
    args.update(kwargs)
    endpoint = args.pop("endpoint")
    with pytest.raises(ValidationError) as e:
        HttpSmsGateway(endpoint, **args)  # type: ignore[arg-type]
    assert e.value.field == field
