"""The result of diagnosing a failed certificate verification: `VerificationCause` and `Diagnosis`.

These types are all that `VerificationError` needs, so they live apart from
`_diagnose`, which does the work and is imported only when a verification
fails.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Optional, Tuple

from ._certs import PeerCertificate


class VerificationCause(str, enum.Enum):
    """The likely cause of a failed verification, as tlskit's diagnosis found it.

    The values are stable strings, so ``err.cause == "missing_intermediate"``
    works as well as comparing with the member.
    """

    MISSING_INTERMEDIATE = "missing_intermediate"
    """The server did not send an intermediate CA certificate that the chain needs."""

    UNTRUSTED_ROOT = "untrusted_root"
    """The chain ends at a private or self-signed CA that the trust store does not contain."""

    TLS_INSPECTION = "tls_inspection"
    """A public host name was answered with a chain from a CA that the system store does not know,
    the pattern of a TLS-inspecting proxy."""

    HOSTNAME_MISMATCH = "hostname_mismatch"
    """The server's certificate does not name the requested host."""

    EXPIRED = "expired"
    """A certificate of the chain is past its notAfter date."""

    NOT_YET_VALID = "not_yet_valid"
    """A certificate of the chain is before its notBefore date."""

    WEAK_KEY = "weak_key"
    """A key of the chain is smaller than the security level allows."""

    WEAK_SIGNATURE = "weak_signature"
    """A certificate of the chain is signed with a digest the security level rejects (SHA-1, MD5)."""

    STRICT_X509 = "strict_x509"
    """A certificate breaks an RFC 5280 rule that strict verification enforces."""

    REVOKED = "revoked"
    """A certificate of the chain is listed in a CRL."""

    WRONG_PURPOSE = "wrong_purpose"
    """A certificate's extendedKeyUsage or keyUsage does not allow TLS server authentication."""

    OTHER = "other"
    """A failure without a specific diagnosis; the OpenSSL reason still applies."""


class Diagnosis(NamedTuple):
    """The facts behind a failed verification, and what to change.

    Attributes:
        cause: the likely cause.
        summary: one sentence that explains the cause with the names and dates involved.
        fix: what to change, on the server or in the client's configuration.
        certificate: the certificate the cause concerns (from the presented
            chain or the trust store), or None when no certificate was identified.
        chain: the certificates as the server presented them, leaf first. They
            are unverified: the diagnostic handshake checks nothing.
        trust_sources: the trust anchors in force, such as
            ``"cafile /etc/ca.pem"`` or ``"system store /etc/ssl/certs"``.
        verify_flags: the verification settings in force, such as
            ``"VERIFY_X509_STRICT"`` and ``"check_hostname"``.
        rule: for `VerificationCause.STRICT_X509`, the RFC 5280 rule that the
            certificate breaks; otherwise None.
        clock_suspect: the local clock may be wrong, because it reads a
            date that cannot be right, or because a validity limit is within
            a day of it.
        chain_error: why ``chain`` is empty, when the diagnostic handshake
            failed or was switched off; otherwise None.
    """

    cause: VerificationCause
    summary: str
    fix: str
    certificate: Optional[PeerCertificate] = None
    chain: Tuple[PeerCertificate, ...] = ()
    trust_sources: Tuple[str, ...] = ()
    verify_flags: Tuple[str, ...] = ()
    rule: Optional[str] = None
    clock_suspect: bool = False
    chain_error: Optional[str] = None
