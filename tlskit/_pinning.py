"""Checks on a connection's peer after the handshake, before any request byte.

`PeerOptions` has a client's per-host pins, its session and peer caches
and its trust-on-first-use setting. After each handshake, resumed ones
included, `PeerOptions.confirm` runs these checks in order on the chain that
the handshake verified:

1. ``TLSPolicy.pins``: a certificate of the chain must match one of them.
2. The client's pins for the host (``"host:port"`` before ``"host"``): a
   certificate of the chain must match one of them too. Every pin set that
   applies must match, so adding a set never loosens a check.
3. Trust on first use: the leaf's key must be the one the peer cache pinned.
   The key is read alone, so the rest of the certificate need not be readable.
4. The peer cache records the peer, which logs changes and coming expiry.
   A chain that tlskit cannot read is not recorded, and the connection goes
   on, unless trust on first use has no earlier pin to check.

A resumed handshake verifies nothing again, and the ssl module then reports
no verified chain on any Python version. The chain is then the one stored
with the session by the full handshake that made it, provided the server
presented the same leaf, so pins that name a CA still hold on resumption.
"""

from __future__ import annotations

import ssl
import threading
from typing import Dict, Iterable, Mapping, NamedTuple, Optional, Sequence, Set, Tuple, TypeVar, Union

from ._certs import sha256_fingerprint, spki_pin
from ._errors import (
    CertificateParseError,
    InvalidURLError,
    PinMismatchError,
    PolicyError,
    format_address,
    join_sentences,
)
from ._log import get_logger
from ._peer_cache import SHARED_PEER_CACHE, KeyChangeHandler, PeerCache
from ._peer_record import chain_pins
from ._policy import TLSPolicy, validate_pin
from ._session_cache import SHARED_SESSION_CACHE, CachedSession, SessionCache, SessionKey, SessionSaver
from ._url import URL, parse_url

log = get_logger(__name__)

CacheT = TypeVar("CacheT", SessionCache, PeerCache)


# Where a policy's pins come from, as pin mismatch messages name it.
PINS_SETTING = "TLSPolicy.pins"


def check_pins(
    actual_pins: Sequence[str], pins: Sequence[str], host: str, port: int, *, source: str = PINS_SETTING
) -> None:
    """Raise `PinMismatchError` unless a pin of the verified chain is among ``pins``.

    Args:
        actual_pins: the SPKI pins of the verified chain, leaf first.
        pins: the allowed pins.
        host, port: the peer, for the error.
        source: where ``pins`` came from, named in the error's hint.
    """
    if any(pin in pins for pin in actual_pins):
        return
    raise PinMismatchError(
        f"certificate pin mismatch for {format_address(host, port)}: the server's chain has "
        f"{', '.join(actual_pins) or 'no certificate'}, but {source} allows only {', '.join(pins)}. "
        f"If the server's key was rotated on purpose, add its new pin to {source}.",
        host=host,
        port=port,
        expected_pins=pins,
        actual_pins=actual_pins,
    )


def split_host_port(text: str) -> Tuple[str, Optional[int]]:
    """Split ``"host"``, ``"host:port"``, ``"[v6]:port"`` or a bare IPv6 address.

    The host is normalized as URLs are: lower case, IDNA A-labels, IPv6
    compressed and without brackets, and without a trailing dot, since
    ``example.com.`` and ``example.com`` name one host and one certificate.

    Returns:
        The host and the port, or None when ``text`` names no port.

    Raises:
        PolicyError: ``text`` is not a host with an optional port.
    """
    stripped = text.strip() if isinstance(text, str) else text
    if not isinstance(stripped, str) or not stripped or any(mark in stripped for mark in "/?#@"):
        raise PolicyError(
            f"invalid host {text!r}: expected 'host', 'host:port' or '[IPv6]:port'.", field="host"
        )
    if stripped.count(":") > 1 and not stripped.startswith("["):
        authority, has_port = f"[{stripped}]", False
    elif stripped.startswith("["):
        authority, has_port = stripped, "]:" in stripped
    else:
        authority, has_port = stripped, ":" in stripped
    try:
        url = parse_url(f"https://{authority}/")
    except InvalidURLError as exc:
        raise PolicyError(
            join_sentences(
                f"invalid host {text!r}: expected 'host', 'host:port' or '[IPv6]:port'", exc.message
            ),
            field="host",
        ) from exc
    return url.server_hostname, url.port if has_port else None


class HostPins:
    """A client's pins per host, from ``{"host:port" or "host": [pins]}``.

    A ``"host:port"`` entry applies to that port alone and wins over a
    ``"host"`` entry, which applies to every port.

    Raises:
        PolicyError: a key is not a host with an optional port, or a pin is invalid.
    """

    def __init__(self, mapping: Mapping[str, Iterable[str]]) -> None:
        self._pins: Dict[Tuple[str, Optional[int]], Tuple[str, ...]] = {}
        for key, pins in mapping.items():
            if isinstance(pins, str) or not isinstance(pins, Iterable):
                raise PolicyError(
                    f"invalid pins for {key!r}: {pins!r}. Pass a list of 'sha256/<base64>' pins.",
                    field="pins",
                )
            entry = tuple(validate_pin(pin) for pin in pins)
            if not entry:
                raise PolicyError(
                    f"invalid pins for {key!r}: the list is empty, which would allow no server. "
                    "Leave the host out to pin nothing.",
                    field="pins",
                )
            origin = split_host_port(key)
            if origin in self._pins:
                raise PolicyError(
                    f"invalid pins: the key {key!r} names the same host and port as another key (hosts are "
                    "compared in lower case, without a trailing dot). Give each host one entry.",
                    field="pins",
                )
            self._pins[origin] = entry

    def __bool__(self) -> bool:
        return bool(self._pins)

    def for_origin(self, host: str, port: int) -> Tuple[str, ...]:
        """Return the pins for ``host`` on ``port``; empty when none apply."""
        # Keys have no trailing dot, so "localhost." gets the pins of "localhost".
        if host.endswith("."):
            host = host[:-1]
        return self._pins.get((host, port)) or self._pins.get((host, None)) or ()


class PinRules(NamedTuple):
    """The checks beyond the policy that a connection passed; part of the pool key."""

    host_pins: Tuple[str, ...]
    trust_on_first_use: bool


_NO_RULES = PinRules((), False)


class PeerOptions:
    """A client's pins per host, caches and trust on first use, applied to each connection.

    Args:
        host_pins: per-host pins.
        session_cache: where sessions are stored for resumption; None resumes nothing.
        peer_cache: where verified peers are recorded; None records nothing.
        trust_on_first_use: pin each peer's first verified leaf key in ``peer_cache``.
        accept_key_change: called with the error that a trust-on-first-use
            key change raises; returning True accepts the new key.

    Raises:
        PolicyError: trust on first use without a peer cache.
    """

    def __init__(
        self,
        host_pins: Optional[HostPins] = None,
        session_cache: Optional[SessionCache] = None,
        peer_cache: Optional[PeerCache] = None,
        trust_on_first_use: bool = False,
        accept_key_change: Optional[KeyChangeHandler] = None,
    ) -> None:
        if trust_on_first_use and peer_cache is None:
            raise PolicyError(
                "invalid client options: trust_on_first_use needs a peer cache to keep the pins in. "
                "Leave peer_cache at its default or pass a PeerCache.",
                field="trust_on_first_use",
            )
        self.host_pins = host_pins or HostPins({})
        self.session_cache = session_cache
        self.peer_cache = peer_cache
        self.trust_on_first_use = trust_on_first_use
        self.accept_key_change = accept_key_change

    @classmethod
    def for_client(
        cls,
        pins: Mapping[str, Iterable[str]],
        session_cache: Union[SessionCache, bool],
        peer_cache: Union[PeerCache, bool],
        trust_on_first_use: bool,
        accept_key_change: Optional[KeyChangeHandler],
    ) -> PeerOptions:
        """Build the options from `tlskit.Client` arguments, where True means the shared cache.

        Raises:
            PolicyError: an argument has the wrong type or value.
        """
        if not isinstance(trust_on_first_use, bool):
            raise PolicyError(
                f"invalid trust_on_first_use: {trust_on_first_use!r}. Use True or False.",
                field="trust_on_first_use",
            )
        if accept_key_change is not None and not callable(accept_key_change):
            raise PolicyError(
                f"invalid accept_key_change: {accept_key_change!r}. Pass a callable that takes the "
                "PinMismatchError and returns True to accept the new key, or None.",
                field="accept_key_change",
            )
        return cls(
            HostPins(pins),
            _choose("session_cache", session_cache, SHARED_SESSION_CACHE),
            _choose("peer_cache", peer_cache, SHARED_PEER_CACHE),
            trust_on_first_use,
            accept_key_change,
        )

    def check_policy(self, policy: TLSPolicy, url: Optional[URL] = None) -> None:
        """Raise `PolicyError` when ``policy`` cannot work with these options.

        Trust on first use pins only verified keys, so it rejects a policy
        with ``verify=False``.
        """
        if not self.trust_on_first_use or policy.verify:
            return
        target = "" if url is None else f" to {format_address(url.host, url.port)}"
        raise PolicyError(
            f"invalid request{target}: trust on first use pins only verified keys, but the policy "
            "has verify=False. Turn verification on, or use a client without trust_on_first_use.",
            field="verify",
            host=None if url is None else url.host,
            port=None if url is None else url.port,
        )

    def rules_for(self, url: URL, policy: TLSPolicy) -> PinRules:
        """Return the checks beyond ``policy`` that a connection to ``url`` must pass.

        Raises:
            PolicyError: trust on first use with a policy that does not verify.
        """
        self.check_policy(policy, url)
        if not self.trust_on_first_use and not self.host_pins:
            return _NO_RULES
        return PinRules(self.host_pins.for_origin(url.host, url.port), self.trust_on_first_use)

    def session_key(self, url: URL, policy: TLSPolicy) -> SessionKey:
        """Return the key of sessions valid for ``url`` under ``policy`` and these options."""
        rules = self.rules_for(url, policy)
        server_hostname = policy.server_hostname or url.server_hostname
        return SessionKey(url.host, url.port, server_hostname, policy, *rules)

    def find_session(self, key: SessionKey, context: ssl.SSLContext) -> Optional[CachedSession]:
        """Return a session to offer in the handshake, or None."""
        if self.session_cache is None:
            return None
        return self.session_cache.get(key, context)

    def discard_session(self, key: SessionKey) -> None:
        """Drop the session of ``key`` after a failed handshake or check."""
        if self.session_cache is not None:
            self.session_cache.discard(key)

    def confirm(
        self,
        sock: ssl.SSLSocket,
        key: SessionKey,
        chain: Sequence[bytes],
    ) -> Optional[SessionSaver]:
        """Check pins and trust on first use, record the peer, and prepare to store the session.

        Args:
            sock: the connection, after its handshake.
            key: its session key, which contains the host, port and policy.
            chain: the verified chain, leaf first.

        Returns:
            What stores the connection's session once it may be read, or None.

        Raises:
            PinMismatchError: a pin set or the trust-on-first-use pin does not match.
            PeerCacheError: the peer cache file cannot be read or written.
        """
        host, port, policy = key.host, key.port, key.policy
        if policy.pins or key.host_pins:
            actual = chain_pins(tuple(chain))
            if policy.pins:
                check_pins(actual, tuple(policy.pins), host, port)
            if key.host_pins:
                check_pins(actual, key.host_pins, host, port, source="the client's pins for this host")

        if self.peer_cache is not None and policy.verify and chain:
            self._record(self.peer_cache, sock, key, chain)

        if self.session_cache is None:
            return None
        saver = SessionSaver(self.session_cache, key, sock.context, chain)
        saver.after_handshake(sock)
        return saver

    def _record(self, cache: PeerCache, sock: ssl.SSLSocket, key: SessionKey, chain: Sequence[bytes]) -> None:
        try:
            cache.record(
                key.host,
                key.port,
                chain,
                sock.version(),
                trust_on_first_use=key.trust_on_first_use,
                accept_key_change=self.accept_key_change,
            )
        except CertificateParseError as exc:
            # OpenSSL verified the chain, but the tlskit reader cannot read an
            # essential field of one of its certificates: OpenSSL 3.0 accepts
            # a DER length in non-minimal form, for one. The record is
            # optional, so the connection goes on. Under trust on first use it
            # goes on only if the leaf's key, read alone, matches a pin kept
            # from an earlier visit: no new pin can be kept without a record.
            address = format_address(key.host, key.port)
            if key.trust_on_first_use and not _matches_stored_pin(cache, key, chain[0]):
                raise CertificateParseError(
                    f"trust on first use cannot pin {address}: tlskit cannot read a certificate "
                    f"of its verified chain ({exc}), so no record can keep the pin. Pin the "
                    "server's key in the client's pins instead, or connect without trust on first use.",
                    host=key.host,
                    port=key.port,
                ) from exc
            _warn_unrecorded(address, chain[0], exc)


def _matches_stored_pin(cache: PeerCache, key: SessionKey, leaf: bytes) -> bool:
    record = cache.get(key.host, key.port)
    if record is None or record.tofu_pin is None:
        return False
    try:
        return record.tofu_pin == spki_pin(leaf)
    except CertificateParseError:
        return False


# Leaf fingerprints already reported as unrecordable, so that a server whose
# certificate tlskit cannot read logs one WARNING per process, not one per connection.
_unrecorded_warned: Set[str] = set()
_unrecorded_lock = threading.Lock()


def _warn_unrecorded(address: str, leaf: bytes, exc: CertificateParseError) -> None:
    fingerprint = sha256_fingerprint(leaf)
    with _unrecorded_lock:
        is_first = fingerprint not in _unrecorded_warned
        _unrecorded_warned.add(fingerprint)
    emit = log.warning if is_first else log.debug
    emit(
        "could not record %s in the peer cache, because tlskit cannot read a certificate of its "
        "verified chain (leaf SHA-256 %s): %s. The connection goes on unrecorded.",
        address,
        fingerprint,
        exc,
    )


def resumed_chain(sock: ssl.SSLSocket, offered: Optional[CachedSession]) -> Tuple[bytes, ...]:
    """Return the chain stored with a session that the handshake resumed, or ().

    Only the server verified in the full handshake has the session's secret,
    and the resumed handshake proved that this server has it. Its leaf is still compared, so a
    mix-up of sessions cannot lend one peer's chain to another.
    """
    if offered is None or not sock.session_reused or not offered.chain:
        return ()
    if sock.getpeercert(binary_form=True) != offered.chain[0]:
        return ()
    return offered.chain


def _choose(name: str, value: Union[CacheT, bool], shared: CacheT) -> Optional[CacheT]:
    if value is True:
        return shared
    if value is False:
        return None
    if isinstance(value, type(shared)):
        return value
    raise PolicyError(
        f"invalid {name}: {value!r}. Pass True for the shared cache, False for none, "
        f"or a tlskit.{type(shared).__name__}.",
        field=name,
    )
