"""Facts about a peer certificate computed from its DER bytes: SPKI pin, fingerprint."""

from __future__ import annotations

import base64
import hashlib

from ._der import read_spki

PIN_PREFIX = "sha256/"


def spki_pin(cert_der: bytes) -> str:
    """Return the ``"sha256/<base64>"`` pin of a certificate's SubjectPublicKeyInfo.

    This is the pin form that curl (``--pinnedpubkey``) and OkHttp use: the
    SHA-256 digest of the DER-encoded SPKI, in standard base64 with padding.
    """
    digest = hashlib.sha256(read_spki(cert_der)).digest()
    return PIN_PREFIX + base64.b64encode(digest).decode("ascii")


def sha256_fingerprint(cert_der: bytes) -> str:
    """Return the SHA-256 fingerprint of the whole certificate as colon-separated hex."""
    return hashlib.sha256(cert_der).digest().hex(":").upper()
