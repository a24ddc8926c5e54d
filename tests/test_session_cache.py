"""TLS session resumption against real loopback servers, on TLS 1.2 and 1.3.

Each test reconnects for every request ("Connection: close") and checks
resumption on both sides: ``response.tls.session_reused`` on the client
and ``SSLSocket.session_reused`` on the server.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from typing import Callable, Iterator, List

import pytest
import trustme
from peer_helpers import CLOSE, ReuseRecorder, leaf_der, ok_responder

import tlskit
from conftest import make_server_context
from servers import TLSServer
from tlskit import HandshakeError, PeerCache, PinMismatchError, SessionCache
from tlskit._certs import spki_pin
from tlskit._context import context_for
from tlskit._policy import TLSPolicy
from tlskit._session_cache import SessionKey, is_resumable

StartServer = Callable[..., TLSServer]
VERSIONS = ["1.2", "1.3"]


@pytest.fixture
def recorder() -> ReuseRecorder:
    return ReuseRecorder(ok_responder())


@pytest.fixture
def server(start_server: StartServer, recorder: ReuseRecorder) -> TLSServer:
    return start_server(recorder)


def fetch_reuse(client: tlskit.Client, url: str, count: int) -> List[bool]:
    return [client.get(url, headers=CLOSE).tls.session_reused for _ in range(count)]


@pytest.mark.parametrize("version", VERSIONS)
def test_resumes_session(server: TLSServer, recorder: ReuseRecorder, ca_file: str, version: str) -> None:
    cache = SessionCache()
    with tlskit.Client(cafile=ca_file, maximum_version=version, session_cache=cache) as client:
        reused = fetch_reuse(client, server.url("/"), 3)
        assert client.get(server.url("/"), headers=CLOSE).tls.version == f"TLSv{version}"
    assert reused == [False, True, True]
    assert recorder.reused[:3] == [False, True, True]
    assert server.connections == 4
    assert len(cache) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_resumes_across_clients(server: TLSServer, ca_file: str, version: str) -> None:
    cache = SessionCache()
    for expected in (False, True):
        with tlskit.Client(cafile=ca_file, maximum_version=version, session_cache=cache) as client:
            assert client.get(server.url("/")).tls.session_reused is expected


def test_shared_cache_by_default(server: TLSServer, recorder: ReuseRecorder, ca_file: str) -> None:
    # A policy of its own keeps other tests' sessions out of the shared cache.
    policy = TLSPolicy(cafile=ca_file, ciphers="ECDHE+AESGCM:!aNULL")
    first = tlskit.get(server.url("/"), policy=policy)
    second = tlskit.get(server.url("/"), policy=policy)
    assert (first.tls.session_reused, second.tls.session_reused) == (False, True)
    assert recorder.reused == [False, True]


def test_resumption_off(server: TLSServer, recorder: ReuseRecorder, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file, session_cache=False) as client:
        assert fetch_reuse(client, server.url("/"), 2) == [False, False]
    assert recorder.reused == [False, False]


@pytest.mark.parametrize("version", VERSIONS)
def test_no_resumption_across_policies(
    server: TLSServer, recorder: ReuseRecorder, server_cert: trustme.LeafCert, ca_file: str, version: str
) -> None:
    pin = spki_pin(leaf_der(server_cert))
    cache = SessionCache()
    with tlskit.Client(cafile=ca_file, maximum_version=version, session_cache=cache) as client:
        url = server.url("/")
        assert client.get(url, headers=CLOSE).tls.session_reused is False
        assert client.get(url, headers=CLOSE, pins=[pin]).tls.session_reused is False
        assert client.get(url, headers=CLOSE, system_ca=False).tls.session_reused is False
        assert client.get(url, headers=CLOSE, pins=[pin]).tls.session_reused is True
    assert recorder.reused == [False, False, False, True]
    assert len(cache) == 3


def test_no_resumption_from_unverified(server: TLSServer, recorder: ReuseRecorder, ca_file: str) -> None:
    cache = SessionCache()
    with tlskit.Client(verify=False, session_cache=cache) as unverified:
        assert fetch_reuse(unverified, server.url("/"), 2) == [False, True]
    with tlskit.Client(cafile=ca_file, session_cache=cache) as verified:
        assert fetch_reuse(verified, server.url("/"), 2) == [False, True]
    assert recorder.reused == [False, True, False, True]


def test_no_resumption_across_server_names(
    start_server: StartServer, recorder: ReuseRecorder, ca_file: str
) -> None:
    server = start_server(recorder)
    cache = SessionCache()
    with tlskit.Client(cafile=ca_file, session_cache=cache) as client:
        assert client.get(server.url("/", host="localhost"), headers=CLOSE).tls.session_reused is False
        assert client.get(server.url("/"), headers=CLOSE).tls.session_reused is False
        assert client.get(server.url("/", host="localhost"), headers=CLOSE).tls.session_reused is True
    assert recorder.reused == [False, False, True]


def test_keep_alive_connection_reports_first_handshake(server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file, session_cache=SessionCache()) as client:
        client.get(server.url("/"), headers=CLOSE)
        reused = [client.get(server.url("/")).tls.session_reused for _ in range(3)]
    assert reused == [True, True, True]
    assert server.connections == 2


def listen_and_drop(port: int, stop: threading.Event) -> threading.Thread:
    """Accept TCP connections on ``port`` and close them at once, so handshakes fail."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    listener.settimeout(0.05)

    def loop() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except socket.timeout:
                    continue
                conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_failed_handshake_drops_session(server: TLSServer, ca_file: str) -> None:
    cache = SessionCache()
    url = server.url("/")
    with tlskit.Client(cafile=ca_file, session_cache=cache) as client:
        client.get(url, headers=CLOSE)
        assert len(cache) == 1
        server.stop()
        stop = threading.Event()
        thread = listen_and_drop(server.port, stop)
        try:
            with pytest.raises(HandshakeError):
                client.get(url, timeout=5)
        finally:
            stop.set()
            thread.join(5)
    assert len(cache) == 0


def test_failed_pin_check_drops_session(
    server: TLSServer, ca: trustme.CA, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    sessions = SessionCache()
    peers = PeerCache()
    url = server.url("/")
    with tlskit.Client(
        cafile=ca_file, session_cache=sessions, peer_cache=peers, trust_on_first_use=True
    ) as client:
        client.get(url, headers=CLOSE)
        assert len(sessions) == 1

        # Another process (here: a direct call) pins a different key for the host.
        peers.forget("127.0.0.1")
        other = leaf_der(ca.issue_cert("127.0.0.1"))
        peers.record("127.0.0.1", server.port, [other], "TLSv1.3", trust_on_first_use=True)

        with pytest.raises(PinMismatchError) as caught:
            client.get(url, headers=CLOSE)
    assert caught.value.expected_pins == (spki_pin(other),)
    assert caught.value.actual_pins[0] == spki_pin(leaf_der(server_cert))
    assert len(sessions) == 0


def first_session(server: TLSServer, ca_file: str, cache: SessionCache) -> SessionKey:
    with tlskit.Client(cafile=ca_file, session_cache=cache) as client:
        client.get(server.url("/"), headers=CLOSE)
    return SessionKey("127.0.0.1", server.port, "127.0.0.1", TLSPolicy(cafile=ca_file))


def test_session_bound_to_context(server: TLSServer, ca_file: str) -> None:
    cache = SessionCache()
    key = first_session(server, ca_file, cache)
    assert cache.get(key, context_for(key.policy)) is not None
    assert cache.get(key, ssl.create_default_context()) is None
    assert len(cache) == 0


def test_cache_is_bounded(start_server: StartServer, ca_file: str) -> None:
    cache = SessionCache(max_entries=2)
    servers = [start_server(ok_responder()) for _ in range(3)]
    with tlskit.Client(cafile=ca_file, session_cache=cache) as client:
        for each in servers:
            client.get(each.url("/"), headers=CLOSE)
        assert len(cache) == 2
        # The oldest server's session was evicted; the newest two resume.
        reused = [client.get(each.url("/"), headers=CLOSE).tls.session_reused for each in reversed(servers)]
    assert reused == [True, True, False]


@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
def test_invalid_max_entries(value: object) -> None:
    with pytest.raises(tlskit.PolicyError) as caught:
        SessionCache(max_entries=value)  # type: ignore[arg-type]
    assert caught.value.field == "max_entries"


def test_tls13_session_needs_ticket(server_context: ssl.SSLContext, ca_file: str) -> None:
    # Before the first read a TLS 1.3 session has no ticket and cannot resume.
    with TLSServer(server_context, ok_responder()) as server:
        context = context_for(TLSPolicy(cafile=ca_file))
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                early = sock.session
                assert early is not None
                assert sock.version() == "TLSv1.3"
                assert is_resumable(early, "TLSv1.3") is False
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                sock.recv(4096)
                late = sock.session
                assert late is not None
                assert is_resumable(late, "TLSv1.3") is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_child_starts_empty(server: TLSServer, ca_file: str) -> None:
    cache = SessionCache()
    first_session(server, ca_file, cache)
    assert len(cache) == 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # The child reports its cache size and exits without pytest's teardown.
        try:
            os.write(write_end, str(len(cache)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    assert reported == b"0"
    assert len(cache) == 1


@pytest.fixture
def tls12_server(
    start_server: StartServer, server_cert: trustme.LeafCert, recorder: ReuseRecorder
) -> Iterator[TLSServer]:
    context = make_server_context(server_cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    yield start_server(recorder, context)


def test_tls12_only_server(tls12_server: TLSServer, recorder: ReuseRecorder, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file, session_cache=SessionCache()) as client:
        responses = [client.get(tls12_server.url("/"), headers=CLOSE) for _ in range(2)]
    assert [response.tls.version for response in responses] == ["TLSv1.2", "TLSv1.2"]
    assert [response.tls.session_reused for response in responses] == [False, True]
    assert recorder.reused == [False, True]


class ClosingHandler:
    """Run ``handler``, then send close_notify before the socket is closed.

    With OpenSSL 3.0 a server that frees a connection without having sent
    close_notify drops the session from its session ID cache. Without this
    step the session ID case below never resumes.
    """

    def __init__(self, handler: Callable[[ssl.SSLSocket], None]) -> None:
        self.handler = handler

    def __call__(self, sock: ssl.SSLSocket) -> None:
        self.handler(sock)
        try:
            sock.unwrap()
        except (ssl.SSLError, OSError):
            pass  # The client may close without close_notify, but ours was sent first.


@pytest.mark.parametrize("form", ["ticket", "session ID"])
def test_tls12_ticket_and_session_id(
    start_server: StartServer, server_cert: trustme.LeafCert, recorder: ReuseRecorder, ca_file: str, form: str
) -> None:
    context = make_server_context(server_cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if form == "session ID":
        # Without tickets the server resumes from its own cache of session IDs.
        context.options |= ssl.OP_NO_TICKET
    server = start_server(ClosingHandler(recorder), context)
    cache = SessionCache()
    with tlskit.Client(cafile=ca_file, session_cache=cache) as client:
        reused = fetch_reuse(client, server.url("/"), 2)
    assert reused == [False, True]
    assert recorder.reused == [False, True]

    key = SessionKey("127.0.0.1", server.port, "127.0.0.1", TLSPolicy(cafile=ca_file))
    stored = cache.get(key, context_for(key.policy))
    assert stored is not None
    assert stored.session.has_ticket is (form == "ticket")
