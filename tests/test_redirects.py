"""Redirect rules: reference resolution, Location checks, method changes, origin changes."""

from __future__ import annotations

import socket
import threading
from typing import Callable, List, Tuple

import pytest

import tlskit
from servers import HTTPResponder, Request, TLSServer, read_request, response_bytes
from tlskit import RedirectError, Timeout, TimeoutExceededError, TooManyRedirectsError
from tlskit._redirects import is_cross_origin, next_method, next_url, resolve_reference
from tlskit._url import parse_url

StartServer = Callable[..., TLSServer]

BASE = parse_url("https://a.test/b/c/d;p?q")

# RFC 3986 5.4.1 and 5.4.2 examples, with the https scheme.
RESOLVED = [
    ("g", "https://a.test/b/c/g"),
    ("./g", "https://a.test/b/c/g"),
    ("g/", "https://a.test/b/c/g/"),
    ("/g", "https://a.test/g"),
    ("//g", "https://g"),
    ("?y", "https://a.test/b/c/d;p?y"),
    ("g?y", "https://a.test/b/c/g?y"),
    ("#s", "https://a.test/b/c/d;p?q"),
    ("g#s", "https://a.test/b/c/g"),
    (";x", "https://a.test/b/c/;x"),
    ("", "https://a.test/b/c/d;p?q"),
    (".", "https://a.test/b/c/"),
    ("./", "https://a.test/b/c/"),
    ("..", "https://a.test/b/"),
    ("../", "https://a.test/b/"),
    ("../g", "https://a.test/b/g"),
    ("../..", "https://a.test/"),
    ("../../g", "https://a.test/g"),
    ("../../../g", "https://a.test/g"),
    ("/./g", "https://a.test/g"),
    ("/../g", "https://a.test/g"),
    ("g.", "https://a.test/b/c/g."),
    ("..g", "https://a.test/b/c/..g"),
    ("./../g", "https://a.test/b/g"),
    ("g/./h", "https://a.test/b/c/g/h"),
    ("g/../h", "https://a.test/b/c/h"),
    ("HTTPS://Other.test:8443/x", "https://Other.test:8443/x"),
    ("/a%2Fb/%2e%2e/c", "https://a.test/a%2Fb/%2e%2e/c"),
    # The base's scheme without "//" has no authority: a relative reference.
    ("https:g", "https://a.test/b/c/g"),
    ("HTTPS:/g", "https://a.test/g"),
    ("https:127.0.0.1:1/x", "https://a.test/b/c/127.0.0.1:1/x"),
    ("https:evil.test/x?y", "https://a.test/b/c/evil.test/x?y"),
]


@pytest.mark.parametrize("reference, expected", RESOLVED)
def test_resolve_reference(reference: str, expected: str) -> None:
    assert resolve_reference(BASE, reference) == expected


def follow(location: str, allow_http: bool = False) -> str:
    history: List[object] = []
    return str(next_url(BASE, location, allow_http=allow_http, history=history))


def test_next_url_keeps_escapes() -> None:
    assert follow("/caf%C3%A9/%2F?x=%20") == "https://a.test/caf%C3%A9/%2F?x=%20"


def test_next_url_encodes_raw_utf8() -> None:
    # The parser reads header bytes as latin-1; raw UTF-8 shows up as mojibake.
    raw = "/café/ü".encode().decode("latin-1")
    assert follow(raw) == "https://a.test/caf%C3%A9/%C3%BC"


def test_next_url_encodes_bytes_that_are_not_utf8() -> None:
    assert follow("/caf\xe9") == "https://a.test/caf%E9"


def test_next_url_encodes_spaces() -> None:
    assert follow("/a b") == "https://a.test/a%20b"


def test_next_url_scheme_relative() -> None:
    assert follow("//other.test:444/x") == "https://other.test:444/x"


def test_next_url_idna_host() -> None:
    raw = "https://bücher.test/".encode().decode("latin-1")
    assert follow(raw) == "https://xn--bcher-kva.test/"


def test_next_url_refuses_http() -> None:
    with pytest.raises(RedirectError) as caught:
        follow("http://a.test/")
    assert caught.value.location == "http://a.test/"
    assert "allow_http=True" in str(caught.value)
    assert follow("http://a.test/", allow_http=True) == "http://a.test/"


@pytest.mark.parametrize(
    "location, text",
    [
        ("ftp://a.test/", "scheme 'ftp'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("https://a.test:99999/", "not a valid URL"),
        ("https://a.test/\tx", "not a valid URL"),
        ("https:///nohost", "not a valid URL"),
        ("https://user:secret@a.test/", "carries credentials"),
        ("https://a.test:" + "1" * 5000 + "/", "is not a number from 1 to 65535"),
        ("https://a.test:\u0661\u0662/", "is not a number from 1 to 65535"),
        # faß as a server sends it: UTF-8 bytes, read as Latin-1 header text.
        ("https://fa\u00c3\u009f.test/", "A-label"),
        ("https://[::1%41]/", "'%25'"),
    ],
)
def test_invalid_location_refused(location: str, text: str) -> None:
    with pytest.raises(RedirectError) as caught:
        follow(location)
    assert text in str(caught.value)
    assert "secret" not in str(caught.value)


def test_other_scheme_without_host_refused() -> None:
    with pytest.raises(RedirectError) as caught:
        follow("http:evil.test/x", allow_http=True)
    assert caught.value.location == "http:evil.test/x"
    assert "without a host" in str(caught.value)


def test_long_location_cut_in_message() -> None:
    location = "https://a.test:" + "1" * 5000 + "/"
    with pytest.raises(RedirectError) as caught:
        follow(location)
    assert caught.value.location == location
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize(
    "status, method, expected",
    [
        (301, "GET", ("GET", True)),
        (301, "POST", ("GET", False)),
        (302, "POST", ("GET", False)),
        (302, "PUT", ("PUT", True)),
        (303, "POST", ("GET", False)),
        (303, "PUT", ("GET", False)),
        (303, "HEAD", ("HEAD", True)),
        (307, "POST", ("POST", True)),
        (308, "POST", ("POST", True)),
        (308, "DELETE", ("DELETE", True)),
    ],
)
def test_next_method(status: int, method: str, expected: tuple) -> None:
    assert next_method(status, method) == expected


def test_cross_origin() -> None:
    assert not is_cross_origin(BASE, parse_url("https://a.test:443/other"))
    assert is_cross_origin(BASE, parse_url("https://a.test:8443/"))
    assert is_cross_origin(BASE, parse_url("https://b.test/"))
    assert is_cross_origin(BASE, parse_url("http://a.test/", allow_http=True))


# End to end.


def redirect(status: int, location: str) -> Callable[[Request], bytes]:
    def route(request: Request) -> bytes:
        return response_bytes(status, [("Location", location)], b"moved", "Moved")

    return route


@pytest.fixture
def redirect_server(start_server: StartServer) -> Tuple[TLSServer, HTTPResponder]:
    responder = HTTPResponder({"/final": (200, [], b"arrived")})
    return start_server(responder), responder


@pytest.mark.parametrize(
    "status, method, expected_method, keeps_body",
    [
        (301, "GET", "GET", True),
        (301, "POST", "GET", False),
        (302, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (307, "POST", "POST", True),
        (308, "PUT", "PUT", True),
    ],
)
def test_redirect_method_and_body(
    redirect_server: Tuple[TLSServer, HTTPResponder],
    ca_file: str,
    status: int,
    method: str,
    expected_method: str,
    keeps_body: bool,
) -> None:
    server, responder = redirect_server
    responder.routes["/start"] = redirect(status, "final")
    body = b"payload" if method != "GET" else None
    with tlskit.Client(cafile=ca_file) as client:
        response = client.request(
            method, server.url("/start"), body=body, headers={"Content-Type": "text/plain"}
        )
    assert response.body == b"arrived"
    assert response.url == server.url("/final")
    assert [hop.status for hop in response.history] == [status]
    assert response.history[0].body == b"moved"
    assert response.history[0].url == server.url("/start")
    followed, sent = responder.requests[-1]
    assert followed.method == expected_method
    if keeps_body:
        assert sent == (body or b"")
        assert followed.headers["content-type"] == "text/plain"
    else:
        assert sent == b""
        assert "content-type" not in followed.headers
        assert "content-length" not in followed.headers
    assert server.connections == 1


def test_location_scheme_without_slashes_stays(
    redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str
) -> None:
    # "https:127.0.0.1:1/final" has no authority, so it names a path here,
    # never port 1 of 127.0.0.1.
    server, responder = redirect_server
    responder.routes["/a/start"] = redirect(302, "https:127.0.0.1:1/final")
    responder.routes["/a/127.0.0.1:1/final"] = (200, [], b"same origin")
    response = tlskit.get(server.url("/a/start"), cafile=ca_file)
    assert response.body == b"same origin"
    assert response.url == server.url("/a/127.0.0.1:1/final")
    assert server.connections == 1


def test_long_redirect_body_not_read(start_server: StartServer, ca_file: str) -> None:
    # A chunked redirect body of 32 MiB: the client reads 64 KiB of it at
    # most, closes that connection and follows the Location on a new one.
    written: List[int] = []

    def handler(sock: socket.socket) -> None:
        buffer = bytearray()
        received = read_request(sock, buffer)
        if received is None:
            return
        if received[0].target == "/final":
            sock.sendall(response_bytes(200, [], b"arrived"))
            return
        sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: /final\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(512):
                sock.sendall(b"10000\r\n" + b"A" * 0x10000 + b"\r\n")
                written.append(0x10000)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            return

    server = start_server(handler)
    with tlskit.Client(cafile=ca_file, timeout=Timeout(connect=5, read=5)) as client:
        with client.stream(server.url("/start")) as response:
            assert response.read() == b"arrived"
    assert [hop.status for hop in response.history] == [302]
    assert response.history[0].body == b""
    assert server.connections == 2
    assert sum(written) < 32 * 1024 * 1024


def test_redirect_chain_and_history(redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str) -> None:
    server, responder = redirect_server
    responder.routes["/a"] = redirect(302, "/b?x=%2F")
    responder.routes["/b"] = redirect(301, f"//127.0.0.1:{server.port}/c")
    responder.routes["/c"] = redirect(308, server.url("/final"))
    response = tlskit.get(server.url("/a"), cafile=ca_file)
    assert response.status == 200
    assert [hop.url for hop in response.history] == [
        server.url("/a"),
        server.url("/b?x=%2F"),
        server.url("/c"),
    ]
    assert [request.target for request, _ in responder.requests] == ["/a", "/b?x=%2F", "/c", "/final"]


def test_redirect_with_raw_utf8_location(
    redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str
) -> None:
    server, responder = redirect_server

    def raw(request: Request) -> bytes:
        return b"HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n"

    responder.routes["/start"] = raw
    responder.routes["/caf%C3%A9"] = (200, [], b"encoded")
    assert tlskit.get(server.url("/start"), cafile=ca_file).body == b"encoded"


def test_too_many_redirects(redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str) -> None:
    server, responder = redirect_server
    responder.routes["/loop"] = redirect(302, "/loop")
    with pytest.raises(TooManyRedirectsError) as caught:
        tlskit.get(server.url("/loop"), cafile=ca_file, max_redirects=3)
    assert len(caught.value.history) == 4
    assert len(responder.requests) == 4
    assert "max_redirects" in str(caught.value)
    with pytest.raises(TooManyRedirectsError):
        tlskit.get(server.url("/loop"), cafile=ca_file)
    assert len(responder.requests) == 4 + 11


def test_redirects_not_followed_when_off(
    redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str
) -> None:
    server, responder = redirect_server
    responder.routes["/start"] = redirect(302, "/final")
    response = tlskit.get(server.url("/start"), cafile=ca_file, follow_redirects=False)
    assert response.status == 302
    assert response.headers["location"] == "/final"
    assert response.history == []


def test_redirect_to_http_refused_end_to_end(
    redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str
) -> None:
    server, responder = redirect_server
    responder.routes["/start"] = redirect(301, "http://127.0.0.1:1/")
    with pytest.raises(RedirectError) as caught:
        tlskit.get(server.url("/start"), cafile=ca_file)
    assert caught.value.location == "http://127.0.0.1:1/"
    assert [hop.status for hop in caught.value.history] == [301]
    assert len(responder.requests) == 1


def test_https_to_http_followed_when_allowed(
    redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str
) -> None:
    server, responder = redirect_server
    plain = HTTPResponder({"/": (200, [], b"plain")})
    with TLSServer(None, plain) as http_server:
        responder.routes["/start"] = redirect(302, http_server.url("/"))
        response = tlskit.get(
            server.url("/start"), cafile=ca_file, allow_http=True, headers={"Cookie": "a=1"}
        )
    assert response.body == b"plain"
    assert response.tls is None
    assert "cookie" not in plain.requests[0][0].headers


def test_cross_origin_redirect_drops_credentials(
    redirect_server: Tuple[TLSServer, HTTPResponder], start_server: StartServer, ca_file: str
) -> None:
    server, responder = redirect_server
    other = HTTPResponder({"/landing": (200, [], b"other origin")})
    other_server = start_server(other)
    responder.routes["/same"] = redirect(302, "/final")
    responder.routes["/away"] = redirect(307, other_server.url("/landing"))
    secrets = {
        "Authorization": "Bearer t0ken",
        "Cookie": "session=1",
        "Proxy-Authorization": "Basic eA==",
        "X-Keep": "1",
    }
    with tlskit.Client(cafile=ca_file) as client:
        client.get(server.url("/same"), headers=secrets)
        same_origin, _ = responder.requests[-1]
        response = client.get(server.url("/away"), headers=secrets, auth=("ann", "pw"))
    assert same_origin.headers["authorization"] == "Bearer t0ken"
    assert same_origin.headers["cookie"] == "session=1"
    assert response.body == b"other origin"
    landed, _ = other.requests[0]
    for name in ("authorization", "cookie", "proxy-authorization"):
        assert name not in landed.headers, name
    assert landed.headers["x-keep"] == "1"
    assert landed.headers["host"] == f"127.0.0.1:{other_server.port}"
    assert responder.requests[-1][0].headers["authorization"].startswith("Basic ")


def test_redirect_timeout_covers_all_hops(
    redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str
) -> None:
    # Each hop takes 0.3 s, well within a read timeout, so only a deadline
    # for the whole call, redirects included, stops the loop before
    # max_redirects does.
    server, responder = redirect_server
    pause = threading.Event()

    def slow_loop(request: Request) -> bytes:
        pause.wait(0.3)
        return response_bytes(302, [("Location", "/loop")], b"", "Found")

    responder.routes["/loop"] = slow_loop
    with pytest.raises(TimeoutExceededError) as caught:
        tlskit.get(server.url("/loop"), cafile=ca_file, timeout=1, max_redirects=50)
    assert caught.value.phase == "total"
    assert caught.value.timeout == 1


def test_repeated_location_followed(redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str) -> None:
    server, responder = redirect_server
    responder.routes["/start"] = (302, [("Location", "/final"), ("Location", "/final")], b"")
    response = tlskit.get(server.url("/start"), cafile=ca_file)
    assert response.body == b"arrived"


def test_different_locations_refused(redirect_server: Tuple[TLSServer, HTTPResponder], ca_file: str) -> None:
    # Joined as other fields are, "/final" and "/b" would make "/final, /b".
    server, responder = redirect_server
    responder.routes["/start"] = (302, [("Location", "/final"), ("Location", "/b")], b"")
    with pytest.raises(
        RedirectError, match="its 2 Location fields do not all hold the same value \\('/final', '/b'\\)"
    ) as caught:
        tlskit.get(server.url("/start"), cafile=ca_file)
    assert caught.value.location == "/final"
    assert [request.target for request, _ in responder.requests] == ["/start"]
