"""Expiry warnings: one WARNING per certificate per process, whatever the source.

Two places look for certificates that expire soon: the peer cache (the
server's chain), and `warn_expiring_policy_certificates` when a context is
built (the client certificate, and each CA of a custom bundle). Both
call `claim_warning` with the certificate's SHA-256 fingerprint, so a
certificate that two sources see is reported once. A child process after
`os.fork` starts with an empty set and warns again, once.

A context build reads the CA bundle a second time for this check. Only the
validity of each certificate is decoded, so a bundle of a few hundred CAs
costs milliseconds, and a certificate is parsed in full only to name it in
a warning.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import threading
from typing import Iterable, List, Optional, Set, Tuple, Union

from ._certs import PeerCertificate, format_days, pem_to_der_list
from ._der import SEQUENCE, Reader, decode_time, expect
from ._errors import CertificateParseError
from ._log import get_logger
from ._policy import PathType, TLSPolicy

log = get_logger(__name__)

# How warnings name the files of a policy; the command line names its options instead.
CLIENT_CERT_SOURCE = "the client certificate file TLSPolicy.client_cert"
CAFILE_SOURCE = "a certificate of TLSPolicy.cafile"

_CONTEXT_0_CONSTRUCTED = 0xA0

_warned: Set[str] = set()
_warned_lock = threading.Lock()


def claim_warning(fingerprint: str) -> bool:
    """Return True the first time this process calls it with ``fingerprint``, and False after that.

    Args:
        fingerprint: the certificate's SHA-256 in hex, with or without colons.
    """
    key = fingerprint.replace(":", "").lower()
    with _warned_lock:
        if key in _warned:
            return False
        _warned.add(key)
        return True


def warn_expiring_policy_certificates(policy: TLSPolicy) -> None:
    """Warn about the client certificate and custom CAs of ``policy`` that expire soon.

    Uses ``policy.expiry_warning_days``; None turns the check off.
    """
    days = policy.expiry_warning_days
    if days is None:
        return
    # TLSPolicy rejects a client certificate given both as a file and as data.
    _warn_file_and_data(
        policy.client_cert,
        policy.client_cert_data,
        days,
        CLIENT_CERT_SOURCE,
        "the client certificate in TLSPolicy.client_cert_data",
    )
    if policy.verify:
        _warn_file_and_data(
            policy.cafile, policy.cadata, days, CAFILE_SOURCE, "a certificate of TLSPolicy.cadata"
        )


def _warn_file_and_data(
    path: Optional[PathType], data: Union[str, bytes, None], days: int, file_source: str, data_source: str
) -> None:
    """Warn about the certificates of a file field and of its in-memory twin, where they are set."""
    if path is not None:
        source = f"{file_source} {os.fspath(path)!r}"
        warn_expiring_certificates(read_certificate_file(path), days, source)
    if data is not None:
        warn_expiring_certificates(read_certificate_data(data), days, data_source)


def _forget_after_fork() -> None:
    global _warned_lock
    # The forking thread may have held the lock, so the child gets a new one.
    _warned_lock = threading.Lock()
    _warned.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def read_validity(der: bytes) -> Tuple[datetime.datetime, datetime.datetime]:
    """Return the notBefore and notAfter of a DER certificate, decoding nothing else.

    Raises:
        DERError: the certificate is malformed up to its validity.
    """
    certificate = expect(der, 0, len(der), SEQUENCE)
    fields = Reader.inside(der, Reader.inside(der, certificate).read(SEQUENCE))
    fields.read_optional(_CONTEXT_0_CONSTRUCTED)  # version
    fields.read_any()  # serialNumber
    fields.read(SEQUENCE)  # signature
    fields.read(SEQUENCE)  # issuer
    validity = Reader.inside(der, fields.read(SEQUENCE))
    return decode_time(der, validity.read_any()), decode_time(der, validity.read_any())


def warn_if_expiring(der: bytes, days: int, source: str, now: Optional[datetime.datetime] = None) -> bool:
    """Log a WARNING if the certificate ``der`` expires within ``days`` days, once per process.

    Args:
        der: the certificate.
        days: the warning threshold in days; a certificate already expired
            is reported too.
        source: where the certificate comes from, such as
            ``"the client certificate in TLSPolicy.client_cert 'client.pem'"``.
        now: the current time; the clock's when None.

    Returns:
        Whether a warning was logged.

    Raises:
        CertificateParseError: the certificate is malformed.
    """
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    _, not_after = read_validity(der)
    left = (not_after - moment) // datetime.timedelta(days=1)
    if left > days or not claim_warning(hashlib.sha256(der).hexdigest()):
        return False
    cert = PeerCertificate.from_der(der)
    when = not_after.strftime("%Y-%m-%d %H:%M UTC")
    if left < 0:
        log.warning("%s, %r, expired on %s. Replace or remove it.", source, cert.subject, when)
    else:
        log.warning(
            "%s, %r, expires in %s, on %s (SHA-256 %s). Renew it before then.",
            source,
            cert.subject,
            format_days(left),
            when,
            cert.sha256_fingerprint,
        )
    return True


def warn_expiring_certificates(
    certificates: Iterable[bytes], days: int, source: str, now: Optional[datetime.datetime] = None
) -> int:
    """Run `warn_if_expiring` on each certificate, skipping malformed ones; return the warnings logged."""
    warned = 0
    for der in certificates:
        try:
            warned += warn_if_expiring(der, days, source, now)
        except CertificateParseError as exc:
            log.debug("skipped a malformed certificate of %s: %s", source, exc)
    return warned


def read_certificate_file(path: PathType) -> List[bytes]:
    """Return the DER certificates of a PEM file, or none when it cannot be read.

    Loading the file into the context has already raised `PolicyError` for
    a file that matters, so a failure here is only logged at DEBUG.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        log.debug("could not read %s for expiry warnings: %s", os.fspath(path), exc)
        return []
    return read_certificate_data(data)


def read_certificate_data(data: Union[str, bytes]) -> List[bytes]:
    """Return the DER certificates of PEM text, or of concatenated DER certificates."""
    try:
        if isinstance(data, bytes) and not data.lstrip().startswith(b"-----"):
            return _split_der(data)
        return pem_to_der_list(data)
    except CertificateParseError as exc:
        log.debug("could not read certificates for expiry warnings: %s", exc)
        return []


def _split_der(data: bytes) -> List[bytes]:
    """Split concatenated DER certificates, as ``cadata`` bytes may be."""
    certificates = []
    offset = 0
    while offset < len(data):
        element = expect(data, offset, len(data), SEQUENCE)
        certificates.append(data[offset : element.end])
        offset = element.end
    return certificates
