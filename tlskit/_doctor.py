"""``tlskit doctor``: lint a live chain or a CA bundle against what verification enforces.

The doctor works offline: it contacts only the server it is given and never
fetches a CA Issuers URL, an OCSP responder or a CRL. For a URL it makes two
handshakes, and neither carries an HTTP byte. The first verifies under the
policy, and its failure is reported with the diagnosis of `_causes`. The
second verifies nothing and reads the chain as the server sends it. Every
certificate of that chain, and of a bundle, is then checked for:

- validity: expired or not yet valid (errors), expiring within N days (warning);
- keys and signatures below the policy's security level (errors);
- the RFC 5280 rules of strict verification, Python 3.13's default (errors,
  or warnings when the policy turns strict checks off);
- the chain's shape: a missing intermediate (error), certificates out of
  order, sent twice or not on the path from the leaf (warnings);
- the host name against the leaf's subjectAltName (error).

An error is a finding that makes verification fail now; the command exits
non-zero when there is one. The findings and the checks of one certificate
at a time are in `_doctor_checks`; the checks of a whole chain or bundle are here.
"""

from __future__ import annotations

import datetime
import socket
import ssl
from typing import Dict, List, Optional, Sequence, Tuple

from ._causes import Facts, find_cause
from ._certs import PeerCertificate, pem_to_der_list
from ._chain_rules import find_issuer, is_self_issued, issuer_path, names_host
from ._connect import address_host, connect_error
from ._context import _VERIFY_X509_PARTIAL_CHAIN, build_context
from ._diagnose import read_presented_chain
from ._doctor_checks import (
    Finding,
    Report,
    Severity,
    algorithm_findings,
    duplicate_finding,
    extension_findings,
    find_copies,
    make_finding,
    parse_certificates,
    position_of,
    strict_findings,
    validity_findings,
)
from ._errors import (
    CertificateParseError,
    PolicyError,
    TimeoutExceededError,
    VerificationError,
    format_address,
    join_sentences,
)
from ._handshake import map_handshake_error, verify_hint
from ._policy import TLSPolicy
from ._timeouts import TIMEOUT_FIX
from ._url import URL

# Live chains.


def examine_url(url: URL, policy: TLSPolicy, *, timeout: Optional[float], days: int) -> Report:
    """Connect to ``url``'s origin and lint the chain it presents.

    Raises:
        PolicyError: a CA source cannot be loaded.
        ConnectError, TimeoutExceededError: the server cannot be reached.
        HandshakeError: the handshake fails for a reason other than verification.
    """
    context = build_context(policy)
    server_hostname = policy.server_hostname or url.server_hostname
    address = (address_host(url.host, url.zone, url.port), url.port)
    verify_error = _verify_once(context, address, url, server_hostname, timeout)

    presented = read_presented_chain(address, server_hostname, policy, timeout)
    parsed, errors = parse_certificates(presented.certificates)
    chain = tuple(parsed)
    anchors = tuple(parse_certificates(context.get_ca_certs(binary_form=True))[0])
    now = datetime.datetime.now(datetime.timezone.utc)

    # Without a readable leaf, the lint would take the next certificate for the leaf.
    findings = [
        Finding(Severity.WARNING, "malformed", f"[{index}]", "", message, "reissue it in well-formed DER")
        for index, message in errors
    ]
    if chain and not (errors and errors[0][0] == 0):
        findings.extend(check_chain(chain, anchors, server_hostname, policy, now=now, days=days))
    if verify_error is not None:
        failure = _verificationmake_finding(
            verify_error, chain, anchors, server_hostname, policy, context, now
        )
        findings = [failure] + [finding for finding in findings if not _repeats(failure, finding)]
    return Report(str(url), chain, tuple(findings), presented.error)


# The lint checks that find the same problem as each cause of a failed verification.
_CHECKS_OF_CAUSE: Dict[str, Tuple[str, ...]] = {
    "missing_intermediate": ("missing-issuer",),
    "untrusted_root": ("missing-issuer",),
    "tls_inspection": ("missing-issuer",),
    "hostname_mismatch": ("hostname",),
    "expired": ("expired",),
    "not_yet_valid": ("not-yet-valid",),
    "weak_key": ("weak-key",),
    "weak_signature": ("weak-signature",),
}


def _repeats(failure: Finding, finding: Finding) -> bool:
    """Return whether a lint ``finding`` reports the same problem as the verification ``failure``."""
    cause = failure.check.split(":", 1)[1]
    same_check = finding.check in _CHECKS_OF_CAUSE.get(cause, ()) or (
        cause == "strict_x509" and finding.check.startswith("strict-x509:")
    )
    return same_check and finding.position == failure.position


def _verify_once(
    context: ssl.SSLContext,
    address: Tuple[str, int],
    url: URL,
    server_hostname: str,
    timeout: Optional[float],
) -> Optional[ssl.SSLCertVerificationError]:
    """Make one verifying handshake; return its verification error, or None when it verified."""
    try:
        raw = socket.create_connection(address, timeout=timeout)
    except socket.timeout as exc:
        raise TimeoutExceededError(
            join_sentences(
                f"connect to {format_address(url.host, url.port)} timed out after {timeout:g} s", TIMEOUT_FIX
            ),
            phase="connect",
            timeout=timeout,
            host=url.host,
            port=url.port,
        ) from exc
    except OSError as exc:
        raise connect_error(exc, url.host, url.port, url.zone) from exc
    with raw:
        try:
            with context.wrap_socket(raw, server_hostname=server_hostname) as sock:
                sock.version()
        except ssl.SSLCertVerificationError as exc:
            return exc
        except (OSError, ssl.SSLError) as exc:
            raise map_handshake_error(exc, url.host, url.port, server_hostname=server_hostname) from exc
    return None


def _verificationmake_finding(
    exc: ssl.SSLCertVerificationError,
    chain: Tuple[PeerCertificate, ...],
    anchors: Tuple[PeerCertificate, ...],
    host: str,
    policy: TLSPolicy,
    context: ssl.SSLContext,
    now: datetime.datetime,
) -> Finding:
    mapped = map_handshake_error(exc, host, 0)
    facts = Facts(
        verify_code=exc.verify_code,
        verify_message=exc.verify_message,
        host=host,
        chain=chain,
        anchors=anchors,
        uses_system_store=policy.system_ca,
        accepts_partial_chain=bool(context.verify_flags & _VERIFY_X509_PARTIAL_CHAIN),
        checks_chain_crls=context.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN == ssl.VERIFY_CRL_CHECK_CHAIN,
        security_level=policy.security_level,
        now=now,
        default_fix=verify_hint(type(mapped)) if isinstance(mapped, VerificationError) else "",
    )
    cause = find_cause(facts)
    return Finding(
        Severity.ERROR,
        f"verification:{cause.cause.value}",
        position_of(cause.certificate, chain),
        cause.certificate.subject if cause.certificate else "",
        join_sentences(f"verification fails: {exc.verify_message}", cause.summary),
        cause.fix,
    )


def check_chain(
    chain: Sequence[PeerCertificate],
    anchors: Sequence[PeerCertificate],
    host: str,
    policy: TLSPolicy,
    *,
    now: datetime.datetime,
    days: int,
) -> List[Finding]:
    """Lint a chain as the server presented it, leaf first."""
    findings: List[Finding] = []
    path, unused = issuer_path(chain)
    top = path[-1]
    anchor = None if is_self_issued(top) else find_issuer(top, anchors)

    # 1. Each certificate on its own.
    for index, cert in enumerate(chain):
        position = f"[{index}]"
        findings.extend(validity_findings(cert, position, now, days))
        findings.extend(algorithm_findings(cert, position, policy))
        findings.extend(extension_findings(cert, position))
    built = path + ([anchor] if anchor is not None else [])
    for index, cert in enumerate(built):
        position = position_of(cert, chain) or "trust store"
        findings.extend(
            strict_findings(cert, position, index == len(built) - 1, policy, chain_length=len(built))
        )

    # 2. The leaf against the host name.
    if not names_host(chain[0], host):
        names = ", ".join(chain[0].dns_names + chain[0].ip_addresses) or "no subjectAltName"
        findings.append(
            make_finding(
                Severity.ERROR,
                "hostname",
                chain[0],
                "[0]",
                f"the certificate does not name {host}: it lists {names}",
                f"reissue it with {host} in its subjectAltName, or connect with a name it lists",
            )
        )

    # 3. The chain's shape.
    findings.extend(_shape_findings(chain, path, unused, anchor, anchors, policy))
    return findings


def _shape_findings(
    chain: Sequence[PeerCertificate],
    path: Sequence[PeerCertificate],
    unused: Sequence[PeerCertificate],
    anchor: Optional[PeerCertificate],
    anchors: Sequence[PeerCertificate],
    policy: TLSPolicy,
) -> List[Finding]:
    findings: List[Finding] = []
    top = path[-1]
    if not is_self_issued(top) and anchor is None:
        published = f" It is published at {', '.join(top.ca_issuers_urls)}." if top.ca_issuers_urls else ""
        findings.append(
            make_finding(
                Severity.ERROR,
                "missing-issuer",
                top,
                position_of(top, chain),
                f'the issuer "{top.issuer}" is neither sent by the server nor in the trust store.{published}',
                "send the intermediate certificates after the leaf (a full-chain file), or add the issuing CA "
                "to the trusted CAs",
            )
        )
    sent_on_path = [cert for cert in chain if any(cert is member for member in path)]
    if any(sent is not member for sent, member in zip(sent_on_path, path)):
        findings.append(
            make_finding(
                Severity.WARNING,
                "order",
                None,
                "",
                "the chain is sent out of order: " + " then ".join(position_of(cert, chain) for cert in path),
                "send the leaf first, then each certificate's issuer in turn",
            )
        )
    positions = [f"[{index}]" for index in range(len(chain))]
    copies = find_copies(chain, positions)
    for index, cert in enumerate(chain):
        if index in copies:
            findings.append(
                duplicate_finding(
                    cert, positions[index], copies[index], "is sent again", "send each certificate once"
                )
            )
            continue
        if any(cert is extra for extra in unused):
            findings.append(
                make_finding(
                    Severity.WARNING,
                    "unused",
                    cert,
                    f"[{index}]",
                    "the certificate is not on the path from the leaf to a trust anchor",
                    "remove it from the chain the server sends",
                )
            )
    if is_self_issued(top) and len(path) > 1:
        findings.append(
            make_finding(
                Severity.INFO,
                "root-sent",
                top,
                position_of(top, chain),
                "the server sends its root CA, which clients never use from the chain",
                "you may drop the root from the chain the server sends",
            )
        )
    return findings


# CA bundles.


def examine_bundle(path: str, policy: TLSPolicy, *, days: int) -> Report:
    """Lint every certificate of a PEM CA bundle.

    Raises:
        PolicyError: the file cannot be read, or contains no certificate.
    """
    try:
        with open(path, "rb") as stream:
            text = stream.read()
    except OSError as exc:
        raise PolicyError(f"cannot read CA bundle {path!r}: {exc.strerror or exc}.", field="cafile") from exc
    try:
        ders = pem_to_der_list(text)
    except CertificateParseError as exc:
        raise PolicyError(
            join_sentences(f"invalid CA bundle {path!r}: {exc}", "Fix or remove that block."), field="cafile"
        ) from exc
    if not ders:
        raise PolicyError(
            f"invalid CA bundle {path!r}: it contains no '-----BEGIN CERTIFICATE-----' block.", field="cafile"
        )
    certificates, errors = parse_certificates(ders)
    now = datetime.datetime.now(datetime.timezone.utc)
    findings = [
        Finding(Severity.ERROR, "malformed", f"#{index + 1}", "", message, "fix or remove the block")
        for index, message in errors
    ]
    findings.extend(check_bundle(certificates, policy, now=now, days=days))
    return Report(path, tuple(certificates), tuple(findings))


def check_bundle(
    certificates: Sequence[PeerCertificate], policy: TLSPolicy, *, now: datetime.datetime, days: int
) -> List[Finding]:
    """Lint the certificates of a CA bundle, in file order."""
    findings: List[Finding] = []
    positions = [f"#{index + 1}" for index in range(len(certificates))]
    copies = find_copies(certificates, positions)
    for index, cert in enumerate(certificates):
        position = positions[index]
        if index in copies:
            findings.append(
                duplicate_finding(cert, position, copies[index], "appears again", "remove the copy")
            )
            continue
        findings.extend(validity_findings(cert, position, now, days))
        findings.extend(algorithm_findings(cert, position, policy))
        findings.extend(extension_findings(cert, position))
        findings.extend(strict_findings(cert, position, True, policy, chain_length=2))
        findings.extend(_anchor_findings(cert, position, certificates, policy))
    return findings


def _anchor_findings(
    cert: PeerCertificate, position: str, certificates: Sequence[PeerCertificate], policy: TLSPolicy
) -> List[Finding]:
    """Check what ``cert`` can do as a trust anchor for TLS servers."""
    if not cert.is_ca:
        return [
            make_finding(
                Severity.WARNING,
                "unused",
                cert,
                position,
                "the certificate is not a CA, so it can issue nothing; it only vouches for itself",
                "remove it, unless you mean to trust this one server certificate directly",
            )
        ]
    purposes = cert.extended_key_usage
    if purposes is not None and not {"serverAuth", "anyExtendedKeyUsage"} & set(purposes):
        return [
            make_finding(
                Severity.WARNING,
                "unused",
                cert,
                position,
                f"its extendedKeyUsage ({', '.join(purposes)}) excludes serverAuth, so it cannot issue TLS "
                "server certificates",
                "remove it from a bundle used for HTTPS",
            )
        ]
    if not is_self_issued(cert) and find_issuer(cert, certificates) is None and not policy.partial_chain:
        return [
            make_finding(
                Severity.ERROR,
                "missing-issuer",
                cert,
                position,
                f'it is an intermediate CA and its issuer "{cert.issuer}" is not in the bundle, so with '
                "partial chains off it anchors nothing",
                "add the root CA that issued it",
            )
        ]
    return []
