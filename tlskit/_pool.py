"""Idle keep-alive connections, per origin and policy.

A connection enters the pool only after its response was read in full, and
leaves it for one request at a time. Idle connections are bounded in count
per key and in age, and a connection the server closed while it sat idle is
dropped instead of handed out. After `os.fork` the child starts with an empty
pool and never touches the parent's sockets.

Probing an idle socket for a close costs a system call, so a connection used
within `RECENT_IDLE_SECONDS` is handed out unprobed for an idempotent request.
If the server closed it after all, the request gets no response, and the
caller sends it again on a new connection (see `tlskit._exchange`). A request
that is not idempotent may not be sent twice, so its connection is always probed.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Dict, Hashable, List, Optional

from ._connection import Connection
from ._log import get_logger

log = get_logger(__name__)

DEFAULT_MAX_IDLE_PER_KEY = 10
# Many servers close idle connections after 5 to 75 s (nginx: 75 s, Apache: 5 s),
# so a connection idle for longer is more likely dead than useful.
DEFAULT_IDLE_TIMEOUT_SECONDS = 30.0
# A server that keeps connections alive for less than a second is rare
# (Apache's 5 s is among the shortest defaults), so a connection idle for
# less is seldom closed and is not probed for idempotent requests.
RECENT_IDLE_SECONDS = 1.0


class ConnectionPool:
    """Thread-safe store of idle connections keyed by (origin, policy)."""

    def __init__(
        self,
        max_idle_per_key: int = DEFAULT_MAX_IDLE_PER_KEY,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
    ) -> None:
        self.max_idle_per_key = max_idle_per_key
        self.idle_timeout = idle_timeout
        self._idle: Dict[Hashable, List[Connection]] = {}
        self._lock = threading.Lock()
        _live_pools.add(self)

    def acquire(self, key: Hashable, is_idempotent: bool = False) -> Optional[Connection]:
        """Return a usable idle connection for ``key``, or None.

        ``is_idempotent`` allows a connection used within `RECENT_IDLE_SECONDS`
        without a probe; see the module docstring.
        """
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                connection = idle.pop()
            idle_seconds = now - connection.last_used
            if idle_seconds <= self.idle_timeout and (
                (is_idempotent and idle_seconds <= RECENT_IDLE_SECONDS) or connection.is_idle_usable()
            ):
                return connection
            log.debug("dropping idle connection to %s:%s", connection.host, connection.port)
            connection.close()

    def release(self, key: Hashable, connection: Connection) -> None:
        """Put a connection whose response was read in full back into the pool."""
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle_per_key:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            connections = [connection for idle in self._idle.values() for connection in idle]
            self._idle.clear()
        for connection in connections:
            connection.close()

    def _forget_after_fork(self) -> None:
        # The sockets belong to the parent process: closing them here would
        # not hurt the parent, but using them would interleave two processes'
        # bytes on one TLS stream. Drop the references without any I/O. The
        # forking thread is the only one in the child, and another thread
        # may have held the lock at fork time, so the lock is replaced.
        self._lock = threading.Lock()
        self._idle = {}


# Every pool alive in this process, so that a forked child can empty them all.
_live_pools: weakref.WeakSet[ConnectionPool] = weakref.WeakSet()


def _forget_pools_after_fork() -> None:
    for pool in list(_live_pools):
        pool._forget_after_fork()


if hasattr(os, "register_at_fork"):  # Windows has no fork.
    os.register_at_fork(after_in_child=_forget_pools_after_fork)
