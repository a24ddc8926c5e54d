"""Peer certificates: `PeerCertificate`, SPKI pins, fingerprints and PEM decoding.

Everything here is computed from a certificate's DER bytes by the tlskit
reader (`_x509`), so it works the same on every Python version and whether
or not the connection verified the certificate. Malformed input raises
`CertificateParseError` and nothing else, but only when an essential part is
malformed: the framing, names, validity or SPKI. An extension value that
tlskit cannot decode is recorded, not raised (see `PeerCertificate`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from ._der import DERError, read_spki
from ._errors import PolicyError
from ._extensions import CertificateExtension
from ._x509 import parse_certificate

if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:
    # At run time, the same behaviour without importing dataclasses (see tlskit._frozen).
    from ._frozen import dataclass, field

PIN_PREFIX = "sha256/"

_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


def spki_pin(cert_der: bytes) -> str:
    """Return the ``"sha256/<base64>"`` pin of a certificate's SubjectPublicKeyInfo.

    This is the pin form that curl (``--pinnedpubkey``) and OkHttp use: the
    SHA-256 digest of the DER-encoded SPKI, in standard base64 with padding.
    Only the certificate's framing up to the SPKI and the SPKI itself are
    read, so a pin can be taken from a certificate whose other fields tlskit
    cannot read.

    Raises:
        CertificateParseError: the certificate is malformed up to the end of its SPKI.
    """
    return pin_of_spki(read_spki(cert_der))


def pin_of_spki(spki_der: bytes) -> str:
    """Return the ``"sha256/<base64>"`` pin of a DER-encoded SubjectPublicKeyInfo."""
    digest = hashlib.sha256(spki_der).digest()
    return PIN_PREFIX + base64.b64encode(digest).decode("ascii")


def sha256_fingerprint(cert_der: bytes) -> str:
    """Return the SHA-256 fingerprint of the whole certificate as colon-separated hex."""
    return hashlib.sha256(cert_der).digest().hex(":").upper()


@dataclass(frozen=True)
class PeerCertificate:
    """The facts of one X.509 certificate, read from its DER bytes.

    Build one with `PeerCertificate.from_der`. Lists that a certificate lacks
    are empty tuples, and a key usage extension that it lacks is None.
    An extension that tlskit cannot decode, or that appears twice, gives the
    same facts as an absent one. `undecodable_extensions` lists those
    extensions with the reason.

    Attributes:
        der: the certificate in DER.
        version: 1, 2 or 3.
        serial_number: the serial number. Some issued certificates have a
            negative one, which is kept as it is.
        signature_algorithm: the issuer's signature algorithm, such as
            ``"sha256WithRSAEncryption"`` or ``"ecdsa-with-SHA256"``, or its dotted OID.
        issuer: the issuer's distinguished name as an RFC 4514 string, most
            specific RDN first, such as ``"CN=Example CA,O=Example,C=US"``.
        subject: the subject's distinguished name, in the same form.
        not_before: start of the validity period, timezone-aware UTC.
        not_after: end of the validity period, timezone-aware UTC, inclusive.
        public_key_algorithm: ``"RSA"``, ``"EC"``, ``"Ed25519"``, ``"Ed448"``,
            ``"DSA"``, ``"RSASSA-PSS"``, ``"X25519"``, ``"X448"`` or a dotted OID.
        key_size: the RSA modulus or DSA prime in bits, the EC field size
            (256 for secp256r1, 521 for secp521r1), the key length in bits for
            Ed25519 (256) and Ed448 (456), or None when unknown.
        curve: the named curve of an EC key, such as ``"secp256r1"``; None otherwise.
        spki: the SubjectPublicKeyInfo in DER.
        spki_pin: ``"sha256/<base64>"`` of ``spki``, the form `TLSPolicy.pins` takes.
        sha256_fingerprint: SHA-256 of ``der`` as colon-separated upper-case hex.
        dns_names: subjectAltName DNS names, in certificate order.
        ip_addresses: subjectAltName IP addresses as text, IPv6 in compressed form.
            A network that an issuer put there as address and mask is shown as
            ``"10.0.0.0/8"``.
        uris: subjectAltName URIs.
        emails: subjectAltName email addresses (rfc822Name).
        is_ca: basicConstraints has cA set; False without basicConstraints.
        path_length: basicConstraints pathLenConstraint, or None.
        key_usage: names of the keyUsage bits set, such as ``("digitalSignature",
            "keyCertSign")``, or None without the extension.
        extended_key_usage: extKeyUsage purposes, such as ``("serverAuth",)``,
            by name or dotted OID, or None without the extension.
        subject_key_identifier: subjectKeyIdentifier bytes, or None.
        authority_key_identifier: the keyIdentifier of authorityKeyIdentifier, or None.
        ocsp_urls: OCSP responder URIs from authorityInfoAccess.
        ca_issuers_urls: CA Issuers URIs from authorityInfoAccess, where the
            issuer's certificate can be fetched.
        extensions: every extension with its OID, critical flag and raw
            value, in certificate order, including those not decoded above.
            Extensions that tlskit does not decode are kept as they are,
            even when their value is not DER.
    """

    der: bytes = field(repr=False)
    version: int
    serial_number: int
    signature_algorithm: str
    issuer: str
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    public_key_algorithm: str
    key_size: Optional[int]
    curve: Optional[str]
    spki: bytes = field(repr=False)
    spki_pin: str
    sha256_fingerprint: str
    dns_names: Tuple[str, ...]
    ip_addresses: Tuple[str, ...]
    uris: Tuple[str, ...]
    emails: Tuple[str, ...]
    is_ca: bool
    path_length: Optional[int]
    key_usage: Optional[Tuple[str, ...]]
    extended_key_usage: Optional[Tuple[str, ...]]
    subject_key_identifier: Optional[bytes]
    authority_key_identifier: Optional[bytes]
    ocsp_urls: Tuple[str, ...]
    ca_issuers_urls: Tuple[str, ...]
    extensions: Tuple[CertificateExtension, ...] = field(repr=False)

    @classmethod
    def from_der(cls, der: bytes) -> PeerCertificate:
        """Read a DER-encoded X.509 certificate.

        Args:
            der: one certificate, such as ``SSLSocket.getpeercert(binary_form=True)``
                returns. Use `pem_to_der_list` for PEM text.

        Raises:
            CertificateParseError: an essential part of the certificate is
                malformed: its DER framing, version, serial number, the
                structure of its names, its validity or its SPKI. Text in
                names is read leniently, as OpenSSL reads it, and extension
                values that cannot be decoded are recorded in
                `undecodable_extensions` instead.
        """
        data = bytes(der)
        parsed = parse_certificate(data)
        key = parsed.public_key
        found = parsed.extensions
        return cls(
            der=data,
            version=parsed.version,
            serial_number=parsed.serial_number,
            signature_algorithm=parsed.signature_algorithm,
            issuer=parsed.issuer,
            subject=parsed.subject,
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            public_key_algorithm=key.algorithm,
            key_size=key.key_size,
            curve=key.curve,
            spki=key.der,
            spki_pin=pin_of_spki(key.der),
            sha256_fingerprint=sha256_fingerprint(data),
            dns_names=found.dns_names,
            ip_addresses=found.ip_addresses,
            uris=found.uris,
            emails=found.emails,
            is_ca=found.is_ca,
            path_length=found.path_length,
            key_usage=found.key_usage,
            extended_key_usage=found.extended_key_usage,
            subject_key_identifier=found.subject_key_identifier,
            authority_key_identifier=found.authority_key_identifier,
            ocsp_urls=found.ocsp_urls,
            ca_issuers_urls=found.ca_issuers_urls,
            extensions=found.extensions,
        )

    @property
    def undecodable_extensions(self) -> Tuple[CertificateExtension, ...]:
        """The extensions that tlskit decodes but could not, each with the reason in ``error``."""
        return tuple(extension for extension in self.extensions if extension.error is not None)

    @property
    def serial_number_hex(self) -> str:
        """The serial number as colon-separated upper-case hex bytes, such as ``"0F:A3"``.

        A negative serial number gets a leading ``-`` before the hex of its magnitude.
        """
        magnitude = abs(self.serial_number)
        text = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big").hex(":").upper()
        return "-" + text if self.serial_number < 0 else text

    def days_until_expiry(self, now: Optional[datetime.datetime] = None) -> int:
        """Return the whole days from ``now`` until ``not_after``, rounded down.

        The result is 0 on the last day and negative once the certificate has expired.

        Args:
            now: a timezone-aware time; the current time when None.

        Raises:
            PolicyError: ``now`` is a naive datetime.
        """
        return (self.not_after - _aware_now(now)) // datetime.timedelta(days=1)

    def is_expired(self, now: Optional[datetime.datetime] = None) -> bool:
        """Return whether ``now`` is after ``not_after`` (the current time when None)."""
        return _aware_now(now) > self.not_after

    def is_not_yet_valid(self, now: Optional[datetime.datetime] = None) -> bool:
        """Return whether ``now`` is before ``not_before`` (the current time when None)."""
        return _aware_now(now) < self.not_before


def extension_json(extension: CertificateExtension) -> Dict[str, Any]:
    """Return an extension as a JSON-compatible dict: OID, name, critical flag, and error if any."""
    return {
        "oid": extension.oid,
        "name": extension.name,
        "critical": extension.critical,
        "error": extension.error,
    }


def format_days(days: int) -> str:
    """Return a count of complete days for a message: ``"1 day"``, ``"3 days"``, or ``"less than a day"`` for 0."""
    if days < 1:
        return "less than a day"
    return "1 day" if days == 1 else f"{days} days"


def describe_expiry(not_after: datetime.datetime, now: Optional[datetime.datetime] = None) -> str:
    """Return ``"N days left"`` or ``"expired N days ago"`` for a certificate that expires at ``not_after``.

    Every message counts complete days, rounded down on both sides of the
    expiry: 36 hours left is "1 day left", and 36 hours after it is "expired
    1 day ago". ``days_until_expiry`` returns the same count while the
    certificate is valid.
    """
    moment = _aware_now(now)
    one_day = datetime.timedelta(days=1)
    if moment > not_after:
        return f"expired {format_days((moment - not_after) // one_day)} ago"
    return f"{format_days((not_after - moment) // one_day)} left"


def _aware_now(now: Optional[datetime.datetime]) -> datetime.datetime:
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is None or now.tzinfo.utcoffset(now) is None:
        raise PolicyError(
            f"invalid now: {now!r} has no time zone, so it cannot be compared with a certificate's "
            "UTC validity. Pass an aware datetime such as datetime.now(timezone.utc).",
            field="now",
        )
    return now


def pem_to_der_list(pem: Union[str, bytes]) -> List[bytes]:
    """Decode every ``CERTIFICATE`` block of PEM text (RFC 7468) to DER.

    Text outside the blocks, such as the comments of a CA bundle, is ignored,
    and so are blocks with other labels, such as private keys. The DER is not
    parsed: pass each item to `PeerCertificate.from_der` for that.

    Args:
        pem: PEM text, as str or as bytes in an ASCII-compatible encoding.

    Returns:
        The DER bytes of each certificate block, in file order.

    Raises:
        CertificateParseError: a certificate block has no END line or its
            base64 is invalid or empty.
    """
    text = pem.decode("latin-1") if isinstance(pem, bytes) else pem
    certificates: List[bytes] = []
    body: Optional[List[str]] = None
    begin_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if body is None:
            if stripped == _PEM_BEGIN:
                body, begin_line = [], number
        elif stripped == _PEM_END:
            certificates.append(_decode_base64_block(body, begin_line))
            body = None
        elif stripped.startswith("-----"):
            raise DERError(
                f"PEM certificate block at line {begin_line} ends at line {number} without {_PEM_END}"
            )
        else:
            body.append(stripped)
    if body is not None:
        raise DERError(f"PEM certificate block at line {begin_line} has no {_PEM_END} line")
    return certificates


def _decode_base64_block(lines: List[str], begin_line: int) -> bytes:
    try:
        der = base64.b64decode("".join(lines), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DERError(f"PEM certificate block at line {begin_line} has invalid base64: {exc}") from exc
    if not der:
        raise DERError(f"PEM certificate block at line {begin_line} is empty")
    return der
