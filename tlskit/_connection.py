"""One connection: connect, TLS handshake, pin check, and the I/O of requests.

`open_connection` runs the phases in order, each with its own error mapping:

1. TCP connect (`ConnectError`, or the timeout error with phase "connect"),
   with TCP_NODELAY so small requests are not held back by Nagle's algorithm.
2. TLS handshake with SNI for names, offering a cached session of the same
   settings (`HandshakeError` and its subclasses, `VerificationError`
   subclasses chosen by OpenSSL's verify code, explained by `_diagnose`
   unless ``TLSPolicy.diagnose`` is off).
3. Pins, trust on first use and the peer cache, on the verified chain and
   before any HTTP byte is written (`PinMismatchError`); see `_pinning`.

A socket that fails any phase is closed before the error leaves this module.
"""

from __future__ import annotations

import _ssl
import select
import socket
import ssl
import sys
import time
from typing import Dict, List, NamedTuple, Optional

from ._connect import address_host, connect_error, literal_family
from ._errors import (
    HandshakeError,
    IncompleteBodyError,
    ProtocolError,
    RemoteDisconnectedError,
    TimeoutExceededError,
    VerificationError,
    format_address,
)
from ._handshake import (
    CLIENT_CERTIFICATE_ALERTS,
    explain_handshake_failure,
    map_handshake_error,
    negotiated_cipher,
)
from ._http11 import ResponseParser
from ._http11_events import BODY_UNTIL_CLOSE
from ._log import get_logger
from ._pinning import PeerOptions, resumed_chain
from ._policy import TLSPolicy
from ._session_cache import SessionSaver
from ._timeouts import Deadline
from ._url import URL

log = get_logger(__name__)

# A TLS record carries at most 16 KiB of plaintext, and OpenSSL returns at
# most one record per read. Every read requests at least that much, so no
# received plaintext stays inside OpenSSL after a read, and bytes past a response
# always reach the parser, which reports them as leftover.
MAX_RECORD_BYTES = 16 * 1024
# Each connection receives into one buffer of this size, reused for every
# read. A larger one would gain nothing on TLS, where a read returns at most
# one record, and would cost a new connection more to allocate.
RECEIVE_BYTES = MAX_RECORD_BYTES
# A socket timeout already within this many seconds of the one an operation
# needs is kept: each settimeout is a system call, and a kept-alive request
# would otherwise make two. A limit can therefore end up to 1 ms early or late.
TIMEOUT_TOLERANCE_SECONDS = 0.001
# After a failed first write, the server's alert (if it sent one) is already
# in the receive buffer or arrives with the close, so a short wait suffices.
PENDING_ALERT_TIMEOUT_SECONDS = 1.0
# A probe handshake after a failed one waits at most this long, even when the
# call has no timeout, because it only improves an error message.
MAX_PROBE_SECONDS = 10.0


class TLSInfo(NamedTuple):
    """Facts about the TLS connection a response arrived on.

    Attributes:
        version: negotiated protocol, such as ``"TLSv1.3"``.
        cipher: negotiated cipher suite name.
        alpn: negotiated ALPN protocol, or None.
        peer_certificate: the server certificate as `ssl.SSLSocket.getpeercert`
            decodes it (empty when verification is off).
        peer_certificate_der: the server certificate in DER.
        session_reused: the handshake resumed an earlier TLS session.
    """

    version: Optional[str]
    cipher: Optional[str]
    alpn: Optional[str]
    peer_certificate: Dict[str, object]
    peer_certificate_der: Optional[bytes]
    session_reused: bool


def verified_chain(sock: ssl.SSLSocket) -> List[bytes]:
    """Return the DER certificates of the verified chain, leaf first.

    The chain is the one OpenSSL built while verifying the server, from the
    leaf up to the trust anchor in the local store, so a pin may name the
    leaf, an intermediate or the root CA. Where it comes from depends on the
    Python version:

    - 3.13 and later: the public ``SSLSocket.get_verified_chain()``.
    - 3.10 to 3.12: the same call on the private ``SSLSocket._sslobj``, which
      returns ``_ssl.Certificate`` objects that are converted to DER.
    - 3.9: no verified chain is exposed, so the leaf alone is returned and
      pins must name the leaf's key.

    The leaf alone is also returned when verification is off. OpenSSL then
    reports the chain as the server sent it, and a server can put any CA's
    certificate there, while the handshake proves only that the server has
    the leaf's private key. A resumed TLS session has no verified chain on any
    version, so it also gets the leaf alone; `open_connection` uses the chain
    stored with the session instead.
    """
    chain: List[bytes] = []
    if sock.context.verify_mode == ssl.CERT_NONE:
        pass
    elif sys.version_info >= (3, 13):
        chain = sock.get_verified_chain()
    elif sys.version_info >= (3, 10):
        # The private _SSLSocket object has had get_verified_chain since 3.10,
        # but typeshed does not declare SSLSocket._sslobj.
        certificates = sock._sslobj.get_verified_chain()  # type: ignore[attr-defined]
        chain = [cert.public_bytes(_ssl.ENCODING_DER) for cert in certificates or ()]
    if chain:
        return chain

    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


# Decoded peer certificates, by DER. Decoding is the largest part of building
# TLSInfo, and a client sees the same few certificates again and again.
MAX_DECODED_CERTIFICATES = 64
_decoded_certificates: Dict[bytes, Dict[str, object]] = {}


def _decoded_certificate(sock: ssl.SSLSocket, der: Optional[bytes]) -> Dict[str, object]:
    """Return a new dict of `ssl.SSLSocket.getpeercert` for ``sock``, whose leaf is ``der``.

    The decoded form is a function of the DER alone when the context
    verifies, and getpeercert returns an empty dict when it does not. The
    values are tuples, strings and ints, so copies may share them.
    """
    if der is None or sock.context.verify_mode == ssl.CERT_NONE:
        return dict(sock.getpeercert() or {})
    decoded = _decoded_certificates.get(der)
    if decoded is None:
        decoded = dict(sock.getpeercert() or {})
        if len(_decoded_certificates) >= MAX_DECODED_CERTIFICATES:
            _decoded_certificates.clear()
        _decoded_certificates[der] = decoded
    return dict(decoded)


def is_unclean_eof(exc: ssl.SSLError) -> bool:
    """Return whether ``exc`` reports a TCP close without a TLS close_notify.

    Python 3.10 and later raise SSLEOFError for it; 3.9 with OpenSSL 3 raises
    a plain SSLError with the reason UNEXPECTED_EOF_WHILE_READING.
    """
    return isinstance(exc, ssl.SSLEOFError) or exc.reason == "UNEXPECTED_EOF_WHILE_READING"


class Connection:
    """A connection to one origin, carrying one request at a time.

    ``sock`` is an `ssl.SSLSocket` for https, or a plain socket for http
    (``allow_http=True``), whose `tls` is None.
    """

    def __init__(self, sock: socket.socket, url: URL, policy: TLSPolicy) -> None:
        self.sock = sock
        self.is_tls = isinstance(sock, ssl.SSLSocket)
        self.host = url.host
        self.port = url.port
        self.origin = url.origin
        self.policy = policy
        self.created = time.monotonic()
        self.last_used = self.created
        self.requests = 0
        self.session_saver: Optional[SessionSaver] = None
        # The leaf certificate in DER when the handshake's checks already
        # read it, so that `tls` need not ask OpenSSL for it again.
        self.leaf_der: Optional[bytes] = None
        self._tls: Optional[TLSInfo] = None
        self._timeout = sock.gettimeout()
        self._buffer = bytearray(RECEIVE_BYTES)
        self._view = memoryview(self._buffer)

    @property
    def tls(self) -> Optional[TLSInfo]:
        """TLS facts, read once per connection; None on a plain http connection."""
        sock = self.sock
        if self._tls is None and isinstance(sock, ssl.SSLSocket):
            cipher = sock.cipher()
            der = self.leaf_der or sock.getpeercert(binary_form=True)
            self._tls = TLSInfo(
                version=sock.version(),
                cipher=cipher[0] if cipher else None,
                alpn=sock.selected_alpn_protocol(),
                peer_certificate=_decoded_certificate(sock, der),
                peer_certificate_der=der,
                session_reused=bool(sock.session_reused),
            )
        return self._tls

    def save_session(self) -> None:
        """Store the TLS session, once, after the first response head was read.

        TLS 1.3 tickets arrive after the handshake, ahead of the first response.
        """
        saver, self.session_saver = self.session_saver, None
        if saver is not None and isinstance(self.sock, ssl.SSLSocket):
            saver.after_first_response(self.sock)

    def close(self) -> None:
        """Close the socket without waiting for the server."""
        try:
            self.sock.close()
        except OSError:
            pass

    def is_idle_usable(self) -> bool:
        """Return whether an idle pooled connection can carry a new request.

        A server that closed the connection while it sat idle makes the socket
        readable (EOF or a TLS alert). Bytes that no request asked for make it
        readable too. Either way the connection is unusable.
        """
        sock = self.sock
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return False
            return not _is_readable(sock)
        except (OSError, ValueError):
            return False

    def send(self, data: bytes, deadline: Deadline, phase: str = "write") -> None:
        """Send ``data`` in full; a timeout is reported with ``phase`` unless the total binds.

        Raises:
            RemoteDisconnectedError: the connection broke, as a stale pooled one does.
            TimeoutExceededError: the write or the total timeout expired.
        """
        self.requests += 1
        phase = self._set_timeout(deadline, phase)
        sock = self.sock
        try:
            if self.is_tls:
                # SSLSocket.sendall passes all of the data to one send, so
                # this skips only its wrapper (about 0.25 us of a small
                # request on CPython 3.11). The check keeps any short write safe.
                sent = sock.send(data)
                if sent < len(data):
                    sock.sendall(memoryview(data)[sent:])
            else:
                sock.sendall(data)
        except socket.timeout as exc:
            raise deadline.expired(phase, self.host, self.port) from exc
        except OSError as exc:
            alert = self._pending_alert() if self.requests == 1 else None
            if alert is not None:
                raise alert from exc
            raise RemoteDisconnectedError(
                f"connection to {format_address(self.host, self.port)} broke while sending the request ({exc})",
                host=self.host,
                port=self.port,
            ) from exc

    def receive(self, parser: ResponseParser, deadline: Deadline, phase: str = "read") -> None:
        """Read once from the socket and feed the bytes, or the end of the stream, to ``parser``.

        A timeout is reported with ``phase`` unless the total timeout binds.

        Raises:
            IncompleteBodyError: a close-delimited body ended without TLS close_notify.
            TimeoutExceededError: the read or the total timeout expired.
            ProtocolError: a TLS error broke the stream.
        """
        count = self._receive_into(self._view, parser, deadline, phase)
        if count:
            parser.feed(self._view[:count])
        else:
            parser.feed_eof()

    def receive_body_into(self, view: memoryview, parser: ResponseParser, deadline: Deadline) -> int:
        """Read body bytes straight into ``view`` and count them as received by ``parser``.

        ``parser`` must be in a state whose input is body bytes alone, with
        nothing buffered, and ``view`` must hold at least `MAX_RECORD_BYTES`
        and at most what the body still lacks. At the end of the stream it
        returns 0 and calls ``parser.feed_eof``, so the parser's next event
        reports whether the body was complete.

        Raises:
            The errors of `receive`.
        """
        count = self._receive_into(view, parser, deadline, "read")
        if count:
            parser.count_body(count)
        else:
            parser.feed_eof()
        return count

    def _receive_into(self, view: memoryview, parser: ResponseParser, deadline: Deadline, phase: str) -> int:
        """Read once into ``view`` and return the byte count, 0 at the end of the stream."""
        phase = self._set_timeout(deadline, phase)
        try:
            return self.sock.recv_into(view)
        except socket.timeout as exc:
            raise deadline.expired(phase, self.host, self.port) from exc
        except ssl.SSLError as exc:
            if is_unclean_eof(exc):
                return self._end_abnormally(parser, exc, "closed without a TLS close_notify")
            if isinstance(exc, ssl.SSLSyscallError):
                return self._end_abnormally(parser, exc, f"broke ({exc})")
            raise self._map_read_error(exc, parser) from exc
        except OSError as exc:
            # A reset, or a broken pipe when OpenSSL writes during a read (TLS
            # 1.3 post-handshake messages), is never a clean end of the stream.
            log.debug("read from %s failed: %s", format_address(self.host, self.port), exc)
            return self._end_abnormally(parser, exc, f"was reset ({exc.strerror or exc})")

    def _end_abnormally(self, parser: ResponseParser, exc: OSError, how: str) -> int:
        """Handle a stream that ended without a TLS close_notify (or a clean TCP close for http).

        Returns 0 for the parser to treat as the end of the stream when the
        framing itself shows whether the response is complete: a head, a
        Content-Length or a chunked body. An empty head then becomes
        `RemoteDisconnectedError`, so a stale pooled connection is still
        retried, and a cut framed body becomes `IncompleteBodyError`.

        Raises:
            IncompleteBodyError: the body is close-delimited, so only a clean
                close could have ended it and this end may be a truncation.
        """
        if parser.state != BODY_UNTIL_CLOSE:
            return 0
        raise IncompleteBodyError(
            f"connection to {format_address(self.host, self.port)} {how} after {parser.body_received} body "
            "bytes, so the body may be truncated",
            received=parser.body_received,
            host=self.host,
            port=self.port,
        ) from exc

    def _map_read_error(self, exc: ssl.SSLError, parser: ResponseParser) -> Exception:
        # A TLS 1.3 server checks the client certificate after the handshake,
        # so its alert arrives on the first read, before any response byte.
        # Any other TLS error on a read broke an established stream.
        if self.requests == 1 and not parser.has_input and exc.reason in CLIENT_CERTIFICATE_ALERTS:
            cipher = negotiated_cipher(self.sock) if isinstance(self.sock, ssl.SSLSocket) else None
            return map_handshake_error(exc, self.host, self.port, policy=self.policy, chosen_cipher=cipher)
        received = f" after {parser.body_received} body bytes" if parser.head is not None else ""
        return ProtocolError(
            f"TLS error while reading the response from {format_address(self.host, self.port)}{received}: "
            f"{exc}. The connection was corrupted or cut in transit. Retry the request.",
            host=self.host,
            port=self.port,
        )

    def _pending_alert(self) -> Optional[HandshakeError]:
        """Return the error for a TLS alert that arrived before the first request could be sent.

        A TLS 1.3 server checks the client certificate after the client's side
        of the handshake is complete, then sends its alert and closes. The first
        write can then fail on the closed socket while the alert still waits in
        the receive buffer.
        """
        try:
            self.sock.settimeout(PENDING_ALERT_TIMEOUT_SECONDS)
            self._timeout = PENDING_ALERT_TIMEOUT_SECONDS
            self.sock.recv(1)
        except ssl.SSLError as exc:
            if exc.reason in CLIENT_CERTIFICATE_ALERTS:
                cipher = negotiated_cipher(self.sock) if isinstance(self.sock, ssl.SSLSocket) else None
                mapped = map_handshake_error(
                    exc, self.host, self.port, policy=self.policy, chosen_cipher=cipher
                )
                assert isinstance(mapped, HandshakeError)
                return mapped
        except OSError:
            pass
        return None

    def _set_timeout(self, deadline: Deadline, phase: str) -> str:
        seconds, binding = deadline.limit(phase, self.host, self.port)
        current = self._timeout
        if seconds != current and (
            seconds is None or current is None or abs(seconds - current) > TIMEOUT_TOLERANCE_SECONDS
        ):
            self.sock.settimeout(seconds)
            self._timeout = seconds
        return binding


def _poll_readable(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _select_readable(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


# poll costs less than a non-blocking read, which raises for an idle socket,
# and has no limit on descriptor numbers; Windows has only select.
_is_readable = _poll_readable if hasattr(select, "poll") else _select_readable


def open_tcp(host: str, port: int, zone: Optional[str], deadline: Deadline) -> socket.socket:
    """Open a TCP connection with TCP_NODELAY, so small requests are not held back by Nagle's algorithm.

    Raises:
        ConnectError: the name does not resolve, the zone id names no interface,
            or the connection is refused or cannot be routed.
        TimeoutExceededError: the connect or the total timeout expired.
    """
    address = format_address(host, port)
    seconds, phase = deadline.limit("connect", host, port)
    family = literal_family(host) if zone is None else None
    try:
        if family is None:
            raw = socket.create_connection((address_host(host, zone, port), port), timeout=seconds)
        else:
            raw = _connect_literal(family, host, port, seconds)
    except socket.timeout as exc:
        raise deadline.expired(phase, host, port) from exc
    except OSError as exc:
        raise connect_error(exc, host, port, zone) from exc
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    log.debug("connected to %s", address)
    return raw


def _connect_literal(family: int, host: str, port: int, seconds: Optional[float]) -> socket.socket:
    """Connect to an IP address as `socket.create_connection` does, without its getaddrinfo call."""
    raw = socket.socket(family, socket.SOCK_STREAM)
    try:
        raw.settimeout(seconds)
        raw.connect((host, port))
    except BaseException:
        raw.close()
        raise
    return raw


def open_connection(
    url: URL,
    policy: TLSPolicy,
    context: Optional[ssl.SSLContext],
    deadline: Deadline,
    *,
    sock: Optional[socket.socket] = None,
    peers: Optional[PeerOptions] = None,
) -> Connection:
    """Connect to ``url``'s origin, complete the TLS handshake and check the peer.

    Args:
        url: the origin to reach; an http URL gets a plain connection.
        policy: the TLS policy, for pins.
        context: the policy's context; None for http.
        deadline: the call's clock.
        sock: a connected socket to use, such as a proxy tunnel, instead of
            opening one to the origin.
        peers: per-host pins, caches and trust on first use; None checks the
            policy's pins only and resumes nothing.

    Raises:
        ConnectError, TimeoutExceededError, HandshakeError, VerificationError,
        PeerCacheError.
    """
    host, port = url.host, url.port
    address = format_address(host, port)

    # 1. TCP, unless the caller brings a connected socket.
    raw = sock if sock is not None else open_tcp(host, port, url.zone, deadline)
    if context is None:
        return Connection(raw, url, policy)

    # 2. TLS handshake, offering a session cached under the same settings.
    # The socket is wrapped first and the handshake run separately, so its
    # timeout and errors are reported as their own phase.
    # TLSPolicy.server_hostname replaces the URL's host as SNI and as the
    # name verified, while the connection still goes to the URL's host.
    server_hostname = policy.server_hostname or url.server_hostname
    if peers is None:
        peers = _NO_PEER_OPTIONS
    try:
        session_key = peers.session_key(url, policy)
        offered = peers.find_session(session_key, context)
        wrapped = context.wrap_socket(
            raw,
            server_hostname=server_hostname,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=False,
            session=None if offered is None else offered.session,
        )
    except BaseException:
        raw.close()
        raise
    phase = "handshake"
    try:
        seconds, phase = deadline.limit("handshake", host, port)
        wrapped.settimeout(seconds)
        wrapped.do_handshake()
    except socket.timeout as exc:
        wrapped.close()
        peers.discard_session(session_key)
        raise deadline.expired(phase, host, port) from exc
    except (OSError, ssl.SSLError) as exc:
        chosen_cipher = negotiated_cipher(wrapped)
        wrapped.close()
        peers.discard_session(session_key)
        # A probe handshake goes straight to the origin, so none is made
        # through a proxy tunnel.
        # The TCP connect with the same zone id succeeded, so it names an interface.
        probe_address = None if sock is not None else (address_host(host, url.zone, port), port)
        probe_timeout = _probe_timeout(deadline, host, port)
        error = explain_handshake_failure(
            exc,
            chosen_cipher,
            policy=policy,
            host=host,
            port=port,
            probe_address=probe_address,
            server_hostname=server_hostname,
            probe_timeout=probe_timeout,
        )
        if (
            isinstance(exc, ssl.SSLCertVerificationError)
            and isinstance(error, VerificationError)
            and policy.diagnose
        ):
            # Imported here so that only a failed verification loads the diagnosis code.
            from ._diagnose import diagnose_failure

            error = diagnose_failure(
                error,
                exc,
                address=probe_address,
                server_hostname=server_hostname,
                policy=policy,
                context=context,
                timeout=probe_timeout,
            )
        raise error from exc
    if log.is_debug_enabled():
        log.debug(
            "TLS with %s: %s %s, resumed=%s",
            address,
            wrapped.version(),
            (wrapped.cipher() or ("?",))[0],
            wrapped.session_reused,
        )

    # 3. The peer, before any request byte: pins, trust on first use and
    # the peer cache, then the session is stored for resumption.
    try:
        chain = resumed_chain(wrapped, offered) or verified_chain(wrapped)
        saver = peers.confirm(wrapped, session_key, chain)
    except BaseException:
        wrapped.close()
        peers.discard_session(session_key)
        raise
    connection = Connection(wrapped, url, policy)
    connection.session_saver = None if saver is None or saver.is_done else saver
    connection.leaf_der = chain[0] if chain else None
    return connection


def _probe_timeout(deadline: Deadline, host: str, port: int) -> Optional[float]:
    """Return the seconds a probe handshake may take, or None when the total timeout has run out."""
    try:
        seconds, _ = deadline.limit("handshake", host, port)
    except TimeoutExceededError:
        return None
    return MAX_PROBE_SECONDS if seconds is None else min(seconds, MAX_PROBE_SECONDS)


_NO_PEER_OPTIONS = PeerOptions()
