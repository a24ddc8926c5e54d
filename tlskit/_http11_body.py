"""Sans-IO HTTP/1.1 response bodies: how a body is framed, and reading it by that framing.

`BodyFraming` is the half of `tlskit._http11.ResponseParser` that runs once
the head is parsed. `_start_body` picks the framing in the order of RFC 9112
6.3: no body, chunked, Content-Length, or until the connection closes. The
read methods then turn buffered bytes into `BodyData` and one
`EndOfResponse`, and raise `IncompleteBodyError` when the stream ends first.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

from ._errors import IncompleteBodyError, LimitExceededError, ProtocolError
from ._headers import Headers
from ._http11_events import (
    BODY_LENGTH,
    BODY_UNTIL_CLOSE,
    CHUNK_DATA,
    CHUNK_DATA_END,
    CHUNK_SIZE,
    DIRECT_STATES,
    DONE,
    NEED_DATA,
    NO_BODY,
    NO_TRAILERS,
    TRAILERS,
    BodyData,
    EndOfResponse,
    Event,
    Limits,
    ResponseHead,
)
from ._http11_head import parse_content_length, parse_fields, split_tokens

# A chunk size is hex; 16 digits cover a 64-bit length and more is an attack.
MAX_CHUNK_SIZE_DIGITS = 16

# Chunk extensions are ignored (RFC 9112 7.1.1) but may not hide control characters.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?")


class BodyFraming:
    """Body states and methods of `tlskit._http11.ResponseParser`, which sets these attributes."""

    method: str
    limits: Limits
    state: str
    head: Optional[ResponseHead]
    keep_alive: bool
    body_received: int
    expected_length: Optional[int]
    content_codings: List[str]
    _buffer: bytearray
    _eof: bool
    _remaining: int
    _trailer_lines: List[bytes]
    _trailer_bytes: int
    _direct: Optional[bytes]

    def _start_body(self, head: ResponseHead, framing: Dict[str, List[str]]) -> Event:
        # The framing fields come from the parse of the head, so a response
        # whose headers nobody reads never builds the Headers index.
        self.head = head
        self.content_codings = framing.get("content-encoding", [])
        values = framing.get
        connection = values("connection")
        connection_tokens = split_tokens(connection) if connection else []
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
            self.expected_length = self._remaining = parse_content_length(content_length)
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
        codings = split_tokens(values)
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

    def _take_direct(self, limit: int) -> Optional[bytes]:
        """Return up to ``limit`` bytes that passed through `feed` unbuffered, or None."""
        data = self._direct
        if data is None:
            return None
        self._direct = None
        if len(data) > limit:
            # Through a memoryview, so the bytes past the limit are copied once.
            self._buffer += memoryview(data)[limit:]
            data = data[:limit]
        return data

    def move_body_into(self, view: memoryview) -> int:
        """Move buffered bytes of a Content-Length body or the current chunk into ``view`` and return how many.

        Returns 0 when no such bytes are buffered. The bytes count as
        received, as `next_event` would count them, so the caller skips both
        the `BodyData` and its copy of the bytes.
        """
        if self.state not in (BODY_LENGTH, CHUNK_DATA):
            return 0
        direct = self._take_direct(min(self._remaining, len(view)))
        if direct is not None:
            count = len(direct)
            view[:count] = direct
        else:
            buffer = self._buffer
            count = min(len(buffer), self._remaining, len(view))
            if count == len(buffer):
                view[:count] = buffer
                buffer.clear()
            elif count:
                # The temporary views are freed by the end of the statement,
                # so the bytearray may shrink again on the next line.
                view[:count] = memoryview(buffer)[:count]
                del buffer[:count]
        self._remaining -= count
        self.body_received += count
        if self.state == CHUNK_DATA and not self._remaining:
            self.state = CHUNK_DATA_END
        return count

    def count_body(self, count: int) -> None:
        """Record ``count`` body bytes that the caller received into its own buffer.

        Allowed only with nothing buffered, in a state whose input is body
        bytes alone, and for no more bytes than the body or chunk still lacks.
        """
        assert self.state in DIRECT_STATES
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
        return self.state in DIRECT_STATES and self._direct is None and not self._buffer and not self._eof

    @property
    def body_remaining(self) -> int:
        """Body bytes still to come in a Content-Length body or the current chunk; 0 in other states."""
        return self._remaining if self.state in (BODY_LENGTH, CHUNK_DATA) else 0

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
            data = bytes(memoryview(buffer)[: self._remaining])
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
        if size == len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            # One copy through a temporary view, where buffer[:size] would make two.
            data = bytes(memoryview(buffer)[:size])
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


def _parse_chunk_size(line: bytes) -> int:
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise ProtocolError(f"invalid chunk size line {line[:40]!r}")
    digits = match.group(1)
    if len(digits) > MAX_CHUNK_SIZE_DIGITS:
        raise ProtocolError(f"chunk size {digits[:40]!r} has more than {MAX_CHUNK_SIZE_DIGITS} hex digits")
    return int(digits, 16)
