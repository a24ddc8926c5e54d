"""Response bodies read on demand: `BodyReader` and the public `StreamingResponse`.

A `BodyReader` owns the connection from the moment the response head has
arrived. It pulls body bytes through the parser, undoes content codings,
enforces ``max_body``, and settles the connection exactly once:

- the body was read in full and the server allows reuse: back to the pool;
- the body was read in full but reuse is not allowed: closed;
- an error, or the caller closed the response early: closed, because the
  unread rest of the body would corrupt the next response on that connection.
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence, Union

from ._connection import MAX_RECORD_BYTES, Connection, TLSInfo
from ._errors import LimitExceededError, TLSKitError, format_address
from ._headers import Headers
from ._http11 import ResponseParser
from ._http11_events import (
    BODY_LENGTH,
    BODY_UNTIL_CLOSE,
    NEED_DATA,
    NO_TRAILERS,
    BodyData,
    EndOfResponse,
    Limits,
    ResponseHead,
)
from ._response import BaseResponse, ClosesOnExit, Response
from ._timeouts import Deadline

# The largest body read into memory when the caller sets no max_body. Past
# it, a server could fill memory; the decoded-size limit of compressed
# bodies is the same (Limits.max_decoded_bytes).
MAX_MEMORY_BODY_BYTES = 1024 * 1024 * 1024

if TYPE_CHECKING:
    from ._decoding import ContentDecoder

BufferType = Union[bytearray, memoryview]


def attach_address(exc: TLSKitError, host: str, port: int) -> None:
    """Name the server in an error raised by the sans-IO parser, which has no address to give."""
    if exc.host is None:
        exc.host, exc.port = host, port
        exc.message = f"{exc.message} (server {format_address(host, port)})"
        exc.args = (exc.message,)


class BodyReader:
    """Pull one response body off its connection and settle the connection once.

    ``release`` receives the connection when the body was read in full and
    the connection may carry another request.
    """

    __slots__ = (
        "connection",
        "parser",
        "deadline",
        "max_body",
        "limits",
        "release",
        "done",
        "complete",
        "trailers",
        "_failure",
        "_decode",
        "_decoder",
        "_pieces",
        "_end",
    )

    def __init__(
        self,
        connection: Connection,
        parser: ResponseParser,
        deadline: Deadline,
        *,
        max_body: Optional[int],
        decode_content: bool,
        limits: Limits,
        release: Callable[[Connection], None],
    ) -> None:
        self.connection = connection
        self.parser = parser
        self.deadline = deadline
        self.max_body = max_body
        self.limits = limits
        self.release = release
        self.done = False
        self.complete = False
        self.trailers = NO_TRAILERS
        self._failure: Optional[BaseException] = None
        self._decode = decode_content
        self._decoder: Optional[ContentDecoder] = None
        self._pieces: Optional[Iterator[bytes]] = None
        self._end: Optional[EndOfResponse] = None

    def read_piece(self) -> bytes:
        """Return the next piece of the body, or b"" once it is complete.

        Raises:
            IncompleteBodyError, ProtocolError, DecodingError: a bad or cut body.
            LimitExceededError: ``max_body`` or a decoding limit was passed.
            TimeoutExceededError: a read or the total timeout expired.
            RuntimeError: the response was closed before its body was complete.
        """
        if self.done:
            return self._read_after_done()
        try:
            while True:
                if self._pieces is not None:
                    piece = next(self._pieces, None)
                    if piece is not None:
                        self._check_size(self._decoder.decoded_bytes if self._decoder else 0)
                        return piece
                    self._pieces = None
                if self._end is not None:
                    self._complete(self._end)
                    return b""
                piece = self._next_event()
                if piece:
                    return piece
        except BaseException as exc:
            self._fail(exc)
            raise

    def read_into(self, view: memoryview) -> Optional[int]:
        """Receive body bytes straight into ``view`` and return how many, or None when that cannot be done.

        It cannot while the body is decoded, while the parser has bytes buffered, or
        when ``view`` or the rest of the body is shorter than a TLS record
        (see `tlskit._connection.MAX_RECORD_BYTES`). Then, and at the end of
        the body, the caller reads with `read_piece` instead.

        Raises:
            The errors of `read_piece`.
        """
        parser = self.parser
        if self.done or not self._is_plain() or not parser.can_receive_body():
            return None
        size = len(view) if parser.state == BODY_UNTIL_CLOSE else min(len(view), parser.body_remaining)
        if size < MAX_RECORD_BYTES:
            return None
        try:
            count = self.connection.receive_body_into(view[:size], parser, self.deadline)
            self._check_size(parser.body_received)
        except BaseException as exc:
            self._fail(exc)
            raise
        return count or None

    def _is_plain(self) -> bool:
        """Return whether the rest of the body comes as it is on the wire, with no decoder running."""
        if self._pieces is not None or self._end is not None or self._decoder is not None:
            return False
        return not self._decode or not self.parser.content_codings

    def _fail(self, exc: BaseException) -> None:
        self.abandon()
        if isinstance(exc, TLSKitError):
            attach_address(exc, self.connection.host, self.connection.port)
        self._failure = exc

    def _read_after_done(self) -> bytes:
        # A body that failed or was abandoned must never look complete, so
        # later reads raise instead of returning an empty end.
        if self.complete:
            return b""
        if self._failure is not None:
            raise self._failure
        raise RuntimeError(
            "the response was closed before its body was read in full, so the rest of the body is lost. "
            "Read the body before closing the response."
        )

    def _next_event(self) -> bytes:
        """Advance the parser by one event; return undecoded body bytes, else b""."""
        event = self.parser.next_event()
        if event is NEED_DATA:
            self.connection.receive(self.parser, self.deadline)
        elif type(event) is BodyData:
            self._check_size(self.parser.body_received)
            if not self._decode:
                return event.data
            if self._decoder is None:
                self._decoder = self._start_decoding()
                if self._decoder is None:
                    return event.data
            self._pieces = self._decoder.decode(event.data)
        else:
            assert type(event) is EndOfResponse
            self._end = event
            if self._decoder is not None:
                self._pieces = self._decoder.finish()
        return b""

    def _start_decoding(self) -> Optional[ContentDecoder]:
        """Return the decoder for the response's Content-Encoding, or None; decide only once."""
        self._decode = False
        head = self.parser.head
        assert head is not None
        codings = head.headers.get_all("content-encoding")
        if not codings:
            return None
        from ._decoding import make_decoder  # Deferred: most responses are not encoded.

        decoder = make_decoder(codings, self.limits)
        self._decode = decoder is not None
        return decoder

    def _check_size(self, size: int) -> None:
        if self.max_body is not None and size > self.max_body:
            raise LimitExceededError(
                f"response body from {format_address(self.connection.host, self.connection.port)} exceeds "
                f"max_body ({self.max_body} bytes). Raise max_body, or use Client.stream to read it in pieces.",
                limit="max_body",
                value=self.max_body,
                host=self.connection.host,
                port=self.connection.port,
            )

    def _complete(self, end: EndOfResponse) -> None:
        self.done = True
        self.complete = True
        self._end = None
        self.trailers = end.trailers
        connection = self.connection
        if end.keep_alive and not self.parser.has_leftover:
            connection.last_used = time.monotonic()
            self.release(connection)
        else:
            connection.close()

    def read_all(self) -> bytes:
        """Read the rest of the body into memory and return it.

        Without ``max_body``, a body kept in memory may not pass
        `MAX_MEMORY_BODY_BYTES`, so that a server cannot fill memory.

        Raises:
            LimitExceededError: the body passes ``max_body``, or without it
                `MAX_MEMORY_BODY_BYTES`.
        """
        parser = self.parser
        limit = MAX_MEMORY_BODY_BYTES if self.max_body is None else self.max_body
        if not self.done and parser.state == BODY_LENGTH and self._is_plain():
            if parser.body_received + parser.body_remaining <= limit:
                try:
                    return self._read_length_body()
                except BaseException as exc:
                    self._fail(exc)
                    raise
            if self.max_body is None:
                self._fail_memory_limit()
        # Pieces go into one growing buffer, whose getvalue() shares it
        # rather than copying, so the body is not held twice at the end.
        body = io.BytesIO()
        if not self.done and self._is_plain():
            try:
                return self._read_plain_body(body, limit)
            except BaseException as exc:
                if not self.done:
                    self._fail(exc)
                raise
        while True:
            piece = self.read_piece()
            if not piece:
                return body.getvalue()
            body.write(piece)
            if self.max_body is None and body.tell() > limit:
                self._fail_memory_limit()

    def _read_plain_body(self, body: io.BytesIO, limit: int) -> bytes:
        """Read the rest of an undecoded body into ``body`` and return the bytes.

        It runs the loop of `read_piece` without the decoder steps, which
        saves two calls for each piece of a chunked body.
        """
        parser, connection, deadline = self.parser, self.connection, self.deadline
        max_body = self.max_body
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                connection.receive(parser, deadline)
            elif type(event) is BodyData:
                body.write(event.data)
                if max_body is not None:
                    self._check_size(parser.body_received)
                elif body.tell() > limit:
                    self._fail_memory_limit()
            else:
                assert type(event) is EndOfResponse
                self._complete(event)
                return body.getvalue()

    def _fail_memory_limit(self) -> None:
        """Drop the connection and raise for a body larger than a default in-memory read allows."""
        error = LimitExceededError(
            f"response body from {format_address(self.connection.host, self.connection.port)} exceeds "
            f"{MAX_MEMORY_BODY_BYTES // (1024 * 1024)} MiB, the limit of a body read into memory without "
            "max_body. Use Client.stream or Client.download to read it in pieces, or pass a larger max_body.",
            limit="max_body",
            value=MAX_MEMORY_BODY_BYTES,
            host=self.connection.host,
            port=self.connection.port,
        )
        self._fail(error)
        raise error

    def _read_length_body(self) -> bytes:
        """Read the rest of a Content-Length body, most of it straight into the bytes returned.

        The body is received into the buffer of a `io.BytesIO` of the body's
        size, whose `getvalue` then returns that buffer without a copy, so a
        large body takes its own size in memory, once.
        """
        parser = self.parser
        remaining = parser.body_remaining
        if remaining <= parser.buffered_bytes:
            # All of it has arrived (a small body, or none): one copy into bytes.
            event = parser.next_event()
            if type(event) is BodyData:
                self._complete_with(parser.next_event())
                return event.data
            self._complete_with(event)
            return b""

        body = io.BytesIO()
        body.seek(remaining - 1)
        body.write(b"\0")
        # Every view of the buffer is released before this returns or raises.
        # A view kept alive by a traceback would make the BytesIO fail to
        # close when the garbage collector frees it.
        view = body.getbuffer()
        try:
            self._fill_length_body(view)
        finally:
            view.release()
        return body.getvalue()

    def _fill_length_body(self, view: memoryview) -> None:
        """Fill ``view`` with the rest of the body, then settle the connection.

        Bytes the parser has buffered are moved into ``view``, whole records
        are received straight into it, and the last short piece goes through
        the connection's buffer, so that every read requests a full record
        (see MAX_RECORD_BYTES).
        """
        parser, connection, deadline = self.parser, self.connection, self.deadline
        filled = parser.move_body_into(view)
        while parser.body_remaining and parser.can_receive_body():
            # Nothing is buffered here, and only the end of the stream (a
            # count of 0) changes that while whole records arrive.
            while parser.body_remaining >= MAX_RECORD_BYTES:
                rest = view[filled:]
                try:
                    count = connection.receive_body_into(rest, parser, deadline)
                finally:
                    rest.release()
                if not count:
                    break
                filled += count
            if parser.body_remaining and parser.can_receive_body():
                connection.receive(parser, deadline)
                rest = view[filled:]
                try:
                    filled += parser.move_body_into(rest)
                finally:
                    rest.release()
        # EndOfResponse, or IncompleteBodyError when the stream ended first.
        self._complete_with(parser.next_event())

    def _complete_with(self, event: object) -> None:
        assert type(event) is EndOfResponse
        self._complete(event)

    def abandon(self) -> None:
        """Close the connection unless the body was already read in full."""
        if not self.done:
            self.done = True
            self.connection.close()


class StreamingResponse(BaseResponse, ClosesOnExit):
    """A response whose body is read on demand; returned by `Client.stream`.

    Use it as a context manager, or call `close`. Reading the body in full
    returns the connection to the pool; closing the response before that
    closes the connection. Memory stays flat: each piece is at most the
    ``chunk_size`` asked for, or 64 KiB.

    Attributes:
        trailers: trailer fields of a chunked body, filled once the body is read.
    """

    __slots__ = ("_reader", "_pending", "_offset")

    def __init__(
        self,
        head: ResponseHead,
        url: str,
        tls: Optional[TLSInfo],
        reader: BodyReader,
        history: Sequence[Response] = (),
    ) -> None:
        super().__init__(head.status, head.reason, head.headers, url, head.http_version, tls, history)
        self._reader = reader
        self._pending = b""
        self._offset = 0

    @property
    def trailers(self) -> Headers:
        """Trailer fields of a chunked body; empty until the body is read in full."""
        return self._reader.trailers

    @property
    def is_closed(self) -> bool:
        """True once the body was read in full or the response was closed."""
        return self._reader.done and not self._pending

    def _take(self, size: Optional[int]) -> bytes:
        """Return up to ``size`` bytes of the body (any amount for None), or b"" at its end."""
        if self._offset >= len(self._pending):
            self._pending = self._reader.read_piece()
            self._offset = 0
            if not self._pending:
                return b""
        start = self._offset
        end = len(self._pending) if size is None else min(start + size, len(self._pending))
        self._offset = end
        if start == 0 and end == len(self._pending):
            return self._pending
        return self._pending[start:end]

    def iter_bytes(self, chunk_size: Optional[int] = None) -> Iterator[bytes]:
        """Yield the body in pieces of ``chunk_size`` bytes (the last may be shorter).

        With ``chunk_size=None``, pieces come as they arrive, at most 64 KiB each.

        Raises:
            The errors of `Client.get` that concern the body, such as
            `IncompleteBodyError`; the connection is then closed.
        """
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"invalid chunk_size {chunk_size!r}: expected a positive int or None.")
        if chunk_size is None:
            while True:
                piece = self._take(None)
                if not piece:
                    return
                yield piece
        buffer = bytearray()
        while True:
            piece = self._take(chunk_size - len(buffer))
            if not piece:
                if buffer:
                    yield bytes(buffer)
                return
            if not buffer and len(piece) == chunk_size:
                yield piece
                continue
            buffer += piece
            if len(buffer) == chunk_size:
                yield bytes(buffer)
                buffer.clear()

    def readinto(self, buffer: BufferType) -> int:
        """Read body bytes into ``buffer`` and return how many; 0 means the body is complete."""
        view = memoryview(buffer).cast("B")
        if not view.nbytes:
            return 0
        if self._offset >= len(self._pending):
            count = self._reader.read_into(view)
            if count is not None:
                return count
        piece = self._take(view.nbytes)
        view[: len(piece)] = piece
        return len(piece)

    def read(self) -> bytes:
        """Read the rest of the body and return it."""
        rest = self._pending[self._offset :]
        self._pending, self._offset = b"", 0
        return rest + self._reader.read_all() if rest else self._reader.read_all()

    def read_response(self) -> Response:
        """Read the rest of the body and return the complete `Response`."""
        body = self.read() if self._pending else self._reader.read_all()
        return Response(
            self.status,
            self.reason,
            self.headers,
            body,
            self.url,
            self.http_version,
            self.tls,
            self.history,
            self._reader.trailers,
        )

    def close(self) -> None:
        """Stop reading; the connection is closed unless the body was already read in full."""
        self._pending, self._offset = b"", 0
        self._reader.abandon()
