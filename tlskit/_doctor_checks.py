"""The findings of ``tlskit doctor`` and the checks it runs on every certificate, of a chain or a bundle.

`Finding` and `Report` are what the doctor returns. The checks here look at
one certificate at a time: its validity period, its key and signature
against the security level, the extensions tlskit cannot decode, and the
RFC 5280 rules of strict verification. `_doctor` adds the checks of a whole
chain or bundle.
"""

from __future__ import annotations

import datetime
import enum
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._causes import days_since_expiry
from ._certs import PeerCertificate, format_days
from ._chain_rules import strict_violations, weak_key, weak_signature
from ._errors import CertificateParseError
from ._policy import TLSPolicy


class Severity(str, enum.Enum):
    """How much a finding matters."""

    ERROR = "error"  # verification fails because of it
    WARNING = "warning"  # verification passes, but something should change
    INFO = "info"  # worth knowing, nothing to change


class Finding(NamedTuple):
    """One problem the doctor found, and what to change.

    Attributes:
        severity: see `Severity`.
        check: a stable identifier of the check, such as ``"expired"``.
        position: the certificate's place: ``"[0]"`` for the leaf of a chain,
            ``"#3"`` for the third certificate of a bundle, or ``""``.
        subject: the certificate's subject, or ``""``.
        message: what is wrong.
        fix: what to change.
    """

    severity: Severity
    check: str
    position: str
    subject: str
    message: str
    fix: str


class Report(NamedTuple):
    """Everything the doctor found about one target."""

    target: str
    certificates: Tuple[PeerCertificate, ...]
    findings: Tuple[Finding, ...]
    chain_error: Optional[str] = None

    @property
    def fails_verification(self) -> bool:
        """Whether any finding is an error."""
        return any(finding.severity is Severity.ERROR for finding in self.findings)


def validity_findings(
    cert: PeerCertificate, position: str, now: datetime.datetime, days: int
) -> List[Finding]:
    if cert.is_expired(now):
        return [
            make_finding(
                Severity.ERROR,
                "expired",
                cert,
                position,
                f"expired on {format_date(cert.not_after)}, {format_days(days_since_expiry(cert, now))} ago",
                "replace it with a renewed certificate",
            )
        ]
    if cert.is_not_yet_valid(now):
        return [
            make_finding(
                Severity.ERROR,
                "not-yet-valid",
                cert,
                position,
                f"not valid until {format_date(cert.not_before)}",
                "wait, or reissue it with a notBefore in the past; check the clocks of issuer and client",
            )
        ]
    left = cert.days_until_expiry(now)
    if left <= days:
        return [
            make_finding(
                Severity.WARNING,
                "expiring",
                cert,
                position,
                f"expires on {format_date(cert.not_after)}, in {format_days(left)}",
                "renew it before then",
            )
        ]
    return []


def algorithm_findings(cert: PeerCertificate, position: str, policy: TLSPolicy) -> List[Finding]:
    findings = []
    key_problem = weak_key(cert, policy.security_level)
    if key_problem:
        findings.append(
            make_finding(
                Severity.ERROR,
                "weak-key",
                cert,
                position,
                key_problem,
                "reissue it with an RSA key of at least 2048 bits or an ECDSA P-256 key",
            )
        )
    signature_problem = weak_signature(cert, policy.security_level)
    if signature_problem:
        findings.append(
            make_finding(
                Severity.ERROR,
                "weak-signature",
                cert,
                position,
                signature_problem,
                "reissue it signed with SHA-256 or stronger",
            )
        )
    return findings


def extension_findings(cert: PeerCertificate, position: str) -> List[Finding]:
    # The other checks read an undecodable extension as an absent one, so
    # their findings about it may be wrong, and this finding gives the reason.
    return [
        make_finding(
            Severity.WARNING,
            "undecodable-extension",
            cert,
            position,
            f"tlskit cannot decode its {extension.name} extension ({extension.error}), "
            "so the other checks treat it as absent",
            f"reissue it with one well-formed {extension.name} extension",
        )
        for extension in cert.undecodable_extensions
    ]


def strict_findings(
    cert: PeerCertificate, position: str, is_chain_end: bool, policy: TLSPolicy, *, chain_length: int
) -> List[Finding]:
    if chain_length < 2:
        return []
    severity = Severity.ERROR if policy.strict_x509 else Severity.WARNING
    return [
        make_finding(
            severity,
            f"strict-x509:{violation.verify_code}",
            cert,
            position,
            f"breaks an RFC 5280 rule of strict verification: {violation.rule}",
            f"reissue it ({violation.fix}); Python 3.13 and tlskit reject it by default",
        )
        for violation in strict_violations(cert, is_chain_end=is_chain_end)
    ]


def find_copies(certificates: Sequence[PeerCertificate], positions: Sequence[str]) -> Dict[int, str]:
    """Map the index of each certificate that repeats an earlier one to the earlier one's position."""
    first: Dict[str, str] = {}
    copies: Dict[int, str] = {}
    for index, cert in enumerate(certificates):
        if cert.sha256_fingerprint in first:
            copies[index] = first[cert.sha256_fingerprint]
        else:
            first[cert.sha256_fingerprint] = positions[index]
    return copies


def duplicate_finding(
    cert: PeerCertificate, position: str, original: str, repeated: str, fix: str
) -> Finding:
    """Return the warning that ``cert`` at ``position`` repeats the certificate at ``original``."""
    return make_finding(
        Severity.WARNING, "duplicate", cert, position, f"the same certificate as {original} {repeated}", fix
    )


def make_finding(
    severity: Severity, check: str, cert: Optional[PeerCertificate], position: str, message: str, fix: str
) -> Finding:
    return Finding(severity, check, position, cert.subject if cert else "", message, fix)


def position_of(cert: Optional[PeerCertificate], chain: Sequence[PeerCertificate]) -> str:
    for index, sent in enumerate(chain):
        if cert is sent:
            return f"[{index}]"
    return ""


def format_date(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def parse_certificates(ders: Sequence[bytes]) -> Tuple[List[PeerCertificate], List[Tuple[int, str]]]:
    parsed: List[PeerCertificate] = []
    errors: List[Tuple[int, str]] = []
    for index, der in enumerate(ders):
        try:
            parsed.append(PeerCertificate.from_der(der))
        except CertificateParseError as exc:
            errors.append((index, f"the certificate cannot be read: {exc}"))
    return parsed, errors
