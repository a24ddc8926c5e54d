"""The loops around one hop: retries by a `Retry`, then redirects.

`send_and_follow` sends a request through `send_with_retries` and, while
the response is a redirect to follow, drains its body, keeps it in the
history, and sends the next request as `tlskit._redirects` decides.
`send_with_retries` sends one hop again after a connect failure, or after
a retryable status to an idempotent request, while the `Retry` and the
call's deadline allow.

The body of a response that is not returned (a redirect, or a status that
is retried) is read only up to `MAX_DRAINED_BODY_BYTES`. A short body is
read so that its connection can be reused. A longer or endless one is not
read on, and its connection is closed, so it costs neither memory nor time.

``TLSPolicy.server_hostname`` names the server of the URL the caller
passed. A redirect to another origin (scheme, host or port) is verified
against its own host, and a redirect back to the first origin uses the
override again, as curl's ``--connect-to`` applies to one host and port.
"""

from __future__ import annotations

import time
from typing import List, Optional

from ._errors import ConnectError, TimeoutExceededError, TLSKitError, TooManyRedirectsError
from ._exchange import send_hop
from ._log import get_logger
from ._pinning import PeerOptions
from ._pool import ConnectionPool
from ._redirects import REDIRECT_STATUSES, next_url, redirect_error, redirected_spec, single_location
from ._request import RequestOptions, RequestSpec
from ._response import Response
from ._retry import is_connect_failure
from ._streaming import StreamingResponse
from ._timeouts import Deadline
from ._url import URL, shorten

log = get_logger(__name__)

# A redirect or a retried response whose body is longer is not read to its
# end: its connection is closed. Servers send a line or a short page there.
MAX_DRAINED_BODY_BYTES = 64 * 1024


def send_and_follow(
    pool: ConnectionPool,
    peers: Optional[PeerOptions],
    spec: RequestSpec,
    url: URL,
    options: RequestOptions,
    deadline: Deadline,
) -> StreamingResponse:
    """Send ``spec`` to ``url``, follow redirects, and return the last response with its body unread.

    Raises:
        TooManyRedirectsError: more than ``options.max_redirects`` redirects.
        RedirectError: a Location that is invalid or leads to a scheme not allowed.
        The errors of `send_with_retries`.
    """
    history: List[Response] = []
    first_origin = url.origin
    hop_options = options
    while True:
        if hop_options.retry is None:
            response = send_hop(pool, spec, url, hop_options, deadline, peers)
        else:
            response = send_with_retries(pool, peers, spec, url, hop_options, deadline)
        # The status is checked first, so that most responses never look up a header.
        location = (
            response.headers.get("location")
            if options.follow_redirects and response.status in REDIRECT_STATUSES
            else None
        )
        if location is None:
            response.history = history
            return response
        history.append(_drained(response))
        location = single_location(response.headers.get_all("location"), url, history)
        if len(history) > options.max_redirects:
            raise redirect_error(
                TooManyRedirectsError,
                f"stopped after {options.max_redirects} redirects; the last one, from {url}, pointed "
                f"to {shorten(location)!r}. Raise max_redirects, or pass follow_redirects=False to get the "
                "3xx response.",
                url,
                location,
                history,
            )
        following = next_url(url, location, allow_http=options.allow_http, history=list(history))
        log.debug("redirect %s from %s to %s", response.status, url, following)
        spec = redirected_spec(spec, response.status, url, following)
        url = following
        hop_options = options if url.origin == first_origin else _without_server_hostname(options)


def _without_server_hostname(options: RequestOptions) -> RequestOptions:
    """Return ``options`` for a hop to another origin, where ``TLSPolicy.server_hostname`` does not apply."""
    policy = options.policy
    if policy.server_hostname is None:
        return options
    log.debug(
        "redirect leaves the origin that server_hostname %r names; verifying the new host",
        policy.server_hostname,
    )
    import dataclasses  # Deferred: only such redirects need it.

    stripped = dataclasses.replace(policy, server_hostname=None)
    # The policy itself keys pooled connections, as for a call that overrides policy fields.
    return options._replace(policy=stripped, pool_key=stripped)


def drain(response: StreamingResponse) -> Optional[bytes]:
    """Read and return the body of a response the caller will not see, or None when it is too long.

    The body is read up to `MAX_DRAINED_BODY_BYTES`. A longer body is not
    read further, and its connection is closed instead of being reused.

    Raises:
        The body errors of `StreamingResponse.iter_bytes`.
    """
    pieces: List[bytes] = []
    size = 0
    with response:
        for piece in response.iter_bytes():
            size += len(piece)
            if size > MAX_DRAINED_BODY_BYTES:
                log.debug("not reading the rest of a %d response body from %s", response.status, response.url)
                return None
            pieces.append(piece)
    return b"".join(pieces)


def _drained(response: StreamingResponse) -> Response:
    """Return a redirect response for the history, with its body, or an empty one when it was too long."""
    body = drain(response)
    return Response(
        response.status,
        response.reason,
        response.headers,
        b"" if body is None else body,
        response.url,
        response.http_version,
        response.tls,
        trailers=response.trailers,
    )


def send_with_retries(
    pool: ConnectionPool,
    peers: Optional[PeerOptions],
    spec: RequestSpec,
    url: URL,
    options: RequestOptions,
    deadline: Deadline,
) -> StreamingResponse:
    """Send one hop, again as ``options.retry`` allows, and return the response with its body unread.

    Raises:
        The errors of `tlskit._exchange.send_hop`; after the last retry, the last one.
    """
    retry = options.retry
    if retry is None:
        return send_hop(pool, spec, url, options, deadline, peers)
    attempt = 1
    while True:
        try:
            response = send_hop(pool, spec, url, options, deadline, peers)
        except (ConnectError, TimeoutExceededError) as exc:
            if not is_connect_failure(exc) or not _wait(retry.delay(attempt), deadline, response=None):
                raise
            log.debug("retry %d of %s %s after: %s", attempt, spec.method, url, exc)
        else:
            if not retry.is_retryable_status(spec.method, response.status):
                return response
            delay = retry.delay(attempt, response.headers.get("retry-after"))
            if not _wait(delay, deadline, response=response):
                return response
            log.debug("retry %d of %s %s after status %d", attempt, spec.method, url, response.status)
        attempt += 1


def _wait(delay: Optional[float], deadline: Deadline, response: Optional[StreamingResponse]) -> bool:
    """Sleep ``delay`` seconds before a retry and return True, or return False when no retry fits."""
    remaining = deadline.remaining()
    if delay is None or (remaining is not None and delay >= remaining):
        return False
    if response is not None:
        try:
            drain(response)
        except TLSKitError as exc:
            # The request is sent again anyway, and the connection is closed.
            log.debug("body of the %d response to retry was not read: %s", response.status, exc)
    time.sleep(delay)
    return True
