"""``tlskit inspect``: what a server's TLS looks like, verified or not.

`inspect_url` makes one full handshake under the caller's policy, with no
session to resume, so the verified chain is always available where the
Python version exposes it (3.10 and later; 3.9 gives the leaf alone). When
verification fails, it makes a second handshake that verifies nothing, with
`fetch_presented_chain`, and reports that chain as unverified, together with
the reason verification failed. A certificate that the tlskit reader cannot
read is shown as unreadable, with its fingerprint and the reason, so the
rest of the report still appears.
"""

from __future__ import annotations

import datetime
import ssl
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._certs import PeerCertificate, describe_expiry, extension_json, sha256_fingerprint
from ._connection import open_connection, verified_chain
from ._context import context_for
from ._errors import CertificateParseError, VerificationError
from ._peer_record import CertificateSummary
from ._policy import TLSPolicy
from ._presented import fetch_presented_chain
from ._timeouts import Deadline, Timeout
from ._url import parse_url, redact_userinfo


class UnreadableCertificate(NamedTuple):
    """A certificate of a chain that the tlskit reader cannot read.

    Attributes:
        der: the certificate as the server sent it.
        error: why the reader rejected it.
    """

    der: bytes
    error: str

    @property
    def sha256_fingerprint(self) -> str:
        return sha256_fingerprint(self.der)


ChainEntry = Union[PeerCertificate, UnreadableCertificate]


class Inspection(NamedTuple):
    """The result of inspecting one server.

    Attributes:
        url: the URL as given, with any password replaced by ``***``.
        host: the host connected to.
        port: the port connected to.
        verified: the chain verified under the policy and its pins matched.
        version: the negotiated TLS version.
        cipher: the negotiated cipher suite.
        alpn: the negotiated ALPN protocol, or None.
        chain: the verified chain when ``verified``, else the chain as the
            server sent it; leaf first. A certificate tlskit cannot read is
            an `UnreadableCertificate` in its place.
        error: why verification failed, or None.
    """

    url: str
    host: str
    port: int
    verified: bool
    version: Optional[str]
    cipher: Optional[str]
    alpn: Optional[str]
    chain: Tuple[ChainEntry, ...]
    error: Optional[VerificationError]

    def to_json(self, now: Optional[datetime.datetime] = None) -> Dict[str, Any]:
        """Return the inspection as a JSON-compatible dict."""
        error: Optional[Dict[str, Any]] = None
        if self.error is not None:
            error = {
                "type": type(self.error).__name__,
                "message": str(self.error),
                "verify_code": self.error.verify_code,
                "verify_message": self.error.verify_message,
            }
        return {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "verified": self.verified,
            "error": error,
            "tls": {"version": self.version, "cipher": self.cipher, "alpn": self.alpn},
            "chain_source": "verified" if self.verified else "presented, unverified",
            "chain": [_certificate_json(certificate, now) for certificate in self.chain],
        }


def inspect_url(url: str, policy: TLSPolicy, timeout: Optional[float]) -> Inspection:
    """Connect to ``url``'s origin and report its TLS parameters and chain.

    Args:
        url: an ``https://`` URL; only its host and port are used.
        policy: the policy that decides whether the server verifies.
        timeout: seconds for each connect and handshake, or None.

    Returns:
        The inspection; ``verified`` is False when verification or a pin failed.

    Raises:
        InvalidURLError, PolicyError: bad input.
        ConnectError, TimeoutExceededError, HandshakeError: no handshake
            completed, so there is nothing to show.
    """
    parsed = parse_url(url)
    try:
        connection = open_connection(parsed, policy, context_for(policy), Deadline(Timeout(connect=timeout)))
    except VerificationError as exc:
        presented = fetch_presented_chain(
            parsed.host, parsed.port, parsed.server_hostname, timeout, policy=policy
        )
        return Inspection(
            url=redact_userinfo(url),
            host=parsed.host,
            port=parsed.port,
            verified=False,
            version=presented.version,
            cipher=presented.cipher,
            alpn=presented.alpn,
            chain=_parse_chain(presented.certificates),
            error=exc,
        )
    try:
        tls = connection.tls
        sock = connection.sock
        assert tls is not None and isinstance(sock, ssl.SSLSocket)
        chain = _parse_chain(verified_chain(sock))
    finally:
        connection.close()
    return Inspection(
        url=redact_userinfo(url),
        host=parsed.host,
        port=parsed.port,
        verified=policy.verify,
        version=tls.version,
        cipher=tls.cipher,
        alpn=tls.alpn,
        chain=chain,
        error=None,
    )


def _parse_chain(ders: Sequence[bytes]) -> Tuple[ChainEntry, ...]:
    return tuple(_parse(der) for der in ders)


def _parse(der: bytes) -> ChainEntry:
    try:
        return PeerCertificate.from_der(der)
    except CertificateParseError as exc:
        return UnreadableCertificate(der, str(exc))


def _certificate_json(certificate: ChainEntry, now: Optional[datetime.datetime]) -> Dict[str, Any]:
    if isinstance(certificate, UnreadableCertificate):
        return {"error": certificate.error, "sha256_fingerprint": certificate.sha256_fingerprint}
    data = CertificateSummary.from_certificate(certificate).to_json()
    data["days_left"] = certificate.days_until_expiry(now)
    data["dns_names"] = list(certificate.dns_names)
    data["ip_addresses"] = list(certificate.ip_addresses)
    data["undecodable_extensions"] = [extension_json(item) for item in certificate.undecodable_extensions]
    return data


def format_inspection(inspection: Inspection, now: Optional[datetime.datetime] = None) -> List[str]:
    """Return the lines that ``tlskit inspect`` prints for a person to read."""
    lines = [
        f"URL:       {inspection.url}",
        f"TLS:       {inspection.version}, {inspection.cipher}, ALPN {inspection.alpn or 'none'}",
    ]
    if inspection.verified:
        lines.append("verified:  yes")
        lines.append("chain (verified, leaf first):")
    elif inspection.error is not None:
        lines.append(f"verified:  NO: {inspection.error}")
        lines.append("chain (UNVERIFIED: as the server sent it, leaf first; nothing in it is proven):")
    else:
        lines.append("verified:  NO: verification is off in the policy")
        lines.append("chain (UNVERIFIED: as the server sent it, leaf first; nothing in it is proven):")
    for index, certificate in enumerate(inspection.chain):
        lines.extend(_certificate_lines(index, certificate, now))
    return lines


def _certificate_lines(index: int, certificate: ChainEntry, now: Optional[datetime.datetime]) -> List[str]:
    if isinstance(certificate, UnreadableCertificate):
        return [
            f"  [{index}] tlskit cannot read this certificate: {certificate.error}",
            f"      SHA-256:  {certificate.sha256_fingerprint}",
        ]
    if certificate.is_expired(now):
        # Capitals make an expired certificate stand out in a long chain.
        remaining = describe_expiry(certificate.not_after, now).replace("expired", "EXPIRED", 1)
    elif certificate.is_not_yet_valid(now):
        remaining = "NOT YET VALID"
    else:
        remaining = describe_expiry(certificate.not_after, now)
    names = ", ".join(certificate.dns_names + certificate.ip_addresses)
    lines = [
        f"  [{index}] subject:  {certificate.subject}",
        f"      issuer:   {certificate.issuer}",
        f"      valid:    {_format_time(certificate.not_before)} to {_format_time(certificate.not_after)} ({remaining})",
    ]
    if names:
        lines.append(f"      names:    {names}")
    lines.append(f"      SPKI pin: {certificate.spki_pin}")
    lines.append(f"      SHA-256:  {certificate.sha256_fingerprint}")
    for extension in certificate.undecodable_extensions:
        lines.append(f"      undecodable extension {extension.name}: {extension.error}")
    return lines


def _format_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
