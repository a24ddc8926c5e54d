"""Bounds-checked DER reader for the parts of X.509 that tlskit needs.

Every read takes the buffer and an explicit end offset, and checks each length
against that end before slicing, so malformed input raises `DERError` and
never reads past a bound. Only definite lengths exist in DER (X.690 10.1).
"""

from __future__ import annotations

from typing import NamedTuple

SEQUENCE = 0x30
CONTEXT_0_CONSTRUCTED = 0xA0


class DERError(ValueError):
    """Malformed or truncated DER input."""


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
    if offset + 2 > end:
        raise DERError(f"truncated element at offset {offset}")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DERError(f"multi-byte tag at offset {offset} is not used in X.509")
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise DERError(f"indefinite length at offset {offset - 1} is not allowed in DER")
        if count > 4 or offset + count > end:
            raise DERError(f"length of {count} bytes at offset {offset - 1} is out of range")
        length = int.from_bytes(data[offset : offset + count], "big")
        if length < 0x80 or data[offset] == 0:
            raise DERError(f"non-minimal length encoding at offset {offset - 1}")
        offset += count
    if offset + length > end:
        raise DERError(f"element at offset {offset} claims {length} bytes but only {end - offset} remain")
    return TLV(tag, offset, offset + length)


def expect(data: bytes, offset: int, end: int, tag: int) -> TLV:
    """Read the element at ``offset`` and check that it has ``tag``."""
    element = read_tlv(data, offset, end)
    if element.tag != tag:
        raise DERError(f"expected tag 0x{tag:02x} at offset {offset}, found 0x{element.tag:02x}")
    return element


def read_spki(cert_der: bytes) -> bytes:
    """Return the DER-encoded SubjectPublicKeyInfo of a certificate.

    Raises:
        DERError: the certificate is malformed.
    """
    data = bytes(cert_der)
    certificate = expect(data, 0, len(data), SEQUENCE)
    if certificate.end != len(data):
        raise DERError("trailing bytes after the certificate")
    tbs = expect(data, certificate.start, certificate.end, SEQUENCE)

    # TBSCertificate (RFC 5280 4.1): [0] version (optional), serialNumber,
    # signature, issuer, validity, subject, subjectPublicKeyInfo.
    offset = tbs.start
    element = read_tlv(data, offset, tbs.end)
    if element.tag == CONTEXT_0_CONSTRUCTED:
        offset = element.end
    for _ in range(5):
        offset = read_tlv(data, offset, tbs.end).end
    spki = expect(data, offset, tbs.end, SEQUENCE)
    return data[offset : spki.end]
