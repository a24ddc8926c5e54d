"""One hop: one request on one connection, from the pool or new, up to the response head.

`send_hop` runs these steps and returns a `StreamingResponse` whose body is
still on the wire:

1. Pick the route: direct, a CONNECT tunnel through a proxy (https), or the
   proxy itself with an absolute-form target (http).
2. Take an idle connection for (origin, policy, pin rules, proxy) from the
   pool, or open one.
3. Send the request and read the response head, then store the connection's
   TLS session, whose TLS 1.3 tickets have arrived by then.

A pooled connection may have been closed by the server while idle, which
shows only when the request gets no response at all. Such a request is sent
once more on a new connection when its method is idempotent, never when it
is a POST or another method that the server might have acted on.
"""

from __future__ import annotations

from typing import Hashable, Optional, Tuple

from ._connection import Connection, open_connection
from ._context import context_for
from ._errors import HandshakeError, RemoteDisconnectedError, TLSKitError
from ._http11 import ResponseParser
from ._http11_events import NEED_DATA, ResponseHead
from ._log import get_logger
from ._pinning import PeerOptions
from ._pool import ConnectionPool
from ._proxy import Proxy, open_tunnel, select_proxy, tunnel_handshake_error
from ._request import USER_AGENT, RequestOptions, RequestSpec, request_bytes
from ._retry import IDEMPOTENT_METHODS
from ._streaming import BodyReader, StreamingResponse, attach_address
from ._timeouts import Deadline, head_deadline
from ._url import URL

log = get_logger(__name__)


def connect(
    url: URL,
    options: RequestOptions,
    proxy: Optional[Proxy],
    deadline: Deadline,
    peers: Optional[PeerOptions] = None,
) -> Connection:
    """Open a connection for ``url``: direct, through a CONNECT tunnel, or to a forwarding proxy."""
    policy = options.policy
    if url.scheme == "http":
        target = url if proxy is None else proxy.url
        return open_connection(target, policy, None, deadline)
    context = context_for(policy)
    if proxy is None:
        return open_connection(url, policy, context, deadline, peers=peers)
    tunnel = open_tunnel(proxy, url, policy, deadline, options.limits, USER_AGENT)
    try:
        return open_connection(url, policy, context, deadline, sock=tunnel, peers=peers)
    except HandshakeError as exc:
        raise tunnel_handshake_error(exc, proxy, url) from exc.__cause__


def read_head(
    connection: Connection, data: bytes, parser: ResponseParser, deadline: Deadline
) -> ResponseHead:
    """Send ``data`` and return the response head that ``parser`` reads back.

    Raises:
        RemoteDisconnectedError: the server closed the connection first.
        ProtocolError, LimitExceededError, TimeoutExceededError: a bad or slow head.
    """
    connection.send(data, deadline)
    deadline = head_deadline(deadline)
    # A new parser has nothing to parse, so each round receives first.
    while True:
        connection.receive(parser, deadline)
        event = parser.next_event()
        if event is not NEED_DATA:
            assert type(event) is ResponseHead
            return event


def _exchange(
    connection: Connection, data: bytes, spec: RequestSpec, options: RequestOptions, deadline: Deadline
) -> Tuple[ResponseParser, ResponseHead]:
    parser = ResponseParser(spec.method, options.limits)
    try:
        head = read_head(connection, data, parser, deadline)
        if connection.session_saver is not None:
            connection.save_session()
        return parser, head
    except TLSKitError as exc:
        connection.close()
        attach_address(exc, connection.host, connection.port)
        raise
    except BaseException:
        connection.close()
        raise


def send_hop(
    pool: ConnectionPool,
    spec: RequestSpec,
    url: URL,
    options: RequestOptions,
    deadline: Deadline,
    peers: Optional[PeerOptions] = None,
) -> StreamingResponse:
    """Send ``spec`` to ``url`` and return the response with its body unread.

    ``peers`` adds the client's pins per host, caches and trust on first use;
    None checks the policy's pins only and resumes nothing.

    Raises:
        The errors of `tlskit.Client.request`, except those of redirects and retries.
    """
    # 1. Route.
    proxy = select_proxy(url, options.proxy, options.environment)
    forward = proxy is not None and url.scheme == "http"
    data = request_bytes(
        spec, url, absolute_form=forward, proxy_authorization=proxy.authorization if proxy else None
    )
    # A pooled connection passed the policy's checks and the pin rules of
    # its key, so it only serves calls with the same ones.
    rules = None if peers is None else peers.rules_for(url, options.policy)
    key: Hashable = (url.origin, options.pool_key, rules, None if proxy is None else proxy.key)
    if forward:
        assert proxy is not None
        key = ("forward", options.pool_key, proxy.key)

    # 2-3. Connection and head, with one more try after a stale pooled connection.
    is_idempotent = spec.method in IDEMPOTENT_METHODS
    connection = pool.acquire(key, is_idempotent)
    parser: Optional[ResponseParser] = None
    if connection is not None:
        try:
            parser, head = _exchange(connection, data, spec, options, deadline)
        except RemoteDisconnectedError:
            if not is_idempotent:
                raise
            log.debug("idle connection to %s was closed by the server; retrying on a new one", url.authority)
    if parser is None:
        connection = connect(url, options, proxy, deadline, peers)
        parser, head = _exchange(connection, data, spec, options, deadline)
    assert connection is not None

    def release(done: Connection) -> None:
        pool.release(key, done)

    reader = BodyReader(
        connection,
        parser,
        deadline,
        max_body=options.max_body,
        decode_content=options.decode_content,
        limits=options.limits,
        release=release,
    )
    return StreamingResponse(head, str(url), connection.tls, reader)
