"""Response: status, headers and body of an HTTP response, with its TLS facts."""

from __future__ import annotations

from typing import Any, Sequence

from ._connection import TLSInfo
from ._errors import HTTPStatusError
from ._headers import Headers


class Response:
    """A complete HTTP response.

    Attributes:
        status: the status code, such as 200.
        reason: the reason phrase, possibly empty.
        headers: case-insensitive header fields; repeats kept.
        body: the whole body as bytes.
        url: the URL that produced this response.
        http_version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
        tls: version, cipher, ALPN, peer certificate and session reuse of the connection.
        history: earlier responses of a redirect chain, oldest first.
    """

    __slots__ = ("status", "reason", "headers", "body", "url", "http_version", "tls", "history")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        body: bytes,
        url: str,
        http_version: str,
        tls: TLSInfo,
        history: Sequence[Response] = (),
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.url = url
        self.http_version = http_version
        self.tls = tls
        self.history = list(history)

    @property
    def ok(self) -> bool:
        """True for status codes below 400."""
        return self.status < 400

    @property
    def encoding(self) -> str:
        """The charset from Content-Type, else UTF-8."""
        content_type = self.headers.get("content-type", "")
        for parameter in content_type.split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with `encoding`; undecodable bytes become U+FFFD."""
        try:
            return self.body.decode(self.encoding, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """Parse the body as JSON (UTF-8, -16 or -32, as RFC 8259 allows).

        Raises:
            json.JSONDecodeError: the body is not valid JSON.
        """
        import json  # Deferred: most programs that fetch bytes never need it at import time.

        return json.loads(self.body, **kwargs)

    def raise_for_status(self) -> Response:
        """Return the response, or raise `HTTPStatusError` for a status of 400 or more."""
        if self.status >= 400:
            raise HTTPStatusError(
                f"{self.url} returned HTTP {self.status} {self.reason}".rstrip() + ".",
                status=self.status,
                response=self,
            )
        return self

    def __repr__(self) -> str:
        return f"<Response [{self.status}] {self.url}>"
