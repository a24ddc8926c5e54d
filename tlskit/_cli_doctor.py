"""``tlskit doctor``: lint a live chain or a CA bundle, and exit non-zero when verification would fail."""

from __future__ import annotations

import argparse
import json
from typing import Any, List

from ._cli_errors import in_cli_terms
from ._cli_options import add_tls_verb, policy_fields
from ._cli_streams import print_stdout
from ._cli_values import count, seconds
from ._doctor import examine_bundle, examine_url
from ._doctor_checks import Report
from ._doctor_report import format_report, report_to_json
from ._policy import DEFAULT_EXPIRY_WARNING_DAYS, TLSPolicy
from ._url import parse_url

# The status when a finding would make verification fail; the same as a failed verification.
EXIT_FINDINGS = 7
DEFAULT_TIMEOUT_SECONDS = 30.0
# Far beyond any certificate's lifetime, and within what datetime can add to today.
MAX_DAYS = 999_999


def add_doctor_parser(commands: Any) -> None:
    """Add ``tlskit doctor`` to ``commands``."""
    doctor = add_tls_verb(
        commands,
        "doctor",
        run=run_doctor,
        help="lint a server's chain or a CA bundle against what verification enforces",
        description="Check a server's certificate chain, a CA bundle, or both, against the checks of "
        "strict verification (Python 3.13's default): validity and coming expiry, weak keys and "
        "signatures, RFC 5280 rules, missing intermediates, duplicate and unused certificates. Each "
        f"finding says what to change. Exits {EXIT_FINDINGS} when anything would fail verification. "
        "Only the given server is contacted; no CA Issuers URL, OCSP responder or CRL is fetched.",
    )
    doctor.add_argument("url", nargs="?", help="https://host[:port] whose chain to check")
    doctor.add_argument(
        "--cafile",
        metavar="FILE",
        help="CA bundle (PEM) to check; with a URL and no --cacert, it is also trusted",
    )
    doctor.add_argument(
        "--days",
        type=count(MAX_DAYS),
        default=DEFAULT_EXPIRY_WARNING_DAYS,
        metavar="N",
        help=f"warn about certificates that expire within N days (default {DEFAULT_EXPIRY_WARNING_DAYS})",
    )
    doctor.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"limit on each connect and handshake (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    doctor.add_argument("--json", action="store_true", help="print the reports as a JSON array")


def run_doctor(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``tlskit doctor`` and return 0, or `EXIT_FINDINGS` when a finding is an error."""
    if not args.url and not args.cafile:
        parser.error("doctor needs a URL, --cafile FILE, or both")
    policy = TLSPolicy(**policy_fields(parser, args))

    reports: List[Report] = []
    if args.cafile:
        reports.append(examine_bundle(args.cafile, policy, days=args.days))
    if args.url:
        reports.append(examine_url(parse_url(args.url), policy, timeout=args.timeout, days=args.days))

    # The fixes of verification failures name TLSPolicy fields, which options set here.
    reports = [
        report._replace(
            findings=tuple(
                finding._replace(fix=in_cli_terms(finding.fix, args)) for finding in report.findings
            )
        )
        for report in reports
    ]
    if args.json:
        print_stdout(json.dumps([report_to_json(report) for report in reports], indent=2))
    else:
        print_stdout("\n\n".join(format_report(report) for report in reports))
    return EXIT_FINDINGS if any(report.fails_verification for report in reports) else 0
