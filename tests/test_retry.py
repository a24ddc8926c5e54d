"""Retry: backoff, jitter, Retry-After and which responses are retried."""

from __future__ import annotations

import email.utils
import logging
import re
import socket
from typing import Callable, List

import pytest

import tlskit
from servers import HTTPResponder, Request, TLSServer, read_request, response_bytes
from tlskit import ConnectError, PolicyError, Retry
from tlskit._retry import make_retry, parse_retry_after

StartServer = Callable[..., TLSServer]


def test_backoff_doubles_up_to_max() -> None:
    retry = Retry(total=10, backoff_factor=0.5, backoff_max=3, jitter=0)
    assert [retry.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_within_share() -> None:
    retry = Retry(backoff_factor=1, jitter=0.5)
    for _ in range(50):
        assert 0.5 <= retry.backoff(1) <= 1.0
        assert 1.0 <= retry.backoff(2) <= 2.0


def test_delay_ends_after_total() -> None:
    retry = Retry(total=2, backoff_factor=0, jitter=0)
    assert retry.delay(1) == 0
    assert retry.delay(2) == 0
    assert retry.delay(3) is None


def test_retry_after_seconds_lengthens_wait() -> None:
    retry = Retry(backoff_factor=0.1, jitter=0)
    assert retry.delay(1, "2") == 2.0
    assert retry.delay(1, "0") == 0.1


def test_retry_after_past_max_ends_retries() -> None:
    assert Retry(backoff_max=30).delay(1, "3600") is None


def test_retry_after_ignored_when_asked() -> None:
    assert Retry(backoff_factor=0.1, jitter=0, respect_retry_after=False).delay(1, "20") == 0.1


def test_retry_after_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(7, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("value", ["soon", "-1", "1.5", "", "Wed, 99 Foo 2024 00:00:00 GMT"])
def test_invalid_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(value) is None
    assert Retry(backoff_factor=0.25, jitter=0).delay(1, value) == 0.25


def test_retryable_statuses_and_methods() -> None:
    retry = Retry()
    assert retry.is_retryable_status("GET", 503)
    assert retry.is_retryable_status("PUT", 429)
    assert not retry.is_retryable_status("POST", 503)
    assert not retry.is_retryable_status("GET", 500)
    assert Retry(statuses={500}, methods={"post"}).is_retryable_status("POST", 500)


def test_make_retry() -> None:
    assert make_retry(None) is None
    assert make_retry(0) is None
    assert make_retry(3) == Retry(total=3)
    retry = Retry(total=1)
    assert make_retry(retry) is retry


@pytest.mark.parametrize("value", [-1, True, 1.5, "3"])
def test_invalid_retries_raise(value: object) -> None:
    with pytest.raises(PolicyError) as caught:
        make_retry(value)  # type: ignore[arg-type]
    assert caught.value.field == "retries"


@pytest.mark.parametrize(
    "fields, text",
    [
        ({"total": -1}, "Retry.total"),
        ({"backoff_factor": -0.5}, "Retry.backoff_factor"),
        ({"jitter": 2}, "Retry.jitter"),
        ({"backoff_max": float("nan")}, "Retry.backoff_max"),
        ({"backoff_max": 1e300}, "Retry.backoff_max"),
        ({"backoff_factor": 1e10}, "Retry.backoff_factor"),
        ({"statuses": None}, "Retry.statuses"),
        ({"statuses": 503}, "Retry.statuses"),
        ({"statuses": "503"}, "Retry.statuses"),
        ({"statuses": [503, "429"]}, "Retry.statuses entry: '429'"),
        ({"statuses": [True]}, "Retry.statuses entry: True"),
        ({"statuses": [99]}, "Retry.statuses entry: 99"),
        ({"methods": 5}, "Retry.methods"),
        ({"methods": None}, "Retry.methods"),
        ({"methods": "GET"}, "Retry.methods"),
        ({"methods": ["GET", 5]}, "Retry.methods entry: 5"),
        ({"methods": ["GET POST"]}, "Retry.methods entry: 'GET POST'"),
        ({"respect_retry_after": 1}, "Retry.respect_retry_after"),
    ],
)
def test_invalid_retry_fields_raise(fields: dict, text: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(text)) as caught:
        Retry(**fields)
    assert caught.value.field == "retries"


def test_retry_collections_accepted() -> None:
    retry = Retry(statuses=[503], methods={"get", "Put"})
    assert retry.statuses == frozenset({503})
    assert retry.methods == frozenset({"GET", "PUT"})
    assert Retry(statuses=(), methods=()).statuses == frozenset()


def test_late_retry_delay_stays_at_max() -> None:
    retry = Retry(total=5000, backoff_factor=1, backoff_max=30, jitter=0)
    assert retry.delay(1500) == 30.0


# End to end.


def flaky(statuses: List[int], retry_after: str = "0") -> Callable[[Request], bytes]:
    """Respond with each status in turn, then 200."""
    remaining = list(statuses)

    def route(request: Request) -> bytes:
        if remaining:
            return response_bytes(remaining.pop(0), [("Retry-After", retry_after)], b"busy", "Busy")
        return response_bytes(200, [], b"done")

    return route


def test_status_retried_for_get(start_server: StartServer, ca_file: str) -> None:
    responder = HTTPResponder({"/": flaky([503, 429])})
    server = start_server(responder)
    response = tlskit.get(server.url("/"), cafile=ca_file, retries=Retry(total=2, backoff_factor=0))
    assert response.body == b"done"
    assert len(responder.requests) == 3


def test_small_retried_body_keeps_connection(start_server: StartServer, ca_file: str) -> None:
    responder = HTTPResponder({"/": flaky([503])})
    server = start_server(responder)
    with tlskit.Client(cafile=ca_file, retries=Retry(total=1, backoff_factor=0)) as client:
        assert client.get(server.url("/")).body == b"done"
    assert server.connections == 1


def test_long_retried_body_not_read(start_server: StartServer, ca_file: str) -> None:
    # A 503 body of 64 MiB + 1 byte is left unread: its connection is closed.
    sent: List[int] = []

    def handler(sock: socket.socket) -> None:
        buffer = bytearray()
        if read_request(sock, buffer) is None:
            return
        if not sent:
            sock.sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 67108865\r\n\r\n")
            try:
                for _ in range(1024):
                    sock.sendall(b"x" * 65536)
                    sent.append(65536)
            except OSError:
                return
        else:
            sock.sendall(response_bytes(200, [], b"done"))

    server = start_server(handler)
    response = tlskit.get(server.url("/"), cafile=ca_file, retries=Retry(total=1, backoff_factor=0))
    assert response.body == b"done"
    assert server.connections == 2
    assert sum(sent) < 64 * 1024 * 1024


def test_retries_exhausted_returns_last_response(start_server: StartServer, ca_file: str) -> None:
    responder = HTTPResponder({"/": flaky([503, 503, 503])})
    server = start_server(responder)
    response = tlskit.get(server.url("/"), cafile=ca_file, retries=Retry(total=1, backoff_factor=0))
    assert response.status == 503
    assert len(responder.requests) == 2


def test_post_not_retried(start_server: StartServer, ca_file: str) -> None:
    responder = HTTPResponder({"/": flaky([503])})
    server = start_server(responder)
    with tlskit.Client(cafile=ca_file, retries=3) as client:
        assert client.post(server.url("/"), body=b"x").status == 503
    assert len(responder.requests) == 1


def test_retry_after_beyond_deadline_returns_now(start_server: StartServer, ca_file: str) -> None:
    responder = HTTPResponder({"/": flaky([503], retry_after="20")})
    server = start_server(responder)
    response = tlskit.get(server.url("/"), cafile=ca_file, timeout=2, retries=Retry(backoff_max=60))
    assert response.status == 503
    assert response.headers["retry-after"] == "20"
    assert len(responder.requests) == 1


def test_connect_failure_retried(ca_file: str, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with caplog.at_level(logging.DEBUG, logger="tlskit"):
        with pytest.raises(ConnectError) as caught:
            tlskit.get(f"https://127.0.0.1:{port}/", cafile=ca_file, retries=Retry(total=2, backoff_factor=0))
    assert caught.value.port == port
    assert len([record for record in caplog.records if "retry" in record.getMessage()]) == 2


def test_no_retries_by_default(start_server: StartServer, ca_file: str) -> None:
    responder = HTTPResponder({"/": flaky([503])})
    server = start_server(responder)
    assert tlskit.get(server.url("/"), cafile=ca_file).status == 503
    assert len(responder.requests) == 1
