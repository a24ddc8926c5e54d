"""One connection: connect, TLS handshake, pin check, and the I/O of requests.

`open_connection` runs the phases in order, each with its own error mapping:

1. TCP connect (`ConnectError`, or the timeout error with phase "connect"),
   with TCP_NODELAY so small requests are not held back by Nagle's algorithm.
2. TLS handshake with SNI for names, offering a cached session of the same
   settings (`HandshakeError` and its subclasses, `VerificationError`
   subclasses chosen by OpenSSL's verify code).
3. Pins, trust on first use and the peer cache, on the verified chain and
   before any HTTP byte is written (`PinMismatchError`); see `_pinning`.

A socket that fails any phase is closed before the error leaves this module.
"""

from __future__ import annotations

import _ssl
import logging
import socket
import ssl
import sys
import time
from typing import Dict, List, NamedTuple, Optional, Tuple, Type

from ._errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    ClientCertificateRequiredError,
    ConnectError,
    HandshakeError,
    HostnameMismatchError,
    IncompleteBodyError,
    InvalidChainError,
    NoSharedCipherError,
    ProtocolError,
    ProtocolVersionError,
    RemoteDisconnectedError,
    TimeoutExceededError,
    UntrustedCertificateError,
    VerificationError,
    WeakCertificateError,
    format_address,
)
from ._http11 import BODY_UNTIL_CLOSE, ResponseParser
from ._pinning import PeerOptions, resumed_chain
from ._policy import TLSPolicy
from ._session_cache import SessionSaver
from ._timeouts import Deadline
from ._url import URL

log = logging.getLogger(__name__)

# A TLS record holds at most 16 KiB, and a larger buffer costs an allocation per read.
RECEIVE_BYTES = 64 * 1024


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


# OpenSSL X509_V_ERR codes (include/openssl/x509_vfy.h) and the error each means.
_VERIFY_CODE_ERRORS: Dict[int, Type[VerificationError]] = {
    2: UntrustedCertificateError,  # UNABLE_TO_GET_ISSUER_CERT
    9: CertificateNotYetValidError,  # CERT_NOT_YET_VALID
    10: CertificateExpiredError,  # CERT_HAS_EXPIRED
    13: CertificateNotYetValidError,  # ERROR_IN_CERT_NOT_BEFORE_FIELD
    14: CertificateExpiredError,  # ERROR_IN_CERT_NOT_AFTER_FIELD
    18: UntrustedCertificateError,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: UntrustedCertificateError,  # SELF_SIGNED_CERT_IN_CHAIN
    20: UntrustedCertificateError,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: UntrustedCertificateError,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    23: CertificateRevokedError,  # CERT_REVOKED
    27: UntrustedCertificateError,  # CERT_UNTRUSTED
    28: UntrustedCertificateError,  # CERT_REJECTED
    62: HostnameMismatchError,  # HOSTNAME_MISMATCH
    63: HostnameMismatchError,  # EMAIL_MISMATCH
    64: HostnameMismatchError,  # IP_ADDRESS_MISMATCH
    66: WeakCertificateError,  # EE_KEY_TOO_SMALL
    67: WeakCertificateError,  # CA_KEY_TOO_SMALL
    68: WeakCertificateError,  # CA_MD_TOO_WEAK
}

_VERIFY_HINTS: Dict[Type[VerificationError], str] = {
    UntrustedCertificateError: (
        "Add the issuing CA to TLSPolicy.cafile, or make the server send its intermediate certificates."
    ),
    CertificateExpiredError: "Renew the server certificate, or check this machine's clock.",
    CertificateNotYetValidError: "Check this machine's clock, or wait until the certificate's notBefore date.",
    HostnameMismatchError: "Use a host name that the certificate lists in its subjectAltName.",
    WeakCertificateError: "Reissue the certificate with a stronger key (RSA 2048+ or ECDSA P-256) and SHA-256.",
    CertificateRevokedError: "The CA revoked this certificate; the server needs a new one.",
    InvalidChainError: "Fix the server's certificate chain so that it follows X.509 rules.",
}

# OpenSSL reason codes for handshake failures that the policy can explain.
_HANDSHAKE_REASONS: Dict[str, Tuple[Type[HandshakeError], str]] = {
    "UNSUPPORTED_PROTOCOL": (ProtocolVersionError, "client and server share no TLS version"),
    "TLSV1_ALERT_PROTOCOL_VERSION": (
        ProtocolVersionError,
        "server rejected every TLS version the policy offers",
    ),
    "WRONG_SSL_VERSION": (
        ProtocolVersionError,
        "server answered with a TLS version the policy does not allow",
    ),
    "NO_PROTOCOLS_AVAILABLE": (ProtocolVersionError, "no TLS version is enabled by the policy"),
    "NO_SHARED_CIPHER": (NoSharedCipherError, "client and server share no cipher suite"),
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        HandshakeError,
        "server aborted the handshake (often: no shared cipher suite)",
    ),
    "NO_CIPHERS_AVAILABLE": (NoSharedCipherError, "no cipher suite is enabled by the policy"),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        ClientCertificateRequiredError,
        "server requires a client certificate; set TLSPolicy.client_cert",
    ),
}


def map_handshake_error(exc: Exception, host: str, port: int) -> Exception:
    """Return the tlskit error for an exception raised by the TLS handshake or first read."""
    address = format_address(host, port)
    if isinstance(exc, ssl.SSLCertVerificationError):
        verify_class = _VERIFY_CODE_ERRORS.get(exc.verify_code, InvalidChainError)
        return verify_class(
            f"certificate verification failed for {address}: {exc.verify_message}. {_VERIFY_HINTS[verify_class]}",
            host=host,
            port=port,
            verify_code=exc.verify_code,
            verify_message=exc.verify_message,
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        handshake_class, text = _HANDSHAKE_REASONS.get(reason, (HandshakeError, exc.strerror or str(exc)))
        return handshake_class(
            f"TLS handshake with {address} failed: {text} ({reason or exc}).",
            host=host,
            port=port,
            reason=reason or None,
        )
    if isinstance(exc, socket.timeout):
        return TimeoutExceededError(
            f"TLS handshake with {address} timed out.", phase="handshake", host=host, port=port
        )
    return HandshakeError(
        f"TLS handshake with {address} failed: the connection broke ({exc}).", host=host, port=port
    )


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
    leaf = sock.getpeercert(binary_form=True)
    leaf_only = [leaf] if leaf else []
    if sock.context.verify_mode == ssl.CERT_NONE:
        return leaf_only

    chain: List[bytes] = []
    if sys.version_info >= (3, 13):
        chain = sock.get_verified_chain()
    elif sys.version_info >= (3, 10):
        # The private _SSLSocket object has had get_verified_chain since 3.10,
        # but typeshed does not declare SSLSocket._sslobj.
        certificates = sock._sslobj.get_verified_chain()  # type: ignore[attr-defined]
        chain = [cert.public_bytes(_ssl.ENCODING_DER) for cert in certificates or ()]

    return chain or leaf_only


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
        self._tls: Optional[TLSInfo] = None

    @property
    def tls(self) -> Optional[TLSInfo]:
        """TLS facts, read once per connection; None on a plain http connection."""
        sock = self.sock
        if self._tls is None and isinstance(sock, ssl.SSLSocket):
            cipher = sock.cipher()
            self._tls = TLSInfo(
                version=sock.version(),
                cipher=cipher[0] if cipher else None,
                alpn=sock.selected_alpn_protocol(),
                peer_certificate=dict(sock.getpeercert() or {}),
                peer_certificate_der=sock.getpeercert(binary_form=True),
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
        readable (EOF or a TLS alert). Bytes that nobody asked for make it
        readable too. Either way the connection is unusable.
        """
        sock = self.sock
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return False
            sock.settimeout(0)
            try:
                if isinstance(sock, ssl.SSLSocket):
                    return not sock.recv(1)
                return not sock.recv(1, socket.MSG_PEEK)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
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
        try:
            self.sock.sendall(data)
        except socket.timeout as exc:
            raise deadline.expired(phase, self.host, self.port) from exc
        except OSError as exc:
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
        phase = self._set_timeout(deadline, phase)
        try:
            data = self.sock.recv(RECEIVE_BYTES)
        except socket.timeout as exc:
            raise deadline.expired(phase, self.host, self.port) from exc
        except ssl.SSLError as exc:
            if not is_unclean_eof(exc):
                raise self._map_read_error(exc) from exc
            # The server closed TCP without a TLS close_notify. Framed bodies
            # detect the cut themselves; a close-delimited body cannot tell a
            # truncation from the end, so it is reported as incomplete.
            if parser.state == BODY_UNTIL_CLOSE:
                raise IncompleteBodyError(
                    f"connection to {format_address(self.host, self.port)} closed without a TLS close_notify after "
                    f"{parser.body_received} body bytes, so the body may be truncated",
                    received=parser.body_received,
                    host=self.host,
                    port=self.port,
                ) from exc
            data = b""
        except OSError as exc:
            # A reset is an end of stream like any other: the parser decides
            # whether the response was complete at this point.
            log.debug("read from %s failed: %s", format_address(self.host, self.port), exc)
            data = b""
        if data:
            parser.feed(data)
        else:
            parser.feed_eof()

    def _map_read_error(self, exc: ssl.SSLError) -> Exception:
        mapped = map_handshake_error(exc, self.host, self.port)
        if self.requests == 1 and isinstance(mapped, HandshakeError) and mapped.reason:
            # A TLS 1.3 server rejects a client certificate after the handshake,
            # so its alert only arrives on the first read.
            return mapped
        return ProtocolError(
            f"TLS error while reading from {format_address(self.host, self.port)}: {exc}",
            host=self.host,
            port=self.port,
        )

    def _set_timeout(self, deadline: Deadline, phase: str) -> str:
        seconds, binding = deadline.limit(phase, self.host, self.port)
        self.sock.settimeout(seconds)
        return binding


def open_tcp(host: str, port: int, zone: Optional[str], deadline: Deadline) -> socket.socket:
    """Open a TCP connection with TCP_NODELAY, so small requests are not held back by Nagle's algorithm.

    Raises:
        ConnectError: the name does not resolve or the connection is refused.
        TimeoutExceededError: the connect or the total timeout expired.
    """
    address = format_address(host, port)
    seconds, phase = deadline.limit("connect", host, port)
    connect_host = f"{host}%{zone}" if zone else host
    try:
        raw = socket.create_connection((connect_host, port), timeout=seconds)
    except socket.timeout as exc:
        raise deadline.expired(phase, host, port) from exc
    except socket.gaierror as exc:
        raise ConnectError(
            f"could not resolve host {host!r}: {exc.strerror}. Check the host name.", host=host, port=port
        ) from exc
    except OSError as exc:
        raise ConnectError(
            f"could not connect to {address}: {exc.strerror or exc}. Check that the server is listening on that port.",
            host=host,
            port=port,
        ) from exc
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    log.debug("connected to %s", address)
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
    if peers is None:
        peers = _NO_PEER_OPTIONS
    try:
        session_key = peers.session_key(url, policy)
        offered = peers.find_session(session_key, context)
        wrapped = context.wrap_socket(
            raw,
            server_hostname=url.server_hostname,
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
        wrapped.close()
        peers.discard_session(session_key)
        raise map_handshake_error(exc, host, port) from exc
    except BaseException:
        wrapped.close()
        raise
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
    return connection


_NO_PEER_OPTIONS = PeerOptions()
