"""End-to-end GETs against real TLS servers on loopback."""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import os
import socket
import ssl
import threading
import time
import warnings
from typing import Callable, List, Optional

import pytest
import trustme

import tlskit
from conftest import has_ipv6_loopback, make_server_context
from servers import HTTPResponder, Request, TLSServer, read_request, response_bytes, scripted
from tlskit import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    ConnectError,
    HostnameMismatchError,
    IncompleteBodyError,
    InvalidHeaderError,
    InvalidURLError,
    LimitExceededError,
    Limits,
    PinMismatchError,
    PolicyError,
    Timeout,
    TimeoutExceededError,
    UntrustedCertificateError,
)
from tlskit._certs import spki_pin
from tlskit._headers import Headers
from tlskit._response import Response

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


def test_tls_facts_per_connection(https_server: TLSServer, ca_file: str) -> None:
    first = tlskit.get(https_server.url("/"), cafile=ca_file).tls
    second = tlskit.get(https_server.url("/"), cafile=ca_file).tls
    assert second.peer_certificate == first.peer_certificate
    assert second.peer_certificate_der == first.peer_certificate_der
    # Each response gets a dict of its own, so changing one changes no other.
    assert second.peer_certificate is not first.peer_certificate
    second.peer_certificate.clear()
    assert first.peer_certificate["subjectAltName"]


def test_handshake_logged_at_debug(
    https_server: TLSServer, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tlskit._connection"):
        tlskit.get(https_server.url("/"), cafile=ca_file)
    messages = [record.getMessage() for record in caplog.records if record.name == "tlskit._connection"]
    assert f"TLS with 127.0.0.1:{https_server.port}: TLSv1.3" in " ".join(messages)


def test_tls_facts_without_verification(https_server: TLSServer, ca_file: str) -> None:
    tlskit.get(https_server.url("/"), cafile=ca_file)
    tls = tlskit.get(https_server.url("/"), verify=False).tls
    assert tls.peer_certificate == {}
    assert tls.peer_certificate_der


def test_json_body(https_server: TLSServer, ca_file: str) -> None:
    assert tlskit.get(https_server.url("/json"), cafile=ca_file).json() == {"ok": True}


def test_json_body_not_utf8(start_server: StartServer, ca_file: str) -> None:
    # One Latin-1 byte: json.loads would raise UnicodeDecodeError, which the docs do not name.
    server = start_server(HTTPResponder({"/": (200, [], b'{"name": "caf\xe9"}')}))
    response = tlskit.get(server.url("/"), cafile=ca_file)
    with pytest.raises(json.JSONDecodeError) as caught:
        response.json()
    assert caught.value.pos == 13
    assert str(caught.value).startswith(f"invalid JSON body from {server.url('/')}: it is not valid utf-8")


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


def test_repeated_headers_follow_each_call(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str
) -> None:
    headers = {"X-Trace": "one"}
    with tlskit.Client(cafile=ca_file) as client:
        client.get(https_server.url("/"), headers=headers)
        headers["X-Trace"] = "two"
        client.get(https_server.url("/"), headers=headers)
        client.get(https_server.url("/"), headers=[("X-Trace", "three")])
        client.get(https_server.url("/"))
        with pytest.raises(tlskit.InvalidHeaderError):
            client.get(https_server.url("/"), headers={"X-Trace": "bad\r\nvalue"})
        with pytest.raises(tlskit.InvalidHeaderError):
            client.get(https_server.url("/"), headers={"X-Trace": "bad\r\nvalue"})
    traces = [request.headers.get("x-trace") for request, _ in responder.requests]
    assert traces == ["one", "two", "three", None]


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


# Methods, content and default headers.


def test_post_json(https_server: TLSServer, responder: HTTPResponder, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        response = client.post(https_server.url("/json"), json={"name": "café"})
    assert response.json() == {"ok": True}
    request, body = responder.requests[0]
    assert request.method == "POST"
    assert body == '{"name":"café"}'.encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_methods_with_bytes(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str, method: str
) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        assert client.request(method, https_server.url("/"), body=b"data").status == 200
    request, body = responder.requests[0]
    assert request.method == method
    assert body == b"data"


def test_default_headers(https_server: TLSServer, responder: HTTPResponder, ca_file: str) -> None:
    tlskit.get(https_server.url("/"), cafile=ca_file)
    headers = responder.requests[0][0].headers
    assert headers["accept-encoding"] == "gzip, deflate"
    assert headers["connection"] == "keep-alive"
    assert headers["accept"] == "*/*"


def test_head_has_no_body(https_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        response = client.head(https_server.url("/"))
        assert response.body == b""
        assert response.headers["content-length"] == str(len(b"hello, world\n"))
        assert client.get(https_server.url("/")).body == b"hello, world\n"
    assert https_server.connections == 1


def test_interim_responses_skipped(start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        scripted(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
            + response_bytes(200, [], b"final")
        )
    )
    response = tlskit.get(server.url("/"), cafile=ca_file)
    assert response.status == 200
    assert response.body == b"final"
    assert "link" not in response.headers


@pytest.mark.parametrize(
    "status, headers",
    [(204, [("Content-Length", "0")]), (304, [("ETag", '"x"')])],
)
def test_no_body_statuses_keep_connection(
    start_server: StartServer, ca_file: str, status: int, headers: list
) -> None:
    server = start_server(HTTPResponder({"/empty": lambda request: response_bytes(status, headers, b"")}))
    with tlskit.Client(cafile=ca_file) as client:
        for _ in range(2):
            response = client.get(server.url("/empty"))
            assert response.status == status
            assert response.body == b""
    assert server.connections == 1


def test_transfer_encoding_with_length_not_reused(start_server: StartServer, ca_file: str) -> None:
    route = lambda request: (  # noqa: E731
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    )
    server = start_server(HTTPResponder({"/": route}))
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"ok"
        assert client.get(server.url("/")).body == b"ok"
    assert server.connections == 2


def test_gzip_decoded_by_default(start_server: StartServer, ca_file: str) -> None:
    packed = gzip.compress(b"squeezed" * 100)
    server = start_server(HTTPResponder({"/": (200, [("Content-Encoding", "gzip")], packed)}))
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"squeezed" * 100
        raw = client.get(server.url("/"), decode_content=False)
    assert raw.body == packed
    assert raw.headers["content-encoding"] == "gzip"


def test_max_body_counts_decoded_bytes(start_server: StartServer, ca_file: str) -> None:
    server = start_server(
        HTTPResponder({"/": (200, [("Content-Encoding", "gzip")], gzip.compress(b"a" * 10_000))})
    )
    with pytest.raises(LimitExceededError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, max_body=5_000)
    assert caught.value.limit == "max_body"


@pytest.mark.parametrize(
    "content_type, body, text",
    [
        ("text/plain; charset=ISO-8859-1", b"caf\xe9", "café"),
        ('text/plain; charset="utf-8"', "café".encode(), "café"),
        ("application/json", '{"a": "é"}'.encode(), '{"a": "é"}'),
        ("text/plain; charset=no-such-codec", b"ok", "ok"),
        # Python codecs that are no charset, and names that fail the lookup.
        ("text/plain; charset=undefined", b"\xff\xfeok", "\ufffd\ufffdok"),
        ("text/plain; charset=idna", b"\xff\xfeok", "\ufffd\ufffdok"),
        ("text/plain; charset=punycode", b"\xffok", "\ufffdok"),
        ("text/plain; charset=unicode_escape", b"\\x41", "\\x41"),
        ("text/plain; charset=base64", b"b2s=", "b2s="),
    ],
)
def test_text_uses_charset(
    start_server: StartServer, ca_file: str, content_type: str, body: bytes, text: str
) -> None:
    server = start_server(HTTPResponder({"/": (200, [("Content-Type", content_type)], body)}))
    assert tlskit.get(server.url("/"), cafile=ca_file).text == text


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "utf\x00", "rot13", "x" * 5000])
def test_text_falls_back_to_utf8(charset: str) -> None:
    headers = Headers([("Content-Type", f"text/plain; charset={charset}")])
    response = Response(
        200, "OK", headers, "é\n".encode() + b"\xff", "https://example.test/", "HTTP/1.1", None
    )
    assert response.text == "é\n\ufffd"


# Plain http, URLs and options.


def test_plain_http_needs_allow_http(ca_file: str) -> None:
    responder = HTTPResponder({"/": (200, [], b"plain")})
    with TLSServer(None, responder) as server:
        with pytest.raises(InvalidURLError, match="allow_http=True"):
            tlskit.get(server.url("/"))
        with tlskit.Client(allow_http=True) as client:
            first = client.get(server.url("/"))
            second = client.get(server.url("/"))
    assert first.body == second.body == b"plain"
    assert first.tls is None
    assert server.connections == 1
    assert responder.requests[0][0].headers["host"] == f"127.0.0.1:{server.port}"


def test_ipv6_zone_kept_off_the_wire(server_context: ssl.SSLContext, ca_file: str) -> None:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    responder = HTTPResponder({"/": (200, [], b"zoned")})
    with TLSServer(server_context, responder, host="::1") as server:
        # glibc takes interface names as zone ids only for link-local
        # addresses, so the loopback's zone is given by its index.
        try:
            zone = str(socket.if_nametoindex("lo"))
        except OSError:
            pytest.skip("no loopback interface named lo")
        response = tlskit.get(f"https://[::1%25{zone}]:{server.port}/", cafile=ca_file)
    assert response.body == b"zoned"
    assert responder.requests[0][0].headers["host"] == f"[::1]:{server.port}"


@pytest.mark.parametrize(
    "url, text",
    [
        ("https://127.0.0.1/a\r\nX: 1", "'\\r'"),
        ("https://127.0.0.1/a b", "' '"),
        ("https://127.0.0.1:0/", "port '0'"),
    ],
)
def test_invalid_url_sends_nothing(https_server: TLSServer, ca_file: str, url: str, text: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        tlskit.get(url, cafile=ca_file)
    assert text in str(caught.value)
    assert https_server.connections == 0


def test_invalid_header_sends_nothing(https_server: TLSServer, ca_file: str) -> None:
    with pytest.raises(InvalidHeaderError):
        tlskit.get(https_server.url("/"), cafile=ca_file, headers={"X-Evil": "a\nInjected: 1"})
    with pytest.raises(InvalidHeaderError):
        tlskit.get(https_server.url("/"), cafile=ca_file, headers={"X\x00": "1"})
    assert https_server.connections == 0


@pytest.mark.parametrize(
    "options, field",
    [
        ({"max_redirects": -1}, "max_redirects"),
        ({"max_body": "10"}, "max_body"),
        ({"follow_redirects": "yes"}, "follow_redirects"),
        ({"allow_http": 1}, "allow_http"),
        ({"decode_content": None}, "decode_content"),
        ({"proxy": 3128}, "proxy"),
        ({"timeout": -1}, "timeout"),
        ({"retries": -2}, "retries"),
        ({"no_such_option": 1}, "no_such_option"),
        ({"timeout": 1e300}, "timeout"),
        ({"limits": Limits(max_header_count="100")}, "limits"),  # type: ignore[arg-type]
        ({"limits": Limits(max_line_bytes=-1)}, "limits"),
        ({"limits": Limits(max_header_bytes=0)}, "limits"),
        ({"limits": Limits(max_decoded_bytes=float("nan"))}, "limits"),  # type: ignore[arg-type]
        ({"limits": Limits(max_expansion_ratio=True)}, "limits"),
        ({"headers": 5}, "headers"),
        ({"headers": "X-A: 1"}, "headers"),
    ],
)
def test_invalid_options_raise(options: dict, field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(**options)
    assert caught.value.field == field
    with tlskit.Client() as client, pytest.raises(PolicyError):
        client.get("https://127.0.0.1:1/", **options)


@pytest.mark.parametrize(
    "options, field",
    [
        ({"trust_on_first_use": 1}, "trust_on_first_use"),
        ({"accept_key_change": "yes"}, "accept_key_change"),
        ({"pins": None}, "pins"),
        ({"pins": 123}, "pins"),
    ],
)
def test_invalid_client_settings_raise(options: dict, field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(**options)
    assert caught.value.field == field


def test_invalid_limits_send_nothing(https_server: TLSServer, ca_file: str) -> None:
    limits = Limits(max_header_count="100")  # type: ignore[arg-type]
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(cafile=ca_file, limits=limits).get(https_server.url("/"))
    assert "Limits.max_header_count: '100'" in str(caught.value)
    with pytest.raises(PolicyError):
        tlskit.get(https_server.url("/"), cafile=ca_file, timeout=Timeout(read=1e10))
    assert https_server.connections == 0


def test_timeout_object(https_server: TLSServer, ca_file: str) -> None:
    timeout = Timeout(connect=5, read=5, total=10)
    with tlskit.Client(cafile=ca_file, timeout=timeout) as client:
        assert client.options.timeout == timeout
        assert client.get(https_server.url("/"), timeout=None).status == 200


# Threads and processes.


def test_client_shared_by_threads(https_server: TLSServer, ca_file: str) -> None:
    errors: List[BaseException] = []
    bodies: List[bytes] = []

    with tlskit.Client(cafile=ca_file) as client:

        def work() -> None:
            try:
                for _ in range(10):
                    bodies.append(client.get(https_server.url("/")).body)
            except BaseException as exc:  # noqa: B036 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert not errors
    assert bodies == [b"hello, world\n"] * 60
    assert https_server.connections <= 6


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_child_after_fork_opens_its_own_connection(https_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(https_server.url("/")).status == 200
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a threaded process may deadlock;
            # the child here only makes one request and exits.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = 0 if client.get(https_server.url("/")).body == b"hello, world\n" else 2
            finally:
                os._exit(status)
        for _ in range(200):
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("child did not finish within 10 s")
        assert os.waitstatus_to_exitcode(code) == 0
        # The parent's pooled connection is still its own and still works.
        assert client.get(https_server.url("/")).status == 200
    assert https_server.connections == 2


def test_post_json_none_sends_nothing(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str
) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        client.post(https_server.url("/"), json=None)
    request, body = responder.requests[0]
    assert body == b""
    assert request.headers["content-length"] == "0"
    assert "content-type" not in request.headers


def test_raise_for_status_error(https_server: TLSServer, ca_file: str) -> None:
    response = tlskit.get(https_server.url("/missing"), cafile=ca_file)
    assert response.status == 404
    assert not response.ok
    with pytest.raises(tlskit.HTTPStatusError) as caught:
        response.raise_for_status()
    assert caught.value.status == 404
    assert caught.value.response is response
    assert caught.value.host == "127.0.0.1"
    assert caught.value.port == https_server.port
    assert str(caught.value) == f"{https_server.url('/missing')} returned HTTP 404 Not Found."


def test_raise_for_status_passes_success(https_server: TLSServer, ca_file: str) -> None:
    response = tlskit.get(https_server.url("/"), cafile=ca_file)
    assert response.raise_for_status() is response
