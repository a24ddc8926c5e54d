"""Proxies: selection from arguments and environment, NO_PROXY, and CONNECT tunnels on loopback."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from typing import Callable

import pytest
import trustme

import tlskit
from conftest import has_ipv6_loopback, make_server_context
from servers import ConnectProxy, HTTPResponder, TLSServer
from tlskit import (
    HandshakeError,
    HostnameMismatchError,
    InvalidURLError,
    ProxyError,
    Timeout,
    TimeoutExceededError,
)
from tlskit._proxy import (
    NO_PROXY_ENVIRONMENT,
    is_proxy_bypassed,
    parse_proxy,
    read_proxy_environment,
    select_proxy,
)
from tlskit._url import parse_url

StartServer = Callable[..., TLSServer]


def selected(url: str, proxy: str | None = None, trust_env: bool = True) -> str | None:
    environment = read_proxy_environment() if trust_env else NO_PROXY_ENVIRONMENT
    found = select_proxy(parse_url(url, allow_http=True), proxy, environment)
    return None if found is None else f"{found.url.authority} from {found.source}"


def test_no_proxy_by_default() -> None:
    assert selected("https://example.test/") is None


def test_https_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://upper.test:3128")
    assert selected("https://example.test/") == "upper.test:3128 from HTTPS_PROXY"
    monkeypatch.setenv("https_proxy", "lower.test:8080")
    assert selected("https://example.test/") == "lower.test:8080 from https_proxy"
    assert selected("http://example.test/") is None


def test_all_proxy_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://all.test:1")
    assert selected("https://example.test/") == "all.test:1 from ALL_PROXY"
    assert selected("http://example.test/") == "all.test:1 from ALL_PROXY"


def test_trust_env_off_ignores_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://upper.test:3128")
    assert selected("https://example.test/", trust_env=False) is None
    assert selected("https://example.test/", "http://given.test:1", trust_env=False) == (
        "given.test:1 from proxy argument"
    )


def test_argument_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://upper.test:3128")
    assert selected("https://example.test/", "http://given.test:1") == "given.test:1 from proxy argument"


def test_http_proxy_ignored_in_cgi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://from-client-header.test:80")
    assert selected("http://example.test/") == "from-client-header.test from HTTP_PROXY"
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    assert selected("http://example.test/") is None
    monkeypatch.setenv("http_proxy", "http://admin-set.test:3128")
    assert selected("http://example.test/") == "admin-set.test:3128 from http_proxy"


def test_no_proxy_applies_to_argument_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "example.test")
    assert selected("https://example.test/", "http://given.test:1") is None
    assert selected("https://other.test/", "http://given.test:1") == "given.test:1 from proxy argument"


BYPASS = [
    # (NO_PROXY, URL, bypassed)
    ("*", "https://anything.test/", True),
    ("example.test", "https://example.test/", True),
    ("example.test", "https://api.example.test/", True),
    (".example.test", "https://api.example.test/", True),
    (".example.test", "https://example.test/", True),
    ("*.example.test", "https://a.b.example.test/", True),
    ("example.test", "https://badexample.test/", False),
    ("example.test", "https://example.test.evil/", False),
    ("other.test, example.test", "https://example.test/", True),
    ("other.test example.test", "https://example.test/", True),
    ("EXAMPLE.TEST", "https://example.test./", True),
    ("example.test:8443", "https://example.test:8443/", True),
    ("example.test:8443", "https://example.test/", False),
    ("10.1.2.3", "https://10.1.2.3/", True),
    ("10.0.0.0/8", "https://10.200.0.1/", True),
    ("10.0.0.0/8", "https://11.0.0.1/", False),
    ("10.0.0.0/8", "https://ten.test/", False),
    ("::1", "https://[::1]:8443/", True),
    ("[::1]:8443", "https://[::1]:8443/", True),
    ("[::1]:8443", "https://[::1]:9443/", False),
    ("fd00::/8", "https://[fd12::1]/", True),
    ("fd00::/8", "https://10.0.0.1/", False),
    ("bücher.test", "https://bücher.test/", True),
    ("", "https://example.test/", False),
    (" , ,", "https://example.test/", False),
    # An invalid port makes the entry match no host, and never raises.
    ("example.test:" + "1" * 5000, "https://example.test/", False),
    ("[::1]:" + "1" * 5000, "https://[::1]/", False),
    ("[::1]:x", "https://[::1]/", False),
    ("[::1]x", "https://[::1]/", False),
    ("example.test:", "https://example.test/", False),
    ("example.test:\u0661\u0662", "https://example.test:12/", False),
    ("fa\u00df.test", "https://fass.test/", False),
]


@pytest.mark.parametrize("no_proxy, url, bypassed", BYPASS)
def test_no_proxy_entries(no_proxy: str, url: str, bypassed: bool) -> None:
    assert is_proxy_bypassed(parse_url(url), no_proxy) is bypassed


def test_proxy_credentials_become_basic() -> None:
    proxy = parse_proxy("http://ann:p%40ss@proxy.test:3128", "test")
    assert proxy.authorization == "Basic " + base64.b64encode(b"ann:p@ss").decode()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("https://proxy.test:3128", "scheme 'https'"),
        ("socks5://proxy.test:1080", "scheme 'socks5'"),
        ("http://proxy.test:99999", "port '99999'"),
    ],
)
def test_invalid_proxy_raises(text: str, fragment: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_proxy(text, "HTTPS_PROXY")
    assert fragment in str(caught.value)
    assert "HTTPS_PROXY" in str(caught.value)
    assert caught.value.field == "proxy"


def test_invalid_proxy_hides_password() -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_proxy("socks5://ann:secret@proxy.test:1080", "ALL_PROXY")
    assert "secret" not in str(caught.value)


# End to end, through a CONNECT proxy on loopback.


def test_get_through_connect_proxy(https_server: TLSServer, ca_file: str) -> None:
    with ConnectProxy() as proxy, tlskit.Client(cafile=ca_file, proxy=proxy.url) as client:
        assert client.get(https_server.url("/")).body == b"hello, world\n"
        assert client.get(https_server.url("/")).body == b"hello, world\n"
    assert [request.method for request in proxy.requests] == ["CONNECT"]
    connect = proxy.requests[0]
    assert connect.target == f"127.0.0.1:{https_server.port}"
    assert connect.headers["host"] == f"127.0.0.1:{https_server.port}"
    assert "proxy-authorization" not in connect.headers
    assert https_server.connections == 1


def test_client_reads_environment_once(
    https_server: TLSServer, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with tlskit.Client(cafile=ca_file) as client:
            monkeypatch.delenv("HTTPS_PROXY")
            assert client.get(https_server.url("/")).status == 200
            # A call that turns trust_env off reads nothing and goes direct.
            assert client.get(https_server.url("/"), trust_env=False).status == 200
    assert len(proxy.requests) == 1


def test_proxy_from_environment(
    https_server: TLSServer, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert tlskit.get(https_server.url("/"), cafile=ca_file).status == 200
        assert len(proxy.requests) == 1
        assert tlskit.get(https_server.url("/"), cafile=ca_file, trust_env=False).status == 200
        monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")
        assert tlskit.get(https_server.url("/"), cafile=ca_file).status == 200
        assert len(proxy.requests) == 1


def test_proxy_credentials_sent(https_server: TLSServer, ca_file: str) -> None:
    expected = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    with ConnectProxy(require_auth=expected) as proxy:
        url = proxy.url.replace("http://", "http://ann:s3cret@")
        assert tlskit.get(https_server.url("/"), cafile=ca_file, proxy=url).status == 200
    assert proxy.requests[0].headers["proxy-authorization"] == expected


def test_proxy_refusal_names_status_line(https_server: TLSServer, ca_file: str) -> None:
    with ConnectProxy(refuse="403 Forbidden") as proxy:
        with pytest.raises(ProxyError) as caught:
            tlskit.get(https_server.url("/"), cafile=ca_file, proxy=proxy.url)
    assert caught.value.status == 403
    assert caught.value.reason == "Forbidden"
    assert "HTTP/1.1 403 Forbidden" in str(caught.value)
    assert f"CONNECT to 127.0.0.1:{https_server.port}" in str(caught.value)
    assert isinstance(caught.value, tlskit.ConnectError)


def test_proxy_wants_credentials(https_server: TLSServer, ca_file: str) -> None:
    with ConnectProxy(require_auth="Basic x") as proxy:
        with pytest.raises(ProxyError) as caught:
            tlskit.get(https_server.url("/"), cafile=ca_file, proxy=proxy.url)
    assert caught.value.status == 407
    assert "http://user:password@host:port" in str(caught.value)


def test_origin_verified_through_proxy(ca: trustme.CA, start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        HTTPResponder({"/": (200, [], b"ok")}), make_server_context(ca.issue_cert("other.test"))
    )
    with ConnectProxy() as proxy:
        with pytest.raises(HostnameMismatchError) as caught:
            tlskit.get(server.url("/", host="localhost"), cafile=ca_file, proxy=proxy.url)
    assert caught.value.host == "localhost"
    assert proxy.requests[0].target == f"localhost:{server.port}"


def test_unknown_ca_through_proxy(https_server: TLSServer) -> None:
    with ConnectProxy() as proxy:
        with pytest.raises(tlskit.UntrustedCertificateError):
            tlskit.get(
                https_server.url("/"),
                proxy=proxy.url,
                system_ca=False,
                cadata=trustme.CA().cert_pem.bytes().decode(),
            )


def test_plain_http_through_forward_proxy(server_context: ssl.SSLContext) -> None:
    responder = HTTPResponder({"/x": (200, [], b"plain")})
    with TLSServer(None, responder) as server, ConnectProxy() as proxy:
        url = f"http://127.0.0.1:{server.port}/x"
        proxy_url = proxy.url.replace("http://", "http://ann:pw@")
        response = tlskit.get(url, allow_http=True, proxy=proxy_url)
    assert response.body == b"plain"
    assert response.tls is None
    assert proxy.requests[0].method == "GET"
    assert proxy.requests[0].target == url
    assert proxy.requests[0].headers["proxy-authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode()
    assert "proxy-authorization" not in responder.requests[0][0].headers


def test_connect_target_has_no_zone(server_context: ssl.SSLContext, ca_file: str) -> None:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    try:
        zone = str(socket.if_nametoindex("lo"))
    except OSError:
        pytest.skip("no loopback interface named lo")
    responder = HTTPResponder({"/": (200, [], b"zoned")})
    with TLSServer(server_context, responder, host="::1") as server, ConnectProxy() as proxy:
        response = tlskit.get(f"https://[::1%25{zone}]:{server.port}/", cafile=ca_file, proxy=proxy.url)
    assert response.body == b"zoned"
    assert proxy.requests[0].target == f"[::1]:{server.port}"
    assert proxy.requests[0].headers["host"] == f"[::1]:{server.port}"
    assert responder.requests[0][0].headers["host"] == f"[::1]:{server.port}"


def accept_connect_then_close(sock: socket.socket) -> None:
    """Accept one CONNECT with 200, then close the tunnel before any TLS byte reaches the client.

    It reads the ClientHello first, so that its close is a FIN and not a reset.
    """
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return
        buffer += data
    sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    sock.recv(65536)


def test_tunnel_closed_during_handshake(ca_file: str) -> None:
    with TLSServer(None, accept_connect_then_close) as proxy:
        with pytest.raises(HandshakeError) as caught:
            tlskit.get("https://localhost:9/", cafile=ca_file, proxy=f"http://{proxy.authority}", timeout=5)
    message = str(caught.value)
    assert (
        f"the tunnel through proxy {proxy.authority} (from proxy argument) closed during the handshake"
        in message
    )
    assert "Check the proxy's log" in message
    assert caught.value.host == "localhost"
    assert caught.value.port == 9
    assert caught.value.reason == "UNEXPECTED_EOF_WHILE_READING"


def test_server_closes_during_handshake(ca_file: str) -> None:
    # Without a proxy the same end of stream is the server's doing. It reads
    # the ClientHello first, so that its close is a FIN and not a reset.
    with TLSServer(None, lambda sock: sock.recv(65536)) as server:
        with pytest.raises(HandshakeError) as caught:
            tlskit.get(f"https://127.0.0.1:{server.port}/", cafile=ca_file, timeout=5)
    assert "the connection closed before the handshake finished" in str(caught.value)
    assert "proxy" not in str(caught.value)


def test_dripped_connect_answer_times_out(ca_file: str) -> None:
    # A byte every 20 ms keeps each read within the connect timeout; the
    # timeout bounds the whole response to CONNECT instead.
    stop = threading.Event()
    answer = b"HTTP/1.1 200 Connection established\r\n" + b"X-Drip: 1\r\n" * 50 + b"\r\n"

    def drip(client: socket.socket) -> None:
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer and len(buffer) < 65536:
            data = client.recv(65536)
            if not data:
                return
            buffer += data
        for index in range(len(answer)):
            if stop.wait(0.02):
                return
            client.sendall(answer[index : index + 1])

    with TLSServer(None, drip) as proxy:
        try:
            with pytest.raises(TimeoutExceededError) as caught:
                tlskit.get(
                    "https://127.0.0.1:1/",
                    cafile=ca_file,
                    proxy=f"http://{proxy.authority}",
                    timeout=Timeout(connect=0.3, read=0.3),
                )
        finally:
            stop.set()
    assert caught.value.phase == "connect"
    assert caught.value.timeout == 0.3
    assert str(caught.value).startswith(f"read of the response head from {proxy.authority} timed out")
