"""The X.509 certificate structure (RFC 5280 4.1), read with the `_der` primitives.

`parse_certificate` walks Certificate and TBSCertificate field by field and
returns plain values: names as RFC 4514 text, times as UTC datetimes, the
public key's algorithm and size, and the extensions that `_extensions` reads.

The reader is strict where tlskit relies on a field, and as lenient as OpenSSL
3.0's verification elsewhere, so that a certificate OpenSSL verifies can be
read. The essential parts, whose faults raise `DERError`, are:

- the DER framing of Certificate and of every TBSCertificate field, in order,
  with no trailing bytes;
- the version, serial number and signature algorithm OID;
- the structure of the issuer and subject names (each attribute's value is
  text decoded leniently by `decode_string`, or hex when it is no string);
- the validity, in the RFC 5280 time forms, which OpenSSL also requires;
- the SubjectPublicKeyInfo, key included, because pins hash it;
- the framing of the extension list and of each Extension.

The values of extensions are optional: see `_extensions`. A version 1 or 2
certificate with extensions is read too, since OpenSSL rejects it only under
``VERIFY_X509_STRICT``. Nothing but `DERError` escapes, and nothing is read
past the input.

The signature is read for its structure only and is never verified. OpenSSL
verifies chains during the handshake; this reader reports what a certificate
contains.
"""

from __future__ import annotations

import datetime
from typing import List, NamedTuple, Optional, Tuple

from . import _oids
from ._der import (
    BIT_STRING,
    CONTEXT_0_CONSTRUCTED,
    INTEGER,
    NULL,
    OBJECT_IDENTIFIER,
    SEQUENCE,
    SET,
    TLV,
    DERError,
    Reader,
    decode_bit_string,
    decode_integer,
    decode_oid,
    decode_string,
    decode_time,
    encoded_element,
    expect,
    is_string_tag,
    read_oid_and_value,
)
from ._extensions import DecodedExtensions, parse_extensions

ISSUER_UNIQUE_ID = 0x81
SUBJECT_UNIQUE_ID = 0x82
EXTENSIONS = 0xA3


class PublicKeyInfo(NamedTuple):
    """The SubjectPublicKeyInfo of a certificate.

    Attributes:
        der: the whole SubjectPublicKeyInfo in DER, the input of an SPKI pin.
        algorithm: ``"RSA"``, ``"RSASSA-PSS"``, ``"EC"``, ``"DSA"``, ``"Ed25519"``,
            ``"Ed448"``, ``"X25519"``, ``"X448"``, or the dotted OID of another algorithm.
        key_size: the RSA modulus or DSA prime in bits, the EC field size in bits,
            the public key length in bits for RFC 8410 keys, or None when unknown.
        curve: the named EC curve, such as ``"secp256r1"``, or its dotted OID;
            None for other algorithms and for explicit curve parameters.
    """

    der: bytes
    algorithm: str
    key_size: Optional[int]
    curve: Optional[str]


class ParsedCertificate(NamedTuple):
    """The fields of one X.509 certificate."""

    version: int
    serial_number: int
    signature_algorithm: str
    issuer: str
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    public_key: PublicKeyInfo
    extensions: DecodedExtensions


def parse_certificate(cert_der: bytes, *, read_extensions: bool = True) -> ParsedCertificate:
    """Read every field tlskit reports from a DER-encoded certificate.

    Args:
        cert_der: the certificate.
        read_extensions: read the extension list too. When False the
            extensions field is skipped unread and the result has none.

    Raises:
        DERError: an essential part of the certificate is malformed (see the
            module docstring).
    """
    data = bytes(cert_der)
    certificate = expect(data, 0, len(data), SEQUENCE)
    if certificate.end != len(data):
        raise DERError(f"trailing bytes after the certificate at offset {certificate.end}", certificate.end)

    # Certificate: tbsCertificate, signatureAlgorithm, signatureValue.
    outer = Reader.inside(data, certificate)
    tbs = outer.read(SEQUENCE)
    signature_algorithm = _read_algorithm_oid(data, outer.read(SEQUENCE))
    decode_bit_string(data, outer.read(BIT_STRING))
    outer.finish("Certificate")

    # TBSCertificate, in the order RFC 5280 4.1 defines.
    fields = Reader.inside(data, tbs)
    version = _read_version(data, fields)
    serial_number = decode_integer(data, fields.read(INTEGER))
    fields.read(SEQUENCE)  # signature: the same AlgorithmIdentifier as signatureAlgorithm
    issuer = format_name(data, fields.read(SEQUENCE))
    validity = Reader.inside(data, fields.read(SEQUENCE))
    not_before = decode_time(data, validity.read_any())
    not_after = decode_time(data, validity.read_any())
    validity.finish("Validity")
    subject = format_name(data, fields.read(SEQUENCE))
    public_key = parse_public_key(data, fields.read(SEQUENCE))

    # RFC 5280 4.1.2.8 forbids CAs to issue unique identifiers, so they are skipped.
    fields.read_optional(ISSUER_UNIQUE_ID)
    fields.read_optional(SUBJECT_UNIQUE_ID)
    extensions_field = fields.read_optional(EXTENSIONS)
    fields.finish("TBSCertificate")
    extensions = DecodedExtensions()
    if extensions_field is not None and read_extensions:
        wrapper = Reader.inside(data, extensions_field)
        extensions_sequence = wrapper.read(SEQUENCE)
        wrapper.finish("the [3] extensions field")
        extensions = parse_extensions(data, extensions_sequence)
    return ParsedCertificate(
        version=version,
        serial_number=serial_number,
        signature_algorithm=_oids.SIGNATURE_ALGORITHM_NAMES.get(signature_algorithm, signature_algorithm),
        issuer=issuer,
        subject=subject,
        not_before=not_before,
        not_after=not_after,
        public_key=public_key,
        extensions=extensions,
    )


def _read_version(data: bytes, fields: Reader) -> int:
    """Read the optional [0] EXPLICIT version and return it as 1, 2 or 3."""
    tagged = fields.read_optional(CONTEXT_0_CONSTRUCTED)
    if tagged is None:
        return 1
    inner = Reader.inside(data, tagged)
    value = decode_integer(data, inner.read(INTEGER))
    inner.finish("the version field")
    if value not in (0, 1, 2):
        raise DERError(f"unknown certificate version at offset {tagged.start}", tagged.start)
    return value + 1


def _read_algorithm_oid(data: bytes, algorithm: TLV) -> str:
    """Return the OID of an AlgorithmIdentifier, whose parameters are not checked."""
    reader = Reader.inside(data, algorithm)
    oid = decode_oid(data, reader.read(OBJECT_IDENTIFIER))
    if reader.has_more():
        reader.read_any()
    reader.finish("AlgorithmIdentifier")
    return oid


# Names (RFC 5280 4.1.2.4) as RFC 4514 strings.

# Characters that RFC 4514 2.4 requires to be escaped anywhere in a value.
_ESCAPED_ANYWHERE = frozenset('"+,;<>\\')


def format_name(data: bytes, name: TLV) -> str:
    """Format a Name as an RFC 4514 string, most specific RDN first.

    A Name stores its RDNs from the root down, and RFC 4514 2.1 writes them
    in reverse. The attributes of a multi-valued RDN keep their encoded order,
    joined by ``+``. An attribute without a registered short name is written
    as its dotted OID with the value as ``#`` and the hex of its DER (RFC 4514
    2.4), as is any value that is not a character string. An empty RDN is
    left out. RFC 5280 4.1.2.4 gives each RDN at least one attribute, but
    OpenSSL 3.0 verifies a certificate with an empty one and leaves it out
    when it prints the name.
    """
    rdns: List[str] = []
    for rdn in Reader.inside(data, name).read_all():
        if rdn.tag != SET:
            raise DERError(
                f"expected a SET for a relative distinguished name at offset {rdn.start}", rdn.start
            )
        attributes = [_format_attribute(data, element) for element in Reader.inside(data, rdn).read_all()]
        if attributes:
            rdns.append("+".join(attributes))
    return ",".join(reversed(rdns))


def _format_attribute(data: bytes, element: TLV) -> str:
    oid, value = read_oid_and_value(data, element, "AttributeTypeAndValue")
    short_name = _oids.ATTRIBUTE_NAMES.get(oid)
    if short_name is None or not is_string_tag(value.tag):
        return f"{short_name or oid}=#{encoded_element(data, value).hex()}"
    return f"{short_name}={escape_attribute_value(decode_string(data, value))}"


def escape_attribute_value(text: str) -> str:
    """Escape an attribute value for an RFC 4514 string.

    Special characters get a backslash (RFC 4514 2.4): ``"+,;<>\\`` anywhere,
    ``#`` or a space at the start, and a space at the end. NUL and the other
    ASCII control characters are written as ``\\XX`` hex pairs so that the
    string stays printable on one line. The C1 controls U+0080 to U+009F,
    which terminals run as escape sequences, are written as the ``\\XX``
    pairs of their UTF-8 bytes, as RFC 4514 2.4 allows for any character.
    """
    escaped: List[str] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char in _ESCAPED_ANYWHERE or (index == 0 and char in "# ") or (index == last and char == " "):
            escaped.append("\\" + char)
        elif char < " " or char == "\x7f":
            escaped.append(f"\\{ord(char):02X}")
        elif "\x80" <= char <= "\x9f":
            escaped.append("".join(f"\\{byte:02X}" for byte in char.encode("utf-8")))
        else:
            escaped.append(char)
    return "".join(escaped)


# SubjectPublicKeyInfo (RFC 5280 4.1.2.7).


def parse_public_key(data: bytes, spki: TLV) -> PublicKeyInfo:
    """Read the algorithm and size of a SubjectPublicKeyInfo."""
    reader = Reader.inside(data, spki)
    algorithm = Reader.inside(data, reader.read(SEQUENCE))
    oid = decode_oid(data, algorithm.read(OBJECT_IDENTIFIER))
    parameters = algorithm.read_any() if algorithm.has_more() else None
    algorithm.finish("the public key AlgorithmIdentifier")
    key, unused_bits = decode_bit_string(data, reader.read(BIT_STRING))
    reader.finish("SubjectPublicKeyInfo")
    der = encoded_element(data, spki)

    if oid in (_oids.RSA_ENCRYPTION, _oids.RSASSA_PSS):
        name = "RSA" if oid == _oids.RSA_ENCRYPTION else "RSASSA-PSS"
        return PublicKeyInfo(der, name, _rsa_modulus_bits(key, unused_bits), None)
    if oid == _oids.EC_PUBLIC_KEY:
        curve, size = _named_curve(data, parameters)
        return PublicKeyInfo(der, "EC", size, curve)
    if oid == _oids.DSA:
        return PublicKeyInfo(der, "DSA", _dsa_prime_bits(data, parameters), None)
    if oid in _oids.OCTET_KEY_ALGORITHMS:
        name, key_bytes = _oids.OCTET_KEY_ALGORITHMS[oid]
        # RFC 8410 3: these keys take no parameters and have a fixed length.
        if parameters is not None or unused_bits or len(key) != key_bytes:
            raise DERError(
                f"{name} public key at offset {spki.start} is not {key_bytes} bytes without parameters"
            )
        return PublicKeyInfo(der, name, 8 * key_bytes, None)
    return PublicKeyInfo(der, oid, None, None)


def _rsa_modulus_bits(key: bytes, unused_bits: int) -> int:
    """Return the modulus size of an RSAPublicKey (RFC 8017 A.1.1) held in a BIT STRING."""
    if unused_bits:
        raise DERError("RSA public key BIT STRING has unused bits")
    sequence = expect(key, 0, len(key), SEQUENCE)
    if sequence.end != len(key):
        raise DERError("trailing bytes after the RSA public key")
    reader = Reader.inside(key, sequence)
    modulus = decode_integer(key, reader.read(INTEGER))
    exponent = decode_integer(key, reader.read(INTEGER))
    reader.finish("RSAPublicKey")
    if modulus <= 0 or exponent <= 0:
        raise DERError("RSA public key has a modulus or exponent that is not positive")
    return modulus.bit_length()


def _named_curve(data: bytes, parameters: Optional[TLV]) -> Tuple[Optional[str], Optional[int]]:
    """Return the name and field size of the curve in ECParameters (RFC 5480 2.1.1)."""
    if parameters is None:
        raise DERError("EC public key has no curve parameters")
    if parameters.tag != OBJECT_IDENTIFIER:
        # Explicit curve parameters: RFC 5480 forbids them, but they parse.
        return None, None
    oid = decode_oid(data, parameters)
    name, size = _oids.CURVES.get(oid, (oid, None))
    return name, size


def _dsa_prime_bits(data: bytes, parameters: Optional[TLV]) -> Optional[int]:
    """Return the size of p in Dss-Parms (RFC 3279 2.3.2), or None when the parameters are inherited."""
    if parameters is None or parameters.tag == NULL:
        return None
    if parameters.tag != SEQUENCE:
        raise DERError(f"DSA parameters at offset {parameters.start} are not a SEQUENCE", parameters.start)
    reader = Reader.inside(data, parameters)
    prime = decode_integer(data, reader.read(INTEGER))
    reader.read(INTEGER)
    reader.read(INTEGER)
    reader.finish("Dss-Parms")
    return prime.bit_length() if prime > 0 else None
