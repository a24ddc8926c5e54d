"""tlskit doctor: live chains and CA bundles, linted against what strict verification enforces."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import pytest
import trustme

import tlskit
from chains import CA_EXTENSIONS, LEAF_EXTENSIONS, LOOPBACK_SAN, OPENSSL, PKI, Issued, server_context
from conftest import make_server_context
from servers import HTTPResponder, TLSServer
from tlskit._chain_rules import names_host, strict_violations
from tlskit._cli import EXIT_CONNECT, EXIT_OK, EXIT_USAGE, EXIT_VERIFICATION, main
from tlskit._doctor import examine_bundle
from tlskit._doctor_checks import Finding, Severity
from tlskit._url import parse_url

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")

StartServer = Callable[..., TLSServer]
AIA = "authorityInfoAccess = caIssuers;URI:http://pki.example.test/intermediate.der\n"


class Doctored(NamedTuple):
    pki: PKI
    root: Issued
    intermediate: Issued
    leaf: Issued
    expiring_leaf: Issued
    lax: Issued
    lax_leaf: Issued
    rsa1024_leaf: Issued
    sha1_leaf: Issued
    client_only_ca: Issued
    stranger: Issued


@pytest.fixture(scope="session")
def doctored(tmp_path_factory: pytest.TempPathFactory) -> Doctored:
    """Issue the certificates of these tests once per run."""
    pki = PKI(tmp_path_factory.mktemp("doctor-pki"))
    leaf_extensions = LEAF_EXTENSIONS + LOOPBACK_SAN
    root = pki.issue("root", "/CN=Doctor Root CA", CA_EXTENSIONS)
    intermediate = pki.issue("intermediate", "/CN=Doctor Intermediate CA", CA_EXTENSIONS, root)
    lax = pki.issue("lax", "/CN=Doctor Lax CA", CA_EXTENSIONS.replace("critical, CA:TRUE", "CA:TRUE"), root)
    return Doctored(
        pki=pki,
        root=root,
        intermediate=intermediate,
        leaf=pki.issue("leaf", "/CN=localhost", leaf_extensions + AIA, intermediate),
        expiring_leaf=pki.issue("expiring", "/CN=localhost", leaf_extensions, intermediate, days=5),
        lax=lax,
        lax_leaf=pki.issue("lax-leaf", "/CN=localhost", leaf_extensions, lax),
        rsa1024_leaf=pki.issue("rsa1024", "/CN=localhost", leaf_extensions, root, key="rsa1024"),
        sha1_leaf=pki.issue("sha1", "/CN=localhost", leaf_extensions, root, digest="-sha1"),
        client_only_ca=pki.issue(
            "client-only", "/CN=Client Only CA", CA_EXTENSIONS + "extendedKeyUsage = clientAuth\n"
        ),
        stranger=pki.issue("stranger", "/CN=Stranger", leaf_extensions),
    )


def serve(start_server: StartServer, context: object) -> TLSServer:
    return start_server(HTTPResponder({"/": (200, [], b"ok")}), context)


def doctor_json(capsys: pytest.CaptureFixture[str], argv: List[str], status: int) -> List[Dict[str, object]]:
    assert main(["doctor", "--json", *argv]) == status
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def checks(report: Dict[str, object]) -> List[str]:
    return [
        f"{finding['severity']} {finding['check']} {finding['position']}" for finding in report["findings"]
    ]  # type: ignore[attr-defined,index]


# Live chains.


def test_good_chain_passes(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.leaf, doctored.intermediate))
    argv = [server.url("/"), "--cacert", str(doctored.root.cert), "--no-system-ca"]
    assert main(["doctor", *argv]) == EXIT_OK
    output = capsys.readouterr().out
    assert output.startswith(f"tlskit doctor: {server.url('/')}\ncertificates:\n  [0] CN=localhost\n")
    assert "findings: none" in output
    assert output.rstrip().endswith("result: verification passes (0 errors, 0 warnings)")


def test_missing_intermediate_found(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.leaf))
    argv = [server.url("/"), "--cacert", str(doctored.root.cert), "--no-system-ca"]
    (report,) = doctor_json(capsys, argv, EXIT_VERIFICATION)
    assert report["fails_verification"] is True
    assert checks(report) == ["error verification:missing_intermediate [0]"]
    finding = report["findings"][0]  # type: ignore[index]
    assert "http://pki.example.test/intermediate.der" in finding["fix"]
    assert "CN=Doctor Intermediate CA" in finding["message"]


def test_expiring_and_misordered_chain(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    context = server_context(
        doctored.pki, doctored.expiring_leaf, doctored.root, doctored.intermediate, doctored.intermediate
    )
    server = serve(start_server, context)
    argv = [server.url("/"), "--cacert", str(doctored.root.cert), "--days", "30"]
    (report,) = doctor_json(capsys, argv, EXIT_OK)
    assert checks(report) == [
        "warning expiring [0]",
        "warning order ",
        "warning duplicate [3]",
        "info root-sent [1]",
    ]
    expiring = report["findings"][0]  # type: ignore[index]
    assert "in 4 days" in expiring["message"]
    assert expiring["fix"] == "renew it before then"


def test_expiry_window_configurable(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.expiring_leaf, doctored.intermediate))
    argv = [server.url("/"), "--cacert", str(doctored.root.cert), "--days", "3"]
    (report,) = doctor_json(capsys, argv, EXIT_OK)
    assert checks(report) == []


def test_unused_certificate_in_chain(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    context = server_context(doctored.pki, doctored.leaf, doctored.intermediate, doctored.stranger)
    server = serve(start_server, context)
    (report,) = doctor_json(capsys, [server.url("/"), "--cacert", str(doctored.root.cert)], EXIT_OK)
    assert checks(report) == ["warning unused [2]"]


def test_strict_rule_in_chain(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.lax_leaf, doctored.lax))
    (report,) = doctor_json(capsys, [server.url("/"), "--cacert", str(doctored.root.cert)], EXIT_VERIFICATION)
    assert checks(report) == ["error verification:strict_x509 [1]"]
    assert "basicConstraints of a CA must be critical" in report["findings"][0]["message"]  # type: ignore[index]


def test_weak_key_in_chain(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.rsa1024_leaf))
    (report,) = doctor_json(capsys, [server.url("/"), "--cacert", str(doctored.root.cert)], EXIT_VERIFICATION)
    assert checks(report) == ["error verification:weak_key [0]"]


def test_weak_signature_in_chain(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.sha1_leaf))
    (report,) = doctor_json(capsys, [server.url("/"), "--cacert", str(doctored.root.cert)], EXIT_VERIFICATION)
    assert checks(report) == ["error verification:weak_signature [0]"]
    finding = report["findings"][0]  # type: ignore[index]
    assert "signed with" in finding["message"]
    assert finding["fix"].startswith("Reissue it signed with SHA-256 or a stronger digest")


def test_hostname_and_expiry_both_reported(
    ca: trustme.CA, ca_file: str, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # OpenSSL reports only the first failure (the name); the lint adds the other.
    import datetime

    expired = ca.issue_cert(
        "other.test", not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)
    )
    server = serve(start_server, make_server_context(expired))
    (report,) = doctor_json(capsys, [server.url("/"), "--cacert", ca_file], EXIT_VERIFICATION)
    assert sorted(checks(report)) == ["error expired [0]", "error verification:hostname_mismatch [0]"]


def test_connection_refused(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(start_server, server_context(doctored.pki, doctored.leaf))
    server.stop()
    assert main(["doctor", server.url("/"), "--timeout", "5"]) == EXIT_CONNECT
    assert f"could not connect to {server.authority}" in capsys.readouterr().err


def test_url_and_bundle_together(
    doctored: Doctored, start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bundle is checked, then trusted for the URL.
    server = serve(start_server, server_context(doctored.pki, doctored.leaf, doctored.intermediate))
    bundle = doctored.pki.bundle("root-only", [doctored.root])
    reports = doctor_json(capsys, [server.url("/"), "--cafile", str(bundle), "--no-system-ca"], EXIT_OK)
    assert [report["target"] for report in reports] == [str(bundle), server.url("/")]
    assert [checks(report) for report in reports] == [[], []]


# CA bundles.


def test_bundle_findings(doctored: Doctored, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = doctored.pki.bundle(
        "bundle",
        [
            doctored.root,
            doctored.lax,
            doctored.root,
            doctored.client_only_ca,
            doctored.stranger,
            doctored.intermediate,
        ],
    )
    (report,) = doctor_json(capsys, ["--cafile", str(bundle)], EXIT_VERIFICATION)
    assert checks(report) == [
        "error strict-x509:89 #2",
        "warning duplicate #3",
        "warning unused #4",
        "warning unused #5",
    ]
    assert len(report["certificates"]) == 6  # type: ignore[arg-type]


def test_bundle_text_report(doctored: Doctored, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = doctored.pki.bundle("lax-bundle", [doctored.lax])
    assert main(["doctor", "--cafile", str(bundle)]) == EXIT_VERIFICATION
    output = capsys.readouterr().out.splitlines()
    assert output[0] == f"tlskit doctor: {bundle}"
    assert output[2] == "  #1 CN=Doctor Lax CA"
    assert output[5] == (
        "  error: #1 CN=Doctor Lax CA: breaks an RFC 5280 rule of strict verification: basicConstraints of a CA "
        "must be critical (RFC 5280 4.2.1.9)."
    )
    assert output[6] == (
        "      fix: reissue it (mark basicConstraints critical); Python 3.13 and tlskit reject it by default."
    )
    assert output[-1] == "result: verification fails (1 error, 0 warnings)"


def test_bundle_intermediate_without_root(doctored: Doctored) -> None:
    bundle = str(doctored.pki.bundle("intermediate-only", [doctored.intermediate]))
    assert examine_bundle(bundle, tlskit.TLSPolicy(), days=14).findings == ()
    strict = examine_bundle(bundle, tlskit.TLSPolicy(partial_chain=False), days=14)
    assert [finding.check for finding in strict.findings] == ["missing-issuer"]
    assert strict.fails_verification is True


def test_strict_off_makes_warnings(doctored: Doctored) -> None:
    bundle = str(doctored.pki.bundle("lax-only", [doctored.lax]))
    report = examine_bundle(bundle, tlskit.TLSPolicy(strict_x509=False), days=14)
    assert [finding.severity for finding in report.findings] == [Severity.WARNING]
    assert report.fails_verification is False


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "contains no '-----BEGIN CERTIFICATE-----' block"),
        (b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", "has invalid base64"),
    ],
)
def test_unusable_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, fragment: str
) -> None:
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    assert main(["doctor", "--cafile", str(path)]) == 3
    error = capsys.readouterr().err
    assert error.startswith(f"tlskit: invalid CA bundle {str(path)!r}")
    assert fragment in error


def test_missing_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--cafile", str(tmp_path / "none.pem")]) == 3
    error = capsys.readouterr().err
    assert "cannot read CA bundle" in error
    # The message names no TLSPolicy field, so no option glossary follows it.
    assert "On the command line" not in error


def test_doctor_needs_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["doctor"])
    assert caught.value.code == EXIT_USAGE
    assert "doctor needs a URL, --cafile FILE, or both" in capsys.readouterr().err


# Rules, certificate by certificate.


def test_strict_rules_of_each_certificate(doctored: Doctored) -> None:
    lax = tlskit.PeerCertificate.from_der(doctored.lax.der())
    root = tlskit.PeerCertificate.from_der(doctored.root.der())
    assert [violation.verify_code for violation in strict_violations(lax, is_chain_end=False)] == [89]
    assert strict_violations(root, is_chain_end=True) == []


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("0:0:0:0:0:0:0:1", True),
        ("127.0.0.2", False),
        ("other.test", False),
    ],
)
def test_names_host(doctored: Doctored, host: str, matches: bool) -> None:
    leaf = tlskit.PeerCertificate.from_der(doctored.leaf.der())
    assert names_host(leaf, host) is matches


def test_wildcard_names_one_label(ca: trustme.CA) -> None:
    cert = ca.issue_cert("*.example.test")
    der = tlskit._certs.pem_to_der_list(cert.cert_chain_pems[0].bytes())[0]
    leaf = tlskit.PeerCertificate.from_der(der)
    assert names_host(leaf, "www.example.test") is True
    assert names_host(leaf, "a.b.example.test") is False
    assert names_host(leaf, "example.test") is False


def test_finding_fields() -> None:
    finding = Finding(Severity.ERROR, "expired", "[0]", "CN=x", "expired", "renew it")
    assert finding.severity == "error"
    assert parse_url("https://localhost:1/").port == 1


def test_trust_and_version_options(
    doctored: Doctored, start_server: StartServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "root.pem").write_text(doctored.root.pem())
    subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True, timeout=60)
    server = serve(start_server, server_context(doctored.pki, doctored.leaf, doctored.intermediate))
    argv = [
        server.url("/"),
        "--capath",
        str(directory),
        "--no-system-ca",
        "--min-tls",
        "1.2",
        "--max-tls",
        "1.2",
    ]
    (report,) = doctor_json(capsys, [*argv, "--ciphers", "ECDHE+AESGCM"], EXIT_OK)
    assert checks(report) == []
    assert main(["doctor", server.url("/"), "--min-tls", "1.3", "--max-tls", "1.2"]) == 3
