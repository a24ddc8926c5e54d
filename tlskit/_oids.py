"""Names for the object identifiers that tlskit shows in certificate facts.

Each table maps a dotted OID to the name its defining standard gives it. Code
shows any OID missing from a table in dotted form, so the tables only decide
how readable a name is, never whether a certificate parses.
"""

from __future__ import annotations

from typing import Dict, Tuple

# Attribute types of a distinguished name, named by their registered LDAP
# descriptors (RFC 4514 3 requires a registered short name or the dotted OID).
ATTRIBUTE_NAMES: Dict[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.15": "businessCategory",
    "2.5.4.17": "postalCode",
    "2.5.4.42": "givenName",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}

# Signature algorithms (RFC 3279, RFC 4055, RFC 5758, RFC 8410), named as
# OpenSSL prints them in ``openssl x509 -text``, except that EdDSA uses the
# RFC 8410 spelling.
SIGNATURE_ALGORITHM_NAMES: Dict[str, str] = {
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10040.4.3": "dsaWithSHA1",
    "2.16.840.1.101.3.4.3.1": "dsa_with_SHA224",
    "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
DSA = "1.2.840.10040.4.1"

# Public key algorithms whose key is a fixed-size string (RFC 8410): the name
# and the public key length in bytes.
OCTET_KEY_ALGORITHMS: Dict[str, Tuple[str, int]] = {
    "1.3.101.110": ("X25519", 32),
    "1.3.101.111": ("X448", 56),
    "1.3.101.112": ("Ed25519", 32),
    "1.3.101.113": ("Ed448", 57),
}

# Named elliptic curves (RFC 5480 2.1.1.1, SEC 2, RFC 5639): the SEC 2 or
# RFC 5639 name and the size of the curve's field in bits.
CURVES: Dict[str, Tuple[str, int]] = {
    "1.2.840.10045.3.1.1": ("secp192r1", 192),
    "1.3.132.0.33": ("secp224r1", 224),
    "1.2.840.10045.3.1.7": ("secp256r1", 256),
    "1.3.132.0.34": ("secp384r1", 384),
    "1.3.132.0.35": ("secp521r1", 521),
    "1.3.132.0.10": ("secp256k1", 256),
    "1.3.36.3.3.2.8.1.1.7": ("brainpoolP256r1", 256),
    "1.3.36.3.3.2.8.1.1.11": ("brainpoolP384r1", 384),
    "1.3.36.3.3.2.8.1.1.13": ("brainpoolP512r1", 512),
}

# Certificate extensions (RFC 5280 4.2, RFC 6962 3.3, RFC 7633), by the
# identifier their standard gives them.
EXTENSION_NAMES: Dict[str, str] = {
    "2.5.29.14": "subjectKeyIdentifier",
    "2.5.29.15": "keyUsage",
    "2.5.29.17": "subjectAltName",
    "2.5.29.18": "issuerAltName",
    "2.5.29.19": "basicConstraints",
    "2.5.29.30": "nameConstraints",
    "2.5.29.31": "cRLDistributionPoints",
    "2.5.29.32": "certificatePolicies",
    "2.5.29.35": "authorityKeyIdentifier",
    "2.5.29.36": "policyConstraints",
    "2.5.29.37": "extKeyUsage",
    "2.5.29.54": "inhibitAnyPolicy",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
    "1.3.6.1.5.5.7.1.24": "tlsFeature",
    "1.3.6.1.4.1.11129.2.4.2": "signedCertificateTimestampList",
}

SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
KEY_USAGE = "2.5.29.15"
SUBJECT_ALT_NAME = "2.5.29.17"
BASIC_CONSTRAINTS = "2.5.29.19"
AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
EXTENDED_KEY_USAGE = "2.5.29.37"
AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1"

# keyUsage bits in order, bit 0 first (RFC 5280 4.2.1.3). Recent editions of
# X.509 call bit 1 contentCommitment.
KEY_USAGE_BITS: Tuple[str, ...] = (
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
)

# Key purposes of extKeyUsage (RFC 5280 4.2.1.12), without the "id-kp-" prefix.
KEY_PURPOSE_NAMES: Dict[str, str] = {
    "2.5.29.37.0": "anyExtendedKeyUsage",
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
}

# Access methods of authorityInfoAccess (RFC 5280 4.2.2.1).
AD_OCSP = "1.3.6.1.5.5.7.48.1"
AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2"
