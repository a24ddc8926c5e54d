"""Expiry warnings for the client certificate, custom CA bundles and the server's chain."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Callable, List

import pytest
import trustme

import tlskit
from chains import CA_EXTENSIONS, OPENSSL, PKI
from conftest import make_server_context
from servers import HTTPResponder, TLSServer
from tlskit._expiry import claim_warning, read_certificate_data, read_validity, warn_if_expiring

StartServer = Callable[..., TLSServer]


def in_days(days: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


def expiry_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and ("expires in" in record.getMessage() or "expired on" in record.getMessage())
    ]


def write_leaf(tmp_path: Path, cert: trustme.LeafCert, name: str) -> str:
    path = tmp_path / name
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path)


def test_client_certificate_warned_once(
    ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_leaf(tmp_path, ca.issue_cert("client@example.test", not_after=in_days(5.5)), "client.pem")
    with caplog.at_level(logging.WARNING, logger="tlskit._expiry"):
        tlskit.create_context(client_cert=path)
        tlskit.create_context(client_cert=path, minimum_version="1.3")
    warnings = expiry_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"the client certificate file TLSPolicy.client_cert {path!r}, ")
    assert "expires in 5 days, on " in warnings[0]
    assert "Renew it before then." in warnings[0]


def test_client_certificate_data_warned(ca: trustme.CA, caplog: pytest.LogCaptureFixture) -> None:
    cert = ca.issue_cert("client@example.test", not_after=in_days(2.5))
    with caplog.at_level(logging.WARNING, logger="tlskit._expiry"):
        tlskit.create_context(client_cert_data=cert.private_key_and_cert_chain_pem.bytes())
    warnings = expiry_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("the client certificate in TLSPolicy.client_cert_data, ")
    assert "expires in 2 days" in warnings[0]


def test_distant_expiry_not_warned(ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_leaf(tmp_path, ca.issue_cert("client@example.test", not_after=in_days(30.5)), "client.pem")
    with caplog.at_level(logging.WARNING, logger="tlskit._expiry"):
        tlskit.create_context(client_cert=path)
    assert expiry_warnings(caplog) == []


@pytest.mark.parametrize(("days", "warned"), [(40, True), (3, False), (None, False)])
def test_threshold_configurable(
    ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture, days: object, warned: bool
) -> None:
    path = write_leaf(tmp_path, ca.issue_cert("client@example.test", not_after=in_days(30.5)), "client.pem")
    with caplog.at_level(logging.WARNING, logger="tlskit._expiry"):
        tlskit.create_context(client_cert=path, expiry_warning_days=days)
    assert bool(expiry_warnings(caplog)) is warned


@pytest.mark.parametrize("days", [-1, 1.5, True, "14"])
def test_invalid_threshold(days: object) -> None:
    with pytest.raises(tlskit.PolicyError) as caught:
        tlskit.TLSPolicy(expiry_warning_days=days)  # type: ignore[arg-type]
    assert caught.value.field == "expiry_warning_days"
    assert repr(days) in str(caught.value)


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of a long-lived CA and one that expires in five days."""
    if OPENSSL is None:
        pytest.skip("the openssl command is not installed")
    pki = PKI(tmp_path_factory.mktemp("expiry-pki"))
    later = pki.issue("later", "/CN=Long Lived CA", CA_EXTENSIONS, days=3650)
    soon = pki.issue("soon", "/CN=Expiring Soon CA", CA_EXTENSIONS, days=5)
    return pki.bundle("bundle", [later, soon])


def test_ca_bundle_warned(ca_bundle: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tlskit._expiry"):
        tlskit.create_context(cafile=str(ca_bundle))
    warnings = expiry_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"a certificate of TLSPolicy.cafile {str(ca_bundle)!r}, 'CN=Expiring Soon CA', "
    )
    assert "expires in 4 days" in warnings[0]


def test_cadata_warned(ca: trustme.CA, caplog: pytest.LogCaptureFixture) -> None:
    expired = ca.issue_cert(
        "old.example.test", not_after=datetime.datetime(2021, 3, 1, tzinfo=datetime.timezone.utc)
    )
    with caplog.at_level(logging.WARNING, logger="tlskit._expiry"):
        tlskit.create_context(cadata=expired.cert_chain_pems[0].bytes().decode())
    warnings = expiry_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("a certificate of TLSPolicy.cadata, ")
    assert warnings[0].endswith("expired on 2021-03-01 00:00 UTC. Replace or remove it.")


def test_peer_chain_warned_once_across_sources(
    ca: trustme.CA, start_server: StartServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The server's certificate is also the client's trust anchor (a partial
    # chain), so two sources see it; one warning must come out.
    leaf = ca.issue_cert("127.0.0.1", not_after=in_days(6.5))
    anchor = tmp_path / "anchor.pem"
    leaf.cert_chain_pems[0].write_to_path(str(anchor))
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), make_server_context(leaf))
    with caplog.at_level(logging.WARNING):
        with tlskit.Client(cafile=str(anchor), system_ca=False, peer_cache=tlskit.PeerCache()) as client:
            assert client.get(server.url("/")).status == 200
            assert client.get(server.url("/")).status == 200
    warnings = expiry_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"a certificate of TLSPolicy.cafile {str(anchor)!r}")


def test_peer_chain_warned_by_peer_cache(
    ca: trustme.CA, start_server: StartServer, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    leaf = ca.issue_cert("127.0.0.1", not_after=in_days(3.5))
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), make_server_context(leaf))
    with caplog.at_level(logging.WARNING):
        tlskit.get(server.url("/"), cafile=ca_file, peer_cache=tlskit.PeerCache())
        tlskit.get(server.url("/"), cafile=ca_file, peer_cache=tlskit.PeerCache())
    warnings = expiry_warnings(caplog)
    assert len(warnings) == 1
    assert f"127.0.0.1:{server.port}" in warnings[0]


def test_claim_warning_once() -> None:
    fingerprint = "AB:CD:" + "00:" * 29 + "01"
    assert claim_warning(fingerprint) is True
    assert claim_warning(fingerprint) is False
    assert claim_warning(fingerprint.replace(":", "").lower()) is False


def test_read_validity_matches_full_parse(ca: trustme.CA) -> None:
    cert = ca.issue_cert("validity.example.test", not_after=in_days(10))
    der = read_certificate_data(cert.cert_chain_pems[0].bytes())[0]
    parsed = tlskit.PeerCertificate.from_der(der)
    assert read_validity(der) == (parsed.not_before, parsed.not_after)


def test_malformed_certificate_raises() -> None:
    with pytest.raises(tlskit.CertificateParseError):
        warn_if_expiring(b"\x30\x03\x02\x01\x00", 14, "a test certificate")
