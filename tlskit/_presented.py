"""The certificates a server presents, read without verifying them, for diagnostics.

When verification fails, OpenSSL's error gives the reason but not what the
server sent. `fetch_presented_chain` makes a second handshake with a
context that verifies nothing and returns the chain as the server sent it, with the
version, cipher and ALPN protocol. Nothing in it is trusted: any server can
send any certificates. The handshake proves only that the server has the
private key of the leaf it sent, not that a trusted CA issued the leaf or
that the other certificates belong to its chain. Output made from it must
say so.

The socket is closed right after the handshake and carries no application
data, so this is the one place outside `_context` that builds a context: it
must not verify, and it must not log the warning that ``verify=False`` does.
"""

from __future__ import annotations

import socket
import ssl
from typing import List, NamedTuple, Optional, Tuple

from ._connection import open_tcp
from ._context import ALPN_PROTOCOLS
from ._handshake import map_handshake_error
from ._policy import DEFAULT_POLICY, TLSPolicy
from ._timeouts import Deadline, Timeout

# TLS content type and handshake message type of a Certificate message (RFC 8446 4.4.2).
_HANDSHAKE = 22
_CERTIFICATE = 11
_TLS_1_3 = 0x0304


class PresentedChain(NamedTuple):
    """The chain and parameters of a handshake that verified nothing.

    Attributes:
        certificates: DER certificates in the order the server sent them, leaf first.
        version: the negotiated TLS version, such as ``"TLSv1.3"``.
        cipher: the negotiated cipher suite.
        alpn: the negotiated ALPN protocol, or None.
    """

    certificates: Tuple[bytes, ...]
    version: Optional[str]
    cipher: Optional[str]
    alpn: Optional[str]


def fetch_presented_chain(
    host: str,
    port: int,
    server_hostname: Optional[str],
    timeout: Optional[float],
    *,
    policy: TLSPolicy = DEFAULT_POLICY,
) -> PresentedChain:
    """Connect, complete a handshake that verifies nothing, and return what the server sent.

    Args:
        host: the host or IP address to connect to.
        port: the TCP port.
        server_hostname: the name to send as SNI, or None to send none.
        timeout: seconds for the connect and for the handshake, or None.
        policy: the TLS versions and ciphers to offer are taken from it;
            its trust settings and pins are ignored.

    Returns:
        The unverified chain and the negotiated parameters.

    Raises:
        ConnectError, TimeoutExceededError: the TCP connection failed.
        HandshakeError: the handshake failed for a reason other than trust.
    """
    recorder = CertificateRecorder()
    context = unverified_context(policy, recorder)
    deadline = Deadline(Timeout(connect=timeout))
    raw = open_tcp(host, port, None, deadline)
    try:
        sock = context.wrap_socket(raw, server_hostname=server_hostname, do_handshake_on_connect=False)
    except BaseException:
        raw.close()
        raise
    with sock:
        try:
            sock.settimeout(timeout)
            sock.do_handshake()
        except socket.timeout as exc:
            raise deadline.expired("handshake", host, port) from exc
        except (OSError, ssl.SSLError) as exc:
            raise map_handshake_error(exc, host, port) from exc
        cipher = sock.cipher()
        return PresentedChain(
            certificates=tuple(_sent_chain(sock, recorder)),
            version=sock.version(),
            cipher=cipher[0] if cipher else None,
            alpn=sock.selected_alpn_protocol(),
        )


def unverified_context(policy: TLSPolicy, recorder: CertificateRecorder) -> ssl.SSLContext:
    """Return a context that verifies nothing and hands each Certificate message to ``recorder``.

    The versions and ciphers are the policy's, so the server responds as it
    did to the policy's own handshake. No client certificate is offered.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = policy.effective_minimum_version
    if policy.maximum_version is not None:
        context.maximum_version = policy.maximum_version  # type: ignore[assignment]
    # Security level 0 lets the handshake finish with a weak key or a SHA-1
    # signature, so that the output can show the certificate that has it.
    context.set_ciphers(f"{policy.cipher_string}:@SECLEVEL=0")
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    # SSLContext._msg_callback is private but present in every supported
    # version. It reports each handshake message as the server sent it, so it
    # reads the whole chain on Python 3.9 too, which has no method for the
    # unverified chain, and still works when the handshake fails after the
    # Certificate message.
    context._msg_callback = recorder  # type: ignore[attr-defined]
    return context


class CertificateRecorder:
    """A message callback that keeps the first Certificate message the server sends."""

    def __init__(self) -> None:
        self.message: Optional[Tuple[int, bytes]] = None

    def __call__(
        self, connection: object, direction: str, version: int, content_type: int, kind: int, data: bytes
    ) -> None:
        if (
            direction == "read"
            and content_type == _HANDSHAKE
            and kind == _CERTIFICATE
            and self.message is None
        ):
            self.message = (version, data)

    def certificates(self) -> Optional[List[bytes]]:
        """Return the DER certificates recorded, leaf first, or None when none arrived.

        Raises:
            ValueError: the Certificate message is malformed.
        """
        if self.message is None:
            return None
        version, data = self.message
        return parse_certificate_message(data, version == _TLS_1_3)


def parse_certificate_message(message: bytes, is_tls13: bool) -> List[bytes]:
    """Return the DER certificates of a TLS Certificate handshake message, in the order sent.

    TLS 1.2 (RFC 5246 7.4.2) sends a list of 24-bit-length certificates. TLS
    1.3 (RFC 8446 4.4.2) puts a request context first and extensions after
    each certificate.

    Raises:
        ValueError: a length runs past the end of the message.
    """
    reader = _Reader(message)
    reader.take(1)  # the message type
    body = _Reader(reader.take(reader.number(3)))
    if is_tls13:
        body.take(body.number(1))  # certificate_request_context
    entries = _Reader(body.take(body.number(3)))
    certificates = []
    while entries.remaining:
        certificates.append(entries.take(entries.number(3)))
        if is_tls13:
            entries.take(entries.number(2))  # the entry's extensions
    return certificates


class _Reader:
    """Bounds-checked reading of big-endian length fields and the bytes they announce."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def take(self, count: int) -> bytes:
        if count > self.remaining:
            raise ValueError(f"{count} bytes announced at offset {self.offset}, {self.remaining} left")
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")


def _sent_chain(sock: ssl.SSLSocket, recorder: CertificateRecorder) -> List[bytes]:
    try:
        certificates = recorder.certificates()
    except ValueError:
        certificates = None
    if certificates:
        return certificates
    # Without a readable Certificate message, the leaf is all that is left.
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []
