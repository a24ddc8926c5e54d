"""The loops around one hop: retries by a `Retry`, then redirects.

`send_and_follow` sends a request through `send_with_retries` and, while
the response is a redirect to follow, reads its body (so the connection
can be reused), keeps it in the history, and sends the next request as
`tlskit._redirects` decides. `send_with_retries` sends one hop again after
a connect failure, or after a retryable status to an idempotent request,
while the `Retry` and the call's deadline allow.
"""

from __future__ import annotations

import time
from typing import List, Optional

from ._errors import ConnectError, TimeoutExceededError, TooManyRedirectsError
from ._exchange import send_hop
from ._log import get_logger
from ._pinning import PeerOptions
from ._pool import ConnectionPool
from ._redirects import REDIRECT_STATUSES, next_url, redirected_spec
from ._request import RequestOptions, RequestSpec
from ._response import Response
from ._retry import is_connect_failure
from ._streaming import StreamingResponse
from ._timeouts import Deadline
from ._url import URL

log = get_logger(__name__)


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
    while True:
        if options.retry is None:
            response = send_hop(pool, spec, url, options, deadline, peers)
        else:
            response = send_with_retries(pool, peers, spec, url, options, deadline)
        # The status is checked first, so that most responses never look up a header.
        location = (
            response.headers.get("location")
            if options.follow_redirects and response.status in REDIRECT_STATUSES
            else None
        )
        if location is None:
            response.history = history
            return response
        with response:
            history.append(response.read_response())
        if len(history) > options.max_redirects:
            raise TooManyRedirectsError(
                f"stopped after {options.max_redirects} redirects; the last one, from {url}, pointed "
                f"to {location!r}. Raise max_redirects, or pass follow_redirects=False to get the 3xx "
                "response.",
                location=location,
                history=history,
                host=url.host,
                port=url.port,
            )
        following = next_url(url, location, allow_http=options.allow_http, history=list(history))
        log.debug("redirect %s from %s to %s", response.status, url, following)
        spec = redirected_spec(spec, response.status, url, following)
        url = following


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
        response.close()
    time.sleep(delay)
    return True
