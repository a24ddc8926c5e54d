"""PeerCache: each verified peer by (host, port), its changes, expiry and first pin.

A client records every new connection whose chain it verified: the chain
summary (subjects, issuers, validity, SPKI pins, fingerprints), the TLS
version, and when the peer was first and last seen. Connections kept alive
are not recorded again, and a chain identical to the stored one is not
parsed again, so recording costs one lookup per new connection.

Recording logs two kinds of events on the ``tlskit._peer_cache`` logger:

- a leaf certificate that differs from the one recorded: INFO with the old
  and new SHA-256 fingerprints, or WARNING when its public key differs too;
- a certificate of the chain that expires within ``expiry_warning_days``:
  WARNING, once per process per (host, port), and never for a certificate
  that `_expiry` has already reported from another source.

Trust on first use (TOFU) pins the leaf SPKI of a peer's first connection
made with it on. The leaf's SPKI is read alone, on the shortest strict path
(`spki_pin`), before the chain is summarized, so the check does not depend on
the rest of the certificate. Two certificates have the same key when their
SubjectPublicKeyInfo DER is byte for byte the same, which `spki_pin`
compares through its SHA-256: the same algorithm, parameters and public key.
A renewed certificate for the same key keeps the pin, whatever its names,
serial number, validity or issuer. A new key is a change, even for the same
names from the same CA, and so is the same key encoded differently.

After `os.fork` a cache backed by a file reopens the file in the child, and
the child warns about an expiring certificate again, once.
"""

from __future__ import annotations

import datetime
import os
import threading
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

from ._certs import format_days, sha256_fingerprint, spki_pin
from ._errors import PinMismatchError, PolicyError, format_address
from ._expiry import claim_warning
from ._fork import reset_in_forked_child
from ._log import get_logger
from ._peer_record import (
    UTC,
    CertificateSummary,
    PeerRecord,
    chain_fingerprints,
    chain_pins,
    summarize_chain,
)
from ._peer_store import MemoryStore, SqliteStore
from ._url import shorten

log = get_logger(__name__)

PathType = Union[str, "os.PathLike[str]"]
KeyChangeHandler = Callable[[PinMismatchError], Optional[bool]]
# A peer's DER chain and the summaries made from it.
KnownChain = Tuple[Tuple[bytes, ...], Tuple[CertificateSummary, ...]]

# Enough for a service that talks to many hosts; a record is about 1 KB.
DEFAULT_MAX_PEERS = 1024

# Two weeks leaves time to renew by hand; ACME clients renew 30 days ahead,
# so a certificate that gets this close has usually missed its renewal.
DEFAULT_EXPIRY_WARNING_DAYS = 14


class PeerCache:
    """Verified peers by (host, port), in memory or in one sqlite3 file.

    Hosts are keyed without a trailing dot, so ``example.com.`` and
    ``example.com`` share one record in every method.

    One cache may be shared by many clients and threads, and a file by many
    processes. Clients share one process-wide in-memory cache unless they
    are given their own.

    Args:
        path: a sqlite3 file to keep records in, created when missing; None
            keeps them in memory only.
        max_entries: peers kept at most; the least recently seen go first,
            and their trust-on-first-use pins with them, so keep it above the
            number of peers that should stay pinned.
        expiry_warning_days: warn when a certificate of a recorded chain
            expires within this many days.

    Raises:
        PolicyError: ``max_entries`` or ``expiry_warning_days`` is invalid.
        PeerCacheError: the file cannot be opened, is damaged or is not a
            tlskit peer cache.
    """

    def __init__(
        self,
        path: Optional[PathType] = None,
        *,
        max_entries: int = DEFAULT_MAX_PEERS,
        expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS,
    ) -> None:
        _check_count("max_entries", max_entries, minimum=1)
        _check_count("expiry_warning_days", expiry_warning_days, minimum=0)
        self.path = None if path is None else os.fspath(path)
        self.max_entries = max_entries
        self.expiry_warning_days = expiry_warning_days
        self._store: Union[MemoryStore, SqliteStore] = (
            MemoryStore(max_entries) if self.path is None else SqliteStore(self.path, max_entries)
        )
        self._lock = threading.Lock()
        self._expiry_warned: Set[Tuple[str, int]] = set()
        # A chain whose soonest expiry is at least this far off gets no warning.
        self._no_warning_margin = datetime.timedelta(days=expiry_warning_days + 1)
        # The DER chain last recorded per peer and the summaries made from it,
        # so that an unchanged chain is compared byte for byte, not hashed.
        self._known_chains: Dict[Tuple[str, int], KnownChain] = {}
        reset_in_forked_child(self)

    def __enter__(self) -> PeerCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "memory" if self.path is None else repr(self.path)
        return f"<PeerCache {where}>"

    def close(self) -> None:
        """Close the cache file, if any. The cache reopens it on its next use."""
        with self._lock:
            self._store.close()

    def get(self, host: str, port: int) -> Optional[PeerRecord]:
        """Return the record of ``host`` and ``port``, or None.

        Raises:
            PeerCacheError: the cache file cannot be read.
        """
        with self._lock:
            return self._store.load(peer_host(host), port)

    def records(self, host: Optional[str] = None) -> List[PeerRecord]:
        """Return every record, or those of ``host`` on any port, sorted by host and port.

        Raises:
            PeerCacheError: the cache file cannot be read.
        """
        with self._lock:
            found = self._store.records(None if host is None else peer_host(host))
        return sorted(found, key=lambda record: (record.host, record.port))

    def forget(self, host: str, port: Optional[int] = None) -> int:
        """Delete the record of ``host`` on ``port``, or on every port when None.

        A forgotten peer's next connection with trust on first use pins its
        key again, which is how a caller accepts a key change by hand.

        Returns:
            The number of records deleted.

        Raises:
            PeerCacheError: the cache file cannot be written.
        """
        with self._lock, self._store.transaction():
            return self._store.delete(peer_host(host), port)

    def record(
        self,
        host: str,
        port: int,
        chain: Sequence[bytes],
        tls_version: Optional[str],
        *,
        trust_on_first_use: bool = False,
        accept_key_change: Optional[KeyChangeHandler] = None,
    ) -> PeerRecord:
        """Record a verified connection and log changes and coming expiry.

        Args:
            host: the host connected to, as `tlskit` parses it from the URL.
            port: the port connected to.
            chain: DER certificates of the verified chain, leaf first.
            tls_version: the negotiated version, such as ``"TLSv1.3"``.
            trust_on_first_use: check the leaf's SPKI against the pin taken
                on the first such connection, or take it now.
            accept_key_change: called with the `PinMismatchError` that a
                changed key would raise; returning True makes the new key
                the peer's pin instead.

        Returns:
            The record as stored.

        Raises:
            PinMismatchError: with trust on first use, the leaf's key is not
                the pinned one and the change was not accepted. Nothing is
                recorded then.
            CertificateParseError: the framing, names, validity or SPKI of a
                certificate cannot be read, so nothing is recorded. Under
                trust on first use the leaf's key has been compared with a
                stored pin first, and a mismatch raises `PinMismatchError`.
            PeerCacheError: the cache file cannot be read or written.
        """
        if not chain:
            raise PolicyError(
                f"cannot record {format_address(host, port)}: the chain is empty.", host=host, port=port
            )
        host = peer_host(host)
        now = datetime.datetime.now(UTC)
        der_chain = tuple(bytes(der) for der in chain)
        previous, stored, mismatch = self._update(host, port, der_chain, tls_version, now, trust_on_first_use)
        if mismatch is not None:
            if accept_key_change is None or not _accepts(accept_key_change, mismatch):
                raise mismatch
            log.warning(
                "accepted a new key for %s: pin %s replaces %s",
                format_address(host, port),
                mismatch.actual_pins[0],
                mismatch.expected_pins[0],
            )
            previous, stored, _ = self._update(
                host,
                port,
                der_chain,
                tls_version,
                now,
                trust_on_first_use,
                accepted_pin=mismatch.actual_pins[0],
            )
        assert stored is not None
        if previous is not None:
            _log_change(previous, stored)
        self._warn_if_expiring(stored, now)
        return stored

    def _update(
        self,
        host: str,
        port: int,
        chain: Tuple[bytes, ...],
        tls_version: Optional[str],
        now: datetime.datetime,
        trust_on_first_use: bool,
        accepted_pin: Optional[str] = None,
    ) -> Tuple[Optional[PeerRecord], Optional[PeerRecord], Optional[PinMismatchError]]:
        """Read, compare and write one record under the store's write lock.

        Returns:
            The previous record, the stored one, and the error for a TOFU key
            mismatch, in which case nothing was stored.
        """
        with self._lock, self._store.transaction():
            previous = self._store.load(host, port)
            tofu_pin = None if previous is None else previous.tofu_pin
            is_new_pin = False
            if trust_on_first_use:
                leaf_pin = spki_pin(chain[0])
                if accepted_pin is not None or tofu_pin is None:
                    tofu_pin, is_new_pin = accepted_pin or leaf_pin, True
                elif tofu_pin != leaf_pin:
                    return previous, None, _tofu_mismatch(host, port, tofu_pin, chain)
            summaries = self._summarize(host, port, previous, chain)
            if is_new_pin:
                log.debug("trust on first use pinned %s for %s", tofu_pin, format_address(host, port))
            stored = PeerRecord(
                host=host,
                port=port,
                chain=summaries,
                tls_version=tls_version,
                first_seen=now if previous is None else previous.first_seen,
                last_seen=now,
                tofu_pin=tofu_pin,
            )
            if not self._is_write_skippable(previous, stored):
                self._store.save(stored)
            return previous, stored, None

    def _summarize(
        self, host: str, port: int, previous: Optional[PeerRecord], chain: Tuple[bytes, ...]
    ) -> Tuple[CertificateSummary, ...]:
        """Return the summaries of ``chain``, reusing the previous record's when the chain is unchanged."""
        key = (host, port)
        known = self._known_chains.get(key)
        if known is not None and previous is not None and known[0] == chain and known[1] == previous.chain:
            return previous.chain
        summaries = _reuse_or_summarize(previous, chain)
        if len(self._known_chains) >= self.max_entries:
            self._known_chains.clear()
        self._known_chains[key] = (chain, summaries)
        return summaries

    def _is_write_skippable(self, previous: Optional[PeerRecord], stored: PeerRecord) -> bool:
        if previous is None:
            return False
        age = (stored.last_seen - previous.last_seen).total_seconds()
        if age >= self._store.last_seen_resolution:
            return False
        return previous._replace(last_seen=stored.last_seen) == stored

    def _warn_if_expiring(self, record: PeerRecord, now: datetime.datetime) -> None:
        # days_until_expiry rounds down, so it exceeds the warning days
        # exactly when the expiry is at least one more whole day away.
        if record.not_after - now >= self._no_warning_margin:
            return
        soonest = min(record.chain, key=lambda certificate: certificate.not_after)
        days = soonest.days_until_expiry(now)
        if days > self.expiry_warning_days:
            return
        key = (record.host, record.port)
        with self._lock:
            if key in self._expiry_warned:
                return
            self._expiry_warned.add(key)
        # A certificate already reported from another source is not reported again.
        if not claim_warning(soonest.sha256_fingerprint):
            return
        position = "leaf certificate" if soonest is record.leaf else f"chain certificate {soonest.subject!r}"
        log.warning(
            "the %s of %s expires in %s, on %s (SHA-256 %s). Renew it before then.",
            position,
            record.address,
            format_days(days),
            soonest.not_after.strftime("%Y-%m-%d %H:%M:%S UTC"),
            soonest.sha256_fingerprint,
        )

    def _reset_after_fork(self) -> None:
        # Another thread may have held the lock at fork time; the child has
        # only the forking thread, so the lock is replaced, not acquired.
        self._lock = threading.Lock()
        self._expiry_warned = set()
        self._store.reopen_after_fork()


def _reuse_or_summarize(
    previous: Optional[PeerRecord], chain: Tuple[bytes, ...]
) -> Tuple[CertificateSummary, ...]:
    # Hashing the DER is much cheaper than parsing it, and a peer's chain
    # rarely changes between connections.
    if (
        previous is not None
        and previous.chain
        and chain_fingerprints(chain)
        == tuple(certificate.sha256_fingerprint for certificate in previous.chain)
    ):
        return previous.chain
    return summarize_chain(chain)


def peer_host(host: str) -> str:
    """Return ``host`` in lower case and without a trailing dot, as records are keyed.

    ``Example.com.`` and ``example.com`` name one host and one certificate,
    so both forms share one record and one trust-on-first-use pin. URLs
    reach here in lower case already; callers of `PeerCache` may not.
    """
    return host.lower()[:-1] if host.endswith(".") else host.lower()


def _tofu_mismatch(host: str, port: int, tofu_pin: str, chain: Tuple[bytes, ...]) -> PinMismatchError:
    actual = chain_pins(chain)
    return PinMismatchError(
        f"certificate pin mismatch for {format_address(host, port)}: trust on first use pinned "
        f"{tofu_pin}, but the server's certificate has the key {actual[0]} "
        f"(SHA-256 {sha256_fingerprint(chain[0])}). If the key was rotated on purpose, forget the peer "
        "with PeerCache.forget or 'tlskit cache forget', or accept the change in accept_key_change.",
        host=host,
        port=port,
        expected_pins=(tofu_pin,),
        actual_pins=actual,
    )


def _log_change(previous: PeerRecord, current: PeerRecord) -> None:
    if previous.fingerprint == current.fingerprint:
        return
    if previous.leaf.spki_pin != current.leaf.spki_pin:
        log.warning(
            "the certificate of %s changed to one with another key since %s: fingerprint %s -> %s, pin %s -> %s",
            current.address,
            previous.last_seen.strftime("%Y-%m-%d %H:%M:%S UTC"),
            previous.fingerprint,
            current.fingerprint,
            previous.leaf.spki_pin,
            current.leaf.spki_pin,
        )
    else:
        log.info(
            "the certificate of %s changed, with the same key, since %s: fingerprint %s -> %s",
            current.address,
            previous.last_seen.strftime("%Y-%m-%d %H:%M:%S UTC"),
            previous.fingerprint,
            current.fingerprint,
        )


def _check_count(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise PolicyError(
            f"invalid PeerCache {name}: {value!r}. Use a whole number of {minimum} or more.", field=name
        )


SHARED_PEER_CACHE = PeerCache()


def _accepts(accept_key_change: KeyChangeHandler, mismatch: PinMismatchError) -> bool:
    """Return whether the handler accepts the key change; only True does, and None or False refuse it.

    A truthy answer such as the text "no" from input() must not replace a
    pin, so any return value other than a bool or None raises.

    Raises:
        PolicyError: the handler returned something else, chained to the mismatch.
    """
    verdict = accept_key_change(mismatch)
    if verdict is True:
        return True
    if verdict is None or verdict is False:
        return False
    raise PolicyError(
        f"invalid return value {shorten(repr(verdict))} from accept_key_change: expected True to accept the new key "
        f"of {format_address(mismatch.host or '', mismatch.port or 0)} or False to keep the pin. The pin is "
        "kept.",
        field="accept_key_change",
        host=mismatch.host,
        port=mismatch.port,
    ) from mismatch
