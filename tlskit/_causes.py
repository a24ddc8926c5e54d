"""Find the likely cause of a failed verification from OpenSSL's code and the presented chain.

OpenSSL reports one X509_V_ERR code, the first check that failed. `find_cause`
picks a handler by that code, and the handler looks at the certificates the
server presented (and the trust anchors the context loaded) to name the
certificate at fault, the dates, names or rule involved, and a fix. Each
handler falls back to OpenSSL's own text when the facts it needs are missing,
for instance when the diagnostic handshake failed and the chain is empty.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._certs import PeerCertificate, describe_expiry, format_days
from ._chain_rules import (
    STRICT_RULES,
    find_issuer,
    is_self_issued,
    issuer_path,
    strict_violations,
    weak_key,
    weak_signature,
    wrong_purpose,
)
from ._diagnosis import VerificationCause
from ._handshake import CAFILE_SETTING, LOWER_SECURITY_LEVEL

# A sentence that the command line leaves out, because it has no option for strict checks.
STRICT_X509_OFF = " TLSPolicy.strict_x509=False accepts it too, at the cost of those checks."

# No release of tlskit that contains this code predates this day, so a clock
# that reads an earlier date is certainly wrong.
CLOCK_FLOOR = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

# A validity limit this close to the local clock is as likely a clock a little
# off as a certificate used outside its period.
CLOCK_SKEW_WINDOW = datetime.timedelta(days=1)
# Names of a certificate that a message lists before "and N more".
MAX_LISTED_NAMES = 8

# Top-level domains that never name a host on the public internet: RFC 2606,
# RFC 6761, RFC 6762 (.local), RFC 7686 (.onion), RFC 9476 (.alt), .internal
# (reserved by ICANN in 2024), and names that home and corporate networks use.
PRIVATE_TOP_LEVEL_DOMAINS = frozenset(
    {
        "test", "example", "invalid", "localhost", "local", "onion", "alt", "internal",
        "lan", "home", "corp", "intranet", "private", "localdomain",
    }
)  # fmt: skip

_COMMON_NAME = re.compile(r"(?:^|,)CN=((?:[^,\\]|\\.)*)")


class Facts(NamedTuple):
    """The inputs of a diagnosis: OpenSSL's report, the presented chain, the trust anchors and the clock."""

    verify_code: int
    verify_message: str
    host: str  # the name checked against the certificate
    chain: Tuple[PeerCertificate, ...]  # as presented, leaf first
    anchors: Tuple[PeerCertificate, ...]  # trust anchors the context had loaded
    uses_system_store: bool
    accepts_partial_chain: bool
    checks_chain_crls: bool  # CRLs are checked for every certificate, not the leaf alone
    security_level: int
    now: datetime.datetime
    default_fix: str  # the fix the error's class suggests without a diagnosis


class Finding(NamedTuple):
    """The cause a handler found, before the facts of the whole failure are added."""

    cause: VerificationCause
    summary: str
    fix: str
    certificate: Optional[PeerCertificate] = None
    rule: Optional[str] = None
    clock_suspect: bool = False


def find_cause(facts: Facts) -> Finding:
    """Return the likely cause of the failure that ``facts`` describe."""
    if not facts.chain:
        return _from_code_alone(facts)
    handler = _HANDLERS.get(facts.verify_code, _other)
    return handler(facts)


def is_public_name(host: str) -> bool:
    """Return whether ``host`` names a host on the public internet, judged from the name alone.

    IP addresses are public when globally routable. Names are public unless
    they have a single label or a top-level domain in `PRIVATE_TOP_LEVEL_DOMAINS`
    or ``home.arpa`` (RFC 8375). Nothing is resolved.
    """
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    labels = host.rstrip(".").lower().split(".")
    if len(labels) < 2:
        return False
    return labels[-1] not in PRIVATE_TOP_LEVEL_DOMAINS and labels[-2:] != ["home", "arpa"]


# Chains that do not lead to a trust anchor.


def _untrusted(facts: Facts) -> Finding:
    path, _ = issuer_path(facts.chain)
    if is_self_issued(path[-1]):
        return _self_signed_end(facts, path)
    return _issuer_not_found(facts, path[-1])


def _self_signed_end(facts: Facts, path: List[PeerCertificate]) -> Finding:
    top = path[-1]
    if facts.uses_system_store and is_public_name(facts.host):
        return _tls_inspection(facts, top, top.subject)
    if len(path) == 1:
        summary = f'the server\'s certificate "{top.subject}" is self-signed, and the trust store does not contain it'
    else:
        summary = (
            f'the chain ends at the self-signed CA "{top.subject}", which the trust store does not contain'
        )
    fix = (
        f"If you trust it, check its SHA-256 fingerprint {top.sha256_fingerprint} out of band "
        f"and add the certificate to {CAFILE_SETTING}."
    )
    return Finding(VerificationCause.UNTRUSTED_ROOT, summary, fix, top)


def _issuer_not_found(facts: Facts, top: PeerCertificate) -> Finding:
    missing = top.issuer
    if any(anchor.subject == missing for anchor in facts.anchors):
        return Finding(
            VerificationCause.UNTRUSTED_ROOT,
            f'the trust store has a CA named "{missing}", but not the key that signed "{top.subject}"',
            f"The CA was probably re-keyed: add its current certificate to {CAFILE_SETTING}.",
            top,
        )
    # A leaf that names where its issuer's certificate is published comes from
    # a CA hierarchy with intermediates, so the server left one out. Above an
    # intermediate, the missing certificate is most often the root.
    if top.ca_issuers_urls and not top.is_ca:
        return _missing_intermediate(facts, top)
    if facts.uses_system_store and is_public_name(facts.host):
        return _tls_inspection(facts, top, missing)
    published = (
        f" Its certificate is published at {', '.join(top.ca_issuers_urls)}." if top.ca_issuers_urls else ""
    )
    return Finding(
        VerificationCause.UNTRUSTED_ROOT,
        f'the chain ends at "{top.subject}", whose issuer "{missing}" is neither sent by the server '
        "nor in the trust store",
        f'If "{missing}" is your private root CA, add its certificate to {CAFILE_SETTING}. '
        f"If it is an intermediate CA, configure the server to send its certificate after its own.{published}",
        top,
    )


def _missing_intermediate(facts: Facts, top: PeerCertificate) -> Finding:
    anchor_note = (
        "because tlskit accepts an intermediate CA as a trust anchor"
        if facts.accepts_partial_chain
        else "together with the root CA that issued it"
    )
    return Finding(
        VerificationCause.MISSING_INTERMEDIATE,
        f'the server sent no intermediate certificate: the certificate of "{top.issuer}", which issued '
        f'"{top.subject}", is neither in the chain nor in the trust store',
        "Configure the server to send its intermediate certificates after its own (a full-chain file). "
        f"The missing certificate is published at {', '.join(top.ca_issuers_urls)}. Adding it to "
        f"{CAFILE_SETTING} also works, {anchor_note}.",
        top,
    )


def _tls_inspection(facts: Facts, cert: PeerCertificate, issuer: str) -> Finding:
    return Finding(
        VerificationCause.TLS_INSPECTION,
        f'the public host {facts.host} presented a chain issued by "{issuer}", which the system trust '
        "store does not know. This is the pattern of a TLS-inspecting proxy or antivirus that re-signs "
        "traffic, or of a private CA",
        f'If your network inspects TLS on purpose, add the root CA certificate of "{issuer}" (from your '
        f"IT department) to {CAFILE_SETTING}. Otherwise treat this connection as intercepted.",
        cert,
    )


# Names.


def format_names(cert: PeerCertificate) -> str:
    """Return the subjectAltName entries of ``cert`` as ``DNS:a, IP:b``, the first few only.

    A shared hosting certificate may carry thousands of names, and the
    server chooses them, so a message lists `MAX_LISTED_NAMES` and counts
    the rest. The certificate itself, in the error's chain, has them all.
    """
    names = [f"DNS:{name}" for name in cert.dns_names] + [f"IP:{address}" for address in cert.ip_addresses]
    if len(names) <= MAX_LISTED_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:MAX_LISTED_NAMES])} and {len(names) - MAX_LISTED_NAMES} more"


def _hostname(facts: Facts) -> Finding:
    leaf = facts.chain[0]
    names = format_names(leaf)
    if names:
        summary = f"the server's certificate is for {names}, not {facts.host}"
    else:
        # tlskit turns off the common-name fallback, so a certificate without
        # subjectAltName names no host at all.
        common_name = _common_name(leaf.subject)
        if common_name:
            summary = (
                f"the server's certificate has no subjectAltName; its common name {common_name!r} is not "
                "checked, because host names belong in subjectAltName (RFC 6125)"
            )
        else:
            summary = "the server's certificate has no subjectAltName and no common name, so it names no host"
    wildcard_note = _wildcard_note(facts.host, leaf.dns_names)
    kind = "IP" if is_ip_address(facts.host) else "DNS"
    return Finding(
        VerificationCause.HOSTNAME_MISMATCH,
        summary + wildcard_note,
        f"Connect with a name the certificate lists (or set TLSPolicy.server_hostname to one), or reissue "
        f"the certificate with {kind}:{facts.host} in its subjectAltName.",
        leaf,
    )


def _wildcard_note(host: str, dns_names: Sequence[str]) -> str:
    for name in dns_names:
        if name.startswith("*.") and host.lower().endswith(name[1:].lower()):
            return f" (a wildcard such as {name} matches exactly one label, so not {host})"
    return ""


def _common_name(subject: str) -> Optional[str]:
    found = _COMMON_NAME.search(subject)
    return found.group(1) if found else None


def is_ip_address(host: str) -> bool:
    """Return whether ``host`` is an IPv4 or IPv6 address, not a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# Validity periods.


def days_since_expiry(cert: PeerCertificate, now: datetime.datetime) -> int:
    """Return the whole days that have passed since ``cert`` expired, rounded down."""
    return (now - cert.not_after) // datetime.timedelta(days=1)


def describe_days_left(cert: PeerCertificate, now: Optional[datetime.datetime] = None) -> str:
    """Return ``"N days left"``, or ``"expired N days ago"`` once ``cert`` has expired."""
    return describe_expiry(cert.not_after, now)


def _expired(facts: Facts) -> Finding:
    cert = next((candidate for candidate in _suspects(facts) if candidate.is_expired(facts.now)), None)
    if cert is None:
        return _other(facts)
    days = days_since_expiry(cert, facts.now)
    role = _role(cert, facts)
    clock_suspect, clock_hint = _clock_hint(facts.now, cert.not_after)
    renew = (
        f"Replace it in {CAFILE_SETTING} or update the system store."
        if role == "trusted CA certificate"
        else "Renew it and install the new certificate, with its chain, on the server."
    )
    return Finding(
        VerificationCause.EXPIRED,
        f'the {role} "{cert.subject}" expired on {_format_time(cert.not_after)}, {_days(days)} ago',
        f"{renew}{clock_hint}",
        cert,
        clock_suspect=clock_suspect,
    )


def _not_yet_valid(facts: Facts) -> Finding:
    cert = next((candidate for candidate in _suspects(facts) if candidate.is_not_yet_valid(facts.now)), None)
    if cert is None:
        return _other(facts)
    days = (cert.not_before - facts.now).days
    clock_suspect, clock_hint = _clock_hint(facts.now, cert.not_before)
    return Finding(
        VerificationCause.NOT_YET_VALID,
        f'the {_role(cert, facts)} "{cert.subject}" is valid only from {_format_time(cert.not_before)}, '
        f"{_days(days)} from now",
        f"Wait until then, or reissue it with a notBefore date in the past.{clock_hint}",
        cert,
        clock_suspect=clock_suspect,
    )


def _clock_hint(now: datetime.datetime, limit: datetime.datetime) -> Tuple[bool, str]:
    """Return whether the local clock is suspect and a sentence about it (empty when not)."""
    reading = _format_time(now)
    if now < CLOCK_FLOOR:
        return True, (
            f" This machine's clock reads {reading}, a date before this version of tlskit was "
            "released, so the clock is wrong: correct it (for example with NTP) and retry."
        )
    if abs(now - limit) <= CLOCK_SKEW_WINDOW:
        return True, (
            f" The limit is within a day of this machine's clock ({reading}), so a clock that is "
            "slightly off would explain it: check the clock."
        )
    return False, ""


# Algorithms and rules.


_WEAK_KEY_FIX = (
    f"Reissue it with an RSA key of at least 2048 bits or an ECDSA P-256 key{LOWER_SECURITY_LEVEL}."
)
_WEAK_SIGNATURE_FIX = f"Reissue it signed with SHA-256 or a stronger digest{LOWER_SECURITY_LEVEL}."


def _weak_key(facts: Facts) -> Finding:
    return _first_weak(facts, weak_key, VerificationCause.WEAK_KEY, _WEAK_KEY_FIX)


def _weak_signature(facts: Facts) -> Finding:
    return _first_weak(facts, weak_signature, VerificationCause.WEAK_SIGNATURE, _WEAK_SIGNATURE_FIX)


def _first_weak(
    facts: Facts,
    find_weakness: Callable[[PeerCertificate, int], Optional[str]],
    cause: VerificationCause,
    fix: str,
) -> Finding:
    """Return a finding for the first suspect certificate that ``find_weakness`` describes, else `_other`."""
    for cert in _suspects(facts):
        reason = find_weakness(cert, facts.security_level)
        if reason:
            return Finding(
                cause, f'the {_role(cert, facts)} "{cert.subject}" is too weak: {reason}', fix, cert
            )
    return _other(facts)


def _strict(facts: Facts) -> Finding:
    rule, fix = STRICT_RULES[facts.verify_code]
    built = _built_chain(facts)
    cert = next(
        (
            candidate
            for index, candidate in enumerate(built)
            if any(
                violation.verify_code == facts.verify_code
                for violation in strict_violations(candidate, is_chain_end=index == len(built) - 1)
            )
        ),
        None,
    )
    about = f'the {_role(cert, facts)} "{cert.subject}"' if cert else "a certificate of the chain"
    return Finding(
        VerificationCause.STRICT_X509,
        f"{about} breaks an RFC 5280 rule that strict verification enforces: {rule}",
        f"Reissue it ({fix}). Python 3.13 verifies with VERIFY_X509_STRICT by default, as tlskit "
        f"does; older clients accept such a certificate, which is why it may work elsewhere.{STRICT_X509_OFF}",
        cert,
        rule=rule,
    )


def _revoked(facts: Facts) -> Finding:
    fix = "The server needs a new certificate from its CA; no client setting makes this connection safe."
    if facts.checks_chain_crls:
        # OpenSSL does not report which certificate of the chain was listed.
        return Finding(
            VerificationCause.REVOKED, "a certificate of the chain is listed as revoked in a CRL", fix
        )
    leaf = facts.chain[0]
    return Finding(
        VerificationCause.REVOKED,
        f'the server certificate "{leaf.subject}" (serial {leaf.serial_number_hex}) is listed as revoked '
        f'in the CRL of "{leaf.issuer}"',
        fix,
        leaf,
    )


def _wrong_purpose(facts: Facts) -> Finding:
    for cert in _suspects(facts):
        problem = wrong_purpose(cert)
        if problem is not None:
            return Finding(
                VerificationCause.WRONG_PURPOSE,
                f'the {_role(cert, facts)} "{cert.subject}" is not allowed for TLS servers: {problem.reason}',
                problem.fix,
                cert,
            )
    # No certificate read breaks a rule known here: name the check, not strict verification.
    return Finding(
        VerificationCause.WRONG_PURPOSE,
        f"OpenSSL rejected the chain: {facts.verify_message}",
        "A certificate of the chain is not allowed for TLS servers by its extendedKeyUsage or keyUsage. "
        "Reissue it with serverAuth in its extendedKeyUsage and digitalSignature in its keyUsage.",
    )


def _other(facts: Facts) -> Finding:
    return Finding(
        VerificationCause.OTHER,
        f"OpenSSL rejected the chain: {facts.verify_message}",
        f"{facts.default_fix} 'tlskit doctor URL' lists every problem of the chain.".lstrip(),
    )


def _from_code_alone(facts: Facts) -> Finding:
    cause = _CODE_CAUSES.get(facts.verify_code, VerificationCause.OTHER)
    rule = STRICT_RULES[facts.verify_code][0] if cause is VerificationCause.STRICT_X509 else None
    return Finding(
        cause,
        f"OpenSSL rejected the chain: {facts.verify_message}",
        f"{facts.default_fix} The server's chain could not be read for a closer diagnosis.".lstrip(),
        rule=rule,
    )


# Shared helpers.


def _built_chain(facts: Facts) -> List[PeerCertificate]:
    """Return the chain as OpenSSL builds it: the presented path, then the anchor that issued its top."""
    path, _ = issuer_path(facts.chain)
    anchor = None if is_self_issued(path[-1]) else find_issuer(path[-1], facts.anchors)
    return path + [anchor] if anchor else path


def _suspects(facts: Facts) -> List[PeerCertificate]:
    """Return the certificates a failure can concern: the built chain, then the other presented ones."""
    built = _built_chain(facts)
    return built + [cert for cert in facts.chain if not any(cert is member for member in built)]


def _role(cert: PeerCertificate, facts: Facts) -> str:
    if cert is facts.chain[0]:
        return "server certificate"
    if not any(cert is sent for sent in facts.chain):
        return "trusted CA certificate"
    return "root CA certificate" if is_self_issued(cert) else "intermediate CA certificate"


def _format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _days(days: int) -> str:
    return format_days(days)


_UNTRUSTED_CODES = (2, 18, 19, 20, 21, 27, 28)
_HANDLERS: Dict[int, Callable[[Facts], Finding]] = {
    **{code: _untrusted for code in _UNTRUSTED_CODES},
    **{code: _strict for code in STRICT_RULES},
    9: _not_yet_valid,
    13: _not_yet_valid,
    10: _expired,
    14: _expired,
    23: _revoked,
    26: _wrong_purpose,
    62: _hostname,
    64: _hostname,
    66: _weak_key,
    67: _weak_key,
    68: _weak_signature,
}
_CODE_CAUSES: Dict[int, VerificationCause] = {
    **{code: VerificationCause.UNTRUSTED_ROOT for code in _UNTRUSTED_CODES},
    **{code: VerificationCause.STRICT_X509 for code in STRICT_RULES},
    9: VerificationCause.NOT_YET_VALID,
    13: VerificationCause.NOT_YET_VALID,
    10: VerificationCause.EXPIRED,
    14: VerificationCause.EXPIRED,
    23: VerificationCause.REVOKED,
    26: VerificationCause.WRONG_PURPOSE,
    62: VerificationCause.HOSTNAME_MISMATCH,
    64: VerificationCause.HOSTNAME_MISMATCH,
    66: VerificationCause.WEAK_KEY,
    67: VerificationCause.WEAK_KEY,
    68: VerificationCause.WEAK_SIGNATURE,
}
