"""Sans-IO HTTP/1.1: request bytes out, response events in, no sockets.

`build_request` turns a method, target and header fields into the bytes of a
request, rejecting anything that could split it. `ResponseParser` takes the
bytes a server sent, in pieces of any size, and yields events::

    feed(bytes) / feed_eof()          next_event()
           |                               |
           v                               v
    HEAD --(1xx: skipped)--> HEAD --> ResponseHead
      |
      +--> BODY_LENGTH  --------------> BodyData* --> EndOfResponse
      +--> BODY_CHUNKED: SIZE -> DATA -> DATA_END ... -> TRAILERS --> EndOfResponse
      +--> BODY_UNTIL_CLOSE -----------> BodyData* --> EndOfResponse (at EOF)
      +--> NO_BODY (HEAD request, 204, 304, 2xx to CONNECT) --> EndOfResponse

`next_event` returns `NEED_DATA` when it cannot go on without more bytes.
Every error in the server's bytes raises a `ProtocolError` subclass; a body
cut short raises `IncompleteBodyError`, never a short `EndOfResponse`.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, NamedTuple, NoReturn, Optional, Sequence, Tuple, Union

from ._errors import (
    IncompleteBodyError,
    InvalidHeaderError,
    LimitExceededError,
    ProtocolError,
    RemoteDisconnectedError,
)
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

# A chunk size is hex; 16 digits cover a 64-bit length and more is an attack.
MAX_CHUNK_SIZE_DIGITS = 16

# Interim (1xx) responses before the final one. A server sends one or two
# (100 Continue, 103 Early Hints); an endless series only keeps the client busy.
MAX_INTERIM_RESPONSES = 16


# Request side.

_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_TOKEN_STR = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# Field values may hold visible characters, spaces, tabs and obs-text (RFC 9110 5.5).
_BAD_VALUE_STR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def validate_header(name: str, value: str) -> None:
    """Raise `InvalidHeaderError` unless ``name: value`` is a safe header field."""
    if not isinstance(name, str) or not _TOKEN_STR.fullmatch(name):
        raise InvalidHeaderError(
            f"invalid header name {name!r}: a name is one or more token characters (letters, digits, "
            "and !#$%&'*+-.^_`|~), with no spaces, colons or line breaks.",
            field="headers",
        )
    if not isinstance(value, str):
        raise InvalidHeaderError(
            f"invalid value for header {name!r}: expected str, got {type(value).__name__}.", field="headers"
        )
    bad = _BAD_VALUE_STR.search(value)
    if bad:
        raise InvalidHeaderError(
            f"invalid value for header {name!r}: control character {bad.group()!r} at position {bad.start()} "
            "could split the request. Remove line breaks and control characters from the value.",
            field="headers",
        )
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise InvalidHeaderError(
                f"invalid value for header {name!r}: character {value[exc.start]!r} at position {exc.start} "
                "is not Latin-1, so it cannot be sent in an HTTP/1.1 header. Percent-encode the value, or "
                "use the RFC 8187 form (name*=UTF-8''...) where the field allows it.",
                field="headers",
            ) from None


# Methods that are already valid and upper case, so most calls skip the regular expression.
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def validate_method(method: str) -> str:
    """Return ``method`` in upper case, or raise `InvalidHeaderError` unless it is a token."""
    if type(method) is str and method in _COMMON_METHODS:
        return method
    if not isinstance(method, str) or not _TOKEN_STR.fullmatch(method):
        raise InvalidHeaderError(
            f"invalid method {method!r}: a method is one or more token characters, such as 'GET' or 'POST'.",
            field="method",
        )
    return method.upper()


def build_request(method: str, target: str, fields: Iterable[Tuple[str, str]], body: bytes = b"") -> bytes:
    """Return the bytes of an HTTP/1.1 request.

    ``fields`` must already be validated with `validate_header`, the method
    with `validate_method`, and the target comes from tlskit's own URL parser.
    """
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in fields)
    lines.append("\r\n")
    head = "\r\n".join(lines).encode("latin-1")
    return head + body if body else head


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

# Fields that decide how the body is framed, or whether it is decoded.
_FRAMING_FIELDS = frozenset({"connection", "transfer-encoding", "content-length", "content-encoding"})

# States whose input is body bytes alone, which feed() may keep unbuffered.
_DIRECT_STATES = ("BODY_LENGTH", "BODY_UNTIL_CLOSE", "CHUNK_DATA")

# Patterns of the line-by-line path, which most heads never take, stay strings
# that the re module compiles, and caches, on first use: compiling
# _FIELD_LINE at import took 0.8 ms of start-up (CPython 3.11).
_LINE_END = rb"\r?\n"
_STATUS_LINE = re.compile(rb"HTTP/(1\.[0-9]) ([1-9][0-9]{2})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
# A whole field line in one match: a token name, a colon and the value
# (RFC 9112 5). The value holds visible characters, spaces, tabs and obs-text
# (RFC 9110 5.5), and the spaces and tabs around it are not part of it.
_FIELD_LINE = (
    r"([-!#$%&'*+.^_`|~0-9A-Za-z]+):[ \t]*((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x08\x0a-\x1f\x7f \t])?)[ \t]*"
)
# The field lines of a head, each ending in CRLF: the same rule as
# _FIELD_LINE, checked for all lines in one call. _FIELD_PAIRS then splits
# lines that passed it into names and values without the surrounding spaces.
_FIELD_BLOCK = re.compile(r"(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
_FIELD_PAIRS = re.compile(r"([^:\r\n]+):[ \t]*((?:[^ \t\r\n]+(?:[ \t]+[^ \t\r\n]+)*)?)[ \t]*\r\n")
# Chunk extensions are ignored (RFC 9112 7.1.1) but may not hide control characters.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?")


class ResponseParser:
    """Parse one response to a request sent with ``method``.

    Create one parser per request. After `EndOfResponse`, ``keep_alive`` says
    whether the connection can be reused, and `leftover` holds any bytes the
    server sent past the response (a reused connection must have none).
    """

    def __init__(self, method: str = "GET", limits: Limits = DEFAULT_LIMITS) -> None:
        self.method = method
        self.limits = limits
        self.state = HEAD
        self.head: Optional[ResponseHead] = None
        self.keep_alive = False
        self.body_received = 0
        self.expected_length: Optional[int] = None
        self._buffer = bytearray()
        self._eof = False
        self._remaining = 0
        self._trailer_lines: List[bytes] = []
        self._trailer_bytes = 0
        self._head_scanned = 0
        self._interim_responses = 0
        # Body bytes fed while the buffer was empty; see feed().
        self._direct: Optional[bytes] = None
        # The Content-Encoding values of the final response, once its head is parsed.
        self.content_codings: List[str] = []

    # Input.

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Add bytes received from the server; a buffer may be reused once this returns."""
        if self._eof:
            raise RuntimeError("feed() after feed_eof()")
        if data and self._direct is None and not self._buffer and self.state in _DIRECT_STATES:
            # Body bytes that arrive while nothing else is buffered pass through
            # as they are (bytes() of bytes is no copy), which saves two copies
            # of each piece of a large body.
            self._direct = bytes(data)
            return
        if self._direct is not None:
            self._buffer += self._direct
            self._direct = None
        self._buffer += data

    def feed_eof(self) -> None:
        """Record that the server closed the connection (cleanly, with close_notify)."""
        self._eof = True

    def count_body(self, count: int) -> None:
        """Record ``count`` body bytes that the caller received into its own buffer.

        Allowed only with nothing buffered, in a state whose input is body
        bytes alone, and for no more bytes than the body or chunk still lacks.
        """
        assert self.state in _DIRECT_STATES
        assert self._direct is None
        assert not self._buffer
        if self.state != BODY_UNTIL_CLOSE:
            assert count <= self._remaining
            self._remaining -= count
            if self.state == CHUNK_DATA and not self._remaining:
                self.state = CHUNK_DATA_END
        self.body_received += count

    def can_receive_body(self) -> bool:
        """Return whether the caller may receive body bytes itself, through `count_body`."""
        return self.state in _DIRECT_STATES and self._direct is None and not self._buffer and not self._eof

    @property
    def body_remaining(self) -> int:
        """Body bytes still to come in a Content-Length body or the current chunk; 0 in other states."""
        return self._remaining if self.state in (BODY_LENGTH, CHUNK_DATA) else 0

    @property
    def has_leftover(self) -> bool:
        """Whether bytes arrived beyond the end of the response; cheaper than `leftover`."""
        return self._direct is not None or bool(self._buffer)

    @property
    def has_input(self) -> bool:
        """Whether any response byte, or the end of the stream, has been fed."""
        return bool(
            self.state != HEAD
            or self._buffer
            or self._direct is not None
            or self._interim_responses
            or self._eof
        )

    @property
    def leftover(self) -> bytes:
        """Bytes received beyond the end of the response."""
        return self._direct if self._direct is not None else bytes(self._buffer)

    def _take_direct(self, limit: int) -> Optional[bytes]:
        """Return up to ``limit`` bytes that passed through `feed` unbuffered, or None."""
        data = self._direct
        if data is None:
            return None
        self._direct = None
        if len(data) > limit:
            self._buffer += data[limit:]
            data = data[:limit]
        return data

    # Output.

    def next_event(self) -> Event:
        """Return the next event, or `NEED_DATA` if more bytes are needed.

        Raises:
            ProtocolError: the response breaks HTTP/1.1 syntax or framing.
            LimitExceededError: the response exceeds one of `Limits`.
            IncompleteBodyError: the connection closed before the body was complete.
        """
        state = self.state
        if state == BODY_LENGTH:
            return self._read_length_body()
        if state == HEAD:
            return self._read_head()
        if state == BODY_UNTIL_CLOSE:
            return self._read_until_close()
        if state == NO_BODY:
            return self._finish(NO_TRAILERS)
        if state == DONE:
            raise RuntimeError("next_event() after EndOfResponse")
        return self._read_chunked()

    # Head.

    def _read_head(self) -> Event:
        while True:
            buffer = self._buffer
            # Resume the search where the last one stopped, less the 3 bytes a
            # split "\r\n\r\n" may have left, so a server that sends its head
            # byte by byte costs linear time.
            stop, after = _find_blank_line(buffer, max(self._head_scanned - 3, 0))
            if stop == -1:
                self._head_scanned = len(buffer)
                self._check_incomplete_head()
                return NEED_DATA
            self._head_scanned = 0
            if after > self.limits.max_header_bytes:
                self._raise_head_too_large()
            head = bytes(buffer[:stop])
            del buffer[:after]
            response, framing = self._parse_head(head)
            if 100 <= response.status < 200:
                # Interim responses (100 Continue, 103 Early Hints) precede the
                # final one and carry no body (RFC 9110 15.2). 101 would switch
                # protocols, which tlskit never asks for.
                if response.status == 101:
                    raise ProtocolError(
                        "server switched protocols (101) although tlskit did not ask to upgrade"
                    )
                self._interim_responses += 1
                if self._interim_responses > MAX_INTERIM_RESPONSES:
                    raise LimitExceededError(
                        f"server sent more than {MAX_INTERIM_RESPONSES} interim (1xx) responses",
                        limit="max_interim_responses",
                        value=MAX_INTERIM_RESPONSES,
                    )
                continue
            return self._start_body(response, framing)

    def _check_incomplete_head(self) -> None:
        buffer = self._buffer
        if len(buffer) > self.limits.max_header_bytes:
            self._raise_head_too_large()
        last_line = len(buffer) - (buffer.rfind(b"\n") + 1)
        if last_line > self.limits.max_line_bytes:
            raise LimitExceededError(
                f"response header line exceeds max_line_bytes ({self.limits.max_line_bytes} bytes)",
                limit="max_line_bytes",
                value=self.limits.max_line_bytes,
            )
        if self._eof:
            if not buffer:
                raise RemoteDisconnectedError("server closed the connection without sending a response")
            raise ProtocolError(
                f"server closed the connection in the middle of the response head ({len(buffer)} bytes)"
            )

    def _raise_head_too_large(self) -> None:
        raise LimitExceededError(
            f"response head exceeds max_header_bytes ({self.limits.max_header_bytes} bytes)",
            limit="max_header_bytes",
            value=self.limits.max_header_bytes,
        )

    def _parse_head(self, head: bytes) -> Tuple[ResponseHead, Dict[str, List[str]]]:
        """Return the head's event and the values of its `_FRAMING_FIELDS`."""
        parsed = self._parse_crlf_head(head)
        if parsed is not None:
            return parsed
        # Bare LF line ends are accepted (RFC 9112 2.2); most heads have none,
        # and bytes.split is much faster than the regular expression.
        lines = head.split(b"\r\n") if head.count(b"\n") == head.count(b"\r\n") else re.split(_LINE_END, head)
        status_line = lines[0]
        if len(status_line) > self.limits.max_line_bytes:
            raise LimitExceededError(
                f"status line exceeds max_line_bytes ({self.limits.max_line_bytes} bytes)",
                limit="max_line_bytes",
                value=self.limits.max_line_bytes,
            )
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None:
            raise ProtocolError(
                f"invalid status line {status_line[:80]!r}: expected 'HTTP/1.1 <status 100-999> <reason>'"
            )
        fields = parse_fields(lines[1:], self.limits)
        framing: Dict[str, List[str]] = {}
        for name, value in fields:
            key = name.lower()
            if key in _FRAMING_FIELDS:
                framing.setdefault(key, []).append(value)
        return _head_event(match, Headers(fields)), framing

    def _parse_crlf_head(self, head: bytes) -> Optional[Tuple[ResponseHead, Dict[str, List[str]]]]:
        """Parse a typical head with a few calls into C, or return None.

        A head qualifies when its lines all end in CRLF, it is no longer than
        one line may be, its status line and every field line are valid, and
        it has at most ``max_header_count`` fields. Any other head goes
        through the line-by-line path of `_parse_head`, which finds and
        reports what is wrong, in the order it checks.
        """
        if len(head) > self.limits.max_line_bytes:
            return None
        status_line, _, block = head.partition(b"\r\n")
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None:
            return None
        if not block:
            return _head_event(match, Headers()), {}
        # The block regex admits no CR or LF inside a line, so a "\r\n" in
        # the text always ends a field line and "\r\nname:" always starts one.
        text = block.decode("latin-1") + "\r\n"
        if not _FIELD_BLOCK.fullmatch(text) or text.count("\r\n") > self.limits.max_header_count:
            return None
        return _head_event(match, Headers.split_later(_FIELD_PAIRS.findall, text)), _find_framing(text)

    def _start_body(self, head: ResponseHead, framing: Dict[str, List[str]]) -> Event:
        # The framing fields come from the parse of the head, so a response
        # whose headers nobody reads never builds the Headers index.
        self.head = head
        self.content_codings = framing.get("content-encoding", [])
        values = framing.get
        connection = values("connection")
        connection_tokens = _tokens(connection) if connection else []
        if head.http_version == "HTTP/1.0":
            self.keep_alive = "keep-alive" in connection_tokens
        else:
            self.keep_alive = "close" not in connection_tokens

        # Message body length, RFC 9112 6.3, in its order of precedence.
        status = head.status
        if self.method == "HEAD" or status in (204, 304):
            self.state = NO_BODY
            return head
        if self.method == "CONNECT" and 200 <= status < 300:
            # The connection becomes a tunnel right after the head.
            self.state = NO_BODY
            return head
        transfer_encoding = values("transfer-encoding")
        content_length = values("content-length")
        if transfer_encoding:
            self._start_transfer_coded(head, transfer_encoding, bool(content_length))
        elif content_length:
            self.expected_length = self._remaining = _parse_content_length(content_length)
            self.state = BODY_LENGTH
        else:
            self.state = BODY_UNTIL_CLOSE
            self.keep_alive = False
        return head

    def _start_transfer_coded(self, head: ResponseHead, values: Sequence[str], has_length: bool) -> None:
        if head.http_version == "HTTP/1.0":
            # HTTP/1.0 has no transfer codings; such framing is faulty (RFC 9112 6.1).
            raise ProtocolError(
                "HTTP/1.0 response carries Transfer-Encoding, so its framing cannot be trusted"
            )
        codings = _tokens(values)
        if codings != ["chunked"]:
            # Other transfer codings (gzip, compress) are obsolete on responses and
            # unsupported; without chunked last, the framing would be close-delimited.
            raise ProtocolError(
                f"unsupported Transfer-Encoding {', '.join(codings)!r}: only 'chunked' is supported"
            )
        self.state = CHUNK_SIZE
        if has_length:
            # Transfer-Encoding overrides Content-Length; the pair may be a
            # smuggling attempt, so the connection must not be reused.
            self.keep_alive = False

    # Bodies.

    def _read_length_body(self) -> Event:
        buffer = self._buffer
        if self._remaining == 0:
            return self._finish(NO_TRAILERS)
        direct = self._take_direct(self._remaining)
        if direct is not None:
            self._remaining -= len(direct)
            self.body_received += len(direct)
            return BodyData(direct)
        if not buffer:
            if self._eof:
                raise IncompleteBodyError(
                    f"connection closed after {self.body_received} of {self.expected_length} body bytes",
                    received=self.body_received,
                    expected=self.expected_length,
                )
            return NEED_DATA
        if len(buffer) <= self._remaining:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[: self._remaining])
            del buffer[: self._remaining]
        self._remaining -= len(data)
        self.body_received += len(data)
        return BodyData(data)

    def _read_until_close(self) -> Event:
        direct = self._direct
        if direct is not None:
            self._direct = None
            self.body_received += len(direct)
            return BodyData(direct)
        buffer = self._buffer
        if buffer:
            data = bytes(buffer)
            buffer.clear()
            self.body_received += len(data)
            return BodyData(data)
        if self._eof:
            return self._finish(NO_TRAILERS)
        return NEED_DATA

    def _read_chunked(self) -> Event:
        while True:
            state = self.state
            if state == CHUNK_DATA:
                return self._read_chunk_data()
            line = self._take_line()
            if line is None:
                if self._eof:
                    raise IncompleteBodyError(
                        f"connection closed inside a chunked body after {self.body_received} bytes",
                        received=self.body_received,
                    )
                return NEED_DATA
            if state == CHUNK_SIZE:
                self._remaining = _parse_chunk_size(line)
                self.state = CHUNK_DATA if self._remaining else TRAILERS
            elif state == CHUNK_DATA_END:
                if line:
                    raise ProtocolError(f"chunk data is longer than its size line said (extra {line[:20]!r})")
                self.state = CHUNK_SIZE
            elif line:
                self._add_trailer_line(line)
            else:
                trailers = Headers(parse_fields(self._trailer_lines, self.limits))
                return self._finish(trailers)

    def _read_chunk_data(self) -> Event:
        direct = self._take_direct(self._remaining)
        if direct is not None:
            self._remaining -= len(direct)
            self.body_received += len(direct)
            if not self._remaining:
                self.state = CHUNK_DATA_END
            return BodyData(direct)
        buffer = self._buffer
        if not buffer:
            if self._eof:
                raise IncompleteBodyError(
                    f"connection closed inside a chunk after {self.body_received} body bytes",
                    received=self.body_received,
                )
            return NEED_DATA
        size = min(len(buffer), self._remaining)
        data = bytes(buffer[:size])
        del buffer[:size]
        self._remaining -= size
        self.body_received += size
        if not self._remaining:
            self.state = CHUNK_DATA_END
        return BodyData(data)

    def _take_line(self) -> Optional[bytes]:
        """Remove and return one line without its line ending, or None if incomplete."""
        buffer = self._buffer
        end = buffer.find(b"\n")
        if end == -1:
            if len(buffer) > self.limits.max_line_bytes:
                raise LimitExceededError(
                    f"chunk size or trailer line exceeds max_line_bytes ({self.limits.max_line_bytes} bytes)",
                    limit="max_line_bytes",
                    value=self.limits.max_line_bytes,
                )
            return None
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line

    def _add_trailer_line(self, line: bytes) -> None:
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > self.limits.max_header_bytes:
            raise LimitExceededError(
                f"chunked trailers exceed max_header_bytes ({self.limits.max_header_bytes} bytes)",
                limit="max_header_bytes",
                value=self.limits.max_header_bytes,
            )
        self._trailer_lines.append(line)

    def _finish(self, trailers: Headers) -> EndOfResponse:
        self.state = DONE
        return EndOfResponse(trailers, self.keep_alive)


# Helpers shared by head and trailer parsing.


def parse_fields(lines: Sequence[bytes], limits: Limits) -> List[Tuple[str, str]]:
    """Parse header field lines into (name, value) pairs.

    Raises:
        ProtocolError: a line is folded, lacks a colon, or has an invalid name or value.
        LimitExceededError: more than ``limits.max_header_count`` fields, or a line too long.
    """
    if len(lines) > limits.max_header_count:
        raise LimitExceededError(
            f"response has {len(lines)} header fields, more than max_header_count ({limits.max_header_count})",
            limit="max_header_count",
            value=limits.max_header_count,
        )
    fields = []
    max_line_bytes = limits.max_line_bytes
    for line in lines:
        if len(line) > max_line_bytes:
            raise LimitExceededError(
                f"response header line exceeds max_line_bytes ({max_line_bytes} bytes)",
                limit="max_line_bytes",
                value=max_line_bytes,
            )
        match = re.fullmatch(_FIELD_LINE, line.decode("latin-1"))
        if match is None:
            _raise_invalid_field(line)
        name, value = match.groups()
        fields.append((name, value))
    return fields


def _raise_invalid_field(line: bytes) -> NoReturn:
    """Raise the error that says why a field line failed `_FIELD_LINE`."""
    if line[:1] in (b" ", b"\t"):
        # Obsolete line folding (RFC 9112 5.2) is rejected: it hides fields from some parsers.
        raise ProtocolError(f"obsolete line folding in response header {line[:80]!r}")
    name, colon, _ = line.partition(b":")
    if colon and _TOKEN.fullmatch(name):
        raise ProtocolError(f"control character in the value of response header {name.decode('latin-1')!r}")
    # This also rejects whitespace before the colon, which RFC 9112 5.1 forbids.
    raise ProtocolError(f"invalid response header line {line[:80]!r}")


def _find_blank_line(buffer: bytearray, start: int) -> Tuple[int, int]:
    """Return where the head ends and the body starts, at the first blank line from ``start``, or (-1, -1).

    A line may end in CRLF or a bare LF, so the blank line is LF, optional CR, LF.
    """
    crlf = buffer.find(b"\n\r\n", start)
    lf = buffer.find(b"\n\n", start)
    if lf != -1 and (crlf == -1 or lf < crlf):
        stop, after = lf, lf + 2
    elif crlf != -1:
        stop, after = crlf, crlf + 3
    else:
        return -1, -1
    if stop and buffer[stop - 1] == 0x0D:
        stop -= 1
    return stop, after


def _head_event(status: re.Match[bytes], headers: Headers) -> ResponseHead:
    version, code, reason = status.groups()
    return ResponseHead("HTTP/" + version.decode(), int(code), (reason or b"").decode("latin-1"), headers)


# Each framing field with the text that starts its line in a lower-cased head.
_FRAMING_NEEDLES = tuple((name, f"\r\n{name}:") for name in sorted(_FRAMING_FIELDS))


def _find_framing(text: str) -> Dict[str, List[str]]:
    """Return the values of `_FRAMING_FIELDS` in field lines that passed `_FIELD_BLOCK`, in order."""
    lowered = "\r\n" + text.lower()
    framing: Dict[str, List[str]] = {}
    for name, needle in _FRAMING_NEEDLES:
        start = lowered.find(needle)
        while start != -1:
            # Offsets in lowered are 2 past those in text, for its leading CRLF;
            # lower() maps every Latin-1 character to exactly one character.
            value_start = start + len(needle)
            value_end = lowered.find("\r\n", value_start)
            framing.setdefault(name, []).append(text[value_start - 2 : value_end - 2].strip(" \t"))
            start = lowered.find(needle, value_end)
    return framing


def _tokens(values: Sequence[str]) -> List[str]:
    """Split comma-separated header values into lower-case tokens, dropping empty ones."""
    if len(values) == 1 and "," not in values[0]:
        token = values[0].strip().lower()
        return [token] if token else []
    return [token.strip().lower() for value in values for token in value.split(",") if token.strip()]


def _parse_content_length(values: Sequence[str]) -> int:
    if len(values) == 1:
        text = values[0]
        if text.isdigit() and text.isascii() and len(text) <= 19:
            return int(text)
    # Identical repeats ("10, 10" or two fields) are allowed; differing ones
    # are rejected because two parsers could pick different values (RFC 9112 6.3 rule 5).
    lengths = {item.strip() for value in values for item in value.split(",")}
    if len(lengths) != 1:
        raise ProtocolError(f"conflicting Content-Length values {', '.join(values)!r}")
    text = lengths.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise ProtocolError(f"invalid Content-Length {text!r}: expected a non-negative decimal number")
    return int(text)


def _parse_chunk_size(line: bytes) -> int:
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise ProtocolError(f"invalid chunk size line {line[:40]!r}")
    digits = match.group(1)
    if len(digits) > MAX_CHUNK_SIZE_DIGITS:
        raise ProtocolError(f"chunk size {digits[:40]!r} has more than {MAX_CHUNK_SIZE_DIGITS} hex digits")
    return int(digits, 16)
