"""Client and get(): the request path from URL to Response.

A request runs these steps:

1. Parse the URL and merge the request's policy fields into the client's policy.
2. Build the request bytes from default and caller headers, validated first.
3. Take an idle connection for (origin, policy) from the pool, or open one.
4. Exchange request and response within the timeout's deadline.
5. Return the connection to the pool if the response allows reuse.

A pooled connection may have been closed by the server while idle, which
shows only when the request gets no response at all. Such a request is
retried once on a fresh connection, when its method is idempotent.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Type, Union

from ._connection import Connection, open_connection
from ._context import context_for
from ._errors import InvalidHeaderError, RemoteDisconnectedError
from ._http11 import DEFAULT_LIMITS, Limits, build_request, validate_header
from ._peer_cache import KeyChangeHandler, PeerCache
from ._pinning import PeerOptions
from ._policy import TLSPolicy, make_policy
from ._pool import ConnectionPool
from ._response import Response
from ._session_cache import SessionCache
from ._url import URL, parse_url
from ._version import __version__

log = logging.getLogger(__name__)

HeadersType = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]

DEFAULT_TIMEOUT_SECONDS = 30.0
USER_AGENT = f"tlskit/{__version__}"

# Methods that RFC 9110 9.2.2 defines as idempotent: safe to send twice.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class Client:
    """An HTTPS client that keeps connections alive between requests.

    Use it as a context manager, or call `close` when done. One client may be
    shared by many threads.

    Args:
        policy: TLS policy for every request; the default TLSPolicy when None.
        headers: header fields sent with every request; caller fields replace
            defaults of the same name.
        timeout: seconds that bound each request from connect to last body
            byte, or None for no limit.
        limits: limits on response heads.
        max_body: largest response body accepted, in bytes, or None.
        session_cache: where TLS sessions are kept for resumption: True for
            the process-wide cache, False to resume nothing, or a `SessionCache`.
        peer_cache: where verified peers are recorded: True for the
            process-wide in-memory cache, False for none, or a `PeerCache`.
        trust_on_first_use: pin the leaf key that each host presents on its
            first verified connection, and raise `PinMismatchError` when a
            later connection presents another key. The pins live in
            ``peer_cache``; pass a file-backed `PeerCache` to keep them.
        accept_key_change: with trust on first use, called with the
            `PinMismatchError` that a changed key raises; returning True
            makes the new key the host's pin instead.
        **fields: TLSPolicy fields that override those of ``policy``. A
            mapping given as ``pins`` sets per-host pins instead, keyed by
            ``"host:port"`` or ``"host"`` (any port): each request to that
            host must match them as well as the policy's pins.

    Raises:
        PolicyError: the policy is invalid or a CA or certificate file cannot be loaded.
    """

    def __init__(
        self,
        policy: Optional[TLSPolicy] = None,
        *,
        headers: HeadersType = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT_SECONDS,
        limits: Limits = DEFAULT_LIMITS,
        max_body: Optional[int] = None,
        session_cache: Union[SessionCache, bool] = True,
        peer_cache: Union[PeerCache, bool] = True,
        trust_on_first_use: bool = False,
        accept_key_change: Optional[KeyChangeHandler] = None,
        **fields: Any,
    ) -> None:
        host_pins = fields.pop("pins") if isinstance(fields.get("pins"), Mapping) else {}
        self.policy = make_policy(policy, fields)
        self._peers = PeerOptions.for_client(
            host_pins, session_cache, peer_cache, trust_on_first_use, accept_key_change
        )
        self._peers.check_policy(self.policy)
        # Built now so that a bad CA file fails here, not at the first request.
        context_for(self.policy)
        self.headers: List[Tuple[str, str]] = _header_fields(headers)
        self.timeout = timeout
        self.limits = limits
        self.max_body = max_body
        self._pool = ConnectionPool()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close all idle connections. The client stays usable."""
        self._pool.close()

    def get(
        self,
        url: str,
        *,
        headers: HeadersType = None,
        timeout: Union[float, None, object] = ...,
        max_body: Union[int, None, object] = ...,
        **fields: Any,
    ) -> Response:
        """Send a GET request and return the complete response.

        Args:
            url: an ``https://`` URL.
            headers: extra header fields for this request.
            timeout: overrides the client's timeout for this request.
            max_body: overrides the client's max_body for this request.
            **fields: TLSPolicy fields that override the client's policy for this request.

        Raises:
            InvalidURLError, InvalidHeaderError, PolicyError: bad input; nothing was sent.
            ConnectError, TimeoutExceededError, HandshakeError, VerificationError,
            ProtocolError: the connection or the response failed.
        """
        return self.request("GET", url, headers=headers, timeout=timeout, max_body=max_body, **fields)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersType = None,
        body: bytes = b"",
        timeout: Union[float, None, object] = ...,
        max_body: Union[int, None, object] = ...,
        **fields: Any,
    ) -> Response:
        """Send a request with ``method`` and return the complete response.

        Takes the same arguments as `get`, plus ``body``, sent with a
        Content-Length header.
        """
        # 1. Inputs: URL, policy, limits.
        parsed = parse_url(url)
        policy = make_policy(self.policy, fields) if fields else self.policy
        request_timeout = self.timeout if timeout is ... else timeout
        body_limit = self.max_body if max_body is ... else max_body
        deadline = None if request_timeout is None else time.monotonic() + float(request_timeout)  # type: ignore[arg-type]

        # 2. Request bytes.
        method = method.upper()
        request_bytes = build_request(
            method, parsed.target, self._request_fields(parsed, headers, body), body
        )

        # 3-5. Connection, exchange, reuse. A pooled connection passed the
        # policy's checks and the client's pin rules of its key, no others.
        key = (parsed.origin, policy, self._peers.rules_for(parsed, policy))
        connection = self._pool.acquire(key)
        reused = connection is not None
        if connection is None:
            connection = self._connect(parsed, policy, request_timeout, deadline)  # type: ignore[arg-type]
        try:
            head, content, reusable = connection.exchange(
                request_bytes,
                method,
                limits=self.limits,
                max_body=body_limit,  # type: ignore[arg-type]
                deadline=deadline,
                read_timeout=request_timeout,  # type: ignore[arg-type]
            )
        except RemoteDisconnectedError:
            connection.close()
            if not reused or method not in IDEMPOTENT_METHODS:
                raise
            log.debug(
                "idle connection to %s was closed by the server; retrying on a new one", parsed.authority
            )
            connection = self._connect(parsed, policy, request_timeout, deadline)  # type: ignore[arg-type]
            try:
                head, content, reusable = connection.exchange(
                    request_bytes,
                    method,
                    limits=self.limits,
                    max_body=body_limit,  # type: ignore[arg-type]
                    deadline=deadline,
                    read_timeout=request_timeout,  # type: ignore[arg-type]
                )
            except BaseException:
                connection.close()
                raise
        except BaseException:
            connection.close()
            raise

        connection.save_session()
        tls = connection.tls
        if reusable:
            self._pool.release(key, connection)
        else:
            connection.close()
        return Response(head.status, head.reason, head.headers, content, str(parsed), head.http_version, tls)

    def _connect(
        self, url: URL, policy: TLSPolicy, timeout: Optional[float], deadline: Optional[float]
    ) -> Connection:
        return open_connection(
            url, policy, context_for(policy), connect_timeout=timeout, deadline=deadline, peers=self._peers
        )

    def _request_fields(self, url: URL, headers: HeadersType, body: bytes) -> List[Tuple[str, str]]:
        """Merge default, client and request header fields; later ones replace earlier ones by name."""
        merged: Dict[str, Tuple[str, str]] = {
            "host": ("Host", url.authority),
            "user-agent": ("User-Agent", USER_AGENT),
            "accept": ("Accept", "*/*"),
            "accept-encoding": ("Accept-Encoding", "identity"),
        }
        if body:
            merged["content-length"] = ("Content-Length", str(len(body)))
        for name, value in self.headers:
            merged[name.lower()] = (name, value)
        for name, value in _header_fields(headers):
            merged[name.lower()] = (name, value)
        return list(merged.values())


def _header_fields(headers: HeadersType) -> List[Tuple[str, str]]:
    """Turn a mapping or pairs into validated (name, value) fields."""
    if headers is None:
        return []
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidHeaderError(
                f"invalid header {pair!r}: expected a (name, value) pair.", field="headers"
            )
        validate_header(*pair)
    return pairs


def get(
    url: str,
    *,
    headers: HeadersType = None,
    timeout: Optional[float] = DEFAULT_TIMEOUT_SECONDS,
    policy: Optional[TLSPolicy] = None,
    max_body: Optional[int] = None,
    **fields: Any,
) -> Response:
    """Send one GET request on a new connection and return the complete response.

    Args:
        url: an ``https://`` URL.
        headers: extra header fields.
        timeout: seconds that bound the whole request, or None for no limit.
        policy: TLS policy; the default TLSPolicy when None.
        max_body: largest response body accepted, in bytes, or None.
        **fields: TLSPolicy fields, such as ``cafile="ca.pem"``.

    Raises:
        The errors of `Client.get`, and `PolicyError` for an invalid policy.
    """
    with Client(policy, timeout=timeout, max_body=max_body, **fields) as client:
        return client.get(url, headers=headers)
