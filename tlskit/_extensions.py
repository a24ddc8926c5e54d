"""Certificate extensions (RFC 5280 4.2): every extension's OID and flag, and a few decoded.

`parse_extensions` records each extension's OID, critical flag and raw value,
and decodes the ones tlskit reports: subjectAltName, basicConstraints,
keyUsage, extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier and
authorityInfoAccess.

The framing of the list and of each Extension is essential, and a fault there
raises `DERError`, because OpenSSL cannot load such a certificate either. The
values are optional:

- Any other extension is kept as raw bytes and never decoded, even when
  critical. Its value need not be DER at all. OpenSSL's verification has
  already rejected unknown critical extensions on a verified connection.
- A known extension whose value cannot be decoded, or that appears more than
  once, gets the reason in `CertificateExtension.error`, and the facts it would
  give keep their defaults, as if it were absent. The rest of the certificate
  is still read.
"""

from __future__ import annotations

import ipaddress
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple, TypeVar

from . import _oids
from ._der import (
    BOOLEAN,
    INTEGER,
    OBJECT_IDENTIFIER,
    OCTET_STRING,
    SEQUENCE,
    TLV,
    DERError,
    Reader,
    decode_bit_string,
    decode_boolean,
    decode_ia5,
    decode_integer,
    decode_oid,
    read_oid_and_value,
)

# GeneralName tags (RFC 5280 4.2.1.6), all IMPLICIT except directoryName,
# whose Name is a CHOICE and so keeps an EXPLICIT tag.
OTHER_NAME = 0xA0
RFC822_NAME = 0x81
DNS_NAME = 0x82
X400_ADDRESS = 0xA3
DIRECTORY_NAME = 0xA4
EDI_PARTY_NAME = 0xA5
URI = 0x86
IP_ADDRESS = 0x87
REGISTERED_ID = 0x88
_GENERAL_NAME_TAGS = frozenset(
    (
        OTHER_NAME,
        RFC822_NAME,
        DNS_NAME,
        X400_ADDRESS,
        DIRECTORY_NAME,
        EDI_PARTY_NAME,
        URI,
        IP_ADDRESS,
        REGISTERED_ID,
    )
)

# The fields of authorityKeyIdentifier, all IMPLICIT: [0] keyIdentifier,
# [1] authorityCertIssuer (GeneralNames), [2] authorityCertSerialNumber.
KEY_IDENTIFIER = 0x80
AUTHORITY_CERT_ISSUER = 0xA1
AUTHORITY_CERT_SERIAL_NUMBER = 0x82


class CertificateExtension(NamedTuple):
    """One certificate extension as recorded, decoded or not.

    Attributes:
        oid: the extension's dotted OID, such as ``"2.5.29.17"``.
        critical: the critical flag; False when the field is absent.
        value: the bytes inside the extnValue OCTET STRING, as the
            certificate has them, whether or not they are DER.
        error: why tlskit could not decode the value of an extension that it
            decodes, or None. Always None for the extensions it keeps raw.
    """

    oid: str
    critical: bool
    value: bytes
    error: Optional[str] = None

    @property
    def name(self) -> str:
        """The extension's RFC 5280 identifier, such as ``"subjectAltName"``, or its dotted OID."""
        return _oids.EXTENSION_NAMES.get(self.oid, self.oid)


class DecodedExtensions(NamedTuple):
    """Every extension of a certificate and the values decoded from the known ones."""

    extensions: Tuple[CertificateExtension, ...] = ()
    dns_names: Tuple[str, ...] = ()
    ip_addresses: Tuple[str, ...] = ()
    uris: Tuple[str, ...] = ()
    emails: Tuple[str, ...] = ()
    is_ca: bool = False
    path_length: Optional[int] = None
    key_usage: Optional[Tuple[str, ...]] = None
    extended_key_usage: Optional[Tuple[str, ...]] = None
    subject_key_identifier: Optional[bytes] = None
    authority_key_identifier: Optional[bytes] = None
    ocsp_urls: Tuple[str, ...] = ()
    ca_issuers_urls: Tuple[str, ...] = ()


# DNS names, IP addresses, URIs and email addresses of GeneralNames.
GeneralNameLists = Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]
# OCSP and CA Issuers URIs of authorityInfoAccess.
AccessURLs = Tuple[Tuple[str, ...], Tuple[str, ...]]

# What an absent extension gives, and one that cannot be decoded.
_NO_GENERAL_NAMES: GeneralNameLists = ((), (), (), ())
_NOT_A_CA: Tuple[bool, Optional[int]] = (False, None)
_NO_ACCESS_URLS: AccessURLs = ((), ())


def parse_extensions(data: bytes, extensions: Optional[TLV]) -> DecodedExtensions:
    """Read an Extensions SEQUENCE, or return the empty result for None.

    Raises:
        DERError: the list or one of its Extension SEQUENCEs is malformed.
            A value that tlskit cannot decode raises nothing; see the module
            docstring.
    """
    if extensions is None:
        return DecodedExtensions()
    values = _ExtensionValues(
        data, [_read_extension(data, item) for item in Reader.inside(data, extensions).read_all()]
    )

    dns_names, ip_addresses, uris, emails = values.decode(
        _oids.SUBJECT_ALT_NAME, _read_general_names, _NO_GENERAL_NAMES
    )
    is_ca, path_length = values.decode(_oids.BASIC_CONSTRAINTS, _read_basic_constraints, _NOT_A_CA)
    ocsp_urls, ca_issuers_urls = values.decode(
        _oids.AUTHORITY_INFO_ACCESS, _read_authority_info_access, _NO_ACCESS_URLS
    )
    return DecodedExtensions(
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        uris=uris,
        emails=emails,
        is_ca=is_ca,
        path_length=path_length,
        key_usage=values.decode(_oids.KEY_USAGE, _read_key_usage, None),
        extended_key_usage=values.decode(_oids.EXTENDED_KEY_USAGE, _read_extended_key_usage, None),
        subject_key_identifier=values.decode(
            _oids.SUBJECT_KEY_IDENTIFIER, _read_subject_key_identifier, None
        ),
        authority_key_identifier=values.decode(
            _oids.AUTHORITY_KEY_IDENTIFIER, _read_authority_key_identifier, None
        ),
        ocsp_urls=ocsp_urls,
        ca_issuers_urls=ca_issuers_urls,
        # Last, so that it carries the errors that decoding recorded.
        extensions=values.recorded(),
    )


def _read_extension(data: bytes, element: TLV) -> Tuple[CertificateExtension, TLV]:
    """Read one Extension and return it with its extnValue OCTET STRING, whose content is not read."""
    if element.tag != SEQUENCE:
        raise DERError(f"expected an Extension SEQUENCE at offset {element.start}", element.start)
    reader = Reader.inside(data, element)
    oid = decode_oid(data, reader.read(OBJECT_IDENTIFIER))
    flag = reader.read_optional(BOOLEAN)
    critical = flag is not None and decode_boolean(data, flag)
    octets = reader.read(OCTET_STRING)
    reader.finish("Extension")
    return CertificateExtension(oid, critical, data[octets.start : octets.end]), octets


DecodedT = TypeVar("DecodedT")


class _ExtensionValues:
    """The recorded extensions of one certificate, decoded one known OID at a time."""

    def __init__(self, data: bytes, extensions: List[Tuple[CertificateExtension, TLV]]) -> None:
        self.data = data
        self.extensions = [extension for extension, _ in extensions]
        self.octets = [octets for _, octets in extensions]

    def decode(self, oid: str, read: Callable[[bytes, TLV], DecodedT], default: DecodedT) -> DecodedT:
        """Decode the one extension ``oid`` with ``read``, or return ``default``.

        ``default`` stands for an absent extension, and also for one that
        appears more than once or whose value ``read`` rejects. Those two
        cases record the reason in the extension's ``error``.
        """
        found = [index for index, extension in enumerate(self.extensions) if extension.oid == oid]
        if not found:
            return default
        if len(found) > 1:
            # RFC 5280 4.2 allows one instance of each extension, and OpenSSL
            # 3.0 rejects a certificate with two of one it knows. No instance
            # is trusted over another.
            for index in found:
                self._fail(index, f"appears {len(found)} times, but RFC 5280 4.2 allows one instance")
            return default
        index = found[0]
        try:
            return read(self.data, self._single_element(index))
        except DERError as exc:
            self._fail(index, str(exc))
            return default

    def recorded(self) -> Tuple[CertificateExtension, ...]:
        return tuple(self.extensions)

    def _single_element(self, index: int) -> TLV:
        """Return the one DER element that the value of a known extension must be."""
        octets = self.octets[index]
        inner = Reader(self.data, octets.start, octets.end)
        value = inner.read_any()
        inner.finish(f"the {self.extensions[index].name} extension")
        return value

    def _fail(self, index: int, reason: str) -> None:
        self.extensions[index] = self.extensions[index]._replace(error=reason)


def _read_general_names(data: bytes, names: TLV) -> GeneralNameLists:
    """Return the DNS names, IP addresses, URIs and email addresses of GeneralNames.

    Other name forms (otherName, directoryName and the rest) are checked for a
    valid tag and skipped.
    """
    if names.tag != SEQUENCE:
        raise DERError(f"subjectAltName at offset {names.start} is not a SEQUENCE", names.start)
    found: Dict[int, List[str]] = {DNS_NAME: [], IP_ADDRESS: [], URI: [], RFC822_NAME: []}
    for name in Reader.inside(data, names).read_all():
        text = _read_general_name(data, name)
        if text is not None:
            found[name.tag].append(text)
    return tuple(found[DNS_NAME]), tuple(found[IP_ADDRESS]), tuple(found[URI]), tuple(found[RFC822_NAME])


def _read_general_name(data: bytes, name: TLV) -> Optional[str]:
    """Return a DNS name, IP address, URI or email address as text, or None for other forms."""
    if name.tag not in _GENERAL_NAME_TAGS:
        raise DERError(f"unknown GeneralName tag 0x{name.tag:02x} at offset {name.start}", name.start)
    if name.tag in (DNS_NAME, URI, RFC822_NAME):
        return decode_ia5(data, name.start, name.end)
    if name.tag == IP_ADDRESS:
        return _format_ip_address(data[name.start : name.end], name.start)
    return None


def _format_ip_address(raw: bytes, offset: int) -> str:
    """Format an iPAddress: an address, or an address and mask as ``"10.0.0.0/8"``.

    RFC 5280 4.2.1.6 allows four bytes for IPv4 and sixteen for IPv6 in a
    subjectAltName, and the address-and-mask form (8 or 32 bytes) only in name
    constraints. Some issuers, trustme among them, still put networks in
    subjectAltName, so that form is shown rather than rejected.
    """
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    if len(raw) not in (8, 32):
        raise DERError(f"iPAddress at offset {offset} is {len(raw)} bytes, not 4, 8, 16 or 32", offset)
    half = len(raw) // 2
    bits = 8 * half
    mask = int.from_bytes(raw[half:], "big")
    prefix = bin(mask).count("1")
    if mask != ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1):
        raise DERError(f"iPAddress at offset {offset} has a mask whose one bits are not contiguous", offset)
    network = ipaddress.ip_network((ipaddress.ip_address(raw[:half]), prefix), strict=False)
    return str(network)


def _read_basic_constraints(data: bytes, value: TLV) -> Tuple[bool, Optional[int]]:
    """Return cA and pathLenConstraint (RFC 5280 4.2.1.9)."""
    if value.tag != SEQUENCE:
        raise DERError(f"basicConstraints at offset {value.start} is not a SEQUENCE", value.start)
    reader = Reader.inside(data, value)
    flag = reader.read_optional(BOOLEAN)
    is_ca = flag is not None and decode_boolean(data, flag)
    limit = reader.read_optional(INTEGER)
    reader.finish("basicConstraints")
    if limit is None:
        return is_ca, None
    path_length = decode_integer(data, limit)
    if path_length < 0:
        raise DERError(
            f"basicConstraints at offset {value.start} has a negative pathLenConstraint", value.start
        )
    return is_ca, path_length


def _read_key_usage(data: bytes, value: TLV) -> Optional[Tuple[str, ...]]:
    """Return the names of the keyUsage bits that are set (RFC 5280 4.2.1.3), bit 0 first.

    Bits past decipherOnly have no name and are not reported, and unused
    trailing bits that are set are ignored, as OpenSSL ignores them.
    """
    bits, _ = decode_bit_string(data, value, clear_unused_bits=True)
    return tuple(
        name
        for index, name in enumerate(_oids.KEY_USAGE_BITS)
        if index // 8 < len(bits) and bits[index // 8] & (0x80 >> (index % 8))
    )


def _read_extended_key_usage(data: bytes, value: TLV) -> Optional[Tuple[str, ...]]:
    """Return the key purposes of extKeyUsage (RFC 5280 4.2.1.12) by name or dotted OID."""
    if value.tag != SEQUENCE:
        raise DERError(f"extKeyUsage at offset {value.start} is not a SEQUENCE", value.start)
    purposes = [decode_oid(data, element) for element in Reader.inside(data, value).read_all()]
    return tuple(_oids.KEY_PURPOSE_NAMES.get(oid, oid) for oid in purposes)


def _read_subject_key_identifier(data: bytes, value: TLV) -> Optional[bytes]:
    """Return the subjectKeyIdentifier OCTET STRING (RFC 5280 4.2.1.2)."""
    if value.tag != OCTET_STRING:
        raise DERError(f"subjectKeyIdentifier at offset {value.start} is not an OCTET STRING", value.start)
    return data[value.start : value.end]


def _read_authority_key_identifier(data: bytes, value: TLV) -> Optional[bytes]:
    """Return the keyIdentifier of authorityKeyIdentifier (RFC 5280 4.2.1.1), if it has one.

    The authorityCertIssuer and authorityCertSerialNumber fields are skipped.
    """
    if value.tag != SEQUENCE:
        raise DERError(f"authorityKeyIdentifier at offset {value.start} is not a SEQUENCE", value.start)
    reader = Reader.inside(data, value)
    key_identifier = reader.read_optional(KEY_IDENTIFIER)
    reader.read_optional(AUTHORITY_CERT_ISSUER)
    reader.read_optional(AUTHORITY_CERT_SERIAL_NUMBER)
    reader.finish("authorityKeyIdentifier")
    return None if key_identifier is None else data[key_identifier.start : key_identifier.end]


def _read_authority_info_access(data: bytes, value: TLV) -> AccessURLs:
    """Return the OCSP and CA Issuers URIs of authorityInfoAccess (RFC 5280 4.2.2.1).

    Access locations that are not URIs are skipped, as are other access methods.
    """
    if value.tag != SEQUENCE:
        raise DERError(f"authorityInfoAccess at offset {value.start} is not a SEQUENCE", value.start)
    found: Dict[str, List[str]] = {_oids.AD_OCSP: [], _oids.AD_CA_ISSUERS: []}
    for description in Reader.inside(data, value).read_all():
        method, location = read_oid_and_value(data, description, "AccessDescription")
        text = _read_general_name(data, location)
        if location.tag == URI and text is not None and method in found:
            found[method].append(text)
    return tuple(found[_oids.AD_OCSP]), tuple(found[_oids.AD_CA_ISSUERS])
