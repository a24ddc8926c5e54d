"""build_context(policy): the only code that sets SSLContext attributes.

The steps run in a fixed order because some settings constrain later ones:

1. Versions come first, since OpenSSL filters the cipher list by them.
2. Options.
3. Ciphers with the security level, which `configure_protocol` shares with
   `TLSPolicy.describe` so that the summary lists what a connection offers.
4. Verification flags, then ``check_hostname``, which must be off before
   ``verify_mode`` can drop to CERT_NONE.
5. Trust anchors and CRLs, once verification is on.
6. The client certificate.
7. ALPN.
8. The key log, last, so that no key log file is created for a policy that
   fails an earlier step.

Contexts built for the connection layer are shared per policy through
`context_for`, so no request re-reads CA files. A shared context is never
changed after it is built, which makes it safe to use from many threads.
`create_context` builds a new context on each call for callers who will
change it.
"""

from __future__ import annotations

import ssl
import threading
import warnings
from collections import OrderedDict
from typing import Any, Optional, Tuple

from ._client_cert import load_client_certificate
from ._expiry import warn_expiring_policy_certificates
from ._keylog import keylog_path, prepare_keylog_file
from ._log import get_logger
from ._policy import TLSPolicy, make_policy
from ._trust import load_trust
from ._versions import is_profile, suites_below_tls13, version_label

log = get_logger(__name__)

ALPN_PROTOCOLS = ["http/1.1"]

# X509_V_FLAG_PARTIAL_CHAIN; the ssl module names it from Python 3.10 on.
# NOTE: delete this constant and use ssl.VERIFY_X509_PARTIAL_CHAIN once 3.9 goes.
_VERIFY_X509_PARTIAL_CHAIN = ssl.VerifyFlags(0x80000)

MAX_SHARED_CONTEXTS = 64
# Policies already warned about, so each WARNING is logged once per policy
# even when create_context builds the same policy again and again.
MAX_WARNED_POLICIES = 256


def build_context(policy: TLSPolicy) -> ssl.SSLContext:
    """Build a new client SSLContext that enforces ``policy``.

    Raises:
        PolicyError: a CA source, CRL file, client certificate or key log file
            cannot be used.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    configure_protocol(context, policy)
    assert isinstance(policy.minimum_version, ssl.TLSVersion)
    if policy.minimum_version < ssl.TLSVersion.TLSv1_2:
        _warn_once(
            "legacy",
            policy,
            "TLS versions down to %s are enabled (TLSPolicy.allow_legacy_versions): RFC 8996 deprecates "
            "TLS 1.0 and 1.1, and this policy also runs at OpenSSL security level 0.",
            version_label(policy.minimum_version),
        )
    if policy.security_level == 0 and not is_profile(policy.ciphers):
        without_encryption = suites_below_tls13(policy.ciphers).without_encryption
        if without_encryption:
            _warn_once(
                "null-ciphers",
                policy,
                "TLSPolicy.ciphers %r enables suites without encryption at security level 0 (%s): anyone "
                "on the path can read the traffic if the server picks one.",
                policy.ciphers,
                ", ".join(without_encryption),
            )
    _configure_verification(context, policy)

    # 6. Client certificate for mutual TLS.
    if policy.has_client_certificate:
        load_client_certificate(context, policy)

    # 7. ALPN: tlskit speaks HTTP/1.1 only.
    context.set_alpn_protocols(ALPN_PROTOCOLS)

    # 8. Key log.
    path = keylog_path(policy)
    if path is not None:
        prepare_keylog_file(path, policy)
        context.keylog_filename = path
        _warn_once(
            "keylog",
            policy,
            "TLS session keys are being written to %s: anyone who can read that file can decrypt the "
            "captured traffic. Turn key logging off when you are done debugging.",
            path,
        )

    # 9. Expiry warnings for the certificates the policy names, once the
    # context has accepted them.
    warn_expiring_policy_certificates(policy)
    return context


def configure_protocol(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    """Apply the version range, options, ciphers and security level (steps 1 to 3)."""
    # 1. Versions. The policy has already rejected SSLv3, and TLS 1.0 and 1.1
    # unless allow_legacy_versions is set. Python 3.10 and later raise a
    # DeprecationWarning for those two. Under -W error that warning would break
    # the caller's explicit opt-in, so it is silenced and build_context logs
    # its own WARNING instead.
    minimum = policy.effective_minimum_version
    maximum = policy.maximum_version
    assert maximum is None or isinstance(maximum, ssl.TLSVersion)
    if minimum < ssl.TLSVersion.TLSv1_2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _set_versions(context, minimum, maximum)
    else:
        _set_versions(context, minimum, maximum)

    # 2. Options. Compression enables CRIME-style attacks on secrets in the
    # stream; renegotiation has a history of attacks and HTTP/1.1 never needs it.
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION

    # A TCP close without a TLS close_notify must stay an error, or a
    # truncated close-delimited body would look complete. Python 3.9 sets
    # OP_IGNORE_UNEXPECTED_EOF by default with OpenSSL 3; later versions do not.
    context.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF

    # 3. Ciphers for TLS 1.2 and below, with the security level that bounds
    # key sizes and signature hashes for every version. The policy has
    # checked that a custom string selects something.
    context.set_ciphers(f"{policy.cipher_string}:@SECLEVEL={policy.security_level}")


def _set_versions(
    context: ssl.SSLContext, minimum: ssl.TLSVersion, maximum: Optional[ssl.TLSVersion]
) -> None:
    context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum


def _configure_verification(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    """Set verification flags, hostname checking, trust anchors and CRLs (steps 4 and 5)."""
    if not policy.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _warn_once(
            "verify",
            policy,
            "certificate verification is off (TLSPolicy.verify=False): any server can impersonate any host",
        )
        return

    # 4. Strict X.509 checks reject certificates that break RFC 5280 rules
    # (such as a CA whose basicConstraints is not critical). Partial chains
    # let an intermediate given as a trust anchor end the chain. Python 3.13's
    # create_default_context sets both; tlskit sets them on every version.
    flags = context.verify_flags
    flags = _with_flag(flags, ssl.VERIFY_X509_STRICT, policy.strict_x509)
    flags = _with_flag(flags, _VERIFY_X509_PARTIAL_CHAIN, policy.partial_chain)
    if policy.crlfile is not None:
        flags |= ssl.VERIFY_CRL_CHECK_CHAIN if policy.crl_check_chain else ssl.VERIFY_CRL_CHECK_LEAF
    context.verify_flags = flags
    # The policy allows check_hostname=False with verify=True only with pins.
    context.check_hostname = policy.check_hostname
    # The subject's common name is never matched as a host name: RFC 6125
    # 6.4.4 deprecates it and browsers stopped doing it in 2017. Python keeps
    # the fallback on by default for certificates without subjectAltName.
    context.hostname_checks_common_name = False

    # 5. Trust anchors and CRLs.
    load_trust(context, policy)


def _with_flag(flags: ssl.VerifyFlags, flag: ssl.VerifyFlags, enabled: bool) -> ssl.VerifyFlags:
    return flags | flag if enabled else flags & ~flag


_warned: OrderedDict[Tuple[str, TLSPolicy], None] = OrderedDict()
_warned_lock = threading.Lock()


def _warn_once(kind: str, policy: TLSPolicy, message: str, *args: object) -> None:
    """Log a WARNING about ``policy`` unless one of this kind was logged for an equal policy."""
    key = (kind, policy)
    with _warned_lock:
        if key in _warned:
            return
        _warned[key] = None
        if len(_warned) > MAX_WARNED_POLICIES:
            _warned.popitem(last=False)
    log.warning(message, *args)


_shared: OrderedDict[TLSPolicy, ssl.SSLContext] = OrderedDict()
_shared_lock = threading.Lock()


def context_for(policy: TLSPolicy) -> ssl.SSLContext:
    """Return the shared context for ``policy``, building it on first use.

    The context is built once per equal policy and never changed afterwards.
    Environment variables (``SSL_CERT_FILE``, ``SSL_CERT_DIR``,
    ``SSLKEYLOGFILE``) are read when it is built, not on each request.
    """
    context = _shared.get(policy)
    if context is not None:
        return context
    with _shared_lock:
        context = _shared.get(policy)
        if context is None:
            context = build_context(policy)
            _shared[policy] = context
            if len(_shared) > MAX_SHARED_CONTEXTS:
                _shared.popitem(last=False)
        return context


def create_context(policy: Optional[TLSPolicy] = None, **fields: Any) -> ssl.SSLContext:
    """Build a new `ssl.SSLContext` from a policy and/or policy fields.

    Each call returns a fresh context that the caller may change; tlskit's own
    connections use a shared, never-changed context per policy instead.
    ``server_hostname`` is not part of a context: pass it to
    `ssl.SSLContext.wrap_socket` yourself.

    Args:
        policy: base policy; the default TLSPolicy when None.
        **fields: TLSPolicy fields that override those of ``policy``.

    Returns:
        A client-side SSLContext with the policy's versions, ciphers, trust,
        verification flags, client certificate and key log.

    Raises:
        PolicyError: a field is unknown or invalid, or a file it names cannot be loaded.
    """
    return build_context(make_policy(policy, fields))
