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
import sys
from typing import List, NamedTuple, Optional, Tuple

from ._connection import open_tcp
from ._context import ALPN_PROTOCOLS
from ._handshake import map_handshake_error
from ._policy import DEFAULT_POLICY, TLSPolicy
from ._timeouts import Deadline, Timeout


class PresentedChain(NamedTuple):
    """The chain and parameters of a handshake that verified nothing.

    Attributes:
        certificates: DER certificates in the order the server sent them, leaf
            first. Python 3.9 exposes only the leaf.
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
    context = _unverified_context(policy)
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
            certificates=tuple(_sent_chain(sock)),
            version=sock.version(),
            cipher=cipher[0] if cipher else None,
            alpn=sock.selected_alpn_protocol(),
        )


def _unverified_context(policy: TLSPolicy) -> ssl.SSLContext:
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
    return context


def _sent_chain(sock: ssl.SSLSocket) -> List[bytes]:
    if sys.version_info >= (3, 13):
        return [bytes(der) for der in sock.get_unverified_chain() or ()]
    if sys.version_info >= (3, 10):
        import _ssl

        # 3.10 to 3.12 have the call on the private _SSLSocket object only,
        # returning _ssl.Certificate objects; typeshed does not declare it.
        certificates = sock._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
        return [certificate.public_bytes(_ssl.ENCODING_DER) for certificate in certificates or ()]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []
