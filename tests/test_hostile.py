"""Hostile and broken servers: raw TLS peers that send exact bytes, end to end."""

from __future__ import annotations

import gzip
import socket
import ssl
import struct
import threading
import time
from typing import Callable, List

import pytest

import tlskit
from servers import SOCKET_TIMEOUT_SECONDS, TLSServer, read_request, response_bytes, scripted
from tlskit import (
    DecodingError,
    IncompleteBodyError,
    LimitExceededError,
    ProtocolError,
    RemoteDisconnectedError,
    Timeout,
    TimeoutExceededError,
)

StartServer = Callable[..., TLSServer]


def test_cut_chunked_body(start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        scripted(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab")
    )
    with pytest.raises(IncompleteBodyError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.received == 7
    assert caught.value.expected is None
    assert caught.value.port == server.port


def test_bad_chunk_size(start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        scripted(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n")
    )
    with pytest.raises(ProtocolError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert "hex digits" in str(caught.value)
    assert caught.value.host == "127.0.0.1"
    assert f"127.0.0.1:{server.port}" in str(caught.value)


def test_conflicting_content_length(start_server: StartServer, ca_file: str) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"))
    with pytest.raises(ProtocolError, match="conflicting Content-Length"):
        tlskit.get(server.url("/"), cafile=ca_file)


def test_server_closes_without_response(start_server: StartServer, ca_file: str) -> None:
    server = start_server(scripted(close_notify=True))
    with pytest.raises(RemoteDisconnectedError):
        tlskit.get(server.url("/"), cafile=ca_file)


def endless_head(prefix: bytes, piece: bytes, stop: threading.Event) -> Callable[[ssl.SSLSocket], None]:
    """Return a handler that sends ``prefix``, then ``piece`` again and again until ``stop`` is set."""

    def handler(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(prefix)
        for _ in range(100_000):
            if stop.is_set():
                return
            sock.sendall(piece)

    return handler


ENDLESS_HEADS = {
    "header-fields": (
        b"HTTP/1.1 200 OK\r\n",
        b"X-Endless: 0123456789abcdef\r\n" * 64,
        {"max_header_bytes", "max_header_count"},
    ),
    "header-line": (b"HTTP/1.1 200 OK\r\nX-Long: ", b"y" * 4096, {"max_line_bytes"}),
}


@pytest.mark.parametrize("case", sorted(ENDLESS_HEADS))
def test_endless_head_stops_at_limit(start_server: StartServer, ca_file: str, case: str) -> None:
    prefix, piece, limits = ENDLESS_HEADS[case]
    stop = threading.Event()
    server = start_server(endless_head(prefix, piece, stop))
    try:
        with pytest.raises(LimitExceededError) as caught:
            tlskit.get(server.url("/"), cafile=ca_file)
    finally:
        stop.set()
    assert caught.value.limit in limits


def slow_drip(data: bytes, stop: threading.Event) -> Callable[[ssl.SSLSocket], None]:
    """Return a handler that sends ``data`` a byte every 20 ms, then waits, until ``stop`` is set."""

    def handler(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        for index in range(len(data)):
            if stop.wait(0.02):
                return
            sock.sendall(data[index : index + 1])
        stop.wait(SOCKET_TIMEOUT_SECONDS)

    return handler


SLOW_SERVERS = {
    # (bytes dripped, timeout, phase that expires, its limit in seconds)
    "drip-head": (b"HTTP/1.1 200 OK\r\n" + b"X-Drip: 1\r\n" * 500, Timeout(read=1, total=0.4), "total", 0.4),
    "drip-body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
        Timeout(read=1, total=0.4),
        "total",
        0.4,
    ),
    "silent": (b"", Timeout(read=0.2, total=10), "read", 0.2),
    # Without a total, the read timeout bounds the head as a whole.
    "drip-head-no-total": (b"HTTP/1.1 200 OK\r\n" + b"X-Drip: 1\r\n" * 500, Timeout(read=0.3), "read", 0.3),
}


@pytest.mark.parametrize("case", sorted(SLOW_SERVERS))
def test_slow_server_timeout_phase(start_server: StartServer, ca_file: str, case: str) -> None:
    # A byte every 20 ms keeps each read under the read timeout, so only the
    # total deadline, or for a head the read timeout over the whole head,
    # stops a slow drip.
    data, timeout, phase, seconds = SLOW_SERVERS[case]
    stop = threading.Event()
    server = start_server(slow_drip(data, stop))
    try:
        with pytest.raises(TimeoutExceededError) as caught:
            tlskit.get(server.url("/"), cafile=ca_file, timeout=timeout)
    finally:
        stop.set()
    assert caught.value.phase == phase
    assert caught.value.timeout == seconds
    if case == "drip-head-no-total":
        assert "read of the response head from" in str(caught.value)


def test_handshake_timeout_phase(ca_file: str) -> None:
    # A TCP listener that never speaks TLS: the kernel accepts the connection.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(TimeoutExceededError) as caught:
            tlskit.get(f"https://127.0.0.1:{port}/", cafile=ca_file, timeout=Timeout(connect=0.2))
    assert caught.value.phase == "handshake"
    assert caught.value.timeout == 0.2


def test_decompression_bomb(start_server: StartServer, ca_file: str) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    server = start_server(scripted(response_bytes(200, [("Content-Encoding", "gzip")], bomb)))
    with pytest.raises(LimitExceededError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.limit == "max_expansion_ratio"
    assert caught.value.port == server.port


def test_corrupt_gzip(start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        scripted(response_bytes(200, [("Content-Encoding", "gzip")], gzip.compress(b"abc")[:-4]))
    )
    with pytest.raises(DecodingError, match="ended before its end marker"):
        tlskit.get(server.url("/"), cafile=ca_file)


def test_unsupported_content_encoding(start_server: StartServer, ca_file: str) -> None:
    server = start_server(scripted(response_bytes(200, [("Content-Encoding", "br")], b"\x0b\x01\x80")))
    with pytest.raises(DecodingError, match="unsupported Content-Encoding 'br'"):
        tlskit.get(server.url("/"), cafile=ca_file)
    raw = tlskit.get(
        start_server(scripted(response_bytes(200, [("Content-Encoding", "br")], b"\x0b\x01\x80"))).url("/"),
        cafile=ca_file,
        decode_content=False,
    )
    assert raw.body == b"\x0b\x01\x80"


def test_extra_bytes_after_response_prevent_reuse(start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        scripted(response_bytes(200, [], b"ok") + b"HTTP/1.1 200 OK\r\n", close_notify=True)
    )
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"ok"
        assert client.get(server.url("/")).body == b"ok"
    assert server.connections == 2


def answer_once_then_drop(sock: ssl.SSLSocket) -> None:
    """Respond to the first request, then read the next one and close without a response."""
    buffer = bytearray()
    if read_request(sock, buffer) is None:
        return
    sock.sendall(response_bytes(200, [], b"first"))
    read_request(sock, buffer)


@pytest.mark.parametrize("method, retried", [("GET", True), ("PUT", True), ("POST", False), ("PATCH", False)])
def test_dropped_request_retried_only_if_idempotent(
    start_server: StartServer, ca_file: str, method: str, retried: bool
) -> None:
    server = start_server(answer_once_then_drop)
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"first"
        if retried:
            assert client.request(method, server.url("/"), body=b"x").body == b"first"
        else:
            with pytest.raises(RemoteDisconnectedError):
                client.request(method, server.url("/"), body=b"x")
    assert server.connections == (2 if retried else 1)


def test_connect_timeout_phase(ca_file: str) -> None:
    # A listener whose accept queue is full drops further SYNs, so a
    # connect to it waits until its timeout, all on loopback.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                fillers.append(filler)
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except socket.timeout:
                    break
            else:
                pytest.skip("this kernel accepts connections beyond the listen backlog")
            with pytest.raises(TimeoutExceededError) as caught:
                tlskit.get(f"https://127.0.0.1:{port}/", cafile=ca_file, timeout=Timeout(connect=0.2))
        finally:
            for filler in fillers:
                filler.close()
    assert caught.value.phase == "connect"
    assert caught.value.timeout == 0.2
    assert caught.value.port == port


def close_without_close_notify(sock: ssl.SSLSocket) -> None:
    """Close as a crashed keep-alive peer would: TCP FIN without TLS close_notify."""
    time.sleep(0.05)
    sock.shutdown(socket.SHUT_RDWR)


def close_with_close_notify(sock: ssl.SSLSocket) -> None:
    """Close as a server whose keep-alive timeout expired would: TLS close_notify first."""
    # Non-blocking, unwrap sends close_notify and returns without waiting
    # for the client's.
    sock.settimeout(0)
    try:
        sock.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass


@pytest.mark.parametrize("close", [close_without_close_notify, close_with_close_notify])
def test_closed_idle_connection_skipped_for_post(
    start_server: StartServer, ca_file: str, close: Callable[[ssl.SSLSocket], None]
) -> None:
    # Each connection responds to one request without announcing the close,
    # then closes. The pool must notice before a POST, which is never retried.
    closed = threading.Event()

    def once(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(response_bytes(200, [], b"once"))
        close(sock)
        closed.set()

    server = start_server(once)
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"once"
        assert closed.wait(SOCKET_TIMEOUT_SECONDS)
        # Let the close reach the client's socket before the pool checks it.
        time.sleep(0.05)
        # The pool notices the closed idle connection and opens a new one.
        assert client.post(server.url("/"), body=b"x").body == b"once"
    assert server.connections == 2


def test_slow_reader_cannot_stretch_upload(start_server: StartServer, ca_file: str) -> None:
    stop = threading.Event()

    def slow_reader(sock: ssl.SSLSocket) -> None:
        for _ in range(500):
            if stop.wait(0.02) or not sock.recv(1024):
                return

    server = start_server(slow_reader)
    body = b"x" * (16 * 1024 * 1024)
    try:
        with tlskit.Client(cafile=ca_file) as client, pytest.raises(TimeoutExceededError) as caught:
            client.post(server.url("/"), body=body, timeout=Timeout(read=5, total=0.5))
    finally:
        stop.set()
    assert caught.value.phase == "total"
    assert caught.value.timeout == 0.5


# Abnormal ends: only a TLS close_notify (or a clean TCP close for http)
# ends a close-delimited body; a reset or an unclean close never does.

CUT_BODIES = {
    "close-delimited": (b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\r\n" + b"row,1\n" * 1000, None),
    "content-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n" + b"row,1\n" * 1000, 9000),
    "chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1770\r\n" + b"row,1\n" * 1000, None),
}


def reset_after(data: bytes, read: threading.Event) -> Callable[[socket.socket], None]:
    """Return a handler that sends ``data`` and resets the TCP connection once ``read`` is set.

    The client sets ``read`` after it has read ``data``: a reset that
    arrives first makes the kernel drop the unread bytes.
    """

    def handler(sock: socket.socket) -> None:
        read_request(sock, bytearray())
        sock.sendall(data)
        read.wait(SOCKET_TIMEOUT_SECONDS)
        # A zero linger time makes close() send RST instead of FIN, and
        # closing an SSLSocket never sends close_notify.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return handler


def read_until_reset(url: str, read: threading.Event, **options: object) -> None:
    """Stream ``url``, set ``read`` once 6000 body bytes arrived, and read on until the body ends."""
    received = 0
    with tlskit.Client(timeout=SOCKET_TIMEOUT_SECONDS, **options) as client, client.stream(url) as response:
        for piece in response.iter_bytes():
            received += len(piece)
            if received >= 6000:
                read.set()


@pytest.mark.parametrize("framing", sorted(CUT_BODIES))
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_reset_body_raises(start_server: StartServer, ca_file: str, framing: str, scheme: str) -> None:
    # Python 3.9 and 3.13 report a reset under TLS as ConnectionResetError,
    # 3.10 to 3.12 as SSLEOFError; a plain socket always as ConnectionResetError.
    data, expected = CUT_BODIES[framing]
    read = threading.Event()
    if scheme == "https":
        server = start_server(reset_after(data, read))
        options = {"cafile": ca_file}
    else:
        server = start_server(reset_after(data, read), context=None)
        options = {"allow_http": True}
    with pytest.raises(IncompleteBodyError) as caught:
        read_until_reset(server.url("/"), read, **options)
    assert caught.value.expected == expected
    assert caught.value.received == 6000
    assert caught.value.port == server.port


def test_clean_http_close_ends_body(start_server: StartServer) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"), context=None)
    assert tlskit.get(server.url("/"), allow_http=True).body == b"until the end"


def answer_once_then_reset(sock: ssl.SSLSocket) -> None:
    """Respond to the first request, then read the next one and reset the connection."""
    buffer = bytearray()
    if read_request(sock, buffer) is None:
        return
    sock.sendall(response_bytes(200, [], b"first"))
    read_request(sock, buffer)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_reset_before_response_retried(start_server: StartServer, ca_file: str) -> None:
    server = start_server(answer_once_then_reset)
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"first"
        assert client.get(server.url("/")).body == b"first"
        with pytest.raises(RemoteDisconnectedError):
            client.post(server.url("/"), body=b"x")
    assert server.connections == 2


def test_stale_connection_retried_only_once(start_server: StartServer, ca_file: str) -> None:
    # The first connection responds once, then drops the next request like a
    # stale keep-alive connection. Every later connection drops its request
    # too, and a failure on a new connection is not retried.
    connections: List[int] = []

    def handler(sock: ssl.SSLSocket) -> None:
        connections.append(len(connections))
        buffer = bytearray()
        if len(connections) == 1 and read_request(sock, buffer) is not None:
            sock.sendall(response_bytes(200, [], b"first"))
        read_request(sock, buffer)

    server = start_server(handler)
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"first"
        with pytest.raises(RemoteDisconnectedError):
            client.get(server.url("/"))
    assert server.connections == 2


def corrupt_record_after(data: bytes) -> Callable[[ssl.SSLSocket], None]:
    """Return a handler that sends ``data`` over TLS, then a record that does not decrypt."""

    def handler(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(data)
        # An application-data record of 32 bytes that no key decrypts.
        raw = socket.socket(fileno=sock.detach())
        with raw:
            raw.sendall(b"\x17\x03\x03\x00\x20" + bytes(range(32)))
            raw.recv(1)

    return handler


@pytest.mark.parametrize(
    "data", [b"", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"]
)
def test_corrupt_record_is_protocol_error(start_server: StartServer, ca_file: str, data: bytes) -> None:
    server = start_server(corrupt_record_after(data))
    with pytest.raises(ProtocolError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, timeout=SOCKET_TIMEOUT_SECONDS)
    assert type(caught.value) is ProtocolError
    assert "DECRYPTION_FAILED_OR_BAD_RECORD_MAC" in str(caught.value)
    assert caught.value.port == server.port


@pytest.mark.parametrize("close_notify", [True, False])
def test_cut_large_length_body(start_server: StartServer, ca_file: str, close_notify: bool) -> None:
    # 40,000 bytes span several TLS records, so most arrive on the path that
    # receives whole records straight into the body.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    server = start_server(scripted(head + b"x" * 40000, close_notify=close_notify))
    with pytest.raises(IncompleteBodyError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.received == 40000
    assert caught.value.expected == 100000
    assert caught.value.port == server.port


def test_large_length_body_read_whole(start_server: StartServer, ca_file: str) -> None:
    body = bytes(range(256)) * 400
    server = start_server(scripted(response_bytes(200, [], body), close_notify=True))
    with tlskit.Client(cafile=ca_file) as client:
        response = client.get(server.url("/"))
    assert response.body == body
    assert type(response.body) is bytes
