"""Fixtures: one trustme CA for the run, server certificates, and loopback TLS servers."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Callable, Iterator

import pytest
import trustme

from servers import HTTPResponder, TLSServer
from tlskit._peer_cache import SHARED_PEER_CACHE
from tlskit._session_cache import SHARED_SESSION_CACHE

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

PROXY_VARIABLES = (
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
)


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's proxy settings out of every test: requests go to loopback only."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def empty_shared_caches() -> None:
    """Start every test with empty process-wide peer and session caches.

    Tests reuse loopback ports, and the CLI runs in this process through
    main(argv), so a peer recorded by one test would make another test's
    server look like a changed certificate, with a WARNING on stderr.
    """
    for record in SHARED_PEER_CACHE.records():
        SHARED_PEER_CACHE.forget(record.host, record.port)
    SHARED_SESSION_CACHE.clear()


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(*LOOPBACK_NAMES)


def make_server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """Return a TLS 1.2+ server context presenting ``cert``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert.configure_cert(context)
    context.set_alpn_protocols(["http/1.1"])
    return context


@pytest.fixture(scope="session")
def server_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    return make_server_context(server_cert)


@pytest.fixture
def responder() -> HTTPResponder:
    return HTTPResponder(
        {
            "/": (200, [("Content-Type", "text/plain")], b"hello, world\n"),
            "/json": (200, [("Content-Type", "application/json")], b'{"ok": true}'),
        }
    )


@pytest.fixture
def https_server(server_context: ssl.SSLContext, responder: HTTPResponder) -> Iterator[TLSServer]:
    with TLSServer(server_context, responder) as server:
        yield server


@pytest.fixture(params=["127.0.0.1", "::1"])
def loopback_host(request: pytest.FixtureRequest) -> str:
    if request.param == "::1" and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    return str(request.param)


@pytest.fixture
def start_server(server_context: ssl.SSLContext) -> Iterator[Callable[..., TLSServer]]:
    """Start servers with a handler of the test's choice; all are stopped at teardown."""
    started = []

    def start(
        handler: Callable[[ssl.SSLSocket], None],
        context: ssl.SSLContext = server_context,
        host: str = "127.0.0.1",
    ) -> TLSServer:
        server = TLSServer(context, handler, host).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tmp_file(tmp_path: Path) -> Callable[[str, bytes], str]:
    def write(name: str, data: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return write
