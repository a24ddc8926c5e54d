"""Text and JSON output of `tlskit doctor` reports."""

from __future__ import annotations

import datetime
from typing import Any, Dict

from ._causes import describe_days_left
from ._doctor_checks import Report, Severity


def format_report(report: Report) -> str:
    """Return the report as text: the certificates, then one paragraph per finding, then the verdict."""
    lines = [f"tlskit doctor: {report.target}"]
    if report.certificates:
        lines.append("certificates:")
        marker = "[{}]" if report.target.startswith(("https://", "http://")) else "#{}"
        for index, cert in enumerate(report.certificates):
            label = marker.format(index if marker == "[{}]" else index + 1)
            expiry = describe_days_left(cert)
            lines.append(f"  {label} {cert.subject or '(empty subject)'}")
            lines.append(
                f"      issuer {cert.issuer or '(empty issuer)'}; until {_date(cert.not_after)} ({expiry})"
            )
    if report.chain_error:
        lines.append(f"chain not read: {report.chain_error}")
    lines.append("findings:" if report.findings else "findings: none")
    for finding in report.findings:
        about = " ".join(part for part in (finding.position, finding.subject) if part)
        lines.append(
            f"  {finding.severity.value}: {about + ': ' if about else ''}{_sentence(finding.message)}"
        )
        lines.append(f"      fix: {_sentence(finding.fix)}")
    errors = sum(finding.severity is Severity.ERROR for finding in report.findings)
    warnings = sum(finding.severity is Severity.WARNING for finding in report.findings)
    verdict = "verification fails" if errors else "verification passes"
    lines.append(f"result: {verdict} ({_count(errors, 'error')}, {_count(warnings, 'warning')})")
    return "\n".join(lines)


def report_to_json(report: Report) -> Dict[str, Any]:
    """Return the report as a JSON-compatible dict."""
    return {
        "target": report.target,
        "fails_verification": report.fails_verification,
        "certificates": [
            {
                "subject": cert.subject,
                "issuer": cert.issuer,
                "not_before": cert.not_before.isoformat(),
                "not_after": cert.not_after.isoformat(),
                "days_left": cert.days_until_expiry(),
                "dns_names": list(cert.dns_names),
                "ip_addresses": list(cert.ip_addresses),
                "sha256_fingerprint": cert.sha256_fingerprint,
                "spki_pin": cert.spki_pin,
            }
            for cert in report.certificates
        ],
        "findings": [
            {
                "severity": finding.severity.value,
                "check": finding.check,
                "position": finding.position,
                "subject": finding.subject,
                "message": finding.message,
                "fix": finding.fix,
            }
            for finding in report.findings
        ],
        "chain_error": report.chain_error,
    }


def _date(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _sentence(text: str) -> str:
    return text.rstrip(". ") + "."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
