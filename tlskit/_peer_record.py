"""The peer cache's values: `PeerRecord` for a peer and `CertificateSummary` for a certificate.

Both are immutable values. They convert to and from JSON-compatible dicts,
which is how the sqlite file stores a chain and how ``tlskit inspect --json``
and ``tlskit cache show --json`` print one. Times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, NamedTuple, Optional, Tuple

from ._certs import PeerCertificate, pin_of_spki, sha256_fingerprint, spki_pin
from ._errors import format_address
from ._x509 import parse_certificate

UTC = datetime.timezone.utc


class CertificateSummary(NamedTuple):
    """The facts the peer cache keeps about one certificate of a chain.

    Attributes:
        subject: the subject's distinguished name as an RFC 4514 string.
        issuer: the issuer's distinguished name as an RFC 4514 string.
        not_before: start of the validity period, UTC.
        not_after: end of the validity period, UTC.
        spki_pin: ``"sha256/<base64>"`` of the certificate's SubjectPublicKeyInfo.
        sha256_fingerprint: SHA-256 of the whole certificate, colon-separated hex.
    """

    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    spki_pin: str
    sha256_fingerprint: str

    @classmethod
    def from_der(cls, der: bytes) -> CertificateSummary:
        """Summarize a DER certificate from its essential fields; its extensions are not read.

        Raises:
            CertificateParseError: the framing, names, validity or SPKI of the
                certificate is malformed.
        """
        data = bytes(der)
        parsed = parse_certificate(data, read_extensions=False)
        return cls(
            subject=parsed.subject,
            issuer=parsed.issuer,
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            spki_pin=pin_of_spki(parsed.public_key.der),
            sha256_fingerprint=sha256_fingerprint(data),
        )

    @classmethod
    def from_certificate(cls, certificate: PeerCertificate) -> CertificateSummary:
        """Keep the summary fields of a parsed certificate."""
        return cls(
            subject=certificate.subject,
            issuer=certificate.issuer,
            not_before=certificate.not_before,
            not_after=certificate.not_after,
            spki_pin=certificate.spki_pin,
            sha256_fingerprint=certificate.sha256_fingerprint,
        )

    def days_until_expiry(self, now: Optional[datetime.datetime] = None) -> int:
        """Return the whole days until ``not_after``, rounded down; negative once expired."""
        current = datetime.datetime.now(UTC) if now is None else now
        return (self.not_after - current) // datetime.timedelta(days=1)

    def to_json(self) -> Dict[str, Any]:
        """Return the summary as a JSON-compatible dict, times in ISO 8601."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "spki_pin": self.spki_pin,
            "sha256_fingerprint": self.sha256_fingerprint,
        }

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> CertificateSummary:
        """Rebuild a summary from `to_json` output.

        Raises:
            KeyError, TypeError, ValueError: the dict does not come from `to_json`.
        """
        return cls(
            subject=str(data["subject"]),
            issuer=str(data["issuer"]),
            not_before=_parse_time(data["not_before"]),
            not_after=_parse_time(data["not_after"]),
            spki_pin=str(data["spki_pin"]),
            sha256_fingerprint=str(data["sha256_fingerprint"]),
        )


def summarize_chain(chain: Tuple[bytes, ...]) -> Tuple[CertificateSummary, ...]:
    """Summarize each DER certificate of a chain, leaf first.

    Raises:
        CertificateParseError: an essential field of a certificate is
            malformed. For a chain that OpenSSL verified, this means that the
            tlskit reader rejects something OpenSSL allows.
    """
    return tuple(CertificateSummary.from_der(der) for der in chain)


def chain_fingerprints(chain: Tuple[bytes, ...]) -> Tuple[str, ...]:
    """Return the SHA-256 fingerprint of each DER certificate, without parsing them."""
    return tuple(sha256_fingerprint(der) for der in chain)


def chain_pins(chain: Tuple[bytes, ...]) -> Tuple[str, ...]:
    """Return the SPKI pin of each DER certificate, leaf first.

    Raises:
        CertificateParseError: a certificate's SPKI cannot be found.
    """
    return tuple(spki_pin(der) for der in chain)


class PeerRecord(NamedTuple):
    """The peer cache's record of one (host, port).

    Attributes:
        host: the host as tlskit connects to it: lower case, IDNA A-labels,
            IPv6 without brackets.
        port: the TCP port.
        chain: the verified chain of the last visit, leaf first. On Python 3.9
            it holds the leaf alone, because 3.9 exposes no verified chain.
        tls_version: the TLS version of the last visit, such as ``"TLSv1.3"``.
        first_seen: when this host and port were first recorded.
        last_seen: when they were last recorded, to within
            `tlskit.PeerCache.LAST_SEEN_RESOLUTION_SECONDS` for a cache file.
        tofu_pin: the leaf SPKI pin that trust on first use accepted for this
            peer, or None when no connection with trust on first use was made.
    """

    host: str
    port: int
    chain: Tuple[CertificateSummary, ...]
    tls_version: Optional[str]
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    tofu_pin: Optional[str] = None

    @property
    def address(self) -> str:
        """``host:port``, with IPv6 in brackets."""
        return format_address(self.host, self.port)

    @property
    def leaf(self) -> CertificateSummary:
        """The server's own certificate."""
        return self.chain[0]

    @property
    def fingerprint(self) -> str:
        """The SHA-256 fingerprint of the leaf certificate."""
        return self.leaf.sha256_fingerprint

    @property
    def pins(self) -> Tuple[str, ...]:
        """The SPKI pin of each certificate of the chain, leaf first."""
        return tuple(certificate.spki_pin for certificate in self.chain)

    @property
    def not_after(self) -> datetime.datetime:
        """The earliest end of validity in the chain: when the chain stops verifying."""
        return min(certificate.not_after for certificate in self.chain)

    def to_json(self) -> Dict[str, Any]:
        """Return the record as a JSON-compatible dict, times in ISO 8601."""
        return {
            "host": self.host,
            "port": self.port,
            "chain": [certificate.to_json() for certificate in self.chain],
            "tls_version": self.tls_version,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "tofu_pin": self.tofu_pin,
        }


def _parse_time(value: object) -> datetime.datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 time, got {value!r}")
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return parsed.astimezone(UTC)


def from_timestamp(seconds: float) -> datetime.datetime:
    """Return the UTC time of a POSIX timestamp."""
    return datetime.datetime.fromtimestamp(seconds, UTC)
