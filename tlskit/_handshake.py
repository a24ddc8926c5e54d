"""Handshake failures: which side of the policy failed, in tlskit's error classes.

`map_handshake_error` maps an exception from the handshake, or from the
first read, where a TLS 1.3 server's alert about the client certificate
arrives. A failed certificate check becomes the `VerificationError` subclass
that OpenSSL's verify code selects. Any other failure becomes the
`HandshakeError` subclass that OpenSSL's reason code selects.

Some alerts do not say enough on their own, so `explain_handshake_failure`
adds two facts first:

- Whether the server had already chosen a cipher. A TLS 1.2 server that
  requires a client certificate it did not get sends the same
  handshake_failure alert as one that shares no cipher suite, but only after
  its ServerHello, so a chosen cipher tells the two apart.
- For a version or cipher mismatch, what the server picks when offered
  everything: a second, unverified handshake (`probe_server`) that offers every
  version and cipher OpenSSL supports, and sends no request byte.
"""

from __future__ import annotations

import socket
import ssl
from typing import Dict, NamedTuple, Optional, Tuple, Type

from ._errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    ClientCertificateRequiredError,
    HandshakeError,
    HostnameMismatchError,
    InvalidChainError,
    NoSharedCipherError,
    ProtocolVersionError,
    RevocationCheckError,
    TimeoutExceededError,
    UntrustedCertificateError,
    VerificationError,
    WeakCertificateError,
    format_address,
    join_sentences,
    sentence,
)
from ._log import get_logger
from ._policy import TLSPolicy
from ._versions import CIPHER_STRINGS, CipherProfile, version_label

log = get_logger(__name__)

# OpenSSL X509_V_ERR codes (include/openssl/x509_vfy.h) and the error each means.
_VERIFY_CODE_ERRORS: Dict[int, Type[VerificationError]] = {
    2: UntrustedCertificateError,  # UNABLE_TO_GET_ISSUER_CERT
    3: RevocationCheckError,  # UNABLE_TO_GET_CRL
    5: RevocationCheckError,  # UNABLE_TO_DECRYPT_CRL_SIGNATURE
    8: RevocationCheckError,  # CRL_SIGNATURE_FAILURE
    9: CertificateNotYetValidError,  # CERT_NOT_YET_VALID
    10: CertificateExpiredError,  # CERT_HAS_EXPIRED
    11: RevocationCheckError,  # CRL_NOT_YET_VALID
    12: RevocationCheckError,  # CRL_HAS_EXPIRED
    13: CertificateNotYetValidError,  # ERROR_IN_CERT_NOT_BEFORE_FIELD
    14: CertificateExpiredError,  # ERROR_IN_CERT_NOT_AFTER_FIELD
    15: RevocationCheckError,  # ERROR_IN_CRL_LAST_UPDATE_FIELD
    16: RevocationCheckError,  # ERROR_IN_CRL_NEXT_UPDATE_FIELD
    18: UntrustedCertificateError,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: UntrustedCertificateError,  # SELF_SIGNED_CERT_IN_CHAIN
    20: UntrustedCertificateError,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: UntrustedCertificateError,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    23: CertificateRevokedError,  # CERT_REVOKED
    27: UntrustedCertificateError,  # CERT_UNTRUSTED
    28: UntrustedCertificateError,  # CERT_REJECTED
    33: RevocationCheckError,  # UNABLE_TO_GET_CRL_ISSUER
    35: RevocationCheckError,  # KEYUSAGE_NO_CRL_SIGN
    36: RevocationCheckError,  # UNHANDLED_CRITICAL_CRL_EXTENSION
    62: HostnameMismatchError,  # HOSTNAME_MISMATCH
    63: HostnameMismatchError,  # EMAIL_MISMATCH
    64: HostnameMismatchError,  # IP_ADDRESS_MISMATCH
    66: WeakCertificateError,  # EE_KEY_TOO_SMALL
    67: WeakCertificateError,  # CA_KEY_TOO_SMALL
    68: WeakCertificateError,  # CA_MD_TOO_WEAK
}

# Library settings that fixes name. The command line names its own options
# instead, so it finds these exact phrases in a fix and replaces them.
CAFILE_SETTING = "TLSPolicy.cafile"
LOWER_SECURITY_LEVEL = ", or lower TLSPolicy.security_level if you accept the risk"
RELAX_STRICT_X509 = ", or set TLSPolicy.strict_x509=False if the chain fails only the strict checks"

_VERIFY_HINTS: Dict[Type[VerificationError], str] = {
    UntrustedCertificateError: (
        f"Add the issuing CA to {CAFILE_SETTING}, or make the server send its intermediate certificates."
    ),
    CertificateExpiredError: "Renew the server certificate, or check this machine's clock.",
    CertificateNotYetValidError: "Check this machine's clock, or wait until the certificate's notBefore date.",
    HostnameMismatchError: (
        "Use a host name that the certificate lists in its subjectAltName, or set "
        "TLSPolicy.server_hostname to one of them."
    ),
    WeakCertificateError: (
        f"Reissue the certificate with a stronger key (RSA 2048+ or ECDSA P-256) and SHA-256{LOWER_SECURITY_LEVEL}."
    ),
    CertificateRevokedError: "The CA revoked this certificate; the server needs a new one.",
    RevocationCheckError: (
        "Add a current CRL from each issuer that is checked to TLSPolicy.crlfile, or set "
        "crl_check_chain=False to check the server certificate only."
    ),
    InvalidChainError: f"Fix the server's certificate chain so that it follows X.509 rules{RELAX_STRICT_X509}.",
}


def verify_hint(error_class: Type[VerificationError]) -> str:
    """Return the fix that the message of a verification error of ``error_class`` ends with."""
    return _VERIFY_HINTS.get(error_class, "")


_FIX_CLIENT_CERT = "Check TLSPolicy.client_cert against what the server accepts."

# OpenSSL reason codes for handshake failures, the error each means, and the
# text of its message, which ends with what to do.
_HANDSHAKE_REASONS: Dict[str, Tuple[Type[HandshakeError], str]] = {
    "UNSUPPORTED_PROTOCOL": (ProtocolVersionError, "client and server share no TLS version"),
    "TLSV1_ALERT_PROTOCOL_VERSION": (
        ProtocolVersionError,
        "the server rejected every TLS version the policy offers",
    ),
    "WRONG_SSL_VERSION": (
        ProtocolVersionError,
        "the server answered with a TLS version the policy does not allow",
    ),
    "NO_PROTOCOLS_AVAILABLE": (ProtocolVersionError, "no TLS version is enabled by the policy"),
    "NO_SHARED_CIPHER": (NoSharedCipherError, "client and server share no cipher suite"),
    "NO_CIPHERS_AVAILABLE": (NoSharedCipherError, "no cipher suite is enabled by the policy"),
    "TLSV1_ALERT_INSUFFICIENT_SECURITY": (
        NoSharedCipherError,
        "the server rejected the offered cipher suites as too weak",
    ),
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        HandshakeError,
        "the server aborted the handshake with a handshake_failure alert",
    ),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        ClientCertificateRequiredError,
        "the server requires a client certificate. Set TLSPolicy.client_cert (and client_key)",
    ),
    "TLSV1_ALERT_UNKNOWN_CA": (
        HandshakeError,
        f"the server does not trust the issuer of the client certificate. {_FIX_CLIENT_CERT}",
    ),
    "SSLV3_ALERT_BAD_CERTIFICATE": (
        HandshakeError,
        f"the server rejected the client certificate (bad_certificate). {_FIX_CLIENT_CERT}",
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": (
        HandshakeError,
        f"the server rejected the client certificate (certificate_unknown). {_FIX_CLIENT_CERT}",
    ),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": (
        HandshakeError,
        "the server says the client certificate has expired. Renew it",
    ),
    "SSLV3_ALERT_CERTIFICATE_REVOKED": (
        HandshakeError,
        "the server says the client certificate is revoked. Get a new one",
    ),
    "TLSV1_ALERT_ACCESS_DENIED": (
        HandshakeError,
        "the server denied access, often to a client certificate it does not authorize",
    ),
    "TLSV1_UNRECOGNIZED_NAME": (
        HandshakeError,
        "the server does not serve the name sent as SNI. Check the host name or TLSPolicy.server_hostname",
    ),
    "UNEXPECTED_EOF_WHILE_READING": (
        HandshakeError,
        "the connection closed before the handshake finished. Check that the port serves TLS, and the "
        "server's log for why it closed the connection",
    ),
    "WRONG_VERSION_NUMBER": (
        HandshakeError,
        "the server did not answer with TLS. Check that the port serves HTTPS, not plain HTTP",
    ),
    "LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED": (
        HandshakeError,
        "the server signs the handshake with SHA-1 or MD5, which the policy's security level forbids. "
        f"Configure the server to sign with SHA-256 or stronger{LOWER_SECURITY_LEVEL}",
    ),
    "DH_KEY_TOO_SMALL": (
        HandshakeError,
        "the server's DH key is smaller than the policy's security level allows (2048 bits at the "
        f"default level 2). Configure the server with larger DH parameters{LOWER_SECURITY_LEVEL}",
    ),
}

# Alerts that a TLS 1.3 server sends when it rejects the client certificate.
# It checks the certificate after the client has finished its side of the
# handshake, so the alert arrives on the client's first read or write instead.
CLIENT_CERTIFICATE_ALERTS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV1_ALERT_DECRYPT_ERROR",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
    }
)

_PROBED_REASONS = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "WRONG_SSL_VERSION",
        "NO_SHARED_CIPHER",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
    }
)


class ServerChoice(NamedTuple):
    """Version and cipher that the server chose in a probe handshake offering everything."""

    version: Optional[str]
    cipher: Optional[str]


def map_handshake_error(
    exc: Exception,
    host: str,
    port: int,
    *,
    policy: Optional[TLSPolicy] = None,
    server_hostname: Optional[str] = None,
    chosen_cipher: Optional[str] = None,
    server_choice: Optional[ServerChoice] = None,
) -> Exception:
    """Return the tlskit error for an exception raised by the TLS handshake or first read.

    Args:
        exc: the exception from ``do_handshake`` or the first ``recv``.
        host, port: the URL's host and port, named in the message.
        policy: the policy in force, whose versions and ciphers the message names.
        server_hostname: the name verified, when it differs from ``host``.
        chosen_cipher: the cipher the server had chosen before the failure, if any.
        server_choice: the result of `probe_server`, if one ran.
    """
    address = format_address(host, port)
    if isinstance(exc, ssl.SSLCertVerificationError):
        verify_class = _VERIFY_CODE_ERRORS.get(exc.verify_code, InvalidChainError)
        name = (
            f" (verifying the name {server_hostname!r})"
            if server_hostname and server_hostname != host
            else ""
        )
        return verify_class(
            join_sentences(
                f"certificate verification failed for {address}{name}: {exc.verify_message}",
                _VERIFY_HINTS[verify_class],
            ),
            host=host,
            port=port,
            verify_code=exc.verify_code,
            verify_message=exc.verify_message,
        )
    if isinstance(exc, ssl.SSLError):
        return _map_ssl_error(exc, address, host, port, policy, chosen_cipher, server_choice)
    if isinstance(exc, socket.timeout):
        return TimeoutExceededError(
            f"TLS handshake with {address} timed out.", phase="handshake", host=host, port=port
        )
    return HandshakeError(
        f"TLS handshake with {address} failed: the connection broke ({exc}).", host=host, port=port
    )


def _map_ssl_error(
    exc: ssl.SSLError,
    address: str,
    host: str,
    port: int,
    policy: Optional[TLSPolicy],
    chosen_cipher: Optional[str],
    server_choice: Optional[ServerChoice],
) -> HandshakeError:
    reason = exc.reason or ""
    if reason not in _HANDSHAKE_REASONS:
        return HandshakeError(
            sentence(f"TLS handshake with {address} failed: {exc}"),
            reason=reason or None,
            host=host,
            port=port,
        )
    error_class, text = _HANDSHAKE_REASONS[reason]
    if reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
        error_class, text = _explain_handshake_failure_alert(policy, chosen_cipher)
    message = sentence(f"TLS handshake with {address} failed ({reason}): {text}")

    if error_class is ProtocolVersionError:
        versions = _policy_versions(policy)
        return ProtocolVersionError(
            f"{message} {_version_detail(versions, server_choice)}",
            reason=reason,
            policy_versions=versions,
            server_version=server_choice.version if server_choice else None,
            host=host,
            port=port,
        )
    if error_class is NoSharedCipherError:
        message = f"{message} {_cipher_detail(policy, server_choice)}"
    return error_class(message, reason=reason, host=host, port=port)


def _explain_handshake_failure_alert(
    policy: Optional[TLSPolicy], chosen_cipher: Optional[str]
) -> Tuple[Type[HandshakeError], str]:
    """Tell a missing client certificate from a cipher mismatch, for a handshake_failure alert."""
    if chosen_cipher is None:
        # No ServerHello yet: the server found nothing to agree on.
        return NoSharedCipherError, "the server accepts none of the cipher suites the policy offers"
    if policy is not None and policy.has_client_certificate:
        return HandshakeError, (
            f"the server aborted the handshake after choosing {chosen_cipher}, most likely because it "
            f"rejected the client certificate. {_FIX_CLIENT_CERT}"
        )
    return ClientCertificateRequiredError, (
        f"the server aborted the handshake after choosing {chosen_cipher} and no client certificate was "
        "sent, so it most likely requires one (TLS 1.2 servers report that with a handshake_failure "
        "alert). Set TLSPolicy.client_cert (and client_key)"
    )


def _policy_versions(policy: Optional[TLSPolicy]) -> Optional[Tuple[str, str]]:
    if policy is None:
        return None
    maximum = policy.maximum_version
    assert maximum is None or isinstance(maximum, ssl.TLSVersion)
    return version_label(policy.effective_minimum_version), version_label(maximum)


def _version_detail(versions: Optional[Tuple[str, str]], choice: Optional[ServerChoice]) -> str:
    if versions is None:
        return "The server accepts none of the versions the policy allows."
    ours = f"only {versions[0]}" if versions[0] == versions[1] else f"{versions[0]} to {versions[1]}"
    if choice is None or choice.version is None:
        return f"The server accepts none of the versions the policy allows ({ours})."
    order = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    theirs = choice.version
    probe = "when a second, unverified handshake offered every version"
    if theirs in order and order.index(theirs) < order.index(versions[0]):
        fix = (
            "Upgrade the server, or lower TLSPolicy.minimum_version"
            if theirs == "TLSv1.2"
            else "Upgrade the server; TLS 1.0 and 1.1 need allow_legacy_versions=True and security_level=0"
        )
        return (
            f"The policy allows {ours}; the server chose {theirs} {probe}, below the policy's minimum. {fix}."
        )
    if theirs in order and order.index(theirs) > order.index(versions[1]):
        return (
            f"The policy allows {ours}; the server chose {theirs} {probe}, above the policy's maximum. "
            "Raise TLSPolicy.maximum_version."
        )
    return f"The policy allows {ours}; the server chose {theirs} {probe}."


def _cipher_detail(policy: Optional[TLSPolicy], choice: Optional[ServerChoice]) -> str:
    offered = f"ciphers={policy.ciphers!r}" if policy is not None else "the policy's ciphers"
    if choice is None or choice.cipher is None:
        return f"The policy offers {offered}; a second handshake offering every suite failed too."
    text = (
        f"The policy offers {offered}; the server chose {choice.cipher} ({choice.version}) when a second, "
        "unverified handshake offered every suite."
    )
    for profile in (CipherProfile.INTERMEDIATE, CipherProfile.COMPATIBLE):
        if choice.cipher in CIPHER_STRINGS[profile].split(":"):
            return f"{text} The {profile.value!r} profile includes it: set ciphers={profile.value!r}."
    return (
        f"{text} No profile includes it; pass an OpenSSL cipher string with it only if you accept that suite."
    )


def needs_probe(exc: BaseException, chosen_cipher: Optional[str]) -> bool:
    """Return whether a second handshake could name the server's version or cipher."""
    if isinstance(exc, ssl.SSLCertVerificationError) or not isinstance(exc, ssl.SSLError):
        return False
    if exc.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
        return chosen_cipher is None
    return exc.reason in _PROBED_REASONS


def negotiated_cipher(sock: ssl.SSLSocket) -> Optional[str]:
    """Return the cipher the server chose, even when the handshake then failed."""
    try:
        cipher = sock.cipher()
    except (OSError, ValueError):
        return None
    return cipher[0] if cipher else None


def probe_server(
    address: Tuple[str, int], server_hostname: Optional[str], timeout: Optional[float]
) -> Optional[ServerChoice]:
    """Handshake once more, offering every version and cipher, and return what the server chose.

    The probe verifies nothing and sends no application data, so it learns
    only the server's choice. It is bounded by ``timeout`` and returns None on
    any failure.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # MINIMUM_SUPPORTED and security level 0 let OpenSSL offer TLS 1.0 and
    # 1.1 (never SSLv3, which the ssl module disables) and every suite.
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    try:
        with socket.create_connection(address, timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=server_hostname) as sock:
                cipher = sock.cipher()
                choice = ServerChoice(sock.version(), cipher[0] if cipher else None)
    except (OSError, ssl.SSLError) as exc:
        log.debug("probe handshake with %s failed: %s", format_address(*address), exc)
        return None
    log.debug("probe handshake with %s: server chose %s %s", format_address(*address), *choice)
    return choice


def explain_handshake_failure(
    exc: Exception,
    chosen_cipher: Optional[str],
    *,
    policy: TLSPolicy,
    host: str,
    port: int,
    probe_address: Optional[Tuple[str, int]],
    server_hostname: Optional[str],
    probe_timeout: Optional[float],
) -> Exception:
    """Map a failed handshake, probing the server first when that can name its side of a mismatch.

    No probe is made when ``probe_address`` or ``probe_timeout`` is None: the
    connection went through a proxy tunnel, or the call's time has run out.
    """
    choice = None
    if probe_address is not None and probe_timeout is not None and needs_probe(exc, chosen_cipher):
        choice = probe_server(probe_address, server_hostname, probe_timeout)
    return map_handshake_error(
        exc,
        host,
        port,
        policy=policy,
        server_hostname=server_hostname,
        chosen_cipher=chosen_cipher,
        server_choice=choice,
    )
