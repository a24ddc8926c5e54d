"""tlskit get and tlskit doctor restate failed verifications and warnings with options, not TLSPolicy fields."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Callable, Tuple

import pytest
import test_diagnose
import trustme

from chains import server_context
from conftest import make_server_context
from servers import ConnectProxy, HTTPResponder, TLSServer
from tlskit._cli import EXIT_OK, EXIT_VERIFICATION, main

StartServer = Callable[..., TLSServer]
Hierarchy = test_diagnose.Hierarchy
# The chains of the diagnosis tests, issued with openssl.
hierarchy = test_diagnose.hierarchy

# Names that only a program using the library can set. " cafile " is the
# library's trust source; the doctor's own option is --cafile.
LIBRARY_TERMS = ("TLSPolicy", " cafile ", "system_ca", "security_level", "strict_x509", "=False", "=True")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_cli_terms_only(text: str) -> None:
    for term in LIBRARY_TERMS:
        assert term not in text, f"{term!r} in {text!r}"


def failed_verification(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the command line, which must fail verification, and return stderr, checked for library terms."""
    status, _, error = run_cli(capsys, *argv)
    assert status == EXIT_VERIFICATION
    assert_cli_terms_only(error)
    return error


def serve(start_server: StartServer, context: object) -> TLSServer:
    return start_server(HTTPResponder({"/": (200, [], b"ok")}), context)


# tlskit get.


def test_untrusted_root_names_cacert(
    hierarchy: Hierarchy,
    start_server: StartServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.intermediate)
    server = serve(start_server, context)
    error = failed_verification(capsys, "get", server.url("/"))
    assert "is your private root CA, add its certificate to the file given with --cacert." in error
    assert "\n  trust: system store " in error


def test_missing_intermediate_names_cacert(
    hierarchy: Hierarchy,
    start_server: StartServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(start_server, server_context(hierarchy.pki, hierarchy.leaf))
    error = failed_verification(
        capsys, "get", server.url("/"), "--cacert", hierarchy.root_file, "--no-system-ca"
    )
    assert "Adding it to the file given with --cacert also works" in error
    assert f"\n  trust: --cacert {hierarchy.root_file}; no system store (--no-system-ca)\n" in error


def test_weak_key_leaves_out_security_level(
    hierarchy: Hierarchy,
    start_server: StartServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(start_server, server_context(hierarchy.pki, hierarchy.rsa1024_leaf))
    error = failed_verification(capsys, "get", server.url("/"), "--cacert", hierarchy.root_file)
    assert "Reissue it with an RSA key of at least 2048 bits or an ECDSA P-256 key.\n" in error


def test_strict_rule_leaves_out_strict_x509(
    hierarchy: Hierarchy,
    start_server: StartServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = server_context(hierarchy.pki, hierarchy.bc_not_critical_leaf, hierarchy.bc_not_critical)
    server = serve(start_server, context)
    error = failed_verification(capsys, "get", server.url("/"), "--cacert", hierarchy.root_file)
    assert "basicConstraints of a CA must be critical" in error
    assert "which is why it may work elsewhere.\n" in error


def test_expired_lists_cacert_as_trust(
    ca: trustme.CA, start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expired_on = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    expired = ca.issue_cert("127.0.0.1", not_after=expired_on)
    server = serve(start_server, make_server_context(expired))
    error = failed_verification(capsys, "get", server.url("/"), "--cacert", ca_file)
    days = (datetime.datetime.now(datetime.timezone.utc) - expired_on).days
    # The summary and the chain listing count the same whole days.
    assert f"expired on 2020-01-01 00:00 UTC, {days} days ago." in error
    assert f"(expired {days} days ago)" in error
    assert f"\n  trust: --cacert {ca_file}; system store " in error


def test_failure_through_proxy_names_cacert(
    https_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # No second handshake goes through a proxy, so the fix is the one for the error's class.
    with ConnectProxy() as proxy:
        error = failed_verification(capsys, "get", https_server.url("/"), "--proxy", proxy.url)
    assert "Add the issuing CA to the file given with --cacert, or make the server send" in error
    assert "chain not read: the connection went through a proxy" in error


# tlskit doctor.


def test_doctor_fix_names_cafile(
    hierarchy: Hierarchy,
    start_server: StartServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(start_server, server_context(hierarchy.pki, hierarchy.leaf))
    url = server.url("/")
    status, output, _ = run_cli(capsys, "doctor", url, "--cafile", hierarchy.root_file, "--no-system-ca")
    assert status == EXIT_VERIFICATION
    assert "Adding it to the file given with --cafile also works" in output
    assert_cli_terms_only(output)

    status, output, _ = run_cli(capsys, "doctor", url, "--cacert", hierarchy.root_file, "--json")
    assert status == EXIT_VERIFICATION
    assert "Adding it to the file given with --cacert also works" in output
    assert_cli_terms_only(output)


# Warnings.


def write_client_certificate(ca: trustme.CA, tmp_path: Path, days: int) -> str:
    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days, hours=1)
    cert = ca.issue_cert("client.example.test", not_after=not_after)
    path = tmp_path / f"client-{days}.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


def test_expiring_client_certificate_warned(
    ca: trustme.CA,
    https_server: TLSServer,
    ca_file: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client_cert = write_client_certificate(ca, tmp_path, 5)
    status, output, error = run_cli(
        capsys, "get", https_server.url("/"), "--cacert", ca_file, "--cert", client_cert
    )
    assert status == EXIT_OK
    assert output == "hello, world\n"
    assert error.startswith(f"tlskit: warning: the --cert file {client_cert!r}, ")
    assert "expires in 5 days" in error
    assert error.count("\n") == 1
    assert_cli_terms_only(error)


def test_silent_hides_warnings(
    ca: trustme.CA,
    https_server: TLSServer,
    ca_file: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client_cert = write_client_certificate(ca, tmp_path, 3)
    status, _, error = run_cli(
        capsys, "get", https_server.url("/"), "--cacert", ca_file, "--cert", client_cert, "-s"
    )
    assert status == EXIT_OK
    assert error == ""
