"""TLS sessions kept for resumption, by origin, server name, policy and context.

A session is offered back only to a connection that would verify the server
exactly as the connection that made it did: the key holds the host, port,
server name (SNI), the whole `TLSPolicy` (versions, ciphers, trust sources,
client certificate, pins) and the per-host pin rules of the client. The ssl
module also requires a session to come from the very `ssl.SSLContext` object
that is resuming it. Shared contexts can be evicted and rebuilt, so each
entry keeps its context, and an entry whose context is not the one about to
be used is dropped instead of offered.

A resumed handshake does not verify the server's chain again, and the ssl
module reports no verified chain for it on any Python version. Each entry
therefore keeps the verified chain of the full handshake that made the
session, so that pins and the peer cache see the same chain on resumption.

When to store a session depends on the TLS version:

- TLS 1.2: the session (ID or ticket) exists when the handshake ends, so it
  is stored right after the handshake and the pin check.
- TLS 1.3: tickets are NewSessionTicket messages that the server sends after
  the handshake, and the client reads them with the first response bytes, so
  the session is stored after the first response. A resumed TLS 1.3
  connection gets fresh tickets too; storing one keeps each ticket's use to a
  single connection where the server issues new ones, as RFC 8446 (appendix
  C.4) advises against linking connections.

Reading `ssl.SSLSocket.session` copies the session, so it is read at most
once per connection. After `os.fork` the child starts with an empty cache:
sessions are secrets of the parent's connections.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import OrderedDict
from typing import NamedTuple, Optional, Sequence, Tuple

from ._errors import PolicyError, format_address
from ._fork import reset_in_forked_child
from ._log import get_logger
from ._policy import TLSPolicy

log = get_logger(__name__)

# Enough for a process that talks to a few hundred origins under a handful of
# policies; each entry holds one OpenSSL session of a few kilobytes.
DEFAULT_MAX_SESSIONS = 256

TLS_1_3 = "TLSv1.3"


class SessionKey(NamedTuple):
    """What a session is valid for.

    Attributes:
        host: the host connected to, as in the URL.
        port: the port connected to.
        server_hostname: the name sent as SNI and checked against the certificate.
        policy: the whole TLS policy, pins and trust sources included.
        host_pins: pins that the client adds for this host on top of the policy's.
        trust_on_first_use: whether the connection checked the peer cache's pin.
    """

    host: str
    port: int
    server_hostname: str
    policy: TLSPolicy
    host_pins: Tuple[str, ...] = ()
    trust_on_first_use: bool = False


class CachedSession(NamedTuple):
    """A stored session with the context that made it and the chain it verified.

    Attributes:
        session: the OpenSSL session.
        context: the context that made it; only this context may resume it.
        chain: DER certificates of the verified chain from the full
            handshake, leaf first.
    """

    session: ssl.SSLSession
    context: ssl.SSLContext
    chain: Tuple[bytes, ...]


class SessionCache:
    """A bounded, thread-safe store of TLS sessions, least recently used out first.

    One cache may be shared by several clients and threads. Clients share one
    process-wide cache unless they are given their own.

    Args:
        max_entries: sessions kept at most; 0 keeps none, which turns
            resumption off.

    Raises:
        PolicyError: ``max_entries`` is negative or not an integer.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_SESSIONS) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 0:
            raise PolicyError(
                f"invalid SessionCache max_entries: {max_entries!r}. Use a whole number of 0 or more.",
                field="max_entries",
            )
        self.max_entries = max_entries
        self._entries: OrderedDict[SessionKey, CachedSession] = OrderedDict()
        self._lock = threading.Lock()
        reset_in_forked_child(self)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: SessionKey, context: ssl.SSLContext) -> Optional[CachedSession]:
        """Return the session to offer for ``key`` on ``context``, or None.

        An entry made by another context, or whose lifetime has passed, is
        dropped instead of returned.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            reason = _unusable_reason(entry, context)
            if reason is None:
                self._entries.move_to_end(key)
                return entry
            del self._entries[key]
        log.debug("dropped TLS session for %s: %s", format_address(key.host, key.port), reason)
        return None

    def put(
        self,
        key: SessionKey,
        context: ssl.SSLContext,
        session: Optional[ssl.SSLSession],
        chain: Sequence[bytes],
        tls_version: Optional[str],
    ) -> bool:
        """Store ``session`` for ``key`` unless it cannot be resumed.

        Args:
            key: what the session is valid for.
            context: the context of the connection that made the session.
            session: the connection's session, as `ssl.SSLSocket.session` returns it.
            chain: the verified chain that the session's handshake checked.
            tls_version: the connection's version, such as ``"TLSv1.3"``.

        Returns:
            Whether the session was stored.
        """
        if session is None or not is_resumable(session, tls_version) or self.max_entries == 0:
            log.debug("TLS session for %s is not resumable; not stored", format_address(key.host, key.port))
            return False
        evicted: Optional[SessionKey] = None
        with self._lock:
            self._entries[key] = CachedSession(session, context, tuple(chain))
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_entries:
                evicted, _ = self._entries.popitem(last=False)
        log.debug("stored %s session for %s", tls_version, format_address(key.host, key.port))
        if evicted is not None:
            log.debug("evicted TLS session for %s", format_address(evicted.host, evicted.port))
        return True

    def discard(self, key: SessionKey) -> None:
        """Drop the session for ``key``, after a failed handshake or pin check."""
        with self._lock:
            removed = self._entries.pop(key, None)
        if removed is not None:
            log.debug("discarded TLS session for %s", format_address(key.host, key.port))

    def clear(self) -> None:
        """Drop every session."""
        with self._lock:
            self._entries.clear()

    def _reset_after_fork(self) -> None:
        # Another thread may have held the lock at fork time, and the child
        # has only the forking thread, so the lock is replaced, not acquired.
        self._lock = threading.Lock()
        self._entries = OrderedDict()


def is_resumable(session: ssl.SSLSession, tls_version: Optional[str]) -> bool:
    """Return whether a client could offer ``session`` in a later handshake.

    TLS 1.3 resumes only with a ticket. Its session ID is a random value sent
    for middlebox compatibility (RFC 8446 4.1.2), so it proves nothing. TLS 1.2
    resumes with a ticket or with a session ID that the server cached.
    """
    if session.has_ticket:
        return True
    return tls_version != TLS_1_3 and bool(session.id)


def _unusable_reason(entry: CachedSession, context: ssl.SSLContext) -> Optional[str]:
    if entry.context is not context:
        return "it belongs to another SSLContext"
    if entry.session.time + entry.session.timeout <= time.time():
        return f"its lifetime of {entry.session.timeout} s has passed"
    return None


class SessionSaver:
    """Stores one connection's session once, at the moment its TLS version allows.

    `open_connection` makes one per new connection and calls `after_handshake`.
    The client calls `after_first_response` once the first response head has
    been read, which is when TLS 1.3 tickets have arrived.
    """

    def __init__(
        self,
        cache: SessionCache,
        key: SessionKey,
        context: ssl.SSLContext,
        chain: Sequence[bytes],
    ) -> None:
        self.cache = cache
        self.key = key
        self.context = context
        self.chain = tuple(chain)
        self.is_done = False

    def after_handshake(self, sock: ssl.SSLSocket) -> None:
        """Store a TLS 1.2 session now; a resumed TLS 1.2 session is already stored."""
        version = sock.version()
        if version == TLS_1_3:
            return
        self.is_done = True
        if not sock.session_reused:
            self.cache.put(self.key, self.context, sock.session, self.chain, version)

    def after_first_response(self, sock: ssl.SSLSocket) -> None:
        """Store the TLS 1.3 session, whose tickets came before the first response."""
        if self.is_done:
            return
        self.is_done = True
        self.cache.put(self.key, self.context, sock.session, self.chain, sock.version())


SHARED_SESSION_CACHE = SessionCache()
