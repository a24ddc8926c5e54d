"""End-to-end GETs against real TLS servers on loopback."""

from __future__ import annotations

import datetime
import ssl
import threading
from typing import Callable, List, Optional

import pytest
import trustme

import tlskit
from conftest import make_server_context
from servers import HTTPResponder, Request, TLSServer, read_request, response_bytes, scripted
from tlskit import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    ConnectError,
    HostnameMismatchError,
    IncompleteBodyError,
    LimitExceededError,
    PinMismatchError,
    TimeoutExceededError,
    UntrustedCertificateError,
)
from tlskit._certs import spki_pin

StartServer = Callable[..., TLSServer]


def test_get_returns_response(https_server: TLSServer, ca_file: str) -> None:
    response = tlskit.get(https_server.url("/"), cafile=ca_file)
    assert response.status == 200
    assert response.reason == "OK"
    assert response.body == b"hello, world\n"
    assert response.text == "hello, world\n"
    assert response.headers["content-type"] == "text/plain"
    assert response.url == https_server.url("/")
    assert response.http_version == "HTTP/1.1"


def test_tls_facts(https_server: TLSServer, ca_file: str) -> None:
    tls = tlskit.get(https_server.url("/"), cafile=ca_file).tls
    assert tls.version == "TLSv1.3"
    assert tls.alpn == "http/1.1"
    assert tls.cipher
    assert tls.session_reused is False
    assert tls.peer_certificate["subjectAltName"]
    assert tls.peer_certificate_der


def test_json_body(https_server: TLSServer, ca_file: str) -> None:
    assert tlskit.get(https_server.url("/json"), cafile=ca_file).json() == {"ok": True}


def test_ipv4_and_ipv6_literals(server_context: ssl.SSLContext, loopback_host: str, ca_file: str) -> None:
    responder = HTTPResponder({"/": (200, [], b"ok")})
    with TLSServer(server_context, responder, host=loopback_host) as server:
        assert tlskit.get(server.url("/"), cafile=ca_file).body == b"ok"


def test_request_head(https_server: TLSServer, responder: HTTPResponder, ca_file: str) -> None:
    tlskit.get(https_server.url("/?q=1"), cafile=ca_file, headers={"X-Trace": "abc"})
    request, _ = responder.requests[0]
    assert request.method == "GET"
    assert request.target == "/?q=1"
    assert request.version == "HTTP/1.1"
    assert request.headers["host"] == f"127.0.0.1:{https_server.port}"
    assert request.headers["user-agent"] == f"tlskit/{tlskit.__version__}"
    assert request.headers["x-trace"] == "abc"


def test_user_header_replaces_default(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str
) -> None:
    tlskit.get(https_server.url("/"), cafile=ca_file, headers=[("user-agent", "custom/1")])
    request, _ = responder.requests[0]
    assert request.headers["user-agent"] == "custom/1"
    assert sum(1 for line in request.raw_lines if line.lower().startswith("user-agent")) == 1


def test_client_keeps_connection_alive(https_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        bodies = [client.get(https_server.url("/")).body for _ in range(5)]
    assert bodies == [b"hello, world\n"] * 5
    assert https_server.connections == 1


def test_separate_policies_use_separate_connections(https_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        client.get(https_server.url("/"))
        client.get(https_server.url("/"), maximum_version="1.2")
        assert client.get(https_server.url("/"), maximum_version="1.2").tls.version == "TLSv1.2"
    assert https_server.connections == 2


def test_sni_sent_for_names_not_ips(
    server_cert: trustme.LeafCert, start_server: StartServer, ca_file: str
) -> None:
    names: List[Optional[str]] = []
    context = make_server_context(server_cert)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), context)
    tlskit.get(server.url("/", host="localhost"), cafile=ca_file)
    tlskit.get(server.url("/"), cafile=ca_file)
    assert names == ["localhost", None]


def chunked_route(request: Request) -> bytes:
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"


def test_chunked_body(start_server: StartServer, ca_file: str) -> None:
    server = start_server(HTTPResponder({"/": chunked_route}))
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"abcdefg"
        assert client.get(server.url("/")).body == b"abcdefg"
    assert server.connections == 1


def test_close_delimited_body_with_close_notify(start_server: StartServer, ca_file: str) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close_notify=True))
    assert tlskit.get(server.url("/"), cafile=ca_file).body == b"until the end"


def test_close_delimited_body_without_close_notify(start_server: StartServer, ca_file: str) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\n\r\nmaybe cut"))
    with pytest.raises(IncompleteBodyError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.received == len(b"maybe cut")
    assert caught.value.expected is None
    assert "close_notify" in str(caught.value)


@pytest.mark.parametrize("close_notify", [False, True])
def test_cut_body_raises(start_server: StartServer, ca_file: str, close_notify: bool) -> None:
    server = start_server(
        scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", close_notify=close_notify)
    )
    with pytest.raises(IncompleteBodyError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.received == len(b"only this")
    assert caught.value.expected == 100


def test_max_body(https_server: TLSServer, ca_file: str) -> None:
    with pytest.raises(LimitExceededError) as caught:
        tlskit.get(https_server.url("/"), cafile=ca_file, max_body=4)
    assert caught.value.limit == "max_body"
    assert caught.value.value == 4


def test_stale_keep_alive_connection_is_replaced(start_server: StartServer, ca_file: str) -> None:
    # The server answers one request per connection without saying so, then closes.
    server = start_server(scripted(response_bytes(200, [], b"once"), close_notify=True))
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"once"
        assert client.get(server.url("/")).body == b"once"
    assert server.connections == 2


def test_connection_refused(https_server: TLSServer, ca_file: str) -> None:
    url = https_server.url("/")
    https_server.stop()  # Stopping twice (again at teardown) is harmless.
    with pytest.raises(ConnectError) as caught:
        tlskit.get(url, cafile=ca_file, timeout=5)
    assert caught.value.port == https_server.port
    assert "could not connect" in str(caught.value)


def test_read_timeout(start_server: StartServer, ca_file: str) -> None:
    release = threading.Event()

    def silent(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        release.wait(5)

    server = start_server(silent)
    try:
        with pytest.raises(TimeoutExceededError) as caught:
            tlskit.get(server.url("/"), cafile=ca_file, timeout=0.3)
    finally:
        release.set()
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.phase in ("read", "total")


# Verification failures, each caused by a real server certificate.


def serve_cert(start_server: StartServer, cert: trustme.LeafCert) -> TLSServer:
    return start_server(HTTPResponder({"/": (200, [], b"ok")}), make_server_context(cert))


def test_expired_certificate(ca: trustme.CA, start_server: StartServer, ca_file: str) -> None:
    expired = ca.issue_cert(
        "127.0.0.1", not_after=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    )
    server = serve_cert(start_server, expired)
    with pytest.raises(CertificateExpiredError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.verify_code == 10
    assert caught.value.host == "127.0.0.1"
    assert caught.value.port == server.port
    assert "expired" in caught.value.verify_message


def test_not_yet_valid_certificate(ca: trustme.CA, start_server: StartServer, ca_file: str) -> None:
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    cert = ca.issue_cert("127.0.0.1", not_before=future)
    server = serve_cert(start_server, cert)
    with pytest.raises(CertificateNotYetValidError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.verify_code == 9


def test_hostname_mismatch(ca: trustme.CA, start_server: StartServer, ca_file: str) -> None:
    server = serve_cert(start_server, ca.issue_cert("other.test"))
    with pytest.raises(HostnameMismatchError) as caught:
        tlskit.get(server.url("/", host="localhost"), cafile=ca_file)
    assert caught.value.verify_code == 62
    assert caught.value.host == "localhost"


def test_ip_mismatch(ca: trustme.CA, start_server: StartServer, ca_file: str) -> None:
    server = serve_cert(start_server, ca.issue_cert("localhost"))
    with pytest.raises(HostnameMismatchError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.verify_code == 64


def test_unknown_ca(https_server: TLSServer, tmp_path) -> None:
    other = trustme.CA()
    path = str(tmp_path / "other.pem")
    other.cert_pem.write_to_path(path)
    with pytest.raises(UntrustedCertificateError) as caught:
        tlskit.get(https_server.url("/"), cafile=path, system_ca=False)
    assert caught.value.verify_code == 20
    assert "TLSPolicy.cafile" in str(caught.value)


def test_verify_false_accepts_unknown_ca(https_server: TLSServer) -> None:
    assert tlskit.get(https_server.url("/"), verify=False).status == 200


def test_pin_match(https_server: TLSServer, server_cert: trustme.LeafCert, ca_file: str) -> None:
    der = ssl.PEM_cert_to_DER_cert(server_cert.cert_chain_pems[0].bytes().decode())
    response = tlskit.get(https_server.url("/"), cafile=ca_file, pins=[spki_pin(der)])
    assert response.status == 200


def test_pin_mismatch(
    https_server: TLSServer, responder: HTTPResponder, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    wrong = "sha256/" + "A" * 43 + "="
    with pytest.raises(PinMismatchError) as caught:
        tlskit.get(https_server.url("/"), cafile=ca_file, pins=[wrong])
    der = ssl.PEM_cert_to_DER_cert(server_cert.cert_chain_pems[0].bytes().decode())
    assert caught.value.expected_pins == (wrong,)
    assert spki_pin(der) in caught.value.actual_pins
    assert responder.requests == []
