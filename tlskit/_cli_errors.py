"""Error messages in the command line's terms: options such as ``--max-filesize``, not `Client` keywords.

The library's messages tell a program what to change: ``allow_http=True``,
``max_body``, ``TLSPolicy.server_hostname``. A user of ``tlskit get`` has
options instead. `describe_error` reads the fields and the class of an
error and writes the message again with the option that applies. An error
without a rule here keeps its message. A `PolicyError` whose field an option
sets gets one more sentence that names the option. In verification failures
and warnings, `in_cli_terms` replaces the few library phrases that the
library defines as constants (``TLSPolicy.cafile`` and others), so a change
of wording there cannot slip past this module.
"""

from __future__ import annotations

import argparse
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Type

from ._causes import STRICT_X509_OFF, is_ip_address
from ._decoding import KEEP_ENCODED, RAISE_DECODED_LIMIT, RAISE_EXPANSION_LIMIT
from ._diagnose import NO_SYSTEM_STORE, restate_message
from ._errors import (
    ClientCertificateRequiredError,
    HandshakeError,
    HostnameMismatchError,
    InsecureRedirectError,
    LimitExceededError,
    NoSharedCipherError,
    PolicyError,
    ProtocolVersionError,
    TimeoutExceededError,
    TLSKitError,
    TooManyRedirectsError,
    VerificationError,
    format_address,
    join_sentences,
)
from ._expiry import CAFILE_SOURCE, CLIENT_CERT_SOURCE
from ._handshake import CAFILE_SETTING, LOWER_SECURITY_LEVEL, RELAX_STRICT_X509
from ._pinning import PINS_SETTING
from ._timeouts import TIMEOUT_FIX
from ._trust import TRUST_ENV_CHOICE
from ._url import ALLOW_HTTP_HINT, shorten

DEFAULT_HTTPS_PORT = 443

Renderer = Callable[[TLSKitError, argparse.Namespace], Optional[str]]

# The options that set each TLSPolicy field.
POLICY_FIELD_OPTIONS: Dict[str, str] = {
    "cafile": "--cacert",
    "capath": "--capath",
    "system_ca": "--no-system-ca",
    "minimum_version": "--min-tls",
    "maximum_version": "--max-tls",
    "ciphers": "--ciphers",
    "pins": "--pin",
    "client_cert": "--cert",
    "client_key": "--key",
    "client_key_password": "--pass",
}
# Field names in a message: spelled with TLSPolicy., or unmistakable as names
# because they contain an underscore or are no English word.
_FIELD_NAMES = re.compile(
    r"\bTLSPolicy\.(\w+)|\b(minimum_version|maximum_version|system_ca|client_cert|client_key_password"
    r"|client_key|cafile|capath)\b"
)

_IDENTITY_FIX = "Pass -H 'Accept-Encoding: identity' to ask the server for the body without compression."
_DECODING_LIMIT_FIX = f"tlskit get has no option to raise this limit. {_IDENTITY_FIX}"
# Phrases of the library's fixes and warnings, and the command line's wording
# in their place, longest first. An empty replacement drops a choice that no option offers.
_LIBRARY_PHRASES: Sequence[Tuple[str, str]] = (
    (CLIENT_CERT_SOURCE, "the --cert file"),
    (CAFILE_SOURCE, "a certificate of the {cafile} bundle"),
    (CAFILE_SETTING, "the file given with {cafile}"),
    (PINS_SETTING, "--pin"),
    (RAISE_DECODED_LIMIT, _DECODING_LIMIT_FIX),
    (RAISE_EXPANSION_LIMIT, _DECODING_LIMIT_FIX),
    (KEEP_ENCODED, _IDENTITY_FIX),
    (LOWER_SECURITY_LEVEL, ""),
    (RELAX_STRICT_X509, ""),
    (STRICT_X509_OFF, ""),
)
# Choices in the library's configuration errors that no option offers. tlskit
# get checks the scheme itself and names --allow-http; inspect and doctor take
# https only.
_CONFIGURATION_CHOICES = (ALLOW_HTTP_HINT, TRUST_ENV_CHOICE)

# Limits on the response head, which only a program can change (tlskit.Limits).
_HEAD_LIMITS = ("max_line_bytes", "max_header_bytes", "max_header_count")

_CIPHERS_KEYWORD = re.compile(r"\bciphers=(?=')")

_CLIENT_CERTIFICATE_FIX = "Check the certificate given with --cert against what the server accepts."

# OpenSSL reasons whose library message names a TLSPolicy field: what failed, and what to do.
_HANDSHAKE_TEXTS: Dict[str, Tuple[str, str]] = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        "the server requires a client certificate",
        "Pass one with --cert, and its key with --key when it is in another file.",
    ),
    "TLSV1_ALERT_UNKNOWN_CA": (
        "the server does not trust the issuer of the client certificate",
        _CLIENT_CERTIFICATE_FIX,
    ),
    "SSLV3_ALERT_BAD_CERTIFICATE": (
        "the server rejected the client certificate (bad_certificate)",
        _CLIENT_CERTIFICATE_FIX,
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": (
        "the server rejected the client certificate (certificate_unknown)",
        _CLIENT_CERTIFICATE_FIX,
    ),
    "TLSV1_UNRECOGNIZED_NAME": (
        "the server does not serve the name sent as SNI",
        "Check the host name of the URL, which is sent as SNI even with --connect-to.",
    ),
}


def describe_error(exc: TLSKitError, args: argparse.Namespace) -> str:
    """Return the message for ``exc`` in the terms of the command line that ``args`` came from.

    ``tlskit get`` adds ``server_hostname`` and ``url_port`` to ``args`` when
    ``--connect-to`` sends the request elsewhere, so that a message can name
    the requested host and port.
    """
    for error_class, render in _RENDERERS:
        if isinstance(exc, error_class):
            message = render(exc, args)
            if message is not None:
                return message
    return in_cli_terms(str(exc), args)


# Redirects and limits.


def _insecure_redirect(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, InsecureRedirectError)
    return (
        f"rejected redirect from {_redirect_source(exc.history, exc)} to {shorten(exc.location or '')!r}: it "
        "leaves https for plain http, where the request and the response can be read and changed. Pass "
        "--allow-http to follow it, or --no-redirects to get the redirect response itself."
    )


def _too_many_redirects(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, TooManyRedirectsError)
    followed = max(len(exc.history) - 1, 0)
    return (
        f"stopped after {followed} redirects; the last one, from {_redirect_source(exc.history, exc)}, "
        f"pointed to {shorten(exc.location or '')!r}. Raise --max-redirs, or pass --no-redirects to get "
        "the redirect response itself."
    )


def _redirect_source(history: Sequence[object], exc: TLSKitError) -> str:
    # The last response of the history is the redirect that was rejected.
    url = getattr(history[-1], "url", None) if history else None
    return str(url) if url else format_address(exc.host, exc.port)


def _limit_exceeded(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, LimitExceededError)
    if exc.limit in _HEAD_LIMITS:
        # The message names the Limits field; no option sets it.
        message = str(exc).replace(f"{exc.limit} (", "tlskit's limit (")
        return join_sentences(message, "No option of tlskit get raises it")
    if exc.limit != "max_body":
        return None
    return (
        f"response body from {format_address(exc.host, exc.port)} exceeds --max-filesize "
        f"({exc.value} bytes). Raise --max-filesize to accept a larger body."
    )


def _timeout(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, TimeoutExceededError)
    option = "--max-time" if exc.phase == "total" else "--timeout"
    fix = f"Raise {option} or check the server."
    message = str(exc)
    if TIMEOUT_FIX in message:
        return message.replace(TIMEOUT_FIX, fix)
    return join_sentences(message, fix)


# Verification and handshake.


def _hostname_mismatch(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, HostnameMismatchError)
    if exc.host is None or exc.port is None:
        return None
    name = getattr(args, "server_hostname", None) or exc.host
    url_port = getattr(args, "url_port", None) or exc.port
    target = f"[{exc.host}]" if ":" in exc.host else exc.host
    listed = _listed_names(exc)
    if listed:
        example = listed[0]
        shown_url = (
            f"https://{example}/" if url_port == DEFAULT_HTTPS_PORT else f"https://{example}:{url_port}/"
        )
        choice = (
            f"Put a name that the certificate lists in the URL, such as {shown_url}, and "
            f"add --connect-to {example}:{url_port}:{target}:{exc.port} to keep connecting to "
            f"{format_address(exc.host, exc.port)}"
        )
    else:
        choice = (
            f"Put a name that the certificate lists in the URL, and add --connect-to "
            f"NAME:{url_port}:{target}:{exc.port} to keep connecting to {format_address(exc.host, exc.port)}"
        )
    kind = "IP" if is_ip_address(name) else "DNS"
    fix = f"{choice}, or reissue the certificate with {kind}:{name} in its subjectAltName."
    return _restate(exc, args, fix)


def _listed_names(exc: HostnameMismatchError) -> List[str]:
    """Return the DNS names of the server's certificate that a URL can use: no wildcards."""
    diagnosis = exc.diagnosis
    if diagnosis is None or not diagnosis.chain:
        return []
    return [name for name in diagnosis.chain[0].dns_names if not name.startswith("*")]


def _verification(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, VerificationError)
    if exc.diagnosis is None:
        message = str(exc)
        restated = in_cli_terms(message, args)
        return restated if restated != message else None
    return _restate(exc, args, in_cli_terms(exc.diagnosis.fix, args))


def in_cli_terms(text: str, args: argparse.Namespace) -> str:
    """Return ``text`` with the library settings that it names replaced by the options that set them."""
    for phrase, replacement in _LIBRARY_PHRASES:
        text = text.replace(phrase, replacement.format(cafile=_option_for("cafile", args)))
    return text


def _restate(exc: VerificationError, args: argparse.Namespace, fix: str) -> str:
    """Return the message of ``exc`` with ``fix``, and with its trust sources named by options."""
    name = getattr(args, "server_hostname", None) or exc.host or ""
    diagnosis = exc.diagnosis
    if diagnosis is not None:
        trust = tuple(_trust_source(source, args) for source in diagnosis.trust_sources)
        diagnosis = diagnosis._replace(fix=fix, trust_sources=trust)
    return restate_message(exc, name, fix, diagnosis)


def _trust_source(source: str, args: argparse.Namespace) -> str:
    kind, _, value = source.partition(" ")
    if kind in ("cafile", "capath"):
        return f"{_option_for(kind, args)} {value}"
    if source == NO_SYSTEM_STORE:
        return "no system store (--no-system-ca)"
    return source


def _handshake(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, HandshakeError)
    reason = exc.reason or ""
    address = format_address(exc.host, exc.port)
    if reason in _HANDSHAKE_TEXTS:
        failure, fix = _HANDSHAKE_TEXTS[reason]
    elif isinstance(exc, ClientCertificateRequiredError):
        failure = "the server most likely requires a client certificate, and none was sent"
        fix = "Pass one with --cert, and its key with --key when it is in another file."
    elif type(exc) is HandshakeError and reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
        failure = "the server aborted the handshake, most likely because it rejected the client certificate"
        fix = _CLIENT_CERTIFICATE_FIX
    else:
        return None
    return join_sentences(f"TLS handshake with {address} failed ({reason}): {failure}", fix)


def _protocol_version(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, ProtocolVersionError)
    versions, theirs = exc.policy_versions, exc.server_version
    order = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    if versions is None or theirs not in order or versions[0] not in order or versions[1] not in order:
        return None
    ours = f"only {versions[0]}" if versions[0] == versions[1] else f"{versions[0]} to {versions[1]}"
    if order.index(theirs) < order.index(versions[0]):
        fix = (
            "Pass --min-tls 1.2, or upgrade the server."
            if theirs == "TLSv1.2"
            else "Upgrade the server: tlskit get offers TLS 1.2 and 1.3 only."
        )
    elif order.index(theirs) > order.index(versions[1]):
        fix = "Pass --max-tls 1.3, or leave --max-tls out."
    else:
        return None
    return join_sentences(
        f"TLS handshake with {format_address(exc.host, exc.port)} failed ({exc.reason}): --min-tls and "
        f"--max-tls allow {ours}, and the server chose {theirs} when a second, unverified handshake "
        "offered every version",
        fix,
    )


def _no_shared_cipher(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, NoSharedCipherError)
    # The library writes the policy's cipher setting as a keyword, "ciphers='...'".
    message = str(exc).replace("set ciphers=", "pass --ciphers ")
    return _CIPHERS_KEYWORD.sub("--ciphers ", message)


# Configuration.


def _policy_field(exc: TLSKitError, args: argparse.Namespace) -> Optional[str]:
    assert isinstance(exc, PolicyError)
    message = str(exc)
    for choice in _CONFIGURATION_CHOICES:
        message = message.replace(choice, "")
    # Only the fields the message names: a glossary of a field it does not name explains nothing.
    fields = [match.group(1) or match.group(2) for match in _FIELD_NAMES.finditer(message)]
    options = {field: _option_for(field, args) for field in fields if field in POLICY_FIELD_OPTIONS}
    # A message written for the command line names its option already.
    options = {field: option for field, option in options.items() if option not in message}
    if not options:
        return message if message != str(exc) else None
    glossary = " and ".join(f"{option} sets {field}" for field, option in options.items())
    return join_sentences(message, f"On the command line, {glossary}")


def _option_for(field: str, args: argparse.Namespace) -> str:
    # tlskit doctor trusts its --cafile bundle when no --cacert is given.
    if field == "cafile" and getattr(args, "cafile", None) and not getattr(args, "cacert", None):
        return "--cafile"
    return POLICY_FIELD_OPTIONS[field]


# Checked in order: subclasses before their bases.
_RENDERERS: Sequence[Tuple[Type[TLSKitError], Renderer]] = (
    (InsecureRedirectError, _insecure_redirect),
    (TooManyRedirectsError, _too_many_redirects),
    (LimitExceededError, _limit_exceeded),
    (TimeoutExceededError, _timeout),
    (HostnameMismatchError, _hostname_mismatch),
    (VerificationError, _verification),
    (ProtocolVersionError, _protocol_version),
    (NoSharedCipherError, _no_shared_cipher),
    (HandshakeError, _handshake),
    (PolicyError, _policy_field),
)
