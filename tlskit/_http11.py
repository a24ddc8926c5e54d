"""Sans-IO HTTP/1.1 responses: bytes in, events out, no sockets.

`ResponseParser` takes the bytes a server sent, in pieces of any size, and
yields events::

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

The wire format is split by concept, all of it sans-IO: this module reads
heads and drives the states, `tlskit._http11_head` parses a head,
`tlskit._http11_body` frames and reads bodies, `tlskit._http11_events`
contains the events, states and `Limits`, and `tlskit._http11_request`
checks and builds requests.
"""

from __future__ import annotations

from typing import List, Optional, Union

from ._errors import LimitExceededError, ProtocolError, RemoteDisconnectedError
from ._http11_body import BodyFraming
from ._http11_events import (
    BODY_LENGTH,
    BODY_UNTIL_CLOSE,
    CHUNK_DATA,
    DEFAULT_LIMITS,
    DIRECT_STATES,
    DONE,
    HEAD,
    NEED_DATA,
    NO_BODY,
    NO_TRAILERS,
    Event,
    Limits,
    ResponseHead,
)
from ._http11_head import find_blank_line, parse_head

# Interim (1xx) responses before the final one. A server sends one or two
# (100 Continue, 103 Early Hints); an endless series only keeps the client busy.
MAX_INTERIM_RESPONSES = 16


class ResponseParser(BodyFraming):
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
        if data and self._direct is None and not self._buffer and self.state in DIRECT_STATES:
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

    @property
    def has_leftover(self) -> bool:
        """Whether bytes arrived beyond the end of the response; cheaper than `leftover`."""
        return self._direct is not None or bool(self._buffer)

    @property
    def buffered_bytes(self) -> int:
        """How many received bytes wait in the parser, unparsed or not yet returned as events."""
        return len(self._direct) if self._direct is not None else len(self._buffer)

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

    # Output.

    def next_event(self) -> Event:
        """Return the next event, or `NEED_DATA` if more bytes are needed.

        Raises:
            ProtocolError: the response breaks HTTP/1.1 syntax or framing.
            LimitExceededError: the response exceeds one of `Limits`.
            IncompleteBodyError: the connection closed before the body was complete.
        """
        state = self.state
        # Body states first, in the order of how often a body reaches them.
        if state == BODY_LENGTH:
            return self._read_length_body()
        if state == CHUNK_DATA:
            return self._read_chunk_data()
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
            stop, after = find_blank_line(buffer, max(self._head_scanned - 3, 0))
            if stop == -1:
                self._head_scanned = len(buffer)
                self._check_incomplete_head()
                return NEED_DATA
            self._head_scanned = 0
            if after > self.limits.max_header_bytes:
                self._raise_head_too_large()
            head = bytes(buffer[:stop])
            del buffer[:after]
            response, framing = parse_head(head, self.limits)
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
