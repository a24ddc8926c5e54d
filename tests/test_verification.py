"""Strict X.509, partial chains, CRLs and hostname checks, against real servers on loopback."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Callable, Tuple

import pytest
import trustme

import tlskit
from pki import KeyPair, issue_leaf, make_crl, make_lax_ca, write_trustme_ca
from servers import HTTPResponder, TLSServer
from tlskit import (
    CertificateRevokedError,
    HostnameMismatchError,
    InvalidChainError,
    PolicyError,
    RevocationCheckError,
    TLSPolicy,
    UntrustedCertificateError,
)
from tlskit._certs import spki_pin

StartServer = Callable[..., TLSServer]


def serve(start_server: StartServer, cert: trustme.LeafCert | KeyPair) -> TLSServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if isinstance(cert, KeyPair):
        context.load_cert_chain(cert.cert, cert.key)
    else:
        cert.configure_cert(context)
    return start_server(HTTPResponder({"/": (200, [], b"ok")}), context)


# Strict X.509.


@pytest.fixture(scope="module")
def lax_chain(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, KeyPair]:
    """A CA whose basicConstraints is not critical, and a leaf it issued for 127.0.0.1."""
    directory = str(tmp_path_factory.mktemp("lax"))
    lax_ca = make_lax_ca(directory)
    return lax_ca.cert, issue_leaf(lax_ca, directory, "lax-leaf")


def test_strict_x509_rejects_lax_ca(start_server: StartServer, lax_chain: Tuple[str, KeyPair]) -> None:
    ca_cert, leaf = lax_chain
    server = serve(start_server, leaf)
    with pytest.raises(InvalidChainError) as caught:
        tlskit.get(server.url("/"), cafile=ca_cert, system_ca=False)
    assert "not marked critical" in caught.value.verify_message
    assert "strict_x509=False" in str(caught.value)


def test_strict_x509_off_accepts_lax_ca(start_server: StartServer, lax_chain: Tuple[str, KeyPair]) -> None:
    ca_cert, leaf = lax_chain
    server = serve(start_server, leaf)
    assert tlskit.get(server.url("/"), cafile=ca_cert, system_ca=False, strict_x509=False).status == 200


# Partial chains: an intermediate given as the only trust anchor.


@pytest.fixture(scope="module")
def intermediate(ca: trustme.CA) -> trustme.CA:
    return ca.create_child_ca()


@pytest.fixture(scope="module")
def intermediate_file(intermediate: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("intermediate") / "intermediate.pem")
    intermediate.cert_pem.write_to_path(path)
    return path


def test_partial_chain_trusts_intermediate(
    start_server: StartServer, intermediate: trustme.CA, intermediate_file: str
) -> None:
    server = serve(start_server, intermediate.issue_cert("127.0.0.1"))
    assert tlskit.get(server.url("/"), cafile=intermediate_file, system_ca=False).status == 200


def test_partial_chain_off_needs_root(
    start_server: StartServer, intermediate: trustme.CA, intermediate_file: str
) -> None:
    server = serve(start_server, intermediate.issue_cert("127.0.0.1"))
    with pytest.raises(UntrustedCertificateError) as caught:
        tlskit.get(server.url("/"), cafile=intermediate_file, system_ca=False, partial_chain=False)
    assert caught.value.verify_code == 2  # UNABLE_TO_GET_ISSUER_CERT


# CRLs.


@pytest.fixture(scope="module")
def crl_setup(ca: trustme.CA, intermediate: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Leaves under the intermediate, one revoked, and CRLs from the intermediate and the root."""
    directory = str(tmp_path_factory.mktemp("crl"))
    revoked = intermediate.issue_cert("127.0.0.1")
    good = intermediate.issue_cert("127.0.0.1")
    revoked_file = f"{directory}/revoked.pem"
    revoked.cert_chain_pems[0].write_to_path(revoked_file)
    intermediate_pair = write_trustme_ca(intermediate, directory, "intermediate")
    root_pair = write_trustme_ca(ca, directory, "root")
    return {
        "revoked": revoked,
        "good": good,
        "intermediate_crl": make_crl(intermediate_pair, directory, "intermediate", [revoked_file]),
        "root_crl": make_crl(root_pair, directory, "root"),
        "root_crl_revoking_intermediate": make_crl(root_pair, directory, "root2", [intermediate_pair.cert]),
    }


def test_revoked_server_certificate(start_server: StartServer, crl_setup: dict, ca_file: str) -> None:
    server = serve(start_server, crl_setup["revoked"])
    with pytest.raises(CertificateRevokedError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, crlfile=crl_setup["intermediate_crl"])
    assert caught.value.verify_code == 23
    assert caught.value.verify_message == "certificate revoked"


def test_revoked_certificate_accepted_without_crlfile(
    start_server: StartServer, crl_setup: dict, ca_file: str
) -> None:
    server = serve(start_server, crl_setup["revoked"])
    assert tlskit.get(server.url("/"), cafile=ca_file).status == 200


def test_unrevoked_certificate_passes_crl_check(
    start_server: StartServer, crl_setup: dict, ca_file: str
) -> None:
    server = serve(start_server, crl_setup["good"])
    assert tlskit.get(server.url("/"), cafile=ca_file, crlfile=crl_setup["intermediate_crl"]).status == 200


def test_crl_from_wrong_issuer(start_server: StartServer, crl_setup: dict, ca_file: str) -> None:
    server = serve(start_server, crl_setup["good"])
    with pytest.raises(RevocationCheckError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, crlfile=crl_setup["root_crl"])
    assert caught.value.verify_code == 3  # UNABLE_TO_GET_CRL
    assert "TLSPolicy.crlfile" in str(caught.value)


def test_chain_check_finds_revoked_intermediate(
    start_server: StartServer, crl_setup: dict, ca_file: str, tmp_path: Path
) -> None:
    crls = tmp_path / "crls.pem"
    crls.write_bytes(
        Path(crl_setup["intermediate_crl"]).read_bytes()
        + Path(crl_setup["root_crl_revoking_intermediate"]).read_bytes()
    )
    server = serve(start_server, crl_setup["good"])
    assert tlskit.get(server.url("/"), cafile=ca_file, crlfile=str(crls)).status == 200
    with pytest.raises(CertificateRevokedError):
        tlskit.get(server.url("/"), cafile=ca_file, crlfile=str(crls), crl_check_chain=True)


def test_chain_check_needs_every_crl(start_server: StartServer, crl_setup: dict, ca_file: str) -> None:
    server = serve(start_server, crl_setup["good"])
    with pytest.raises(RevocationCheckError):
        tlskit.get(
            server.url("/"), cafile=ca_file, crlfile=crl_setup["intermediate_crl"], crl_check_chain=True
        )


# Hostname checks.


def test_check_hostname_off_needs_pins() -> None:
    with pytest.raises(PolicyError) as caught:
        TLSPolicy(check_hostname=False)
    assert caught.value.field == "check_hostname"
    assert "server_hostname" in str(caught.value)
    assert "pins" in str(caught.value)


def test_check_hostname_off_with_pins(start_server: StartServer, ca: trustme.CA, ca_file: str) -> None:
    cert = ca.issue_cert("elsewhere.test")
    server = serve(start_server, cert)
    pin = spki_pin(ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode()))
    with pytest.raises(HostnameMismatchError):
        tlskit.get(server.url("/"), cafile=ca_file, pins=[pin])
    response = tlskit.get(server.url("/"), cafile=ca_file, pins=[pin], check_hostname=False)
    assert response.status == 200


def test_verify_false_warns_once_per_policy(
    https_server: TLSServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A name of its own makes this policy differ from any other test's.
    policy = TLSPolicy(verify=False, server_hostname="warn-once.test")
    with caplog.at_level(logging.WARNING, logger="tlskit"):
        for _ in range(3):
            assert tlskit.get(https_server.url("/"), policy=policy).status == 200
        tlskit.create_context(policy)
    warnings = [record for record in caplog.records if "verification is off" in record.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "OFF (verify=False)" in policy.describe()
