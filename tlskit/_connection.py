"""One TLS connection: connect, handshake, pin check, and the I/O of requests.

`open_connection` runs the phases in order, each with its own error mapping:

1. TCP connect (`ConnectError`, or the timeout error with phase "connect"),
   with TCP_NODELAY so small requests are not held back by Nagle's algorithm.
2. TLS handshake with SNI for names (`HandshakeError` and its subclasses,
   `VerificationError` subclasses chosen by OpenSSL's verify code, explained
   by `_diagnose` unless ``TLSPolicy.diagnose`` is off).
3. Pin check against the certificates of the verified chain, before any HTTP
   byte is written (`PinMismatchError`).

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

from ._certs import spki_pin
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
    LimitExceededError,
    NoSharedCipherError,
    PinMismatchError,
    ProtocolError,
    ProtocolVersionError,
    RemoteDisconnectedError,
    TimeoutExceededError,
    UntrustedCertificateError,
    VerificationError,
    WeakCertificateError,
    format_address,
)
from ._http11 import NEED_DATA, BodyData, EndOfResponse, Limits, ResponseHead, ResponseParser
from ._policy import TLSPolicy
from ._url import URL

log = logging.getLogger(__name__)

RECEIVE_BYTES = 256 * 1024


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
    version, so it also gets the leaf alone.
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

    # NOTE: a resumed session reports no chain, so a pin that names a CA
    # rather than the leaf fails on a resumed connection.
    return chain or leaf_only


def check_pins(sock: ssl.SSLSocket, pins: Tuple[str, ...], host: str, port: int) -> None:
    """Raise `PinMismatchError` unless a certificate of the verified chain matches a pin."""
    actual = [spki_pin(cert) for cert in verified_chain(sock)]
    if any(pin in pins for pin in actual):
        return
    raise PinMismatchError(
        f"certificate pin mismatch for {format_address(host, port)}: the server's chain has "
        f"{', '.join(actual) or 'no certificate'}, but the policy allows only {', '.join(pins)}. "
        "If the server's key was rotated on purpose, add its new pin to TLSPolicy.pins.",
        host=host,
        port=port,
        expected_pins=pins,
        actual_pins=actual,
    )


def is_unclean_eof(exc: ssl.SSLError) -> bool:
    """Return whether ``exc`` reports a TCP close without a TLS close_notify.

    Python 3.10 and later raise SSLEOFError for it; 3.9 with OpenSSL 3 raises
    a plain SSLError with the reason UNEXPECTED_EOF_WHILE_READING.
    """
    return isinstance(exc, ssl.SSLEOFError) or exc.reason == "UNEXPECTED_EOF_WHILE_READING"


class Connection:
    """A TLS connection to one origin, carrying one request at a time."""

    def __init__(self, sock: ssl.SSLSocket, url: URL, policy: TLSPolicy) -> None:
        self.sock = sock
        self.host = url.host
        self.port = url.port
        self.origin = url.origin
        self.policy = policy
        self.created = time.monotonic()
        self.last_used = self.created
        self.requests = 0
        self._tls: Optional[TLSInfo] = None

    @property
    def tls(self) -> TLSInfo:
        """TLS facts, read once per connection."""
        if self._tls is None:
            sock = self.sock
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

    def close(self) -> None:
        """Close the socket without waiting for the server."""
        try:
            self.sock.close()
        except OSError:
            pass

    def is_idle_usable(self) -> bool:
        """Return whether an idle pooled connection can carry a new request.

        A server that closed the connection while it sat idle makes the socket
        readable (EOF or a TLS alert); any such connection is unusable.
        """
        try:
            if self.sock.pending():
                return False
            self.sock.settimeout(0)
            try:
                return not self.sock.recv(1)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
        except (OSError, ValueError):
            return False

    def exchange(
        self,
        request: bytes,
        method: str,
        *,
        limits: Limits,
        max_body: Optional[int],
        deadline: Optional[float],
        read_timeout: Optional[float],
    ) -> Tuple[ResponseHead, bytes, bool]:
        """Send ``request`` and read the whole response.

        Returns:
            The response head, the body, and whether the connection may be reused.

        Raises:
            RemoteDisconnectedError: the server closed the connection before
                sending any byte (a stale pooled connection).
            ProtocolError, IncompleteBodyError, LimitExceededError: a bad response.
            TimeoutExceededError: a read, write or the total deadline expired.
        """
        self.requests += 1
        self._set_timeout(read_timeout, deadline, "write")
        try:
            self.sock.sendall(request)
        except socket.timeout as exc:
            raise self._timeout("write", read_timeout) from exc
        except OSError as exc:
            raise RemoteDisconnectedError(
                f"connection to {format_address(self.host, self.port)} broke while sending the request ({exc})",
                host=self.host,
                port=self.port,
            ) from exc

        parser = ResponseParser(method, limits)
        head: Optional[ResponseHead] = None
        body: List[bytes] = []
        received = 0
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                self._receive_into(parser, read_timeout, deadline)
            elif type(event) is BodyData:
                received += len(event.data)
                if max_body is not None and received > max_body:
                    raise LimitExceededError(
                        f"response body from {format_address(self.host, self.port)} exceeds max_body ({max_body} bytes)",
                        limit="max_body",
                        value=max_body,
                        host=self.host,
                        port=self.port,
                    )
                body.append(event.data)
            elif type(event) is ResponseHead:
                head = event
            else:
                assert type(event) is EndOfResponse and head is not None
                reusable = event.keep_alive and not parser.leftover
                self.last_used = time.monotonic()
                return head, b"".join(body), reusable

    def _receive_into(
        self, parser: ResponseParser, read_timeout: Optional[float], deadline: Optional[float]
    ) -> None:
        self._set_timeout(read_timeout, deadline, "read")
        try:
            data = self.sock.recv(RECEIVE_BYTES)
        except socket.timeout as exc:
            raise self._timeout("read", read_timeout) from exc
        except ssl.SSLError as exc:
            if not is_unclean_eof(exc):
                raise self._map_read_error(exc) from exc
            # The server closed TCP without a TLS close_notify. Framed bodies
            # detect the cut themselves; a close-delimited body cannot tell a
            # truncation from the end, so it is reported as incomplete.
            if parser.state == "BODY_UNTIL_CLOSE":
                raise IncompleteBodyError(
                    f"connection to {format_address(self.host, self.port)} closed without a TLS close_notify after "
                    f"{parser.body_received} body bytes, so the body may be truncated",
                    received=parser.body_received,
                    host=self.host,
                    port=self.port,
                ) from exc
            data = b""
        except OSError as exc:
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

    def _set_timeout(self, timeout: Optional[float], deadline: Optional[float], phase: str) -> None:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout("total", None)
            if timeout is None or remaining < timeout:
                timeout = remaining
        self.sock.settimeout(timeout)

    def _timeout(self, phase: str, timeout: Optional[float]) -> TimeoutExceededError:
        address = format_address(self.host, self.port)
        if phase == "total":
            text = f"request to {address} exceeded its total timeout"
        else:
            text = (
                f"{phase} from {address} timed out" if phase == "read" else f"{phase} to {address} timed out"
            )
        if timeout is not None:
            text += f" after {timeout:g} s"
        return TimeoutExceededError(
            text + ". Raise the timeout or check the server.",
            phase=phase,
            timeout=timeout,
            host=self.host,
            port=self.port,
        )


def open_connection(
    url: URL,
    policy: TLSPolicy,
    context: ssl.SSLContext,
    *,
    connect_timeout: Optional[float],
    deadline: Optional[float],
    session: Optional[ssl.SSLSession] = None,
) -> Connection:
    """Connect to ``url``'s origin, complete the TLS handshake and check pins.

    Raises:
        ConnectError, TimeoutExceededError, HandshakeError, VerificationError.
    """
    host, port = url.host, url.port
    address = format_address(host, port)
    timeout = _bounded(connect_timeout, deadline)

    # 1. TCP.
    connect_host = f"{host}%{url.zone}" if url.zone else host
    try:
        raw = socket.create_connection((connect_host, port), timeout=timeout)
    except socket.timeout as exc:
        raise TimeoutExceededError(
            f"connect to {address} timed out after {timeout:g} s. Check that the server is up, or raise the timeout.",
            phase="connect",
            timeout=timeout,
            host=host,
            port=port,
        ) from exc
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

    # 2. TLS handshake. The socket is wrapped first and the handshake run
    # separately, so its timeout and errors are reported as their own phase.
    try:
        sock = context.wrap_socket(
            raw,
            server_hostname=url.server_hostname,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=False,
            session=session,
        )
    except BaseException:
        raw.close()
        raise
    try:
        sock.settimeout(_bounded(connect_timeout, deadline))
        sock.do_handshake()
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        error = map_handshake_error(exc, host, port)
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
                address=(connect_host, port),
                server_hostname=url.server_hostname,
                policy=policy,
                context=context,
                timeout=_bounded(connect_timeout, deadline),
            )
        raise error from exc
    log.debug(
        "TLS with %s: %s %s, resumed=%s",
        address,
        sock.version(),
        (sock.cipher() or ("?",))[0],
        sock.session_reused,
    )

    # 3. Pins, before any request byte.
    pins = policy.pins
    if pins:
        try:
            check_pins(sock, tuple(pins), host, port)
        except PinMismatchError:
            sock.close()
            raise
    return Connection(sock, url, policy)


def _bounded(timeout: Optional[float], deadline: Optional[float]) -> Optional[float]:
    if deadline is None:
        return timeout
    remaining = max(deadline - time.monotonic(), 0.001)
    return remaining if timeout is None else min(timeout, remaining)
