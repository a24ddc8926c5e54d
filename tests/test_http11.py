"""Sans-IO HTTP/1.1: request bytes, and response parsing from byte-level tables."""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest

from tlskit import IncompleteBodyError, InvalidHeaderError, LimitExceededError, ProtocolError
from tlskit._errors import RemoteDisconnectedError
from tlskit._http11 import ResponseParser
from tlskit._http11_events import DEFAULT_LIMITS, NEED_DATA, BodyData, EndOfResponse, Limits, ResponseHead
from tlskit._http11_request import build_request, validate_header, validate_method


def parse(
    data: bytes,
    method: str = "GET",
    eof: bool = True,
    piece: Optional[int] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Tuple[ResponseHead, bytes, EndOfResponse]:
    """Feed ``data`` (whole, or in pieces of ``piece`` bytes) and collect the events."""
    parser = ResponseParser(method, limits)
    pieces: List[bytes] = (
        [data] if piece is None else [data[i : i + piece] for i in range(0, len(data), piece)]
    )
    head: Optional[ResponseHead] = None
    body = bytearray()
    for _ in range(len(data) * 4 + 10):
        event = parser.next_event()
        if event is NEED_DATA:
            if pieces:
                parser.feed(pieces.pop(0))
            elif eof:
                parser.feed_eof()
            else:
                raise AssertionError("parser needs data after the whole input")
        elif isinstance(event, ResponseHead):
            head = event
        elif isinstance(event, BodyData):
            body += event.data
        else:
            assert isinstance(event, EndOfResponse)
            assert head is not None
            return head, bytes(body), event
    raise AssertionError("parser did not finish")


def test_request_bytes() -> None:
    data = build_request("GET", "/x?y=1", [("Host", "example.test:8443"), ("User-Agent", "t/1")])
    assert data == b"GET /x?y=1 HTTP/1.1\r\nHost: example.test:8443\r\nUser-Agent: t/1\r\n\r\n"


def test_request_with_body() -> None:
    data = build_request("POST", "/", [("Content-Length", "2")], b"hi")
    assert data.endswith(b"\r\n\r\nhi")


@pytest.mark.parametrize(
    "name, value",
    [
        ("X-Evil\r\nInjected", "1"),
        ("Bad Name", "1"),
        ("X", "a\r\nInjected: 1"),
        ("X", "a\nb"),
        ("X", "a\x00"),
        ("", "v"),
    ],
)
def test_validate_header_rejects(name: str, value: str) -> None:
    with pytest.raises(InvalidHeaderError):
        validate_header(name, value)


def test_validate_header_accepts_tabs_and_obs_text() -> None:
    validate_header("X-Note", "a\tb caf\xe9")


# (response bytes, method, status, body, keep_alive)
ACCEPTED = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, b"hello", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", "GET", 200, b"hello", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, b"hello", False),
    (
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
        "GET",
        200,
        b"hello",
        True,
    ),
    (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 200, b"", True),
    (b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", 200, b"", True),
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET", 200, b"ok", True),
    # The first blank line ends the head, whichever line end it has.
    (b"HTTP/1.1 200 OK\nContent-Length: 6\n\nok\r\n\r\n", "GET", 200, b"ok\r\n\r\n", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok\n\n", "GET", 200, b"ok\n\n", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok", "GET", 200, b"ok", True),
    (b"HTTP/1.1 200 OK\r\n\r\nuntil close", "GET", 200, b"until close", False),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "GET", 204, b"", True),
    (b"HTTP/1.1 304 Not Modified\r\n\r\n", "GET", 304, b"", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 200, b"", True),
    (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
        "GET",
        200,
        b"x",
        True,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
        "GET",
        200,
        b"hello world",
        True,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA \r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n",
        "GET",
        200,
        b"0123456789",
        True,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "GET",
        200,
        b"ok",
        False,
    ),
]


@pytest.mark.parametrize("data, method, status, body, keep_alive", ACCEPTED)
@pytest.mark.parametrize("piece", [None, 1, 7])
def test_parser_accepts(
    data: bytes, method: str, status: int, body: bytes, keep_alive: bool, piece: Optional[int]
) -> None:
    head, received, end = parse(data, method, piece=piece)
    assert head.status == status
    assert received == body
    assert end.keep_alive is keep_alive


def test_parser_keeps_repeated_headers_and_trailers() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-List: 1\r\nX-List: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )
    head, _, end = parse(data)
    assert head.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert head.headers["x-list"] == "1, 2"
    assert end.trailers["x-checksum"] == "abc"


def test_parser_reports_reason_and_version() -> None:
    head, _, _ = parse(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert head.http_version == "HTTP/1.0"
    assert head.reason == "Not Found"


def test_leftover_bytes_are_kept() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
    events = [parser.next_event() for _ in range(3)]
    assert isinstance(events[-1], EndOfResponse)
    assert parser.leftover == b"EXTRA"


# (response bytes, error class, text in the message)
REJECTED = [
    (b"HTTP/2 200 OK\r\n\r\n", ProtocolError, "invalid status line"),
    (b"ICY 200 OK\r\n\r\n", ProtocolError, "invalid status line"),
    (b"HTTP/1.1 20 OK\r\n\r\n", ProtocolError, "invalid status line"),
    (b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", ProtocolError, "obsolete line folding"),
    (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", ProtocolError, "invalid response header line"),
    (b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", ProtocolError, "invalid response header line"),
    (b"HTTP/1.1 200 OK\r\nX : 1\r\n\r\n", ProtocolError, "invalid response header line"),
    (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", ProtocolError, "control character"),
    (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", ProtocolError, "control character"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", ProtocolError, "switched protocols"),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        ProtocolError,
        "conflicting Content-Length",
    ),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ProtocolError, "invalid Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", ProtocolError, "invalid Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ProtocolError, "unsupported Transfer-Encoding"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        ProtocolError,
        "unsupported Transfer-Encoding",
    ),
    (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ProtocolError, "HTTP/1.0"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ProtocolError, "invalid chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", ProtocolError, "invalid chunk size"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\n",
        ProtocolError,
        "hex digits",
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
        ProtocolError,
        "longer than",
    ),
    (b"HTTP/1.1 099 Low\r\n\r\n", ProtocolError, "invalid status line"),
    (b"HTTP/1.1 000 Zero\r\n\r\n", ProtocolError, "invalid status line"),
    (b"HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n", ProtocolError, "invalid status line"),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ProtocolError,
        "invalid Content-Length",
    ),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\n", ProtocolError, "invalid Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;\x00\r\n", ProtocolError, "invalid chunk size"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        ProtocolError,
        "invalid chunk",
    ),
]


@pytest.mark.parametrize("data, error, text", REJECTED)
def test_parser_rejects(data: bytes, error: type, text: str) -> None:
    with pytest.raises(error) as caught:
        parse(data)
    assert type(caught.value) is error
    assert text in str(caught.value)


CUT = [
    # (response bytes, received, expected)
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 5, 10),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0, 10),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 5, None),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 3, None),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", 5, None),
]


@pytest.mark.parametrize("data, received, expected", CUT)
def test_cut_body_is_incomplete(data: bytes, received: int, expected: Optional[int]) -> None:
    with pytest.raises(IncompleteBodyError) as caught:
        parse(data)
    assert caught.value.received == received
    assert caught.value.expected == expected


def test_eof_before_any_byte_is_remote_disconnect() -> None:
    with pytest.raises(RemoteDisconnectedError):
        parse(b"")


def test_eof_inside_head_is_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="middle of the response head"):
        parse(b"HTTP/1.1 200 OK\r\nContent-")


@pytest.mark.parametrize(
    "data, limit",
    [
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "max_header_count"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 5000 + b"\r\n\r\n", "max_line_bytes"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 5000, "max_line_bytes"),
        (b"HTTP/1.1 200 OK\r\n" + (b"X: " + b"y" * 4000 + b"\r\n") * 4 + b"\r\n", "max_header_bytes"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"0" * 5000, "max_line_bytes"),
    ],
)
def test_limits_raise(data: bytes, limit: str) -> None:
    limits = Limits(max_line_bytes=4096, max_header_count=100, max_header_bytes=12 * 1024)
    with pytest.raises(LimitExceededError) as caught:
        parse(data, eof=False, limits=limits)
    assert caught.value.limit == limit


def test_endless_headers_stop_at_limit() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(LimitExceededError) as caught:
        for _ in range(100_000):
            assert parser.next_event() is NEED_DATA
            parser.feed(b"X-Drip: 0123456789\r\n")
    assert caught.value.limit in ("max_header_bytes", "max_header_count")


def test_validate_method() -> None:
    assert validate_method("get") == "GET"
    for bad in ("GET /x", "G\r\nET", "", "PO:ST"):
        with pytest.raises(InvalidHeaderError) as caught:
            validate_method(bad)
        assert caught.value.field == "method"


def test_status_999_accepted() -> None:
    head, body, _ = parse(b"HTTP/1.1 999 Request denied\r\nContent-Length: 2\r\n\r\nno")
    assert head.status == 999
    assert body == b"no"


def test_connect_success_has_no_body() -> None:
    parser = ResponseParser("CONNECT")
    parser.feed(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01")
    assert isinstance(parser.next_event(), ResponseHead)
    assert isinstance(parser.next_event(), EndOfResponse)
    assert parser.leftover == b"\x16\x03\x01"


def test_connect_refusal_has_body() -> None:
    head, body, _ = parse(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope", "CONNECT")
    assert head.status == 403
    assert body == b"nope"


def test_endless_interim_responses_stop_at_limit() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 100 Continue\r\n\r\n" * 50)
    with pytest.raises(LimitExceededError) as caught:
        parser.next_event()
    assert caught.value.limit == "max_interim_responses"
    assert caught.value.value == 16


def test_head_split_across_pieces_at_every_point() -> None:
    data = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nabc"
    for cut in range(1, len(data)):
        parser = ResponseParser()
        parser.feed(data[:cut])
        event = parser.next_event()
        if event is NEED_DATA:
            parser.feed(data[cut:])
            event = parser.next_event()
        assert isinstance(event, ResponseHead), cut
        assert event.headers["x-a"] == "1"


def test_transfer_encoding_with_length_not_reused() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    _, body, end = parse(data)
    assert body == b"abc"
    assert end.keep_alive is False


def test_close_delimited_body_is_not_reused() -> None:
    _, body, end = parse(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nuntil close")
    assert body == b"until close"
    assert end.keep_alive is False


def test_chunked_trailers_limit() -> None:
    limits = Limits(max_header_bytes=1024)
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"X-T: " + b"y" * 100 + b"\r\n"
    data = data + (b"X-T: " + b"y" * 100 + b"\r\n") * 20
    with pytest.raises(LimitExceededError) as caught:
        parse(data, eof=False, limits=limits)
    assert caught.value.limit == "max_header_bytes"


def test_validate_header_rejects_non_latin1() -> None:
    with pytest.raises(InvalidHeaderError) as caught:
        validate_header("X-Price", "10 €")
    assert "'€' at position 3" in str(caught.value)
    assert "not Latin-1" in str(caught.value)


PIECES_AFTER_HEAD = {
    # (bytes up to the first NEED_DATA, pieces fed then, EOF fed, body events, leftover)
    "past-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
        [b"abcEXTRA"],
        False,
        [b"abc"],
        b"EXTRA",
    ),
    "across-chunks": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n",
        [b"abc\r\n2\r\nde\r\n0\r\n\r\n"],
        False,
        [b"abc", b"de"],
        b"",
    ),
    "until-close": (b"HTTP/1.1 200 OK\r\n\r\n", [b"first ", b"second"], True, [b"first second"], b""),
}


@pytest.mark.parametrize("case", sorted(PIECES_AFTER_HEAD))
def test_body_pieces_after_head(case: str) -> None:
    first, pieces, eof, bodies, leftover = PIECES_AFTER_HEAD[case]
    parser = ResponseParser()
    parser.feed(first)
    assert isinstance(parser.next_event(), ResponseHead)
    assert parser.next_event() is NEED_DATA
    for piece in pieces:
        parser.feed(piece)
    if eof:
        parser.feed_eof()
    for body in bodies:
        assert parser.next_event() == BodyData(body)
    assert isinstance(parser.next_event(), EndOfResponse)
    assert parser.leftover == leftover


# A head whose lines all end in CRLF takes a fast path through a few regular
# expressions; the same head with bare LF line ends takes the line-by-line
# path. Both must give the same status, fields and framing.
SAME_HEADS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\ncontent-length:3\r\nCONTENT-LENGTH: 3 \r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nX-A: \t spaced  value \t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Empty:\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 204 No Content\r\n\r\n",
]


@pytest.mark.parametrize("data", SAME_HEADS)
def test_crlf_and_lf_heads_parse_alike(data: bytes) -> None:
    head_end = data.index(b"\r\n\r\n")
    bare_lf = data[:head_end].replace(b"\r\n", b"\n") + b"\n\n" + data[head_end + 4 :]
    crlf_head, crlf_body, crlf_end = parse(data)
    lf_head, lf_body, lf_end = parse(bare_lf)
    assert crlf_head.status == lf_head.status
    assert crlf_head.headers.fields() == lf_head.headers.fields()
    assert crlf_body == lf_body
    assert crlf_end.keep_alive == lf_end.keep_alive


def test_conflicting_lengths_rejected_on_fast_path() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\nabcd")
    assert "conflicting Content-Length values '3, 4'" in str(raised.value)


def test_body_counted_by_caller() -> None:
    parser = ResponseParser("GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n")
    assert type(parser.next_event()) is ResponseHead
    assert parser.can_receive_body()
    assert parser.body_remaining == 20000
    parser.count_body(20000)
    assert parser.body_received == 20000
    end = parser.next_event()
    assert type(end) is EndOfResponse
    assert end.keep_alive


def test_move_body_stops_at_length() -> None:
    parser = ResponseParser("GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
    assert type(parser.next_event()) is ResponseHead
    target = bytearray(8)
    assert parser.move_body_into(memoryview(target)) == 5
    assert bytes(target[:5]) == b"hello"
    assert parser.body_received == 5
    assert parser.body_remaining == 0
    end = parser.next_event()
    assert type(end) is EndOfResponse
    assert parser.leftover == b"EXTRA"


def test_move_body_stops_at_chunk_end() -> None:
    parser = ResponseParser("GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n")
    assert type(parser.next_event()) is ResponseHead
    assert parser.next_event() is NEED_DATA
    target = bytearray(8)
    assert parser.move_body_into(memoryview(target)) == 0
    parser.feed(b"abcd\r\n0\r\n\r\n")
    assert parser.move_body_into(memoryview(target)) == 4
    assert bytes(target[:4]) == b"abcd"
    assert parser.body_received == 4
    end = parser.next_event()
    assert type(end) is EndOfResponse
    assert not parser.has_leftover


def test_move_body_respects_view_size() -> None:
    parser = ResponseParser("GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
    assert type(parser.next_event()) is ResponseHead
    parser.feed(b"abcdef")
    target = bytearray(4)
    assert parser.move_body_into(memoryview(target)) == 4
    assert bytes(target) == b"abcd"
    assert parser.buffered_bytes == 2
    event = parser.next_event()
    assert type(event) is BodyData
    assert event.data == b"ef"
    assert type(parser.next_event()) is EndOfResponse
