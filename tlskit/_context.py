"""build_context(policy): the only code that sets SSLContext attributes.

The steps run in a fixed order because some settings constrain later ones:
the version range comes first, since OpenSSL filters the cipher list by it;
`check_hostname` must be switched off before `verify_mode` can drop to
CERT_NONE; and trust anchors are loaded last, once verification is on.

Contexts built for the connection layer are shared per policy through
`context_for`, so no request re-reads CA files. A shared context is never
changed after it is built, which makes it safe to use from many threads.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections import OrderedDict
from typing import Any, Optional

from ._errors import PolicyError
from ._policy import TLSPolicy, make_policy
from ._trust import load_trust

log = logging.getLogger(__name__)

ALPN_PROTOCOLS = ["http/1.1"]

# OpenSSL security level 2: RSA and DH keys of at least 2048 bits, ECC keys of
# at least 224 bits, and no SHA-1 signatures in the chain.
SECURITY_LEVEL = 2

# X509_V_FLAG_PARTIAL_CHAIN; the ssl module names it from Python 3.10 on.
# NOTE: delete this constant and use ssl.VERIFY_X509_PARTIAL_CHAIN once 3.9 goes.
_VERIFY_X509_PARTIAL_CHAIN = ssl.VerifyFlags(0x80000)

MAX_SHARED_CONTEXTS = 64


def build_context(policy: TLSPolicy) -> ssl.SSLContext:
    """Build a new client SSLContext that enforces ``policy``.

    Raises:
        PolicyError: the cipher string selects nothing, or a CA source or the
            client certificate cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    # 1. Versions. The policy has already refused anything below TLS 1.2.
    context.minimum_version = policy.effective_minimum_version
    if policy.maximum_version is not None:
        context.maximum_version = policy.maximum_version  # type: ignore[assignment]

    # 2. Options. Compression enables CRIME-style attacks on secrets in the
    # stream; renegotiation has a history of attacks and HTTP/1.1 never needs it.
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION

    # A TCP close without a TLS close_notify must stay an error, or a
    # truncated close-delimited body would look complete. Python 3.9 sets
    # OP_IGNORE_UNEXPECTED_EOF by default with OpenSSL 3; later versions do not.
    context.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF

    # 3. Ciphers for TLS 1.2, with the security level that bounds key sizes.
    cipher_string = f"{policy.cipher_string}:@SECLEVEL={SECURITY_LEVEL}"
    try:
        context.set_ciphers(cipher_string)
    except ssl.SSLError as exc:
        raise PolicyError(
            f"invalid TLSPolicy.ciphers {policy.ciphers!r}: OpenSSL selects no cipher from it. "
            'Use a profile ("modern", "intermediate", "compatible") or check the string with '
            "'openssl ciphers -v'.",
            field="ciphers",
        ) from exc

    # 4. Verification. Strict X.509 checks and partial chains (an intermediate
    # given as a trust anchor is enough) match the defaults of Python 3.13.
    if policy.verify:
        context.verify_flags |= ssl.VERIFY_X509_STRICT | _VERIFY_X509_PARTIAL_CHAIN
        context.check_hostname = policy.check_hostname
        load_trust(context, policy)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        log.warning(
            "certificate verification is off (TLSPolicy.verify=False): any server can impersonate any host"
        )

    # 5. Client certificate for mutual TLS.
    if policy.client_cert is not None:
        _load_client_certificate(context, policy)

    # 6. ALPN: tlskit speaks HTTP/1.1 only.
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    return context


def _load_client_certificate(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    assert policy.client_cert is not None
    certfile = os.fspath(policy.client_cert)
    keyfile = None if policy.client_key is None else os.fspath(policy.client_key)
    for name, path in (("client_cert", certfile), ("client_key", keyfile)):
        if path is not None and not os.path.isfile(path):
            raise PolicyError(f"invalid TLSPolicy.{name} {path!r}: no such file.", field=name)
    try:
        context.load_cert_chain(certfile, keyfile, policy.client_key_password)
    except ssl.SSLError as exc:
        raise PolicyError(
            f"invalid client certificate {certfile!r}: OpenSSL could not load it with its key ({exc.reason or exc}). "
            "Check that the key matches the certificate and that client_key_password is right.",
            field="client_cert",
        ) from exc
    # TLS 1.3 servers may ask for the certificate after the handshake.
    context.post_handshake_auth = True


_shared: OrderedDict[TLSPolicy, ssl.SSLContext] = OrderedDict()
_shared_lock = threading.Lock()


def context_for(policy: TLSPolicy) -> ssl.SSLContext:
    """Return the shared context for ``policy``, building it on first use."""
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

    Args:
        policy: base policy; the default TLSPolicy when None.
        **fields: TLSPolicy fields that override those of ``policy``.

    Returns:
        A client-side SSLContext with the policy's versions, ciphers, trust and client certificate.

    Raises:
        PolicyError: a field is unknown or invalid, or a file it names cannot be loaded.
    """
    return build_context(make_policy(policy, fields))
