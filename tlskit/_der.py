"""Bounds-checked DER primitives: elements, INTEGER, OID, strings, times, BIT STRING.

Every read takes the buffer and an explicit end offset, and checks each length
against that end before slicing, so malformed input raises `DERError` and
never reads past a bound. Only definite lengths exist in DER (X.690 10.1).
Each loop over elements consumes at least two bytes per turn, so every parse
ends in time linear in the input.

The X.509 structure built from these primitives lives in `_x509` and
`_extensions`.
"""

from __future__ import annotations

import datetime
from typing import Dict, List, NamedTuple, Optional, Tuple

from ._errors import CertificateParseError

# Universal tags (X.680 8.4), as they appear in DER with the constructed bit.
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
UTF8_STRING = 0x0C
NUMERIC_STRING = 0x12
PRINTABLE_STRING = 0x13
TELETEX_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
VISIBLE_STRING = 0x1A
UNIVERSAL_STRING = 0x1C
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31
CONTEXT_0_CONSTRUCTED = 0xA0

# Maximum length of one OID subidentifier, in encoded bytes. A UUID arc under
# 2.25 (ITU-T X.667) needs 19 bytes of 7 bits for its 128 bits, and the cap
# keeps hostile OIDs from building huge integers.
MAX_OID_ARC_BYTES = 20


class DERError(CertificateParseError):
    """Malformed or truncated DER input.

    Attributes:
        offset: the byte offset where the problem was found, when known.
    """

    def __init__(self, message: str, offset: Optional[int] = None) -> None:
        super().__init__(message)
        self.offset = offset


class TLV(NamedTuple):
    """One DER element: its tag, where its content starts and where it ends."""

    tag: int
    start: int
    end: int


def read_tlv(data: bytes, offset: int, end: int) -> TLV:
    """Read the tag and length at ``offset`` and return the element's bounds.

    Raises:
        DERError: the element is truncated, uses a multi-byte tag or a
            non-minimal or indefinite length, or runs past ``end``.
    """
    if offset < 0 or end > len(data):
        raise DERError(f"read bounds {offset}..{end} lie outside the {len(data)}-byte input", offset)
    if offset + 2 > end:
        raise DERError(f"truncated element at offset {offset}", offset)
    header = offset
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DERError(f"multi-byte tag at offset {offset} is not used in X.509", offset)
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise DERError(f"indefinite length at offset {offset - 1} is not allowed in DER", offset - 1)
        if count > 4 or offset + count > end:
            raise DERError(f"length of {count} bytes at offset {offset - 1} is out of range", offset - 1)
        length = int.from_bytes(data[offset : offset + count], "big")
        if length < 0x80 or data[offset] == 0:
            raise DERError(f"non-minimal length encoding at offset {offset - 1}", offset - 1)
        offset += count
    if offset + length > end:
        raise DERError(
            f"element at offset {header} claims {length} bytes but only {end - offset} remain", header
        )
    return TLV(tag, offset, offset + length)


def expect(data: bytes, offset: int, end: int, tag: int) -> TLV:
    """Read the element at ``offset`` and check that it has ``tag``."""
    element = read_tlv(data, offset, end)
    if element.tag != tag:
        raise DERError(f"expected tag 0x{tag:02x} at offset {offset}, found 0x{element.tag:02x}", offset)
    return element


class Reader:
    """Read the elements between two offsets of one buffer, in order."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data = data
        self.offset = start
        self.end = end

    @classmethod
    def inside(cls, data: bytes, element: TLV) -> Reader:
        """Return a reader over the content of a constructed ``element``."""
        return cls(data, element.start, element.end)

    def has_more(self) -> bool:
        return self.offset < self.end

    def peek_tag(self) -> Optional[int]:
        """Return the tag of the next element, or None at the end."""
        return self.data[self.offset] if self.offset < self.end else None

    def read_any(self) -> TLV:
        element = read_tlv(self.data, self.offset, self.end)
        self.offset = element.end
        return element

    def read(self, tag: int) -> TLV:
        element = expect(self.data, self.offset, self.end, tag)
        self.offset = element.end
        return element

    def read_optional(self, tag: int) -> Optional[TLV]:
        """Read the next element if it has ``tag``, or return None and read nothing."""
        return self.read(tag) if self.peek_tag() == tag else None

    def read_all(self) -> List[TLV]:
        """Read every remaining element."""
        elements = []
        while self.has_more():
            elements.append(self.read_any())
        return elements

    def finish(self, structure: str) -> None:
        """Raise `DERError` unless every byte up to the end was read."""
        if self.offset != self.end:
            raise DERError(
                f"unexpected data after the last field of {structure} at offset {self.offset}", self.offset
            )


def read_oid_and_value(data: bytes, element: TLV, structure: str) -> Tuple[str, TLV]:
    """Read a SEQUENCE of an OBJECT IDENTIFIER and one element of any type.

    X.509 uses this shape for AttributeTypeAndValue in names and for
    AccessDescription in authorityInfoAccess. ``structure`` names it in errors.

    Raises:
        DERError: ``element`` is not such a SEQUENCE.
    """
    if element.tag != SEQUENCE:
        raise DERError(f"expected an {structure} at offset {element.start}", element.start)
    reader = Reader.inside(data, element)
    oid = decode_oid(data, reader.read(OBJECT_IDENTIFIER))
    value = reader.read_any()
    reader.finish(structure)
    return oid, value


def encoded_element(data: bytes, element: TLV) -> bytes:
    """Return the whole encoding of ``element``, header included."""
    header = 2 if element.end - element.start < 0x80 else 2 + _length_bytes(element.end - element.start)
    return data[element.start - header : element.end]


def _length_bytes(length: int) -> int:
    return (length.bit_length() + 7) // 8


def decode_integer(data: bytes, element: TLV) -> int:
    """Decode a two's complement INTEGER (X.690 8.3), rejecting padded encodings."""
    content = data[element.start : element.end]
    if not content:
        raise DERError(f"INTEGER at offset {element.start} has no content", element.start)
    # X.690 8.3: the first nine bits of a multi-byte INTEGER are never all equal.
    if len(content) > 1 and (
        (content[0] == 0x00 and content[1] < 0x80) or (content[0] == 0xFF and content[1] >= 0x80)
    ):
        raise DERError(f"INTEGER at offset {element.start} has redundant leading bytes", element.start)
    return int.from_bytes(content, "big", signed=True)


def decode_boolean(data: bytes, element: TLV) -> bool:
    """Decode a BOOLEAN of exactly one byte.

    DER requires 0xFF for TRUE (X.690 11.1), but some issued certificates use
    other non-zero bytes, so any non-zero byte is read as TRUE, as OpenSSL does.
    """
    if element.end - element.start != 1:
        raise DERError(f"BOOLEAN at offset {element.start} is not one byte long", element.start)
    return data[element.start] != 0


def decode_oid(data: bytes, element: TLV) -> str:
    """Decode an OBJECT IDENTIFIER (X.690 8.19) to dotted text such as ``"2.5.4.3"``."""
    if element.tag != OBJECT_IDENTIFIER:
        raise DERError(f"expected an OBJECT IDENTIFIER at offset {element.start}", element.start)
    if element.start == element.end:
        raise DERError(f"OBJECT IDENTIFIER at offset {element.start} is empty", element.start)
    arcs: List[int] = []
    value = 0
    arc_bytes = 0
    for position in range(element.start, element.end):
        byte = data[position]
        # X.690 8.19: a subidentifier is never padded with a leading 0x80 byte.
        if arc_bytes == 0 and byte == 0x80:
            raise DERError(f"OBJECT IDENTIFIER at offset {element.start} has a padded arc", element.start)
        arc_bytes += 1
        if arc_bytes > MAX_OID_ARC_BYTES:
            raise DERError(
                f"OBJECT IDENTIFIER at offset {element.start} has an arc longer than "
                f"{MAX_OID_ARC_BYTES} bytes",
                element.start,
            )
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            arcs.append(value)
            value = 0
            arc_bytes = 0
    if arc_bytes:
        raise DERError(f"OBJECT IDENTIFIER at offset {element.start} ends inside an arc", element.start)

    # X.690 8.19: the first subidentifier packs the first two arcs as 40 * X + Y,
    # where X is 0, 1 or 2 and only X = 2 allows Y of 40 or more.
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def decode_bit_string(data: bytes, element: TLV, *, clear_unused_bits: bool = False) -> Tuple[bytes, int]:
    """Decode a BIT STRING (X.690 8.6) to its bytes and the count of unused trailing bits.

    Args:
        clear_unused_bits: set the unused trailing bits to zero instead of
            rejecting ones that are set, as OpenSSL does for a bit list such
            as keyUsage. A key or a signature keeps the default.

    Raises:
        DERError: the element is no BIT STRING, claims more than 7 unused
            bits, or sets an unused bit without ``clear_unused_bits``.
    """
    if element.tag != BIT_STRING:
        raise DERError(f"expected a BIT STRING at offset {element.start}", element.start)
    if element.start == element.end:
        raise DERError(f"BIT STRING at offset {element.start} has no unused-bits byte", element.start)
    unused = data[element.start]
    bits = data[element.start + 1 : element.end]
    if unused > 7 or (unused and not bits):
        raise DERError(f"BIT STRING at offset {element.start} claims {unused} unused bits", element.start)
    padding = (1 << unused) - 1
    if clear_unused_bits and bits[-1:] and bits[-1] & padding:
        return bits[:-1] + bytes([bits[-1] & ~padding & 0xFF]), unused
    # X.690 11.2: DER sets the unused bits to zero.
    if unused and bits[-1] & padding:
        raise DERError(f"BIT STRING at offset {element.start} has non-zero unused bits", element.start)
    return bits, unused


class _StringType(NamedTuple):
    name: str
    codec: str
    unit_bytes: int


# String types of X.520 DirectoryString and of GeneralName, with the codec that
# decodes each. Issued certificates break the small alphabets of the ASCII
# types (OpenSSL 3.0 verifies a PrintableString holding byte 0xE9), and OpenSSL
# prints their bytes as Latin-1, so these types and TeletexString (T.61) are
# decoded as Latin-1: ASCII stays ASCII and no byte fails.
_STRING_TYPES: Dict[int, _StringType] = {
    UTF8_STRING: _StringType("UTF8String", "utf-8", 1),
    NUMERIC_STRING: _StringType("NumericString", "latin-1", 1),
    PRINTABLE_STRING: _StringType("PrintableString", "latin-1", 1),
    TELETEX_STRING: _StringType("TeletexString", "latin-1", 1),
    IA5_STRING: _StringType("IA5String", "latin-1", 1),
    VISIBLE_STRING: _StringType("VisibleString", "latin-1", 1),
    UNIVERSAL_STRING: _StringType("UniversalString", "utf-32-be", 4),
    BMP_STRING: _StringType("BMPString", "utf-16-be", 2),
}


def is_string_tag(tag: int) -> bool:
    return tag in _STRING_TYPES


def decode_string(data: bytes, element: TLV) -> str:
    """Decode one of the ASN.1 character string types to text, leniently where OpenSSL is.

    Bytes outside the alphabet of PrintableString, IA5String, VisibleString or
    NumericString are read as Latin-1. Invalid UTF-8 in a UTF8String, and code
    units of a BMPString or UniversalString that are no character (a lone
    surrogate, a value above U+10FFFF), become U+FFFD.

    Raises:
        DERError: ``element`` is not a character string, or it is a BMPString
            or UniversalString whose length is not a whole number of 2- or
            4-byte code units. OpenSSL 3.0 cannot load a certificate with
            such a name either.
    """
    kind = _STRING_TYPES.get(element.tag)
    if kind is None:
        raise DERError(f"expected a character string at offset {element.start}", element.start)
    raw = data[element.start : element.end]
    if len(raw) % kind.unit_bytes:
        raise DERError(
            f"{kind.name} at offset {element.start} is {len(raw)} bytes long, not a multiple of "
            f"its {kind.unit_bytes}-byte code unit",
            element.start,
        )
    return raw.decode(kind.codec, errors="replace")


def decode_ia5(data: bytes, start: int, end: int) -> str:
    """Decode ``data[start:end]`` as IA5 text, as in GeneralName's implicit tags.

    Bytes above 0x7F are read as Latin-1, as for an IA5String in a name.
    """
    return data[start:end].decode("latin-1")


def decode_time(data: bytes, element: TLV) -> datetime.datetime:
    """Decode a UTCTime or GeneralizedTime to a timezone-aware UTC datetime.

    RFC 5280 4.1.2.5 fixes both forms to UTC with seconds and no fraction:
    ``YYMMDDHHMMSSZ`` and ``YYYYMMDDHHMMSSZ``. A two-digit year of 50 or more
    means 19YY, and below 50 means 20YY.
    """
    raw = data[element.start : element.end]
    if element.tag == UTC_TIME:
        size, year_digits = 13, 2
    elif element.tag == GENERALIZED_TIME:
        size, year_digits = 15, 4
    else:
        raise DERError(f"expected a UTCTime or GeneralizedTime at offset {element.start}", element.start)
    digits = raw[:-1]
    if len(raw) != size or raw[-1:] != b"Z" or not all(0x30 <= byte <= 0x39 for byte in digits):
        raise DERError(
            f"time at offset {element.start} is {raw!r}, not in the RFC 5280 form "
            f"{'YY' if year_digits == 2 else 'YYYY'}MMDDHHMMSSZ",
            element.start,
        )
    year = int(digits[:year_digits])
    if year_digits == 2:
        year += 1900 if year >= 50 else 2000
    month, day, hour, minute, second = (
        int(digits[index : index + 2]) for index in range(year_digits, len(digits), 2)
    )
    try:
        return datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise DERError(f"time at offset {element.start} is not a valid date: {raw!r}", element.start) from exc


def read_spki(cert_der: bytes) -> bytes:
    """Return the DER-encoded SubjectPublicKeyInfo of a certificate, reading nothing else.

    This is the shortest strict path to a pin: it checks the framing of the
    certificate and of each TBSCertificate field up to the SPKI, and the
    SPKI's own structure, but decodes no name, time or extension. So it
    works on a certificate whose other fields tlskit cannot read.

    Raises:
        DERError: the certificate is malformed up to the end of its SPKI.
    """
    data = bytes(cert_der)
    certificate = expect(data, 0, len(data), SEQUENCE)
    if certificate.end != len(data):
        raise DERError("trailing bytes after the certificate", certificate.end)
    tbs = expect(data, certificate.start, certificate.end, SEQUENCE)

    # TBSCertificate (RFC 5280 4.1): [0] version (optional), serialNumber,
    # then signature, issuer, validity and subject, four SEQUENCEs.
    fields = Reader.inside(data, tbs)
    fields.read_optional(CONTEXT_0_CONSTRUCTED)
    fields.read(INTEGER)
    for _ in range(4):
        fields.read(SEQUENCE)
    spki = fields.read(SEQUENCE)

    # SubjectPublicKeyInfo: AlgorithmIdentifier (an OID and optional
    # parameters) and the key as a BIT STRING, nothing more.
    reader = Reader.inside(data, spki)
    algorithm = Reader.inside(data, reader.read(SEQUENCE))
    decode_oid(data, algorithm.read(OBJECT_IDENTIFIER))
    if algorithm.has_more():
        algorithm.read_any()
    algorithm.finish("the public key AlgorithmIdentifier")
    decode_bit_string(data, reader.read(BIT_STRING))
    reader.finish("SubjectPublicKeyInfo")
    return encoded_element(data, spki)
