"""Response: status, headers and whole body of an HTTP response, with its TLS facts.

`BaseResponse` holds what the head tells and is shared with
`tlskit._streaming.StreamingResponse`, whose body is read on demand.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, List, Optional, Sequence, Type, TypeVar

from ._connection import TLSInfo
from ._errors import HTTPStatusError
from ._headers import Headers
from ._url import parse_url

# Python codecs that str.decode accepts but that are no charset a server can
# mean: they fail on errors="replace", or interpret escapes and labels.
_NON_CHARSET_CODECS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})


def decode_text(body: bytes, charset: str) -> str:
    """Decode ``body`` with ``charset``, or with UTF-8 when that is no usable charset; never raise."""
    import codecs  # Deferred: most responses are never read as text.

    try:
        if codecs.lookup(charset).name not in _NON_CHARSET_CODECS:
            return body.decode(charset, errors="replace")
    except (LookupError, ValueError):
        # LookupError: no such codec, or a bytes-to-bytes one such as base64.
        # ValueError: a name with a NUL, or a codec that rejects "replace".
        pass
    return body.decode("utf-8", errors="replace")


_Closeable = TypeVar("_Closeable", bound="ClosesOnExit")


class ClosesOnExit:
    """Base of objects that a ``with`` block closes on exit by calling their ``close``."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Closeable) -> _Closeable:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()


class BaseResponse:
    """The status line and header fields of a response, and where it came from.

    Attributes:
        status: the status code, such as 200.
        reason: the reason phrase, possibly empty.
        headers: case-insensitive header fields; repeats kept.
        url: the URL that produced this response, after any redirects.
        http_version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
        tls: version, cipher, ALPN, peer certificate and session reuse of the
            connection; None for a plain http response (``allow_http=True``).
        history: the redirect responses that led here, oldest first. Each
            keeps its body when that is at most 64 KiB; a longer one is not
            read, and its body is empty.
    """

    __slots__ = ("status", "reason", "headers", "url", "http_version", "tls", "history")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        url: str,
        http_version: str,
        tls: Optional[TLSInfo],
        history: Sequence[Response] = (),
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.url = url
        self.http_version = http_version
        self.tls = tls
        self.history: List[Response] = list(history)

    @property
    def ok(self) -> bool:
        """True for status codes below 400."""
        return self.status < 400

    @property
    def encoding(self) -> str:
        """The charset from Content-Type, else UTF-8 (the only charset JSON allows, RFC 8259 8.1)."""
        content_type = self.headers.get("content-type", "")
        for parameter in content_type.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"

    def raise_for_status(self) -> Any:
        """Return the response, or raise `HTTPStatusError` for a status of 400 or more."""
        if self.status >= 400:
            url = parse_url(self.url, allow_http=True)
            raise HTTPStatusError(
                f"{self.url} returned HTTP {self.status} {self.reason}".rstrip() + ".",
                status=self.status,
                response=self,
                host=url.host,
                port=url.port,
            )
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status}] {self.url}>"


class Response(BaseResponse):
    """A complete HTTP response.

    Attributes:
        body: the whole body as bytes, decoded from gzip or deflate unless
            ``decode_content=False``.
        trailers: trailer fields of a chunked body, else empty.
    """

    __slots__ = ("body", "trailers")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        body: bytes,
        url: str,
        http_version: str,
        tls: Optional[TLSInfo],
        history: Sequence[Response] = (),
        trailers: Optional[Headers] = None,
    ) -> None:
        super().__init__(status, reason, headers, url, http_version, tls, history)
        self.body = body
        self.trailers = Headers() if trailers is None else trailers

    @property
    def text(self) -> str:
        """The body decoded with `encoding`; undecodable bytes become U+FFFD.

        A charset that Python does not know, or that is no text charset but
        one of Python's own codecs (such as ``idna`` or ``unicode_escape``),
        is replaced by UTF-8.
        """
        return decode_text(self.body, self.encoding)

    def json(self, **kwargs: Any) -> Any:
        """Parse the body as JSON (UTF-8, -16 or -32, as RFC 8259 allows).

        Raises:
            json.JSONDecodeError: the body is not valid JSON, or not valid
                text in the encoding its first bytes show.
        """
        import json  # Deferred: most programs that fetch bytes never need it at import time.

        try:
            return json.loads(self.body, **kwargs)
        except UnicodeDecodeError as exc:
            # json.loads raises this for bytes outside the detected encoding;
            # callers that catch JSONDecodeError, as documented, get it too.
            raise json.JSONDecodeError(
                f"invalid JSON body from {self.url}: it is not valid {exc.encoding} ({exc.reason})",
                self.body.decode("latin-1"),
                exc.start,
            ) from exc

    def raise_for_status(self) -> Response:
        """Return the response, or raise `HTTPStatusError` for a status of 400 or more."""
        super().raise_for_status()
        return self
