"""Explain a failed certificate verification: a second handshake, the facts, and the message.

`diagnose_failure` runs when a handshake fails verification and
``TLSPolicy.diagnose`` is on. It takes these steps:

1. A second TCP connection and a handshake that verifies nothing, bounded by
   what remains of the request's timeout. It records the Certificate message
   the server sends and closes the socket as soon as the handshake ends, so
   no HTTP byte is ever written on it.
2. The facts: the presented chain, the trust sources and verify flags of the
   failing context, the trust anchors it had loaded, and the local time.
3. The likely cause and its fix (`_causes.find_cause`).
4. A new error of the same class whose message lists those facts and whose
   ``diagnosis`` attribute contains them.

Nothing from the second handshake is trusted: it only explains an error that
has already been raised, and any server can send any certificate.
"""

from __future__ import annotations

import datetime
import os
import socket
import ssl
from typing import Iterable, List, NamedTuple, Optional, Tuple

from ._causes import Facts, describe_days_left, find_cause, format_names
from ._certs import PeerCertificate
from ._context import _VERIFY_X509_PARTIAL_CHAIN
from ._diagnosis import Diagnosis
from ._errors import CertificateParseError, VerificationError, format_address, join_sentences
from ._handshake import verify_hint
from ._log import get_logger
from ._policy import TLSPolicy
from ._presented import CertificateRecorder, unverified_context
from ._trust import locate_system_store

log = get_logger(__name__)

# Verify flags shown in a diagnosis, in the ssl module's names.
_VERIFY_FLAG_NAMES: Tuple[Tuple[int, str], ...] = (
    (ssl.VERIFY_X509_STRICT, "VERIFY_X509_STRICT"),
    (_VERIFY_X509_PARTIAL_CHAIN, "VERIFY_X509_PARTIAL_CHAIN"),
    (ssl.VERIFY_X509_TRUSTED_FIRST, "VERIFY_X509_TRUSTED_FIRST"),
    (ssl.VERIFY_CRL_CHECK_CHAIN, "VERIFY_CRL_CHECK_CHAIN"),
    (ssl.VERIFY_CRL_CHECK_LEAF, "VERIFY_CRL_CHECK_LEAF"),
)


# The trust source listed when the policy leaves the system store out.
NO_SYSTEM_STORE = "no system store (system_ca=False)"


class PresentedChain(NamedTuple):
    """The certificates a server sent, in DER and in the order sent, or why none were read."""

    certificates: Tuple[bytes, ...]
    error: Optional[str]


def diagnose_failure(
    error: VerificationError,
    exc: ssl.SSLCertVerificationError,
    *,
    address: Optional[Tuple[str, int]],
    server_hostname: str,
    policy: TLSPolicy,
    context: ssl.SSLContext,
    timeout: Optional[float],
) -> VerificationError:
    """Return ``error`` rebuilt with a diagnosis, or ``error`` itself if the diagnosis fails.

    Args:
        error: the error mapped from ``exc``.
        exc: OpenSSL's verification error.
        address: where the failed connection went: host (with any IPv6 zone) and
            port, or None when it went through a proxy tunnel, so that no second
            handshake is made.
        server_hostname: the name sent as SNI and checked against the certificate.
        policy: the policy of the failed connection.
        context: the context that failed verification.
        timeout: seconds left for the second connection and handshake, or None
            when the request's time has run out, so that none is made.
    """
    try:
        if address is None:
            # NOTE: no second tunnel is opened through the proxy, so a failure
            # behind a proxy is explained from OpenSSL's code alone.
            presented = PresentedChain(
                (), "the connection went through a proxy, so no second handshake was made"
            )
        elif timeout is None:
            presented = PresentedChain((), "the request's timeout left no time for a second handshake")
        else:
            presented = read_presented_chain(address, server_hostname, policy, timeout)
        diagnosis = _build_diagnosis(error, exc, presented, server_hostname, policy, context)
    except Exception:
        # A fault here must not hide the verification failure it explains.
        log.exception(
            "diagnosing the verification failure for %s failed", format_address(error.host, error.port)
        )
        return error
    return type(error)(
        format_message(error, exc, diagnosis, server_hostname),
        verify_code=exc.verify_code,
        verify_message=exc.verify_message,
        host=error.host,
        port=error.port,
        diagnosis=diagnosis,
    )


def _build_diagnosis(
    error: VerificationError,
    exc: ssl.SSLCertVerificationError,
    presented: PresentedChain,
    server_hostname: str,
    policy: TLSPolicy,
    context: ssl.SSLContext,
) -> Diagnosis:
    chain, parse_error = _parse_chain(presented.certificates)
    facts = Facts(
        verify_code=exc.verify_code,
        verify_message=exc.verify_message,
        host=server_hostname,
        chain=chain,
        anchors=_parse_chain(context.get_ca_certs(binary_form=True))[0],
        uses_system_store=policy.system_ca,
        accepts_partial_chain=bool(context.verify_flags & _VERIFY_X509_PARTIAL_CHAIN),
        checks_chain_crls=context.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN == ssl.VERIFY_CRL_CHECK_CHAIN,
        security_level=policy.security_level,
        now=datetime.datetime.now(datetime.timezone.utc),
        default_fix=verify_hint(type(error)),
    )
    finding = find_cause(facts)
    return Diagnosis(
        cause=finding.cause,
        summary=finding.summary,
        fix=finding.fix,
        certificate=finding.certificate,
        chain=chain,
        trust_sources=describe_trust(policy),
        verify_flags=describe_verify_flags(context, policy),
        rule=finding.rule,
        clock_suspect=finding.clock_suspect,
        chain_error=presented.error or parse_error,
    )


# Step 1: the second handshake.


def read_presented_chain(
    address: Tuple[str, int], server_hostname: str, policy: TLSPolicy, timeout: Optional[float]
) -> PresentedChain:
    """Connect again, complete a handshake that verifies nothing, and return the certificates sent.

    The versions and ciphers are the policy's, so the server responds as it
    did to the failed handshake. The security level is 0, so that a weak key
    or signature does not stop the handshake before the certificate that has
    it is read. No client certificate is offered, because this server has
    already failed verification.
    """
    recorder = CertificateRecorder()
    context = unverified_context(policy, recorder)
    handshake_error = _handshake_once(context, address, server_hostname, timeout)
    try:
        certificates = recorder.certificates()
    except ValueError as exc:
        return PresentedChain((), f"the server's Certificate message is malformed: {exc}")
    if certificates is None:
        return PresentedChain((), handshake_error or "the server sent no certificate")
    return PresentedChain(tuple(certificates), None)


def _handshake_once(
    context: ssl.SSLContext, address: Tuple[str, int], server_hostname: str, timeout: Optional[float]
) -> Optional[str]:
    """Run one handshake and close the socket; return why it failed, or None."""
    try:
        raw = socket.create_connection(address, timeout=timeout)
    except OSError as exc:
        return f"the second connection to {format_address(*address)} failed ({exc})"
    try:
        with context.wrap_socket(raw, server_hostname=server_hostname, do_handshake_on_connect=False) as sock:
            sock.do_handshake()
    except (OSError, ssl.SSLError) as exc:
        return f"the second handshake failed ({exc})"
    finally:
        raw.close()
    return None


# Step 2: the facts.


def _parse_chain(ders: Iterable[bytes]) -> Tuple[Tuple[PeerCertificate, ...], Optional[str]]:
    """Parse DER certificates, skipping malformed ones; return them and the first parse error."""
    parsed: List[PeerCertificate] = []
    error: Optional[str] = None
    for index, der in enumerate(ders):
        try:
            parsed.append(PeerCertificate.from_der(der))
        except CertificateParseError as exc:
            error = error or f"certificate {index} of the chain could not be read ({exc})"
    return tuple(parsed), error


def describe_trust(policy: TLSPolicy) -> Tuple[str, ...]:
    """Return the trust anchors ``policy`` puts in force, one phrase each."""
    sources = []
    if policy.cafile is not None:
        sources.append(f"cafile {os.fspath(policy.cafile)}")
    if policy.capath is not None:
        sources.append(f"capath {os.fspath(policy.capath)}")
    if policy.cadata is not None:
        sources.append("cadata (in memory)")
    if policy.system_ca:
        store = locate_system_store(policy.trust_env)
        located = [path for path in (store.cafile, store.capath) if path]
        sources.append("system store " + (", ".join(located) or "(no file or directory found)"))
    else:
        sources.append(NO_SYSTEM_STORE)
    return tuple(sources)


def describe_verify_flags(context: ssl.SSLContext, policy: TLSPolicy) -> Tuple[str, ...]:
    """Return the verification settings of ``context``: verify flags, hostname check, security level."""
    flags = int(context.verify_flags)
    names = []
    for bit, name in _VERIFY_FLAG_NAMES:
        if flags & bit == bit:
            names.append(name)
            flags &= ~bit
    if context.check_hostname:
        names.append("check_hostname")
    names.append(f"security level {policy.security_level}")
    return tuple(names)


# Step 4: the message.


def format_message(
    error: VerificationError, exc: ssl.SSLCertVerificationError, diagnosis: Diagnosis, server_hostname: str
) -> str:
    """Return the error message: one paragraph with OpenSSL's reason, the cause and the fix, then the facts."""
    return _compose(error, server_hostname, exc.verify_message, diagnosis, diagnosis.fix)


def restate_message(
    error: VerificationError, server_hostname: str, fix: str, diagnosis: Optional[Diagnosis] = None
) -> str:
    """Return the message of ``error`` with ``fix`` in place of the advice it gives.

    The command line uses it to name its own options instead of `TLSPolicy` fields.

    Args:
        error: a verification error, with or without a diagnosis.
        server_hostname: the name sent as SNI and checked against the certificate.
        fix: what to do, in the caller's terms.
        diagnosis: the facts to list in place of ``error.diagnosis``, such as
            trust sources named by options; None lists ``error.diagnosis``.
    """
    shown = diagnosis if diagnosis is not None else error.diagnosis
    return _compose(error, server_hostname, error.verify_message or "", shown, fix)


def _compose(
    error: VerificationError,
    server_hostname: str,
    verify_message: str,
    diagnosis: Optional[Diagnosis],
    fix: str,
) -> str:
    name = f" (verifying the name {server_hostname!r})" if server_hostname != error.host else ""
    head = f"certificate verification failed for {format_address(error.host, error.port)}{name}: {verify_message}"
    if diagnosis is None:
        return join_sentences(head, fix)
    lines = [join_sentences(head, diagnosis.summary, fix)]
    if diagnosis.chain:
        lines.append("  chain presented by the server (unverified, in the order sent):")
        for index, cert in enumerate(diagnosis.chain):
            lines.extend(_certificate_lines(index, cert))
    if diagnosis.chain_error:
        lines.append(f"  chain not read: {diagnosis.chain_error}")
    lines.append(f"  trust: {'; '.join(diagnosis.trust_sources)}")
    lines.append(f"  verification: {', '.join(diagnosis.verify_flags)}")
    return "\n".join(lines)


def _certificate_lines(index: int, cert: PeerCertificate) -> List[str]:
    names = format_names(cert)
    left = describe_days_left(cert)
    lines = [
        f"    [{index}] {cert.subject or '(empty subject)'}",
        f"        issuer: {cert.issuer or '(empty issuer)'}",
    ]
    if names:
        lines.append(f"        names: {names}")
    lines.append(f"        valid: {_format_date(cert.not_before)} to {_format_date(cert.not_after)} ({left})")
    return lines


def _format_date(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
