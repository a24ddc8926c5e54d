"""Client and get(): the request path from URL to Response.

A call runs these steps:

1. Merge the call's arguments into the client's defaults and start the
   call's `Deadline`; parse the URL and prepare method, fields and content.
   Bad input raises here, before any byte is sent.
2. Send one hop (`tlskit._exchange.send_hop`): a pooled or new connection,
   the request, the response head.
3. With a `Retry`, send the hop again after a connect failure, or after a
   retryable status to an idempotent request, waiting as the Retry sets.
4. Follow redirects up to ``max_redirects``: read each redirect's body so
   its connection can be reused, keep it in ``history``, and drop content
   and credentials as `tlskit._redirects` decides. `tlskit._follow` runs
   steps 2 to 4.
5. Return the last response: `Client.request` reads its body in full,
   `Client.stream` leaves it to the caller.
"""

from __future__ import annotations

import enum
import functools
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union

from ._context import context_for
from ._follow import send_and_follow
from ._http11_events import DEFAULT_LIMITS, Limits
from ._http11_request import validate_method
from ._log import get_logger
from ._peer_cache import KeyChangeHandler, PeerCache
from ._pinning import PeerOptions
from ._policy import TLSPolicy, make_policy
from ._pool import ConnectionPool
from ._request import (
    DEFAULT_FIELDS,
    ContentType,
    HeadersType,
    RequestOptions,
    RequestSpec,
    RetriesType,
    encode_content,
    header_fields,
    make_options,
    merge_fields,
    prepare_spec,
)
from ._response import ClosesOnExit, Response
from ._session_cache import SessionCache
from ._streaming import StreamingResponse
from ._timeouts import Deadline, TimeoutType
from ._url import URL, parse_url

if TYPE_CHECKING:
    from ._download import PathArgument, ProgressCallback

log = get_logger(__name__)

# A client sends most requests to the same few URLs, and a URL is an
# immutable value, so parsed URLs are kept. Invalid URLs raise and are not kept.
_parse_url_cached = functools.lru_cache(maxsize=256)(
    lambda url, allow_http: parse_url(url, allow_http=allow_http)
)

# Plain requests (method and URL alone) whose checked URL and encoded fields a client keeps.
MAX_PREPARED_REQUESTS = 256

# Bytes per write of Client.download. Each buffer is written right after it
# was received, so a small buffer is still in the CPU cache when written. In
# 9 interleaved 100 MiB downloads to a file from nginx on loopback (2-core AMD
# EPYC VM, CPython 3.11), the median took 106 ms with 64 KiB and 117 ms with
# 256 KiB, whose slowest runs took 2 to 3 times that; 1 MiB had such a tail too.
DEFAULT_DOWNLOAD_CHUNK_BYTES = 64 * 1024

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_REDIRECTS = 10


class _Unset(enum.Enum):
    """Marks an argument the caller did not pass, so the client's default applies."""

    UNSET = "UNSET"


UNSET = _Unset.UNSET

AuthType = Optional[Tuple[str, str]]

# The keywords that a call of get, request or stream may set over the
# client's defaults, in the order the methods pass them to _call_options.
_OVERRIDE_NAMES = (
    "timeout",
    "max_body",
    "follow_redirects",
    "max_redirects",
    "proxy",
    "allow_http",
    "decode_content",
    "retries",
)

# The RequestOptions field of each keyword whose name differs.
_OPTION_NAMES = {"retries": "retry"}


class Client(ClosesOnExit):
    """An HTTPS client that keeps connections alive between requests.

    Use it as a context manager, or call `close` when done. One client may be
    shared by many threads. Each keyword below sets a default that a call
    can override with a keyword of the same name.

    Args:
        policy: TLS policy for every request; the default TLSPolicy when None.
        headers: header fields sent with every request; caller fields replace
            defaults of the same name.
        timeout: seconds that bound each call from connect to last body byte,
            redirects and retries included, or a `Timeout`, or None for no limit.
        limits: limits on response heads and on decoding.
        max_body: largest response body accepted, in bytes, or None.
        follow_redirects: follow 301, 302, 303, 307 and 308 responses.
        max_redirects: most redirects followed in one call.
        proxy: http:// URL of a proxy for every request; None to use the
            environment's, when ``trust_env`` is on.
        allow_http: accept http:// URLs and redirects to them.
        decode_content: undo gzip and deflate content codings.
        retries: a count or a `Retry`; None sends each request once, apart
            from one retry after a stale pooled connection.
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
            makes the new key the host's pin instead, False or None keeps
            the pin, and any other value raises `PolicyError`.
        **fields: TLSPolicy fields that override those of ``policy``, such as
            ``cafile``, ``verify`` or ``trust_env``. A mapping given as
            ``pins`` sets per-host pins instead, keyed by ``"host:port"`` or
            ``"host"`` (any port): each connection to that host must match
            them as well as the policy's pins.

    Raises:
        PolicyError: a setting is invalid, or a CA or certificate file cannot be loaded.
    """

    def __init__(
        self,
        policy: Optional[TLSPolicy] = None,
        *,
        headers: HeadersType = None,
        timeout: TimeoutType = DEFAULT_TIMEOUT_SECONDS,
        limits: Limits = DEFAULT_LIMITS,
        max_body: Optional[int] = None,
        follow_redirects: bool = True,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        proxy: Optional[str] = None,
        allow_http: bool = False,
        decode_content: bool = True,
        retries: RetriesType = None,
        session_cache: Union[SessionCache, bool] = True,
        peer_cache: Union[PeerCache, bool] = True,
        trust_on_first_use: bool = False,
        accept_key_change: Optional[KeyChangeHandler] = None,
        **fields: Any,
    ) -> None:
        host_pins = fields.pop("pins") if "pins" in fields and isinstance(fields["pins"], Mapping) else {}
        self.policy = make_policy(policy, fields)
        self._peers = PeerOptions.for_client(
            host_pins, session_cache, peer_cache, trust_on_first_use, accept_key_change
        )
        self._peers.check_policy(self.policy)
        # Built now so that a bad CA file fails here, not at the first request.
        context_for(self.policy)
        self._fields = merge_fields(DEFAULT_FIELDS, header_fields(headers))
        self._options = make_options(
            self.policy,
            pool_key=object(),
            environment=None,
            timeout=timeout,
            limits=limits,
            max_body=max_body,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            proxy=proxy,
            allow_http=allow_http,
            decode_content=decode_content,
            retries=retries,
        )
        self._pool = ConnectionPool()
        self._prepared: Dict[Tuple[Any, ...], Tuple[URL, RequestSpec]] = {}

    @property
    def options(self) -> RequestOptions:
        """The client's default settings for each call."""
        return self._options

    def close(self) -> None:
        """Close all idle connections. The client stays usable."""
        self._pool.close()

    def get(
        self,
        url: str,
        *,
        headers: HeadersType = None,
        auth: AuthType = None,
        url_credentials: bool = False,
        timeout: Union[TimeoutType, _Unset] = UNSET,
        max_body: Union[int, None, _Unset] = UNSET,
        follow_redirects: Union[bool, _Unset] = UNSET,
        max_redirects: Union[int, _Unset] = UNSET,
        proxy: Union[str, None, _Unset] = UNSET,
        allow_http: Union[bool, _Unset] = UNSET,
        decode_content: Union[bool, _Unset] = UNSET,
        retries: Union[RetriesType, _Unset] = UNSET,
        **fields: Any,
    ) -> Response:
        """Send a GET request and return the complete response.

        Args:
            url: an ``https://`` URL (``http://`` with ``allow_http=True``).
            headers: extra header fields for this request.
            auth: (user, password) for Basic authentication; dropped when a
                redirect leads to another origin.
            url_credentials: send the URL's ``user:password@`` as Basic
                authentication. Without it, such a URL raises `InvalidURLError`.
            timeout, max_body, follow_redirects, max_redirects, proxy,
            allow_http, decode_content, retries: override the client's
                settings for this request; see `Client`.
            **fields: TLSPolicy fields that override the client's policy for this request.

        Raises:
            InvalidURLError, InvalidHeaderError, PolicyError: bad input; nothing was sent.
            ConnectError, ProxyError, TimeoutExceededError, HandshakeError,
            VerificationError: the connection failed.
            ProtocolError, IncompleteBodyError, LimitExceededError,
            DecodingError: the response broke HTTP/1.1 or a limit.
            RedirectError, TooManyRedirectsError: a redirect was rejected.
        """
        overrides = (
            timeout,
            max_body,
            follow_redirects,
            max_redirects,
            proxy,
            allow_http,
            decode_content,
            retries,
        )
        options = self._call_options(fields, overrides)
        return _read_whole(self._open("GET", url, headers, None, None, auth, url_credentials, options))

    def head(self, url: str, **kwargs: Any) -> Response:
        """Send a HEAD request; takes the keywords of `get`."""
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        """Send a POST request; takes the keywords of `request`, such as ``body`` or ``json``."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        """Send a PUT request; takes the keywords of `request`."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        """Send a PATCH request; takes the keywords of `request`."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        """Send a DELETE request; takes the keywords of `request`."""
        return self.request("DELETE", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersType = None,
        body: ContentType = None,
        json: Any = None,
        auth: AuthType = None,
        url_credentials: bool = False,
        timeout: Union[TimeoutType, _Unset] = UNSET,
        max_body: Union[int, None, _Unset] = UNSET,
        follow_redirects: Union[bool, _Unset] = UNSET,
        max_redirects: Union[int, _Unset] = UNSET,
        proxy: Union[str, None, _Unset] = UNSET,
        allow_http: Union[bool, _Unset] = UNSET,
        decode_content: Union[bool, _Unset] = UNSET,
        retries: Union[RetriesType, _Unset] = UNSET,
        **fields: Any,
    ) -> Response:
        """Send a request with ``method`` and return the complete response.

        Takes the arguments of `get`, plus ``body`` (bytes) or ``json`` (any
        value `json.dumps` accepts but None, sent as UTF-8 with Content-Type
        application/json), sent with Content-Length.
        """
        overrides = (
            timeout,
            max_body,
            follow_redirects,
            max_redirects,
            proxy,
            allow_http,
            decode_content,
            retries,
        )
        options = self._call_options(fields, overrides)
        return _read_whole(self._open(method, url, headers, body, json, auth, url_credentials, options))

    def stream(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: HeadersType = None,
        body: ContentType = None,
        json: Any = None,
        auth: AuthType = None,
        url_credentials: bool = False,
        timeout: Union[TimeoutType, _Unset] = UNSET,
        max_body: Union[int, None, _Unset] = UNSET,
        follow_redirects: Union[bool, _Unset] = UNSET,
        max_redirects: Union[int, _Unset] = UNSET,
        proxy: Union[str, None, _Unset] = UNSET,
        allow_http: Union[bool, _Unset] = UNSET,
        decode_content: Union[bool, _Unset] = UNSET,
        retries: Union[RetriesType, _Unset] = UNSET,
        **fields: Any,
    ) -> StreamingResponse:
        """Send a request and return the response with its body still unread.

        Use the result as a context manager::

            with client.stream(url) as response:
                for chunk in response.iter_bytes(65536):
                    ...

        Takes the arguments of `request`. The total timeout, if any, keeps
        running while the body is read; pass ``Timeout(connect=..., read=...)``
        to bound only each step of a long download.
        """
        overrides = (
            timeout,
            max_body,
            follow_redirects,
            max_redirects,
            proxy,
            allow_http,
            decode_content,
            retries,
        )
        options = self._call_options(fields, overrides)
        return self._open(method, url, headers, body, json, auth, url_credentials, options)

    def download(
        self,
        url: str,
        path: PathArgument,
        *,
        progress: Optional[ProgressCallback] = None,
        chunk_size: int = DEFAULT_DOWNLOAD_CHUNK_BYTES,
        **kwargs: Any,
    ) -> StreamingResponse:
        """Save the body of a GET response to ``path``, replacing it only once the body is complete.

        The path is checked before the request is sent. The body goes to a
        temporary file beside ``path``, created readable by the owner only,
        which is renamed over ``path`` only after the last byte arrived. An
        existing file keeps its permission bits (without set-user-ID and
        set-group-ID), and its owner where the process may set it. A new
        file gets the mode that ``open`` would give it. A symbolic link
        stays, and the file it points to is replaced. A device or FIFO,
        such as ``/dev/null``, is written in place. On any error the
        temporary file is deleted and ``path`` is left as it was.

        Args:
            url: the URL to fetch.
            path: where to save the body: a str, bytes or os.PathLike path.
            progress: called as ``progress(bytes_received, total)`` at the
                start, about five times a second while bytes arrive, and at
                the end, with ``total`` from Content-Length when the
                response has no Content-Encoding, else None.
            chunk_size: bytes per write to the file.
            **kwargs: the keywords of `stream`.

        Returns:
            The response, with its body already read into the file.

        Raises:
            HTTPStatusError: the status is 400 or more; nothing is written.
            OSError: ``path`` is a directory, its directory is missing or not
                writable, or writing failed. The error names ``path``.
            TypeError: ``path`` is not a path; ValueError: it contains a NUL
                character. Both are raised before the request is sent.
            The errors of `get`.
        """
        from ._download import check_chunk_size, check_output, save_body  # Deferred: rarely used.

        check_chunk_size(chunk_size)
        target = check_output(path)
        with self.stream(url, **kwargs) as response:
            response.raise_for_status()
            save_body(response, target, progress, chunk_size)
        return response

    def _call_options(self, fields: Dict[str, Any], overrides: Tuple[Any, ...]) -> RequestOptions:
        """Return the client's options with a call's `_OVERRIDE_NAMES` arguments, in that order, applied."""
        base = self._options
        # One C-level count instead of eight comparisons: most calls override nothing.
        if not fields and overrides.count(UNSET) == len(_OVERRIDE_NAMES):
            return base
        settings: Dict[str, Any] = {"limits": base.limits}
        for name, value in zip(_OVERRIDE_NAMES, overrides):
            settings[name] = getattr(base, _OPTION_NAMES.get(name, name)) if value is UNSET else value
        if not fields:
            return make_options(base.policy, pool_key=base.pool_key, environment=base.environment, **settings)
        policy = make_policy(base.policy, fields)
        environment = base.environment if policy.trust_env == base.policy.trust_env else None
        return make_options(policy, pool_key=policy, environment=environment, **settings)

    def _open(
        self,
        method: str,
        url: str,
        headers: HeadersType,
        body: ContentType,
        json: Any,
        auth: AuthType,
        url_credentials: bool,
        options: RequestOptions,
    ) -> StreamingResponse:
        """Check the request, send it, follow redirects and return the last response, body unread."""
        deadline = Deadline(options.timeout)
        # A call with nothing but a method, a URL and header fields of str
        # sends what the last such call sent, so its checks and encoding are
        # kept per client.
        fields_key = _fields_key(headers)
        is_plain = (
            fields_key is not None
            and body is None
            and json is None
            and auth is None
            and type(url) is str
            and type(method) is str
        )
        key = (method, url, options.allow_http, bool(url_credentials), fields_key)
        prepared = self._prepared.get(key) if is_plain else None
        if prepared is None:
            parsed = _parse_url_cached(url, options.allow_http) if isinstance(url, str) else parse_url(url)
            content, content_type = encode_content(body, json, json is not None)
            spec = prepare_spec(
                validate_method(method),
                parsed,
                self._fields,
                headers,
                content,
                content_type,
                auth,
                url_credentials,
            )
            if is_plain:
                if len(self._prepared) >= MAX_PREPARED_REQUESTS:
                    self._prepared.clear()
                self._prepared[key] = (parsed, spec)
        else:
            parsed, spec = prepared
        return send_and_follow(self._pool, self._peers, spec, parsed, options, deadline)


def _read_whole(response: StreamingResponse) -> Response:
    """Read the body of ``response`` and return the complete `Response`, closing it on any error.

    A body read in full has already settled its connection, so only a
    failure needs `StreamingResponse.close`, which a ``with`` block would
    call every time.
    """
    try:
        return response.read_response()
    except BaseException:
        response.close()
        raise


def _fields_key(headers: HeadersType) -> Optional[Tuple[Tuple[str, str], ...]]:
    """Return ``headers`` as a tuple of (name, value) pairs of str, () for None, or None when they are anything else."""
    if headers is None:
        return ()
    if type(headers) is dict:
        pairs = tuple(headers.items())
    elif type(headers) is list or type(headers) is tuple:
        pairs = tuple(headers)
    else:
        return None
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not str:
            return None
    return pairs


def get(
    url: str,
    *,
    headers: HeadersType = None,
    timeout: TimeoutType = DEFAULT_TIMEOUT_SECONDS,
    policy: Optional[TLSPolicy] = None,
    max_body: Optional[int] = None,
    follow_redirects: bool = True,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    proxy: Optional[str] = None,
    allow_http: bool = False,
    decode_content: bool = True,
    retries: RetriesType = None,
    auth: AuthType = None,
    url_credentials: bool = False,
    **fields: Any,
) -> Response:
    """Send one GET request on a new connection and return the complete response.

    Args:
        url: an ``https://`` URL (``http://`` with ``allow_http=True``).
        headers: extra header fields.
        timeout: seconds that bound the whole call, redirects included, or a
            `Timeout`, or None for no limit.
        policy: TLS policy; the default TLSPolicy when None.
        max_body, follow_redirects, max_redirects, proxy, allow_http,
        decode_content, retries: as for `Client`.
        auth, url_credentials: as for `Client.get`.
        **fields: TLSPolicy fields, such as ``cafile="ca.pem"`` or ``verify=False``.

    Raises:
        The errors of `Client.get`.
    """
    with Client(
        policy,
        timeout=timeout,
        max_body=max_body,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        proxy=proxy,
        allow_http=allow_http,
        decode_content=decode_content,
        retries=retries,
        **fields,
    ) as client:
        return client.get(url, headers=headers, auth=auth, url_credentials=url_credentials)
