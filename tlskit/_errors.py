"""Exception hierarchy shared by every tlskit module.

Every error tlskit raises derives from `TLSKitError`. It has three branches:

- `PolicyError` (also a `ValueError`): the caller's configuration or input is
  wrong, such as a bad URL, a bad header or a missing CA file. Nothing was sent.
- Errors from the network or the peer: `ConnectError`,
  `TimeoutExceededError`, `HandshakeError`, `VerificationError` and
  `ProtocolError`, each with subclasses for the precise cause.
- `CertificateParseError` (also a `ValueError`): a certificate is malformed,
  whether a peer sent it or the caller passed it in.

Errors keep `host` and `port` as attributes, and the low-level cause is chained
with ``raise ... from exc`` where the error is mapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from ._certs import PeerCertificate
    from ._diagnosis import Diagnosis, VerificationCause


def format_address(host: Optional[str], port: Optional[int]) -> str:
    """Format ``host:port`` for messages, bracketing IPv6 literals."""
    if host is None:
        return "<unknown host>"
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def sentence(text: str) -> str:
    """Return ``text`` stripped, ending in exactly one period unless it ends in "?" or "!".

    Text from OpenSSL or the OS may end in a period of its own, so a message
    built from it must not append another.
    """
    text = text.strip().rstrip(". ")
    if not text or text[-1] in "?!":
        return text
    return text + "."


def join_sentences(*parts: str) -> str:
    """Join message parts as sentences: each ends in one period, and each after the first starts upper case.

    Empty parts are skipped. A part starts upper case only when its first
    word is a plain lower-case word, so names such as ``max_body`` stay as
    they are.
    """
    sentences: List[str] = []
    for part in parts:
        text = sentence(part)
        if not text:
            continue
        first_word = text.split(" ", 1)[0].rstrip(".,:;!?")
        if sentences and first_word.isalpha() and first_word.islower():
            text = text[0].upper() + text[1:]
        sentences.append(text)
    return " ".join(sentences)


class TLSKitError(Exception):
    """Base class of every error raised by tlskit."""

    def __init__(self, message: str, *, host: Optional[str] = None, port: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.port = port


# Errors in what the caller asked for.


class PolicyError(TLSKitError, ValueError):
    """Invalid configuration: a policy field, a CA source, a URL or a header.

    Attributes:
        field: the name of the offending field or argument, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        field: Optional[str] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.field = field


class InvalidURLError(PolicyError):
    """A URL that tlskit cannot or will not request."""


class InvalidHeaderError(PolicyError):
    """A request header name or value that could corrupt the request."""


# Errors in certificates, whether a peer sent them or the caller passed them in.


class CertificateParseError(TLSKitError, ValueError):
    """A certificate, or the DER or PEM text that contains it, is malformed or truncated.

    The certificate reader raises this error and no other for malformed input.
    """


# Errors from the network and the peer.


class ConnectError(TLSKitError):
    """The TCP connection could not be opened (refused, unreachable, DNS failure)."""


class TimeoutExceededError(TLSKitError, TimeoutError):
    """A timeout expired.

    Attributes:
        phase: ``"connect"``, ``"handshake"``, ``"write"``, ``"read"`` or
            ``"total"`` (the whole-request deadline).
        timeout: the limit that expired, in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        phase: str,
        timeout: Optional[float] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.phase = phase
        self.timeout = timeout


class HandshakeError(TLSKitError):
    """The TLS handshake failed for a reason other than certificate verification.

    Attributes:
        reason: OpenSSL's reason code (such as ``"TLSV1_ALERT_PROTOCOL_VERSION"``), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Optional[str] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.reason = reason


class ProtocolVersionError(HandshakeError):
    """Client and server share no TLS protocol version.

    Attributes:
        policy_versions: the lowest and highest version the policy offers, such
            as ``("TLSv1.2", "TLSv1.3")``, or None when unknown.
        server_version: the version the server chose when a second, unverified
            handshake offered every version OpenSSL supports, or None when that
            probe failed too.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Optional[str] = None,
        policy_versions: Optional[Tuple[str, str]] = None,
        server_version: Optional[str] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, reason=reason, host=host, port=port)
        self.policy_versions = policy_versions
        self.server_version = server_version


class NoSharedCipherError(HandshakeError):
    """Client and server share no cipher suite."""


class ClientCertificateRequiredError(HandshakeError):
    """The server demanded a client certificate that the client did not send."""


class VerificationError(TLSKitError):
    """The server's identity could not be verified.

    Attributes:
        verify_code: OpenSSL's X509_V_ERR code, or None when the check is tlskit's own.
        verify_message: OpenSSL's text for that code, or None.
        diagnosis: the facts a second, non-verifying handshake found, with the
            likely cause and its fix; None when ``TLSPolicy.diagnose`` is off
            or the check is tlskit's own (pins).
    """

    def __init__(
        self,
        message: str,
        *,
        verify_code: Optional[int] = None,
        verify_message: Optional[str] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
        diagnosis: Optional[Diagnosis] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.verify_code = verify_code
        self.verify_message = verify_message
        self.diagnosis = diagnosis

    @property
    def cause(self) -> Optional[VerificationCause]:
        """The likely cause (``diagnosis.cause``), or None without a diagnosis."""
        return None if self.diagnosis is None else self.diagnosis.cause

    @property
    def chain(self) -> Tuple[PeerCertificate, ...]:
        """The chain the server presented, leaf first and unverified; empty without a diagnosis."""
        return () if self.diagnosis is None else self.diagnosis.chain


class CertificateExpiredError(VerificationError):
    """A certificate in the chain is past its notAfter date."""


class CertificateNotYetValidError(VerificationError):
    """A certificate in the chain is before its notBefore date."""


class HostnameMismatchError(VerificationError):
    """The certificate does not name the host that was requested."""


class UntrustedCertificateError(VerificationError):
    """The chain does not lead to a trusted CA."""


class WeakCertificateError(VerificationError):
    """A key or signature in the chain is below the policy's security level."""


class CertificateRevokedError(VerificationError):
    """A certificate in the chain is listed in a CRL."""


class RevocationCheckError(VerificationError):
    """A certificate's revocation status could not be checked.

    Raised when ``TLSPolicy.crlfile`` is set but contains no CRL from the
    certificate's issuer, or the CRL has expired, is not yet valid or is not
    signed by that issuer.
    """


class InvalidChainError(VerificationError):
    """The chain is malformed or breaks an X.509 rule (CA flag, path length, purpose)."""


class PinMismatchError(VerificationError):
    """No certificate in the verified chain matches the configured SPKI pins.

    Attributes:
        expected_pins: the pins the policy allows.
        actual_pins: the pins of the certificates the server presented.
    """

    def __init__(
        self,
        message: str,
        *,
        expected_pins: Sequence[str] = (),
        actual_pins: Sequence[str] = (),
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.expected_pins = tuple(expected_pins)
        self.actual_pins = tuple(actual_pins)


class ProtocolError(TLSKitError):
    """The server broke HTTP/1.1 framing or syntax."""


class RemoteDisconnectedError(ProtocolError):
    """The server closed the connection before sending any byte of a response."""


class IncompleteBodyError(ProtocolError):
    """The connection ended before the body was complete.

    Attributes:
        received: body bytes received before the connection ended.
        expected: bytes the framing announced, or None when it was unknown
            (chunked or close-delimited bodies).
    """

    def __init__(
        self,
        message: str,
        *,
        received: int,
        expected: Optional[int] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.received = received
        self.expected = expected


class LimitExceededError(ProtocolError):
    """A response exceeded one of the client's limits.

    Attributes:
        limit: the name of the limit, such as ``"max_header_count"``.
        value: the limit's value.
    """

    def __init__(
        self, message: str, *, limit: str, value: int, host: Optional[str] = None, port: Optional[int] = None
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.limit = limit
        self.value = value


class HTTPStatusError(TLSKitError):
    """Raised by `Response.raise_for_status` for a status of 400 or more.

    Attributes:
        status: the HTTP status code.
        response: the response itself.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        response: object,
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.status = status
        self.response = response


class DecodingError(ProtocolError):
    """A Content-Encoding is unsupported, or the encoded body is corrupt or cut short."""


class ProxyError(ConnectError):
    """The proxy rejected or failed the CONNECT tunnel to the origin.

    Attributes:
        status: the proxy's status code, or None when it sent no valid response.
        reason: the proxy's reason phrase, possibly empty.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        reason: str = "",
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.status = status
        self.reason = reason


class RedirectError(TLSKitError):
    """A redirect was not followed because it breaks the client's rules.

    Raised for a Location that is missing or invalid, a scheme other than
    https (http only with ``allow_http=True``), and too many redirects.

    Attributes:
        location: the Location header value, or None when it was missing.
        history: the responses received so far, oldest first.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Optional[str] = None,
        history: Sequence[object] = (),
        host: Optional[str] = None,
        port: Optional[int] = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.location = location
        self.history = list(history)


class TooManyRedirectsError(RedirectError):
    """The redirect chain is longer than ``max_redirects``."""


class InsecureRedirectError(RedirectError):
    """The Location leads from https to plain http, which is followed only with ``allow_http=True``."""
