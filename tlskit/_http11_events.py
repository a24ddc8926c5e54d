"""Shared values of the sans-IO HTTP/1.1 modules: limits, parser events and parser states.

`tlskit._http11.ResponseParser` returns the events; `Limits` bounds what a
response may send before the parser raises `LimitExceededError`.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

from ._headers import Headers


class Limits(NamedTuple):
    """Limits on what a response may send before tlskit gives up.

    The head limits follow common practice: http.client allows 100 header
    fields, and most servers cap a request head at 8 to 64 KiB (nginx 8 KiB
    per line, Node.js 16 KiB for the whole head).

    Attributes:
        max_line_bytes: maximum length of a status, header, chunk-size or trailer line.
        max_header_count: maximum number of header fields in one head.
        max_header_bytes: maximum size of a head, and of a trailer section.
        max_decoded_bytes: maximum size of a body after undoing gzip or deflate, or None
            for no limit; ``max_body`` applies as well.
        max_expansion_ratio: maximum decoded bytes per encoded byte, checked once
            a body passes 8 MiB decoded. One layer of deflate cannot pass about
            1032 (each 258-byte match costs at least 2 bits), and only content
            that is nearly one short pattern repeated gets near that, while
            stacked codings multiply their ratios. Repetitive text and logs
            gzip about 150 to 700 times.
    """

    max_line_bytes: int = 16 * 1024
    max_header_count: int = 100
    max_header_bytes: int = 64 * 1024
    max_decoded_bytes: Optional[int] = 1024 * 1024 * 1024
    max_expansion_ratio: int = 1000


DEFAULT_LIMITS = Limits()

# The trailers of every response without any, shared because Headers has no
# methods that change it.
NO_TRAILERS = Headers()


# Response side: events.


class ResponseHead(NamedTuple):
    """The status line and header fields of a final response."""

    http_version: str
    status: int
    reason: str
    headers: Headers


class BodyData(NamedTuple):
    """A piece of the response body, in order."""

    data: bytes


class EndOfResponse(NamedTuple):
    """The body is complete.

    Attributes:
        trailers: trailer fields of a chunked body, else empty.
        keep_alive: the connection may carry another request.
    """

    trailers: Headers
    keep_alive: bool


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()

Event = Union[ResponseHead, BodyData, EndOfResponse, _NeedData]

# Parser states.
HEAD = "HEAD"
NO_BODY = "NO_BODY"
BODY_LENGTH = "BODY_LENGTH"
BODY_UNTIL_CLOSE = "BODY_UNTIL_CLOSE"
CHUNK_SIZE = "CHUNK_SIZE"
CHUNK_DATA = "CHUNK_DATA"
CHUNK_DATA_END = "CHUNK_DATA_END"
TRAILERS = "TRAILERS"
DONE = "DONE"

# States whose input is body bytes alone, which feed() may keep unbuffered.
DIRECT_STATES = ("BODY_LENGTH", "BODY_UNTIL_CLOSE", "CHUNK_DATA")
