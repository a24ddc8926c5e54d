"""Timeout and Deadline: the time limits of one call and the clock that enforces them.

A call's ``timeout`` is a number of seconds or a `Timeout`. A number bounds
the whole call, redirects and retries included, and means
``Timeout(total=seconds)``. A `Timeout` can also bound each TCP connect and
TLS handshake (``connect``) and each socket read or write (``read``).

A `Deadline` is created when a call starts. Before each socket operation,
`Deadline.limit` returns the seconds that operation may wait, which is the
smaller of the operation's own limit and what is left of the total, and the
phase to report if the wait expires. A server that sends one byte just before
each read timeout therefore still cannot keep a call past its total. The
response head is also bounded as a whole by the read timeout (`HeadDeadline`),
so without a total a server cannot hold a call by dripping its head either.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Union

from ._errors import PolicyError, TimeoutExceededError, format_address, join_sentences

# The fix that timeout messages end with; the command line names its options instead.
TIMEOUT_FIX = "Raise the timeout or check the server."

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    # At run time, the same behaviour without importing dataclasses (see tlskit._frozen).
    from ._frozen import dataclass

_MESSAGES = {
    "connect": "connect to {address} timed out",
    "handshake": "TLS handshake with {address} timed out",
    "write": "write to {address} timed out",
    "read": "read from {address} timed out",
    "head": "read of the response head from {address} timed out",
    "total": "request to {address} exceeded its total timeout",
}


# The longest limit accepted, one year. Socket timeouts overflow CPython's
# clock type past about 9.2e9 s, and a longer limit means no limit, which
# None says plainly.
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600.0


def _check_seconds(name: str, value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        # A comparison rejects NaN and infinity, and unlike math.isfinite it
        # does not overflow on an int too large for a float.
        or not 0 < value <= MAX_TIMEOUT_SECONDS
    ):
        raise PolicyError(
            f"invalid timeout {name}={value!r}: expected a positive number of seconds up to "
            f"{MAX_TIMEOUT_SECONDS:.0f} (one year), or None for no limit.",
            field="timeout",
        )
    return float(value)


@dataclass(frozen=True)
class Timeout:
    """Time limits of one call, in seconds; None means no limit.

    Attributes:
        connect: each TCP connect, proxy CONNECT and TLS handshake.
        read: each socket read or write, so the longest silence a server may
            keep, and the whole response head, from the request sent to its
            last byte.
        total: the whole call, from the first connect to the last body byte,
            redirects and retries included. For `Client.stream`, the total
            keeps running while the caller reads the body.
    """

    connect: Optional[float] = None
    read: Optional[float] = None
    total: Optional[float] = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            object.__setattr__(self, name, _check_seconds(name, getattr(self, name)))


TimeoutType = Union[Timeout, float, int, None]

NO_TIMEOUT = Timeout()


def make_timeout(value: TimeoutType) -> Timeout:
    """Turn a ``timeout`` argument into a `Timeout`; a number bounds the total.

    Raises:
        PolicyError: the value is neither a Timeout, a positive number, nor None.
    """
    if isinstance(value, Timeout):
        return value
    if value is None:
        return NO_TIMEOUT
    # Most calls pass the same few numbers, such as the default 30.0, and a
    # Timeout is a frozen value, so one object serves them all. The key has
    # the type too, because True == 1 while only the int is a valid timeout.
    key = (type(value), value)
    try:
        cached = _total_timeouts.get(key)
    except TypeError:  # An unhashable value, which _check_seconds rejects below.
        cached = None
    if cached is not None:
        return cached
    timeout = Timeout(total=_check_seconds("total", value))
    if len(_total_timeouts) >= MAX_CACHED_TIMEOUTS:
        _total_timeouts.clear()
    _total_timeouts[key] = timeout
    return timeout


MAX_CACHED_TIMEOUTS = 32
_total_timeouts: Dict[Tuple[type, object], Timeout] = {}


class Deadline:
    """The running clock of one call under a `Timeout`."""

    __slots__ = ("timeout", "expires")

    def __init__(self, timeout: Timeout) -> None:
        self.timeout = timeout
        self.expires = None if timeout.total is None else time.monotonic() + timeout.total

    def remaining(self) -> Optional[float]:
        """Return the seconds left of the total, or None when there is no total."""
        if self.expires is None:
            return None
        return self.expires - time.monotonic()

    def limit(self, phase: str, host: str, port: int) -> Tuple[Optional[float], str]:
        """Return the seconds an operation of ``phase`` may wait and the phase that binds it.

        Raises:
            TimeoutExceededError: the total has already run out (phase "total").
        """
        own = self.timeout.connect if phase in ("connect", "handshake") else self.timeout.read
        if self.expires is None:
            return own, phase
        remaining = self.expires - time.monotonic()
        if remaining <= 0:
            raise self.expired("total", host, port)
        if own is None or remaining < own:
            return remaining, "total"
        return own, phase

    def expired(self, phase: str, host: str, port: int) -> TimeoutExceededError:
        """Return the timeout error for ``phase`` with the limit that applied to it."""
        if phase == "total":
            seconds = self.timeout.total
        elif phase in ("connect", "handshake"):
            seconds = self.timeout.connect
        else:
            seconds = self.timeout.read
        text = _MESSAGES[phase].format(address=format_address(host, port))
        if seconds is not None:
            text += f" after {seconds:g} s"
        return TimeoutExceededError(
            join_sentences(text, TIMEOUT_FIX),
            phase=phase,
            timeout=seconds,
            host=host,
            port=port,
        )


# How much shorter than a read timeout the rest of the head's time must be
# before a timeout is reported as the head's rather than a single read's.
_HEAD_MARGIN_SECONDS = 0.05


class HeadDeadline(Deadline):
    """The clock of one response head: its reads end within one limit of the request.

    The limit is the read timeout for a server's head and the connect
    timeout for a proxy's CONNECT response (``phase`` "connect"). A body
    may take long and still make progress, but a head is a few kilobytes,
    so a peer that sends it a byte at a time is stalling.
    """

    __slots__ = ("head_expires", "head_phase")

    def __init__(self, deadline: Deadline, seconds: float, phase: str = "read") -> None:
        self.timeout = deadline.timeout
        self.expires = deadline.expires
        self.head_expires = time.monotonic() + seconds
        self.head_phase = phase

    def limit(self, phase: str, host: str, port: int) -> Tuple[Optional[float], str]:
        seconds, binding = super().limit(phase, host, port)
        if phase != self.head_phase:
            return seconds, binding
        remaining = self.head_expires - time.monotonic()
        if remaining <= 0:
            raise self.expired("head", host, port)
        # Right after the request the two limits are equal, and a silent
        # peer is then reported as a plain read or connect timeout.
        if seconds is None or remaining < seconds - _HEAD_MARGIN_SECONDS:
            return remaining, "head"
        if remaining < seconds:
            return remaining, binding
        return seconds, binding

    def expired(self, phase: str, host: str, port: int) -> TimeoutExceededError:
        if phase != "head":
            return super().expired(phase, host, port)
        text = _MESSAGES[phase].format(address=format_address(host, port))
        if self.head_phase == "connect":
            seconds, name = self.timeout.connect, "connect timeout"
        else:
            seconds, name = self.timeout.read, "read timeout"
        return TimeoutExceededError(
            f"{text}: the server sent it for over {seconds:g} s, the {name}, without finishing it. "
            "Raise the timeout or check the server.",
            phase=self.head_phase,
            timeout=seconds,
            host=host,
            port=port,
        )


def head_deadline(deadline: Deadline, phase: str = "read") -> Deadline:
    """Return ``deadline`` with a response head bounded by the limit of ``phase``, when there is one.

    ``phase`` is "read" for a server's response and "connect" for a proxy's
    response to CONNECT.
    """
    seconds = deadline.timeout.connect if phase == "connect" else deadline.timeout.read
    return deadline if seconds is None else HeadDeadline(deadline, seconds, phase)
