"""Verification errors that explain themselves, each cause made by a real loopback server."""

from __future__ import annotations

import datetime
import ssl
import threading
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional

import pytest
import trustme

import tlskit
from chains import CA_EXTENSIONS, LEAF_EXTENSIONS, LOOPBACK_SAN, OPENSSL, PKI, Issued, server_context
from conftest import make_server_context
from pki import KeyPair, make_crl
from servers import ConnectProxy, HTTPResponder, TLSServer
from tlskit import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    HostnameMismatchError,
    InvalidChainError,
    UntrustedCertificateError,
    VerificationCause,
    VerificationError,
    WeakCertificateError,
)
from tlskit._causes import CLOCK_FLOOR, Facts, find_cause, is_public_name
from tlskit._diagnose import read_presented_chain
from tlskit._presented import parse_certificate_message

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")

StartServer = Callable[..., TLSServer]

ROOT_URL = "http://pki.example.test/root.der"
INTERMEDIATE_URL = "http://pki.example.test/intermediate.der"
ROOT_NAME = "CN=Diagnosis Root CA,O=tlskit tests"
INTERMEDIATE_NAME = "CN=Diagnosis Intermediate CA,O=tlskit tests"


class Hierarchy(NamedTuple):
    pki: PKI
    root: Issued
    root_file: str
    intermediate: Issued
    leaf: Issued
    self_signed: Issued
    proxy_root: Issued
    proxy_leaf: Issued
    bc_not_critical: Issued
    bc_not_critical_leaf: Issued
    no_ski: Issued
    no_ski_leaf: Issued
    no_aki_leaf: Issued
    rsa1024_leaf: Issued
    sha1_leaf: Issued
    no_san_leaf: Issued
    common_name_leaf: Issued
    client_auth_leaf: Issued
    any_purpose_leaf: Issued
    no_handshake_usage_leaf: Issued
    client_only_ca: Issued
    client_only_ca_leaf: Issued


@pytest.fixture(scope="session")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> Hierarchy:
    """Issue every certificate these tests serve, once per run."""
    pki = PKI(tmp_path_factory.mktemp("diagnosis-pki"))
    aia_root = f"authorityInfoAccess = caIssuers;URI:{ROOT_URL}\n"
    aia_intermediate = f"authorityInfoAccess = caIssuers;URI:{INTERMEDIATE_URL}\n"
    leaf_extensions = LEAF_EXTENSIONS + LOOPBACK_SAN

    root = pki.issue("root", "/O=tlskit tests/CN=Diagnosis Root CA", CA_EXTENSIONS)
    intermediate = pki.issue(
        "intermediate", "/O=tlskit tests/CN=Diagnosis Intermediate CA", CA_EXTENSIONS + aia_root, root
    )
    bc_not_critical = pki.issue(
        "bc-not-critical",
        "/CN=Lax Intermediate CA",
        CA_EXTENSIONS.replace("critical, CA:TRUE", "CA:TRUE"),
        root,
    )
    no_ski = pki.issue(
        "no-ski",
        "/CN=No SKI Intermediate CA",
        CA_EXTENSIONS.replace("subjectKeyIdentifier = hash", "subjectKeyIdentifier = none"),
        root,
    )

    # The issuer has no subjectKeyIdentifier to copy, so the leaf gets a made-up one.
    made_up_aki = (
        "authorityKeyIdentifier = none\n2.5.29.35 = DER:3016801400112233445566778899aabbccddeeff00112233\n"
    )

    proxy_root = pki.issue("proxy-root", "/O=Example Corp/CN=Example Corp Inspection CA", CA_EXTENSIONS)
    client_only_ca = pki.issue(
        "client-only-ca", "/CN=Client Only CA", CA_EXTENSIONS + "extendedKeyUsage = clientAuth\n", root
    )
    return Hierarchy(
        pki=pki,
        root=root,
        root_file=str(root.cert),
        intermediate=intermediate,
        leaf=pki.issue("leaf", "/CN=localhost", leaf_extensions + aia_intermediate, intermediate),
        self_signed=pki.issue("self-signed", "/CN=localhost", leaf_extensions.replace("keyid", "none")),
        proxy_root=proxy_root,
        proxy_leaf=pki.issue(
            "proxy-leaf",
            "/CN=www.example.com",
            LEAF_EXTENSIONS + "subjectAltName = DNS:www.example.com, DNS:corp.internal\n",
            proxy_root,
        ),
        bc_not_critical=bc_not_critical,
        bc_not_critical_leaf=pki.issue(
            "bc-not-critical-leaf", "/CN=localhost", leaf_extensions, bc_not_critical
        ),
        no_ski=no_ski,
        no_ski_leaf=pki.issue(
            "no-ski-leaf",
            "/CN=localhost",
            leaf_extensions.replace("authorityKeyIdentifier = keyid\n", made_up_aki),
            no_ski,
        ),
        no_aki_leaf=pki.issue(
            "no-aki-leaf", "/CN=localhost", leaf_extensions.replace("= keyid", "= none"), root
        ),
        rsa1024_leaf=pki.issue("rsa1024-leaf", "/CN=localhost", leaf_extensions, root, key="rsa1024"),
        sha1_leaf=pki.issue("sha1-leaf", "/CN=localhost", leaf_extensions, root, digest="-sha1"),
        no_san_leaf=pki.issue("no-san-leaf", "/CN=other.test", LEAF_EXTENSIONS, root),
        common_name_leaf=pki.issue("common-name-leaf", "/CN=localhost", LEAF_EXTENSIONS, root),
        client_auth_leaf=pki.issue(
            "client-auth-leaf",
            "/CN=localhost",
            leaf_extensions.replace("extendedKeyUsage = serverAuth", "extendedKeyUsage = clientAuth"),
            root,
        ),
        any_purpose_leaf=pki.issue(
            "any-purpose-leaf",
            "/CN=localhost",
            leaf_extensions.replace(
                "extendedKeyUsage = serverAuth", "extendedKeyUsage = anyExtendedKeyUsage"
            ),
            root,
        ),
        no_handshake_usage_leaf=pki.issue(
            "no-handshake-usage-leaf",
            "/CN=localhost",
            leaf_extensions.replace("critical, digitalSignature", "critical, nonRepudiation"),
            root,
        ),
        client_only_ca=client_only_ca,
        client_only_ca_leaf=pki.issue(
            "client-only-ca-leaf", "/CN=localhost", leaf_extensions, client_only_ca
        ),
    )


@pytest.fixture
def responder() -> HTTPResponder:
    return HTTPResponder({"/": (200, [], b"ok")})


def serve(
    start_server: StartServer, responder: HTTPResponder, context: ssl.SSLContext, host: str = "127.0.0.1"
) -> TLSServer:
    return start_server(responder, context, host)


def fail(url: str, error_class: type, **fields: object) -> VerificationError:
    """GET ``url``, which must fail verification with ``error_class``, and return the error."""
    with pytest.raises(error_class) as caught:
        tlskit.get(url, timeout=10, **fields)  # type: ignore[arg-type]
    assert type(caught.value) is error_class
    assert caught.value.diagnosis is not None, "the error has no diagnosis"
    return caught.value


def assert_no_request_sent(server: TLSServer, responder: HTTPResponder) -> None:
    assert server.connections == 2  # the failed handshake and the diagnostic one
    assert responder.requests == []


# Chains that do not lead to a trust anchor.


def test_missing_intermediate(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder, loopback_host: str
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.leaf), loopback_host)
    error = fail(server.url("/"), UntrustedCertificateError, cafile=hierarchy.root_file, system_ca=False)
    assert error.verify_code == 20
    assert error.cause is VerificationCause.MISSING_INTERMEDIATE
    assert error.cause == "missing_intermediate"
    assert [cert.subject for cert in error.chain] == ["CN=localhost"]
    assert error.chain[0].issuer == INTERMEDIATE_NAME
    assert error.diagnosis is not None
    assert error.diagnosis.certificate == error.chain[0]
    message = str(error)
    assert message.startswith(
        f"certificate verification failed for {server.authority}: unable to get local issuer certificate. "
        "The server sent no intermediate certificate: "
    )
    assert f'"{INTERMEDIATE_NAME}"' in message
    assert INTERMEDIATE_URL in message
    assert "Traceback" not in message
    assert_no_request_sent(server, responder)


def test_full_chain_passes(hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder) -> None:
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.intermediate)
    server = serve(start_server, responder, context)
    response = tlskit.get(server.url("/"), cafile=hierarchy.root_file, system_ca=False, timeout=10)
    assert response.status == 200
    assert server.connections == 1


def test_intermediate_as_anchor_passes(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    # The fix the missing-intermediate message offers on the client side.
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.leaf))
    response = tlskit.get(
        server.url("/"), cafile=str(hierarchy.intermediate.cert), system_ca=False, timeout=10
    )
    assert response.status == 200


def test_private_root_not_trusted(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.intermediate)
    server = serve(start_server, responder, context)
    error = fail(server.url("/"), UntrustedCertificateError)
    assert error.verify_code == 20
    assert error.cause is VerificationCause.UNTRUSTED_ROOT
    assert [cert.subject for cert in error.chain] == ["CN=localhost", INTERMEDIATE_NAME]
    assert error.diagnosis is not None
    assert error.diagnosis.certificate == error.chain[1]
    message = str(error)
    assert f'whose issuer "{ROOT_NAME}" is neither sent by the server nor in the trust store' in message
    assert f'If "{ROOT_NAME}" is your private root CA, add its certificate to TLSPolicy.cafile' in message
    assert ROOT_URL in message
    assert_no_request_sent(server, responder)


def test_self_signed_root_in_chain(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.intermediate, hierarchy.root)
    server = serve(start_server, responder, context)
    error = fail(server.url("/"), UntrustedCertificateError)
    assert error.verify_code == 19
    assert error.cause is VerificationCause.UNTRUSTED_ROOT
    assert len(error.chain) == 3
    assert error.diagnosis is not None
    root = error.diagnosis.certificate
    assert root is not None
    assert root.subject == ROOT_NAME
    assert f'The chain ends at the self-signed CA "{ROOT_NAME}"' in str(error)
    assert root.sha256_fingerprint in error.diagnosis.fix


def test_self_signed_server_certificate(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.self_signed))
    error = fail(server.url("/", host="localhost"), UntrustedCertificateError)
    assert error.verify_code == 18
    assert error.cause is VerificationCause.UNTRUSTED_ROOT
    assert 'The server\'s certificate "CN=localhost" is self-signed' in str(error)


@pytest.mark.parametrize("send_root", [False, True])
def test_tls_inspecting_proxy(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder, send_root: bool
) -> None:
    sent = [hierarchy.proxy_root] if send_root else []
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.proxy_leaf, *sent))
    error = fail(server.url("/"), UntrustedCertificateError, server_hostname="www.example.com")
    assert error.verify_code == (19 if send_root else 20)
    assert error.cause is VerificationCause.TLS_INSPECTION
    message = str(error)
    assert "The public host www.example.com presented a chain issued by" in message
    assert '"CN=Example Corp Inspection CA,O=Example Corp"' in message
    assert "TLS-inspecting proxy" in message
    assert_no_request_sent(server, responder)


def test_private_name_is_not_called_inspection(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.proxy_leaf))
    error = fail(server.url("/"), UntrustedCertificateError, server_hostname="corp.internal")
    assert error.cause is VerificationCause.UNTRUSTED_ROOT


def test_inspection_needs_system_store(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.proxy_leaf))
    error = fail(
        server.url("/"),
        UntrustedCertificateError,
        server_hostname="www.example.com",
        cafile=hierarchy.root_file,
        system_ca=False,
    )
    assert error.cause is VerificationCause.UNTRUSTED_ROOT


# Names.


def test_hostname_not_in_sans(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    cert = ca.issue_cert("other.test", "*.example.test")
    server = serve(start_server, responder, make_server_context(cert))
    error = fail(server.url("/", host="localhost"), HostnameMismatchError, cafile=ca_file)
    assert error.verify_code == 62
    assert error.cause is VerificationCause.HOSTNAME_MISMATCH
    assert error.chain[0].dns_names == ("other.test", "*.example.test")
    message = str(error)
    assert "The server's certificate is for DNS:other.test, DNS:*.example.test, not localhost" in message
    assert "reissue the certificate with DNS:localhost in its subjectAltName" in message


def test_common_name_without_sans(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.no_san_leaf))
    error = fail(server.url("/", host="localhost"), HostnameMismatchError, cafile=hierarchy.root_file)
    assert error.cause is VerificationCause.HOSTNAME_MISMATCH
    assert error.chain[0].dns_names == ()
    assert (
        "The server's certificate has no subjectAltName; its common name 'other.test' is not checked"
        in str(error)
    )


def test_matching_common_name_without_sans_rejected(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.common_name_leaf))
    error = fail(server.url("/", host="localhost"), HostnameMismatchError, cafile=hierarchy.root_file)
    assert error.verify_code == 62
    assert error.cause is VerificationCause.HOSTNAME_MISMATCH
    assert "its common name 'localhost' is not checked" in str(error)
    assert responder.requests == []


def test_wildcard_matches_one_label(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    server = serve(start_server, responder, make_server_context(ca.issue_cert("*.localhost")))
    error = fail(server.url("/"), HostnameMismatchError, server_hostname="a.b.localhost", cafile=ca_file)
    assert error.cause is VerificationCause.HOSTNAME_MISMATCH
    assert "a wildcard such as *.localhost matches exactly one label, so not a.b.localhost" in str(error)


def test_ip_not_in_sans(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    server = serve(start_server, responder, make_server_context(ca.issue_cert("localhost")))
    error = fail(server.url("/"), HostnameMismatchError, cafile=ca_file)
    assert error.verify_code == 64
    assert error.cause is VerificationCause.HOSTNAME_MISMATCH
    assert "is for DNS:localhost, not 127.0.0.1" in str(error)
    assert "IP:127.0.0.1 in its subjectAltName" in str(error)


# Validity periods.


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def test_expired_certificate(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    not_after = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    server = serve(
        start_server, responder, make_server_context(ca.issue_cert("127.0.0.1", not_after=not_after))
    )
    error = fail(server.url("/"), CertificateExpiredError, cafile=ca_file)
    assert error.verify_code == 10
    assert error.cause is VerificationCause.EXPIRED
    assert error.diagnosis is not None
    assert error.diagnosis.certificate == error.chain[0]
    assert error.diagnosis.clock_suspect is False
    message = str(error)
    assert 'The server certificate "' in message
    assert "expired on 2020-01-01 00:00 UTC" in message
    assert "Renew it" in message
    assert "clock" not in message


def test_just_expired_suggests_clock(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    cert = ca.issue_cert("127.0.0.1", not_after=utc_now() - datetime.timedelta(hours=1))
    server = serve(start_server, responder, make_server_context(cert))
    error = fail(server.url("/"), CertificateExpiredError, cafile=ca_file)
    assert error.cause is VerificationCause.EXPIRED
    assert error.diagnosis is not None
    assert error.diagnosis.clock_suspect is True
    assert "within a day of this machine's clock" in str(error)


def test_not_yet_valid_certificate(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    not_before = (utc_now() + datetime.timedelta(days=30)).replace(microsecond=0)
    server = serve(
        start_server, responder, make_server_context(ca.issue_cert("127.0.0.1", not_before=not_before))
    )
    error = fail(server.url("/"), CertificateNotYetValidError, cafile=ca_file)
    assert error.verify_code == 9
    assert error.cause is VerificationCause.NOT_YET_VALID
    assert error.diagnosis is not None
    assert error.diagnosis.clock_suspect is False
    assert f"is valid only from {not_before:%Y-%m-%d %H:%M} UTC" in str(error)


def test_soon_valid_suggests_clock(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    cert = ca.issue_cert("127.0.0.1", not_before=utc_now() + datetime.timedelta(hours=1))
    server = serve(start_server, responder, make_server_context(cert))
    error = fail(server.url("/"), CertificateNotYetValidError, cafile=ca_file)
    assert error.diagnosis is not None
    assert error.diagnosis.clock_suspect is True


def test_clock_before_release_is_wrong(
    ca: trustme.CA, start_server: StartServer, responder: HTTPResponder, ca_file: str
) -> None:
    # The clock cannot be set back in a test, so the facts of a real failure
    # are evaluated at a time before tlskit was released.
    cert = ca.issue_cert("127.0.0.1", not_before=utc_now() + datetime.timedelta(days=30))
    server = serve(start_server, responder, make_server_context(cert))
    error = fail(server.url("/"), CertificateNotYetValidError, cafile=ca_file)
    facts = Facts(
        verify_code=9,
        verify_message="certificate is not yet valid",
        host="127.0.0.1",
        chain=error.chain,
        anchors=(),
        uses_system_store=True,
        accepts_partial_chain=True,
        checks_chain_crls=False,
        security_level=2,
        now=CLOCK_FLOOR - datetime.timedelta(days=400),
        default_fix="",
    )
    finding = find_cause(facts)
    assert finding.cause is VerificationCause.NOT_YET_VALID
    assert finding.clock_suspect is True
    assert "a date before this version of tlskit was released, so the clock is wrong" in finding.fix


# Algorithms and strict rules.


def test_weak_key(hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.rsa1024_leaf))
    error = fail(server.url("/"), WeakCertificateError, cafile=hierarchy.root_file)
    assert error.verify_code == 66
    assert error.cause is VerificationCause.WEAK_KEY
    assert error.diagnosis is not None
    assert error.diagnosis.certificate is not None
    assert error.diagnosis.certificate.key_size == 1024
    assert "its 1024-bit RSA key is below the 2048 bits that OpenSSL security level 2 requires" in str(error)


def test_weak_signature(hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.sha1_leaf))
    error = fail(server.url("/"), WeakCertificateError, cafile=hierarchy.root_file)
    assert error.verify_code == 68
    assert error.cause is VerificationCause.WEAK_SIGNATURE
    assert "it is signed with ecdsa-with-SHA1" in str(error)


@pytest.mark.parametrize(
    ("leaf_name", "chain_names", "verify_code", "rule", "culprit"),
    [
        (
            "bc_not_critical_leaf",
            ["bc_not_critical"],
            89,
            "basicConstraints of a CA must be critical",
            "CN=Lax Intermediate CA",
        ),
        (
            "no_ski_leaf",
            ["no_ski"],
            86,
            "a CA certificate must have subjectKeyIdentifier",
            "CN=No SKI Intermediate CA",
        ),
        ("no_aki_leaf", [], 85, "authorityKeyIdentifier with a keyIdentifier is required", "CN=localhost"),
    ],
)
def test_strict_x509_rule(
    hierarchy: Hierarchy,
    start_server: StartServer,
    responder: HTTPResponder,
    leaf_name: str,
    chain_names: list,
    verify_code: int,
    rule: str,
    culprit: str,
) -> None:
    chain = [getattr(hierarchy, name) for name in chain_names]
    server = serve(
        start_server, responder, server_context(hierarchy.pki, getattr(hierarchy, leaf_name), *chain)
    )
    error = fail(server.url("/"), InvalidChainError, cafile=hierarchy.root_file)
    assert error.verify_code == verify_code
    assert error.cause is VerificationCause.STRICT_X509
    assert error.diagnosis is not None
    assert error.diagnosis.rule is not None
    assert error.diagnosis.rule.startswith(rule)
    assert error.diagnosis.certificate is not None
    assert error.diagnosis.certificate.subject == culprit
    assert "VERIFY_X509_STRICT" in str(error)


EKU_FIX = "Reissue it with serverAuth in its extendedKeyUsage, or without that extension."
KEY_USAGE_FIX = "Reissue it with digitalSignature in its keyUsage."


@pytest.mark.parametrize(
    ("leaf_name", "chain_names", "culprit", "reason", "fix"),
    [
        (
            "client_auth_leaf",
            [],
            "server certificate",
            "its extendedKeyUsage (clientAuth) does not include serverAuth",
            EKU_FIX,
        ),
        (
            # OpenSSL 3 does not count anyExtendedKeyUsage for a TLS server.
            "any_purpose_leaf",
            [],
            "server certificate",
            "its extendedKeyUsage (anyExtendedKeyUsage) does not include serverAuth",
            EKU_FIX,
        ),
        (
            "no_handshake_usage_leaf",
            [],
            "server certificate",
            "its keyUsage (nonRepudiation) has none of digitalSignature, keyEncipherment and keyAgreement",
            KEY_USAGE_FIX,
        ),
        (
            "client_only_ca_leaf",
            ["client_only_ca"],
            "intermediate CA certificate",
            "its extendedKeyUsage (clientAuth) does not include serverAuth",
            EKU_FIX,
        ),
    ],
)
@pytest.mark.parametrize("strict", [True, False])
def test_wrong_purpose(
    hierarchy: Hierarchy,
    start_server: StartServer,
    responder: HTTPResponder,
    leaf_name: str,
    chain_names: list,
    culprit: str,
    reason: str,
    fix: str,
    strict: bool,
) -> None:
    # "unsuitable certificate purpose" is no strict rule: relaxing strict_x509 changes nothing.
    chain = [getattr(hierarchy, name) for name in chain_names]
    server = serve(
        start_server, responder, server_context(hierarchy.pki, getattr(hierarchy, leaf_name), *chain)
    )
    error = fail(server.url("/"), InvalidChainError, cafile=hierarchy.root_file, strict_x509=strict)
    assert error.verify_code == 26
    assert error.cause is VerificationCause.WRONG_PURPOSE
    assert f"the {culprit.lower()} " in str(error).lower()
    assert reason in str(error)
    assert fix in str(error)
    assert "strict_x509" not in str(error)


def test_revoked_certificate(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder, tmp_path: Path
) -> None:
    issuer = KeyPair(str(hierarchy.intermediate.cert), str(hierarchy.intermediate.key))
    crl = make_crl(issuer, str(tmp_path), "intermediate", [str(hierarchy.leaf.cert)])
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.intermediate)
    server = serve(start_server, responder, context)
    error = fail(server.url("/"), CertificateRevokedError, cafile=hierarchy.root_file, crlfile=crl)
    assert error.verify_code == 23
    assert error.cause is VerificationCause.REVOKED
    assert error.diagnosis is not None
    assert error.diagnosis.certificate == error.chain[0]
    assert "VERIFY_CRL_CHECK_LEAF" in error.diagnosis.verify_flags
    assert (
        f'The server certificate "CN=localhost" (serial 20:02) is listed as revoked in the CRL of "{INTERMEDIATE_NAME}"'
        in str(error)
    )


# Facts and bounds of the diagnosis.


def test_facts_listed(hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder) -> None:
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.intermediate)
    server = serve(start_server, responder, context)
    error = fail(server.url("/"), UntrustedCertificateError, cafile=str(hierarchy.proxy_root.cert))
    assert error.diagnosis is not None
    lines = str(error).splitlines()
    assert lines[1] == "  chain presented by the server (unverified, in the order sent):"
    assert lines[2] == "    [0] CN=localhost"
    assert lines[3] == f"        issuer: {INTERMEDIATE_NAME}"
    assert lines[4] == "        names: DNS:localhost, IP:127.0.0.1, IP:::1"
    assert lines[5].startswith("        valid: ")
    assert lines[5].endswith(" (364 days left)")
    assert lines[6] == f"    [1] {INTERMEDIATE_NAME}"
    assert error.diagnosis.trust_sources[0] == f"cafile {hierarchy.proxy_root.cert}"
    assert error.diagnosis.trust_sources[1].startswith("system store ")
    assert "VERIFY_X509_PARTIAL_CHAIN" in error.diagnosis.verify_flags
    assert "check_hostname" in error.diagnosis.verify_flags
    assert any(line.startswith("  trust: cafile ") for line in lines)
    assert any(line.startswith("  verification: VERIFY_X509_STRICT") for line in lines)


def test_diagnose_off(hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.leaf))
    with pytest.raises(UntrustedCertificateError) as caught:
        tlskit.get(server.url("/"), cafile=hierarchy.root_file, system_ca=False, diagnose=False, timeout=10)
    assert caught.value.diagnosis is None
    assert caught.value.cause is None
    assert caught.value.chain == ()
    assert "\n" not in str(caught.value)
    assert server.connections == 1


@pytest.fixture
def stalling_context(hierarchy: Hierarchy) -> Iterator[ssl.SSLContext]:
    """A server context whose second handshake waits until the test ends."""
    release = threading.Event()
    handshakes = []
    context = server_context(hierarchy.pki, hierarchy.leaf)

    def stall_after_first(sock: ssl.SSLObject, name: Optional[str], ctx: ssl.SSLContext) -> None:
        handshakes.append(name)
        if len(handshakes) > 1:
            release.wait(10)

    context.sni_callback = stall_after_first  # type: ignore[assignment]
    yield context
    release.set()


def test_diagnosis_bounded_by_timeout(
    hierarchy: Hierarchy,
    start_server: StartServer,
    responder: HTTPResponder,
    stalling_context: ssl.SSLContext,
) -> None:
    server = serve(start_server, responder, stalling_context)
    with pytest.raises(UntrustedCertificateError) as caught:
        tlskit.get(server.url("/", host="localhost"), cafile=hierarchy.root_file, system_ca=False, timeout=1)
    diagnosis = caught.value.diagnosis
    assert diagnosis is not None
    assert diagnosis.chain == ()
    assert diagnosis.chain_error is not None
    assert "timed out" in diagnosis.chain_error
    # Without the chain, the cause comes from OpenSSL's code alone.
    assert diagnosis.cause is VerificationCause.UNTRUSTED_ROOT
    assert "chain not read: the second handshake failed" in str(caught.value)


def test_no_second_handshake_through_proxy(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.leaf))
    with ConnectProxy() as proxy:
        error = fail(server.url("/"), UntrustedCertificateError, proxy=proxy.url)
    assert error.diagnosis is not None
    assert error.chain == ()
    assert (
        error.diagnosis.chain_error == "the connection went through a proxy, so no second handshake was made"
    )
    assert error.cause is VerificationCause.UNTRUSTED_ROOT
    assert server.connections == 1


def test_closed_port_leaves_chain_empty(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    server = serve(start_server, responder, server_context(hierarchy.pki, hierarchy.leaf))
    server.stop()
    presented = read_presented_chain((server.host, server.port), "localhost", tlskit.TLSPolicy(), 5)
    assert presented.certificates == ()
    assert presented.error is not None
    assert presented.error.startswith(f"the second connection to {server.authority} failed")


def test_presented_chain_in_order_sent(
    hierarchy: Hierarchy, start_server: StartServer, responder: HTTPResponder
) -> None:
    # Misordered on purpose: servers do send chains like this one.
    context = server_context(hierarchy.pki, hierarchy.leaf, hierarchy.root, hierarchy.intermediate)
    server = serve(start_server, responder, context)
    for maximum in ("1.2", "1.3"):
        policy = tlskit.TLSPolicy(maximum_version=maximum)
        presented = read_presented_chain((server.host, server.port), "localhost", policy, 5)
        assert presented.error is None
        assert list(presented.certificates) == [
            hierarchy.leaf.der(),
            hierarchy.root.der(),
            hierarchy.intermediate.der(),
        ]


# The Certificate message and public names, byte by byte and name by name.


def certificate_message(certificates: list, tls13: bool) -> bytes:
    entries = b""
    for der in certificates:
        entries += len(der).to_bytes(3, "big") + der
        if tls13:
            entries += b"\x00\x00"
    body = (b"\x00" if tls13 else b"") + len(entries).to_bytes(3, "big") + entries
    return b"\x0b" + len(body).to_bytes(3, "big") + body


@pytest.mark.parametrize("tls13", [False, True])
def test_certificate_message_parsed(tls13: bool) -> None:
    message = certificate_message([b"first", b"second"], tls13)
    assert parse_certificate_message(message, tls13) == [b"first", b"second"]


@pytest.mark.parametrize("tls13", [False, True])
def test_truncated_certificate_message(tls13: bool) -> None:
    message = certificate_message([b"first", b"second"], tls13)
    with pytest.raises(ValueError, match="bytes announced at offset"):
        parse_certificate_message(message[:-3], tls13)


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("www.example.com", True),
        ("api.github.io", True),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("localhost", False),
        ("intranet", False),
        ("printer.local", False),
        ("db.corp", False),
        ("svc.internal", False),
        ("host.home.arpa", False),
        ("www.example.test", False),
        ("10.0.0.1", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
    ],
)
def test_public_names(host: str, public: bool) -> None:
    assert is_public_name(host) is public


def test_import_does_not_load_diagnosis(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import sys, tlskit; print('tlskit._diagnose' in sys.modules, 'tlskit._causes' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=True, text=True
    )
    assert result.stdout.split() == ["False", "False"]
