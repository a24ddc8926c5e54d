"""Property-based tests of the sans-IO parser: random and mutated responses, any split.

Whatever the bytes, the parser must end in one of three ways: a complete
response, a request for more data, or a `TLSKitError`. Any other exception
is a bug. Valid responses must decode to their body however they are split,
and a response cut short must never end as complete.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import IncompleteBodyError, TLSKitError
from tlskit._http11 import ResponseParser
from tlskit._http11_events import NEED_DATA, BodyData, EndOfResponse, Limits, ResponseHead

FUZZ_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
SMALL_LIMITS = Limits(max_line_bytes=512, max_header_count=20, max_header_bytes=2048)

SEEDS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
    b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n\r\nok",
]


def drive(data: bytes, cuts: List[int], eof: bool, method: str = "GET") -> Optional[Tuple[int, bytes]]:
    """Feed ``data`` split at ``cuts``; return (status, body) when complete, None when more data is needed."""
    parser = ResponseParser(method, SMALL_LIMITS)
    positions = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    pieces = [data[start:end] for start, end in zip(positions, positions[1:]) if end > start]
    head: Optional[ResponseHead] = None
    body = bytearray()
    eof_sent = False
    for _ in range(4 * len(data) + 20):
        event = parser.next_event()
        if event is NEED_DATA:
            if pieces:
                parser.feed(pieces.pop(0))
            elif eof and not eof_sent:
                parser.feed_eof()
                eof_sent = True
            else:
                return None
        elif isinstance(event, ResponseHead):
            assert 100 <= event.status <= 999
            head = event
        elif isinstance(event, BodyData):
            assert event.data
            body += event.data
        else:
            assert isinstance(event, EndOfResponse)
            assert head is not None
            return head.status, bytes(body)
    raise AssertionError("parser neither finished nor asked for data")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "truncate"]))
        position = draw(st.integers(0, len(data)))
        if kind == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(
                st.sampled_from([b"\r\n", b":", b" ", b"\x00", b"0", b"-1", b";", b"\n"])
            )
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif kind == "repeat":
            data[position:position] = data[position : position + draw(st.integers(1, 40))]
        else:
            del data[position:]
    return bytes(data)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=6), eof=st.booleans())
def test_random_bytes_end_cleanly(data: bytes, cuts: List[int], eof: bool) -> None:
    try:
        drive(data, cuts, eof)
    except TLSKitError:
        pass


@FUZZ_SETTINGS
@given(
    data=mutated(),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    eof=st.booleans(),
    method=st.sampled_from(["GET", "HEAD", "CONNECT"]),
)
def test_mutated_responses_end_cleanly(data: bytes, cuts: List[int], eof: bool, method: str) -> None:
    try:
        drive(data, cuts, eof, method)
    except TLSKitError:
        pass


def chunked(body: bytes, sizes: List[int]) -> bytes:
    out = bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    position = 0
    for size in sizes + [len(body)]:
        piece = body[position : position + size]
        if piece:
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
            position += len(piece)
    return bytes(out + b"0\r\n\r\n")


@FUZZ_SETTINGS
@given(
    body=st.binary(max_size=300),
    sizes=st.lists(st.integers(1, 50), max_size=8),
    cuts=st.lists(st.integers(0, 800), max_size=8),
)
def test_chunked_body_survives_any_split(body: bytes, sizes: List[int], cuts: List[int]) -> None:
    assert drive(chunked(body, sizes), cuts, eof=False) == (200, body)


@FUZZ_SETTINGS
@given(body=st.binary(min_size=1, max_size=200), data=st.data())
def test_cut_response_never_completes(body: bytes, data: st.DataObject) -> None:
    framed = data.draw(st.sampled_from(["length", "chunked"]))
    if framed == "length":
        whole = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    else:
        whole = chunked(body, [7])
    head_end = whole.index(b"\r\n\r\n") + 4
    cut = data.draw(st.integers(head_end, len(whole) - 1))
    try:
        result = drive(whole[:cut], [], eof=True)
    except IncompleteBodyError as exc:
        assert exc.received <= len(body)
    else:
        raise AssertionError(f"a response cut at byte {cut} of {len(whole)} ended as {result!r}")
