"""A small DER encoder for tests: hand-built certificates with exact, unusual fields.

OpenSSL will not issue some certificates the reader must handle (a negative
serial, a BMPString name, a duplicate extension, a year before 1950), so
these helpers build them byte by byte. The signature is a placeholder:
the reader never verifies signatures.
"""

from __future__ import annotations

import datetime
from typing import Iterable, List, Optional, Sequence, Tuple

SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
ED25519 = "1.3.101.112"


def tlv(tag: int, content: bytes) -> bytes:
    """Encode one element with a minimal definite length."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def boolean(value: bool) -> bytes:
    return tlv(0x01, b"\xff" if value else b"\x00")


def octet_string(content: bytes) -> bytes:
    return tlv(0x04, content)


def bit_string(content: bytes, unused_bits: int = 0) -> bytes:
    return tlv(0x03, bytes([unused_bits]) + content)


def oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    values = [40 * arcs[0] + arcs[1]] + arcs[2:]
    body = bytearray()
    for value in values:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def utc_time(moment: datetime.datetime) -> bytes:
    return tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))


def generalized_time(moment: datetime.datetime) -> bytes:
    return tlv(0x18, f"{moment.year:04d}{moment.strftime('%m%d%H%M%S')}Z".encode("ascii"))


def name(*rdns: Sequence[Tuple[str, bytes]]) -> bytes:
    """Encode a Name from RDNs, root first; each RDN lists (OID, encoded value) pairs."""
    return sequence(*(set_of(*(sequence(oid(type_oid), value) for type_oid, value in rdn)) for rdn in rdns))


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def printable(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


def extension(extension_oid: str, value: bytes, critical: Optional[bool] = None) -> bytes:
    flag = b"" if critical is None else boolean(critical)
    return sequence(oid(extension_oid), flag, octet_string(value))


def ed25519_spki(key: bytes = bytes(range(32))) -> bytes:
    return sequence(sequence(oid(ED25519)), bit_string(key))


def rsa_spki(modulus: int, exponent: int = 65537) -> bytes:
    return sequence(
        sequence(oid("1.2.840.113549.1.1.1"), tlv(0x05, b"")),
        bit_string(sequence(integer(modulus), integer(exponent))),
    )


NOT_BEFORE = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2034, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
DEFAULT_NAME = name([("2.5.4.3", utf8("synthetic.test"))])


def certificate(
    *,
    version: Optional[int] = 2,
    serial: int = 4096,
    issuer: bytes = DEFAULT_NAME,
    subject: bytes = DEFAULT_NAME,
    validity: Optional[bytes] = None,
    spki: Optional[bytes] = None,
    extensions: Optional[Iterable[bytes]] = None,
    signature_oid: str = SHA256_WITH_RSA,
    extra_tbs_fields: bytes = b"",
) -> bytes:
    """Build a certificate; ``version`` is the encoded value (2 means v3), None omits it."""
    algorithm = sequence(oid(signature_oid), tlv(0x05, b""))
    fields: List[bytes] = []
    if version is not None:
        fields.append(tlv(0xA0, integer(version)))
    fields += [
        integer(serial),
        algorithm,
        issuer,
        validity if validity is not None else sequence(utc_time(NOT_BEFORE), utc_time(NOT_AFTER)),
        subject,
        spki if spki is not None else ed25519_spki(),
    ]
    if extensions is not None:
        fields.append(tlv(0xA3, sequence(*extensions)))
    tbs = sequence(*fields, extra_tbs_fields)
    return sequence(tbs, algorithm, bit_string(b"\x00" * 64))
