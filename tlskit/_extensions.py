"""Certificate extensions (RFC 5280 4.2): every extension's OID and flag, and a few decoded.

`parse_extensions` records each extension's OID, critical flag and value, and
decodes the ones tlskit reports: subjectAltName, basicConstraints, keyUsage,
extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier and
authorityInfoAccess. Other extensions are recorded but not decoded, even when
critical: this reader describes a certificate, and OpenSSL's verification has
already rejected unknown critical extensions on a verified connection.
"""

from __future__ import annotations

import ipaddress
from typing import Dict, List, NamedTuple, Optional, Tuple

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
        value: the DER inside the extnValue OCTET STRING.
    """

    oid: str
    critical: bool
    value: bytes

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


def parse_extensions(data: bytes, extensions: Optional[TLV]) -> DecodedExtensions:
    """Read an Extensions SEQUENCE, or return the empty result for None.

    Raises:
        DERError: an extension is malformed, or appears twice (RFC 5280 4.2
            allows one instance of each).
    """
    if extensions is None:
        return DecodedExtensions()
    recorded: List[CertificateExtension] = []
    values: Dict[str, TLV] = {}
    for element in Reader.inside(data, extensions).read_all():
        extension, value = _read_extension(data, element)
        if extension.oid in values:
            raise DERError(
                f"extension {extension.name} appears twice, at offset {element.start}", element.start
            )
        values[extension.oid] = value
        recorded.append(extension)

    dns_names, ip_addresses, uris, emails = _read_general_names(data, values.get(_oids.SUBJECT_ALT_NAME))
    is_ca, path_length = _read_basic_constraints(data, values.get(_oids.BASIC_CONSTRAINTS))
    ocsp_urls, ca_issuers_urls = _read_authority_info_access(data, values.get(_oids.AUTHORITY_INFO_ACCESS))
    return DecodedExtensions(
        extensions=tuple(recorded),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        uris=uris,
        emails=emails,
        is_ca=is_ca,
        path_length=path_length,
        key_usage=_read_key_usage(data, values.get(_oids.KEY_USAGE)),
        extended_key_usage=_read_extended_key_usage(data, values.get(_oids.EXTENDED_KEY_USAGE)),
        subject_key_identifier=_read_subject_key_identifier(data, values.get(_oids.SUBJECT_KEY_IDENTIFIER)),
        authority_key_identifier=_read_authority_key_identifier(
            data, values.get(_oids.AUTHORITY_KEY_IDENTIFIER)
        ),
        ocsp_urls=ocsp_urls,
        ca_issuers_urls=ca_issuers_urls,
    )


def _read_extension(data: bytes, element: TLV) -> Tuple[CertificateExtension, TLV]:
    """Read one Extension and return it with the single element inside its extnValue."""
    if element.tag != SEQUENCE:
        raise DERError(f"expected an Extension SEQUENCE at offset {element.start}", element.start)
    reader = Reader.inside(data, element)
    oid = decode_oid(data, reader.read(OBJECT_IDENTIFIER))
    flag = reader.read_optional(BOOLEAN)
    critical = flag is not None and decode_boolean(data, flag)
    octets = reader.read(OCTET_STRING)
    reader.finish("Extension")

    inner = Reader.inside(data, octets)
    value = inner.read_any()
    inner.finish(f"the {_oids.EXTENSION_NAMES.get(oid, oid)} extension")
    return CertificateExtension(oid, critical, data[octets.start : octets.end]), value


def _read_general_names(
    data: bytes, names: Optional[TLV]
) -> Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]:
    """Return the DNS names, IP addresses, URIs and email addresses of GeneralNames.

    Other name forms (otherName, directoryName and the rest) are checked for a
    valid tag and skipped.
    """
    if names is None:
        return (), (), (), ()
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


def _read_basic_constraints(data: bytes, value: Optional[TLV]) -> Tuple[bool, Optional[int]]:
    """Return cA and pathLenConstraint (RFC 5280 4.2.1.9); cA is False without the extension."""
    if value is None:
        return False, None
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


def _read_key_usage(data: bytes, value: Optional[TLV]) -> Optional[Tuple[str, ...]]:
    """Return the names of the keyUsage bits that are set (RFC 5280 4.2.1.3), bit 0 first.

    Bits past decipherOnly have no name and are not reported.
    """
    if value is None:
        return None
    bits, _ = decode_bit_string(data, value)
    return tuple(
        name
        for index, name in enumerate(_oids.KEY_USAGE_BITS)
        if index // 8 < len(bits) and bits[index // 8] & (0x80 >> (index % 8))
    )


def _read_extended_key_usage(data: bytes, value: Optional[TLV]) -> Optional[Tuple[str, ...]]:
    """Return the key purposes of extKeyUsage (RFC 5280 4.2.1.12) by name or dotted OID."""
    if value is None:
        return None
    if value.tag != SEQUENCE:
        raise DERError(f"extKeyUsage at offset {value.start} is not a SEQUENCE", value.start)
    purposes = [decode_oid(data, element) for element in Reader.inside(data, value).read_all()]
    return tuple(_oids.KEY_PURPOSE_NAMES.get(oid, oid) for oid in purposes)


def _read_subject_key_identifier(data: bytes, value: Optional[TLV]) -> Optional[bytes]:
    """Return the subjectKeyIdentifier OCTET STRING (RFC 5280 4.2.1.2)."""
    if value is None:
        return None
    if value.tag != OCTET_STRING:
        raise DERError(f"subjectKeyIdentifier at offset {value.start} is not an OCTET STRING", value.start)
    return data[value.start : value.end]


def _read_authority_key_identifier(data: bytes, value: Optional[TLV]) -> Optional[bytes]:
    """Return the keyIdentifier of authorityKeyIdentifier (RFC 5280 4.2.1.1), if it has one.

    The authorityCertIssuer and authorityCertSerialNumber fields are skipped.
    """
    if value is None:
        return None
    if value.tag != SEQUENCE:
        raise DERError(f"authorityKeyIdentifier at offset {value.start} is not a SEQUENCE", value.start)
    reader = Reader.inside(data, value)
    key_identifier = reader.read_optional(KEY_IDENTIFIER)
    reader.read_optional(AUTHORITY_CERT_ISSUER)
    reader.read_optional(AUTHORITY_CERT_SERIAL_NUMBER)
    reader.finish("authorityKeyIdentifier")
    return None if key_identifier is None else data[key_identifier.start : key_identifier.end]


def _read_authority_info_access(data: bytes, value: Optional[TLV]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """Return the OCSP and CA Issuers URIs of authorityInfoAccess (RFC 5280 4.2.2.1).

    Access locations that are not URIs are skipped, as are other access methods.
    """
    if value is None:
        return (), ()
    if value.tag != SEQUENCE:
        raise DERError(f"authorityInfoAccess at offset {value.start} is not a SEQUENCE", value.start)
    found: Dict[str, List[str]] = {_oids.AD_OCSP: [], _oids.AD_CA_ISSUERS: []}
    for description in Reader.inside(data, value).read_all():
        if description.tag != SEQUENCE:
            raise DERError(f"expected an AccessDescription at offset {description.start}", description.start)
        reader = Reader.inside(data, description)
        method = decode_oid(data, reader.read(OBJECT_IDENTIFIER))
        location = reader.read_any()
        reader.finish("AccessDescription")
        text = _read_general_name(data, location)
        if location.tag == URI and text is not None and method in found:
            found[method].append(text)
    return tuple(found[_oids.AD_OCSP]), tuple(found[_oids.AD_CA_ISSUERS])
