"""Retry: when a failed request is sent again, and how long to wait first.

Retries are off unless the caller passes ``retries``. One case needs no
Retry: a request that finds its pooled connection closed by the server is
sent once more on a new connection when its method is idempotent, and
`tlskit._exchange` handles that.

With a `Retry`, tlskit sends a request again after:

- a connect failure or a connect timeout, for any method, since no byte of
  the request reached the server;
- a status listed in ``statuses`` (429, 502, 503, 504 by default), for the
  idempotent methods only (RFC 9110 9.2.2), so a POST is never repeated.

Waits grow exponentially with random jitter, so that many clients that
failed together do not return together. A ``Retry-After`` header (seconds or
an HTTP date, RFC 9110 10.2.3) sets the wait instead when it is longer. A
wait that would pass the call's total timeout, or ``backoff_max``, is not
made: the last response is returned, or the last error raised.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, AbstractSet, Any, Callable, FrozenSet, Optional, Union

from ._errors import ConnectError, PolicyError, ProxyError, TimeoutExceededError
from ._timeouts import MAX_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    # At run time, the same behaviour without importing dataclasses (see tlskit._frozen).
    from ._frozen import dataclass

# Methods that RFC 9110 9.2.2 defines as idempotent: safe to send twice.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

RETRY_STATUSES = frozenset({429, 502, 503, 504})

# A method is a token (RFC 9110 9.1).
_METHOD = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")


# A wait grows as backoff_factor * 2 ** (retry - 1); past this many doublings
# every wait is backoff_max anyway, and 2 ** 1100 would overflow a float.
MAX_BACKOFF_DOUBLINGS = 64


def _check_number(name: str, value: object, minimum: float, maximum: float = MAX_TIMEOUT_SECONDS) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        # The comparison also rejects NaN and infinity, and huge ints without overflow.
        or not minimum <= value <= maximum
    ):
        raise PolicyError(
            f"invalid Retry.{name}: {value!r}. Expected a number from {minimum:g} to {maximum:.10g}.",
            field="retries",
        )


def _frozen_set(
    name: str, values: object, is_valid: Callable[[object], bool], expected: str
) -> FrozenSet[Any]:
    """Return ``values`` as a frozenset, or raise `PolicyError` naming the first invalid item."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set, frozenset)):
        raise PolicyError(
            f"invalid Retry.{name}: {values!r}. Pass a set or list of {expected}, or an empty one for none.",
            field="retries",
        )
    for value in values:
        if not is_valid(value):
            raise PolicyError(f"invalid Retry.{name} entry: {value!r}. Expected {expected}.", field="retries")
    return frozenset(values)


def _is_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def _is_method(value: object) -> bool:
    return isinstance(value, str) and bool(_METHOD.fullmatch(value))


@dataclass(frozen=True)
class Retry:
    """How often and when to send a failed request again.

    Attributes:
        total: retries after the first attempt; 0 turns retries off.
        backoff_factor: the first wait, in seconds. Each later wait doubles:
            ``backoff_factor * 2 ** (retry - 1)``.
        backoff_max: the maximum wait, in seconds. A Retry-After longer than
            this ends the retries instead of being cut short.
        jitter: the share of each wait drawn at random, from 0 (none) to 1
            (a wait anywhere between 0 and the full backoff).
        statuses: status codes that make an idempotent request retry.
        methods: methods retried after a status in ``statuses``.
        respect_retry_after: wait as long as the server's Retry-After asks.
    """

    total: int = 3
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.5
    statuses: AbstractSet[int] = RETRY_STATUSES
    methods: AbstractSet[str] = IDEMPOTENT_METHODS
    respect_retry_after: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.total, bool) or not isinstance(self.total, int) or self.total < 0:
            raise PolicyError(
                f"invalid Retry.total: {self.total!r}. Expected an int of at least 0.", field="retries"
            )
        _check_number("backoff_factor", self.backoff_factor, 0)
        _check_number("backoff_max", self.backoff_max, 0)
        _check_number("jitter", self.jitter, 0, 1)
        if not isinstance(self.respect_retry_after, bool):
            raise PolicyError(
                f"invalid Retry.respect_retry_after: {self.respect_retry_after!r}. Use True or False.",
                field="retries",
            )
        statuses = _frozen_set("statuses", self.statuses, _is_status, "status codes from 100 to 599")
        methods = _frozen_set("methods", self.methods, _is_method, "method names such as 'GET'")
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "methods", frozenset(method.upper() for method in methods))

    def backoff(self, retry: int) -> float:
        """Return the wait before retry number ``retry`` (1 for the first), jitter included."""
        doublings = min(retry - 1, MAX_BACKOFF_DOUBLINGS)
        delay = float(min(self.backoff_max, self.backoff_factor * 2**doublings))
        if self.jitter and delay:
            import random  # Deferred: only retries need it.

            delay -= delay * self.jitter * random.random()
        return delay

    def delay(self, retry: int, retry_after: Optional[str] = None) -> Optional[float]:
        """Return the wait before retry number ``retry``, or None when no retry is left.

        ``retry_after`` is the response's Retry-After value, if any.
        """
        if retry > self.total:
            return None
        delay = self.backoff(retry)
        if retry_after is not None and self.respect_retry_after:
            requested = parse_retry_after(retry_after)
            if requested is not None:
                if requested > self.backoff_max:
                    return None
                delay = max(delay, requested)
        return delay

    def is_retryable_status(self, method: str, status: int) -> bool:
        """Return whether a response with ``status`` to ``method`` may be retried."""
        return status in self.statuses and method in self.methods


def make_retry(value: Union[Retry, int, None]) -> Optional[Retry]:
    """Turn a ``retries`` argument into a `Retry`, or None for no retries.

    Raises:
        PolicyError: the value is neither a Retry, an int of at least 0, nor None.
    """
    if value is None or isinstance(value, Retry):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(
            f"invalid retries {value!r}: expected a count (int of at least 0), a tlskit.Retry, or None.",
            field="retries",
        )
    return Retry(total=value) if value else None


def parse_retry_after(value: str, now: Optional[float] = None) -> Optional[float]:
    """Return the wait in seconds that a Retry-After value requests, or None if it is invalid.

    ``now`` is the current POSIX time, for tests. A date in the past means 0.
    """
    value = value.strip()
    if value.isdigit() and value.isascii():
        return float(value)
    from email.utils import parsedate_to_datetime  # Deferred: dates are rare and email is heavy.

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        # RFC 9110 5.6.7 dates are always in GMT; a date without a zone is not one.
        return None
    current = time.time() if now is None else now
    return max(moment.timestamp() - current, 0.0)


def is_connect_failure(exc: Exception) -> bool:
    """Return whether ``exc`` means that no byte of the request reached the server."""
    if isinstance(exc, TimeoutExceededError):
        return exc.phase == "connect"
    # A proxy that rejected the tunnel would reject it again.
    return isinstance(exc, ConnectError) and not isinstance(exc, ProxyError)
