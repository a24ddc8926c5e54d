"""End to end: the response forms a client must accept, read from real TLS servers on loopback.

Status lines of HTTP/1.0 and without a reason phrase, repeated header
fields, chunk extensions and trailers, repeated identical Content-Length
values, and every supported content coding, alone and stacked. The parser
tables in test_http11.py check the same forms byte by byte.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Callable, List

import pytest

import tlskit
from servers import HTTPResponder, Request, TLSServer
from tlskit import LimitExceededError, Limits
from tlskit._decoding import MAX_CONTENT_ENCODINGS

StartServer = Callable[..., TLSServer]

TEXT = b"tlskit reads every supported form of a response. " * 40


def raw_route(data: bytes) -> Callable[[Request], bytes]:
    """Return a route that sends ``data`` as the whole response."""

    def route(request: Request) -> bytes:
        return data

    return route


def serve(start_server: StartServer, data: bytes) -> TLSServer:
    """Start a keep-alive server that sends ``data`` for every request to /."""
    return start_server(HTTPResponder({"/": raw_route(data)}))


STATUS_LINES = {
    # (response bytes, HTTP version, status, reason)
    "http-1.0": (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.0", 200, "OK"),
    "no-reason": (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1", 200, ""),
    "empty-reason": (b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1", 200, ""),
    "long-reason": (
        b"HTTP/1.1 203 Non-Authoritative Information\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1",
        203,
        "Non-Authoritative Information",
    ),
}


@pytest.mark.parametrize("case", sorted(STATUS_LINES))
def test_status_line_forms(start_server: StartServer, ca_file: str, case: str) -> None:
    data, version, status, reason = STATUS_LINES[case]
    server = serve(start_server, data)
    response = tlskit.get(server.url("/"), cafile=ca_file)
    assert response.http_version == version
    assert response.status == status
    assert response.reason == reason
    assert response.body == b"ok"


def test_http10_keep_alive_reuses_connection(start_server: StartServer, ca_file: str) -> None:
    server = serve(start_server, b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"ok"
        assert client.get(server.url("/")).body == b"ok"
    assert server.connections == 1


def test_repeated_fields_kept_in_order(start_server: StartServer, ca_file: str) -> None:
    server = serve(
        start_server,
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nVary: Accept\r\nset-cookie: b=2\r\nVARY: Origin\r\n"
        b"Content-Length: 0\r\n\r\n",
    )
    headers = tlskit.get(server.url("/"), cafile=ca_file).headers
    assert headers.get_all("SET-cookie") == ["a=1", "b=2"]
    # Set-Cookie values may contain commas, so only other fields are joined.
    assert headers["Set-Cookie"] == "a=1"
    assert headers["vary"] == "Accept, Origin"
    assert [name for name, _ in headers.fields()][:4] == ["Set-Cookie", "Vary", "set-cookie", "VARY"]


CHUNKED_WITH_TRAILERS = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;name=value\r\nabcd\r\n3 ; flag\r\nefg\r\n0;last\r\nX-Checksum: 7\r\nX-Count: 2\r\n\r\n"
)


def test_chunk_extensions_ignored_and_trailers_read(start_server: StartServer, ca_file: str) -> None:
    server = serve(start_server, CHUNKED_WITH_TRAILERS)
    with tlskit.Client(cafile=ca_file) as client:
        response = client.get(server.url("/"))
        with client.stream(server.url("/")) as streamed:
            assert streamed.read() == b"abcdefg"
    assert response.body == b"abcdefg"
    assert response.trailers["x-checksum"] == "7"
    assert response.trailers["x-count"] == "2"
    assert streamed.trailers["x-checksum"] == "7"
    assert server.connections == 1


@pytest.mark.parametrize(
    "fields",
    [b"Content-Length: 2\r\nContent-Length: 2\r\n", b"Content-Length: 2, 2\r\n"],
    ids=["two-fields", "one-list"],
)
def test_identical_content_lengths_accepted(start_server: StartServer, ca_file: str, fields: bytes) -> None:
    server = serve(start_server, b"HTTP/1.1 200 OK\r\n" + fields + b"\r\nok")
    with tlskit.Client(cafile=ca_file) as client:
        assert client.get(server.url("/")).body == b"ok"
        assert client.get(server.url("/")).body == b"ok"
    assert server.connections == 1


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


CODINGS = {
    # (Content-Encoding value, encoded body)
    "gzip": ("gzip", gzip.compress(TEXT)),
    "x-gzip": ("x-gzip", gzip.compress(TEXT)),
    "deflate-zlib": ("deflate", zlib.compress(TEXT)),
    "deflate-raw": ("deflate", raw_deflate(TEXT)),
    "stacked": ("gzip, deflate", zlib.compress(gzip.compress(TEXT))),
}


def coded_response(coding: str, encoded: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: {len(encoded)}\r\n\r\n"
    return head.encode("latin-1") + encoded


@pytest.mark.parametrize("case", sorted(CODINGS))
def test_content_codings_decoded(start_server: StartServer, ca_file: str, case: str) -> None:
    coding, encoded = CODINGS[case]
    server = serve(start_server, coded_response(coding, encoded))
    with tlskit.Client(cafile=ca_file) as client:
        decoded = client.get(server.url("/"))
        raw = client.get(server.url("/"), decode_content=False)
        with client.stream(server.url("/")) as streamed:
            pieces: List[bytes] = list(streamed.iter_bytes(100))
    assert decoded.body == TEXT
    assert raw.body == encoded
    assert b"".join(pieces) == TEXT
    assert server.connections == 1


def test_too_many_stacked_codings_rejected(start_server: StartServer, ca_file: str) -> None:
    encoded = TEXT
    for _ in range(MAX_CONTENT_ENCODINGS + 1):
        encoded = gzip.compress(encoded)
    server = serve(start_server, coded_response(", ".join(["gzip"] * (MAX_CONTENT_ENCODINGS + 1)), encoded))
    with pytest.raises(LimitExceededError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.limit == "max_content_encodings"
    assert caught.value.value == MAX_CONTENT_ENCODINGS


def test_decoded_size_limit(start_server: StartServer, ca_file: str) -> None:
    server = serve(start_server, coded_response("gzip", gzip.compress(TEXT)))
    limits = Limits(max_decoded_bytes=len(TEXT) - 1)
    with pytest.raises(LimitExceededError) as caught:
        tlskit.Client(cafile=ca_file, limits=limits).get(server.url("/"))
    assert caught.value.limit == "max_decoded_bytes"
    assert caught.value.value == len(TEXT) - 1
    with tlskit.Client(cafile=ca_file, limits=Limits(max_decoded_bytes=len(TEXT))) as client:
        assert client.get(server.url("/")).body == TEXT
