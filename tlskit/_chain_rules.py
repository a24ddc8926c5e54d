"""Checks on certificates and chains that mirror what OpenSSL's verification enforces.

The diagnosis of a failed verification and the doctor share these checks, so
both name the same rule for the same certificate. They work on the facts of
`PeerCertificate` alone and never verify a signature: they report which rule a
certificate breaks, not whether a chain is authentic.

- `issuer_path` orders a presented chain from the leaf up by issuer links.
- `strict_violations` lists the RFC 5280 rules that OpenSSL 3 checks under
  ``VERIFY_X509_STRICT`` (the default of Python 3.13 and of tlskit), in the
  order OpenSSL checks them.
- `weak_key` and `weak_signature` apply the limits of an OpenSSL security level.
- `wrong_purpose` tells why a certificate may not serve a TLS server.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import _oids
from ._certs import PeerCertificate
from ._policy import DEFAULT_SECURITY_LEVEL

# Smallest RSA/DSA modulus and EC field size, in bits, per OpenSSL security
# level (SSL_CTX_set_security_level(3)): 80, 112, 128, 192 and 256 bits of
# security. Level 0 allows everything.
_MIN_RSA_BITS: Dict[int, int] = {1: 1024, 2: 2048, 3: 3072, 4: 7680, 5: 15360}
_MIN_EC_BITS: Dict[int, int] = {1: 160, 2: 224, 3: 256, 4: 384, 5: 512}

# Signatures that OpenSSL 3 rejects at security level 1 and above, because
# their digests (MD2, MD5, SHA-1) give less than 80 bits of collision resistance.
_WEAK_SIGNATURE_ALGORITHMS = frozenset(
    {
        "md2WithRSAEncryption",
        "md5WithRSAEncryption",
        "sha1WithRSAEncryption",
        "ecdsa-with-SHA1",
        "dsaWithSHA1",
    }
)


class Violation(NamedTuple):
    """A rule that a certificate breaks.

    Attributes:
        verify_code: the OpenSSL X509_V_ERR code reported for it.
        rule: the rule in a few words, such as ``"basicConstraints of a CA must be critical"``.
        fix: what to change in the certificate.
    """

    verify_code: int
    rule: str
    fix: str


def is_self_issued(cert: PeerCertificate) -> bool:
    """Return whether the subject and issuer names are the same (a root, or a self-signed leaf)."""
    return cert.subject == cert.issuer


def is_issued_by(cert: PeerCertificate, issuer: PeerCertificate) -> bool:
    """Return whether ``issuer``'s name, and key identifier when both have one, match ``cert``'s issuer."""
    if cert.issuer != issuer.subject:
        return False
    if cert.authority_key_identifier is None or issuer.subject_key_identifier is None:
        return True
    return cert.authority_key_identifier == issuer.subject_key_identifier


def issuer_path(chain: Sequence[PeerCertificate]) -> Tuple[List[PeerCertificate], List[PeerCertificate]]:
    """Order ``chain`` from its first certificate up by issuer links.

    Servers may send their chain out of order, so each step searches the
    whole remainder for the issuer. The path stops at a self-issued
    certificate or where no issuer was sent.

    Returns:
        The path, leaf first, and the certificates that are not on it, in
        the order they were sent.
    """
    if not chain:
        return [], []
    path = [chain[0]]
    remaining = list(chain[1:])
    while not is_self_issued(path[-1]):
        issuer = next((cert for cert in remaining if is_issued_by(path[-1], cert)), None)
        if issuer is None:
            break
        path.append(issuer)
        remaining.remove(issuer)
    return path, remaining


def find_issuer(cert: PeerCertificate, candidates: Sequence[PeerCertificate]) -> Optional[PeerCertificate]:
    """Return the first of ``candidates`` that issued ``cert``, or None."""
    return next((candidate for candidate in candidates if is_issued_by(cert, candidate)), None)


def _critical_flag(cert: PeerCertificate, oid: str) -> Optional[bool]:
    """Return the critical flag of the extension ``oid``, or None when ``cert`` lacks it."""
    for extension in cert.extensions:
        if extension.oid == oid:
            return extension.critical
    return None


# The rules OpenSSL 3 checks under VERIFY_X509_STRICT, by X509_V_ERR code:
# the rule, with its RFC 5280 section, and the change that satisfies it.
STRICT_RULES: Dict[int, Tuple[str, str]] = {
    78: (
        "the signature algorithm must match the one inside the signed data (RFC 5280 4.1.1.2)",
        "reissue it with consistent signature algorithms",
    ),
    79: (
        "a CA certificate must have basicConstraints with cA=TRUE (RFC 5280 4.2.1.9)",
        "add basicConstraints CA:TRUE",
    ),
    80: ("a pathLenConstraint requires cA=TRUE (RFC 5280 4.2.1.9)", "remove the path length"),
    81: (
        "a pathLenConstraint requires keyUsage keyCertSign (RFC 5280 4.2.1.9)",
        "add keyCertSign to keyUsage",
    ),
    82: ("keyUsage keyCertSign requires cA=TRUE (RFC 5280 4.2.1.3)", "remove keyCertSign, or make it a CA"),
    83: ("the issuer name must not be empty (RFC 5280 4.1.2.4)", "give the issuer a name"),
    84: ("the subject name must not be empty (RFC 5280 4.1.2.6)", "give the certificate a subject name"),
    85: (
        "authorityKeyIdentifier with a keyIdentifier is required (RFC 5280 4.2.1.1)",
        "add authorityKeyIdentifier = keyid",
    ),
    86: (
        "a CA certificate must have subjectKeyIdentifier (RFC 5280 4.2.1.2)",
        "add subjectKeyIdentifier = hash",
    ),
    87: ("subjectAltName must not be empty (RFC 5280 4.2.1.6)", "list at least one name in subjectAltName"),
    88: (
        "subjectAltName must be critical when the subject is empty (RFC 5280 4.2.1.6)",
        "mark subjectAltName critical",
    ),
    89: ("basicConstraints of a CA must be critical (RFC 5280 4.2.1.9)", "mark basicConstraints critical"),
    90: (
        "authorityKeyIdentifier must not be critical (RFC 5280 4.2.1.1)",
        "mark authorityKeyIdentifier non-critical",
    ),
    91: (
        "subjectKeyIdentifier must not be critical (RFC 5280 4.2.1.2)",
        "mark subjectKeyIdentifier non-critical",
    ),
    92: (
        "a CA certificate must have keyUsage (RFC 5280 4.2.1.3)",
        "add keyUsage = critical, keyCertSign, cRLSign",
    ),
    93: (
        "extensions require a version 3 certificate (RFC 5280 4.1.2.1)",
        "issue it as a version 3 certificate",
    ),
    94: ("an EC key must name its curve (RFC 5480 2.1.1)", "use a named curve such as P-256"),
}


def _violation(verify_code: int) -> Violation:
    rule, fix = STRICT_RULES[verify_code]
    return Violation(verify_code, rule, fix)


def strict_violations(cert: PeerCertificate, *, is_chain_end: bool) -> List[Violation]:
    """List the RFC 5280 rules that ``cert`` breaks, as OpenSSL 3 checks them in strict mode.

    OpenSSL applies these checks to every certificate of a chain longer than
    one, the trust anchor included. A certificate verified alone (a
    self-signed leaf) is exempt. Two rules need data that `PeerCertificate`
    does not keep (78: the inner signature algorithm, 87: an empty
    subjectAltName), so they are never reported here.

    Args:
        cert: the certificate.
        is_chain_end: ``cert`` is the last certificate of its chain, which
            OpenSSL lets go without an authorityKeyIdentifier.
    """
    codes: List[int] = []
    key_usage = cert.key_usage or ()
    has_alt_names = _critical_flag(cert, _oids.SUBJECT_ALT_NAME) is not None

    # Basic constraints and key usage.
    if cert.path_length is not None and not cert.is_ca:
        codes.append(80)
    if cert.path_length is not None and "keyCertSign" not in key_usage:
        codes.append(81)
    if cert.is_ca and _critical_flag(cert, _oids.BASIC_CONSTRAINTS) is False:
        codes.append(89)
    if cert.is_ca and cert.key_usage is None:
        codes.append(92)
    if not cert.is_ca and "keyCertSign" in key_usage:
        codes.append(82)

    # Names.
    if not cert.issuer:
        codes.append(83)
    if not cert.subject and (cert.is_ca or "cRLSign" in key_usage or not has_alt_names):
        codes.append(84)
    if not cert.subject and _critical_flag(cert, _oids.SUBJECT_ALT_NAME) is False:
        codes.append(88)

    # Key identifiers.
    if _critical_flag(cert, _oids.AUTHORITY_KEY_IDENTIFIER):
        codes.append(90)
    if _critical_flag(cert, _oids.SUBJECT_KEY_IDENTIFIER):
        codes.append(91)
    if cert.version >= 3:
        if not is_chain_end and cert.authority_key_identifier is None:
            codes.append(85)
        if cert.is_ca and cert.subject_key_identifier is None:
            codes.append(86)
    elif cert.extensions:
        codes.append(93)

    # Keys.
    if cert.public_key_algorithm == "EC" and cert.curve is None:
        codes.append(94)
    return [_violation(code) for code in codes]


def weak_key(cert: PeerCertificate, security_level: int = DEFAULT_SECURITY_LEVEL) -> Optional[str]:
    """Describe why ``cert``'s key is too small for ``security_level``, or return None."""
    bits = cert.key_size
    if bits is None or security_level <= 0:
        return None
    level = min(security_level, max(_MIN_RSA_BITS))
    algorithm = cert.public_key_algorithm
    if algorithm in ("RSA", "RSASSA-PSS", "DSA"):
        minimum = _MIN_RSA_BITS[level]
    elif algorithm == "EC":
        minimum = _MIN_EC_BITS[level]
    else:
        return None
    if bits >= minimum:
        return None
    return (
        f"its {bits}-bit {algorithm} key is below the {minimum} bits that OpenSSL security "
        f"level {security_level} requires"
    )


def weak_signature(cert: PeerCertificate, security_level: int = DEFAULT_SECURITY_LEVEL) -> Optional[str]:
    """Describe why ``cert``'s signature digest is too weak for ``security_level``, or return None.

    OpenSSL does not check the signature of a self-signed certificate, which
    only a trust anchor can be, so those always pass.
    """
    if security_level <= 0 or is_self_issued(cert):
        return None
    if cert.signature_algorithm not in _WEAK_SIGNATURE_ALGORITHMS:
        return None
    return (
        f"it is signed with {cert.signature_algorithm}, a digest that OpenSSL security level "
        f"{security_level} rejects"
    )


# extendedKeyUsage purposes that allow a certificate in a TLS server's chain,
# as OpenSSL 3 checks them: serverAuth, or the old Server Gated Crypto
# purposes of Netscape and Microsoft. anyExtendedKeyUsage does not count.
_SERVER_PURPOSES = frozenset({"serverAuth", "2.16.840.1.113730.4.1", "1.3.6.1.4.1.311.10.3.3"})

# keyUsage bits of which a TLS server key needs one: to sign the handshake,
# to decrypt an RSA key exchange, or to agree on a key (static ECDH).
_SERVER_KEY_USAGES = frozenset({"digitalSignature", "keyEncipherment", "keyAgreement"})


class PurposeProblem(NamedTuple):
    """The reason a certificate may not serve in a TLS server's chain, and the change that fixes it."""

    reason: str
    fix: str


def wrong_purpose(cert: PeerCertificate) -> Optional[PurposeProblem]:
    """Return why ``cert`` may not serve in a TLS server's chain, or None.

    These are the extension checks behind OpenSSL's "unsuitable certificate
    purpose" (X509_V_ERR_INVALID_PURPOSE) for the TLS server purpose. An
    extendedKeyUsage, in the server certificate or a CA above it, must allow
    serverAuth. A server certificate's keyUsage must allow its key to be
    used in a handshake. Strict verification does not change these checks.
    """
    purposes = cert.extended_key_usage
    if purposes is not None and not _SERVER_PURPOSES & set(purposes):
        return PurposeProblem(
            f"its extendedKeyUsage ({', '.join(purposes) or 'empty'}) does not include serverAuth",
            "Reissue it with serverAuth in its extendedKeyUsage, or without that extension.",
        )
    usages = cert.key_usage
    if not cert.is_ca and usages is not None and not _SERVER_KEY_USAGES & set(usages):
        return PurposeProblem(
            f"its keyUsage ({', '.join(usages) or 'empty'}) has none of digitalSignature, "
            "keyEncipherment and keyAgreement, which a TLS server key needs",
            "Reissue it with digitalSignature in its keyUsage.",
        )
    return None


def names_host(cert: PeerCertificate, host: str) -> bool:
    """Return whether ``cert`` names ``host`` as OpenSSL matches it for Python's hostname check.

    An IP address must be among the IP SANs. A name matches a DNS SAN
    exactly or through a wildcard that stands for the whole leftmost label.
    The common name is never matched, because tlskit's contexts turn off
    ``SSLContext.hostname_checks_common_name``.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return any(_same_address(address, text) for text in cert.ip_addresses)
    wanted = host.rstrip(".").lower()
    return any(_dns_match(pattern.lower(), wanted) for pattern in cert.dns_names)


def _same_address(address: Any, text: str) -> bool:
    try:
        return bool(ipaddress.ip_address(text) == address)
    except ValueError:
        return False


def _dns_match(pattern: str, host: str) -> bool:
    if not pattern.startswith("*."):
        return pattern == host
    first, _, rest = host.partition(".")
    return bool(first) and rest == pattern[2:]
