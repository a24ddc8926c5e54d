"""Certificates that OpenSSL verifies but that bend the rules, from the reader to the CLI.

Each certificate comes from `odd_certs`, and each test first has
``openssl verify -x509_strict`` accept it. Then the tlskit reader must read
it as OpenSSL does (``openssl x509`` is the reference), and a loopback server
presenting it must work with `tlskit.get`, trust on first use, the peer
cache, ``tlskit get -v``, ``--json`` and ``tlskit inspect``.

The last group uses a certificate with a non-minimal DER length inside its
subject, which OpenSSL 3.0 verifies but tlskit does not read: it checks what
still works when an essential field cannot be read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple

import pytest
from odd_certs import (
    PRIVATE_EXTENSION_OID,
    PRIVATE_EXTENSION_VALUE,
    OddIssuer,
    der_of,
    with_long_form_length,
)
from peer_helpers import CLOSE, ok_responder

import der_builder as der
import tlskit
from openssl_certs import normalize_openssl_name, read_openssl_facts, split_rfc4514
from servers import TLSServer
from tlskit import CertificateExtension, CertificateParseError, PeerCache, PeerCertificate
from tlskit._certs import sha256_fingerprint, spki_pin
from tlskit._cli import EXIT_OK, main
from tlskit._der import DERError

PINNING_LOGGER = "tlskit._pinning"


class OddCertificates(NamedTuple):
    issuer: OddIssuer
    paths: Dict[str, Path]


@pytest.fixture(scope="session")
def odd(tmp_path_factory: pytest.TempPathFactory) -> OddCertificates:
    issuer = OddIssuer(tmp_path_factory.mktemp("odd-certs"))
    localhost = ("2.5.4.3", der.utf8("localhost"))
    long_form_rdn = with_long_form_length(der.set_of(der.sequence(der.oid("2.5.4.3"), der.utf8("localhost"))))
    paths = {
        # A private extension whose value is not DER, as openssl issues it from an extension file.
        "private-extension": issuer.issue_with_extfile(
            "private-extension",
            f"{PRIVATE_EXTENSION_OID} = DER:{PRIVATE_EXTENSION_VALUE.hex()}\n",
            "/CN=localhost",
        ),
        # OpenSSL puts byte 0xE9 of a -subj without -utf8 in a TeletexString.
        "teletex-e9": issuer.issue_with_extfile("teletex-e9", "", b"/O=Caf\xe9/CN=localhost"),
        # A PrintableString with byte 0xE9: OpenSSL will not write one, so it is built by hand.
        "printable-e9": issuer.issue_hand_built(
            "printable-e9", der.name([("2.5.4.10", der.tlv(0x13, b"Caf\xe9"))], [localhost])
        ),
        "long-form-length": issuer.issue_hand_built("long-form-length", der.sequence(long_form_rdn)),
        # OpenSSL 3.0 verifies an authorityInfoAccess that it cannot decode, since it never reads it.
        "raw-access": issuer.issue_with_extfile(
            "raw-access", f"1.3.6.1.5.5.7.1.1 = DER:{PRIVATE_EXTENSION_VALUE.hex()}\n", "/CN=localhost"
        ),
    }
    return OddCertificates(issuer, paths)


@pytest.fixture(params=["private-extension", "teletex-e9", "printable-e9"])
def readable(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def serve(odd: OddCertificates, name: str) -> TLSServer:
    return TLSServer(odd.issuer.server_context(odd.paths[name]), ok_responder())


@pytest.fixture
def readable_server(odd: OddCertificates, readable: str) -> Iterator[TLSServer]:
    with serve(odd, readable) as server:
        yield server


@pytest.fixture
def long_form_server(odd: OddCertificates) -> Iterator[TLSServer]:
    with serve(odd, "long-form-length") as server:
        yield server


def tlskit_records(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith("tlskit")]


# OpenSSL's verdict, and the reader against ``openssl x509``.


@pytest.mark.parametrize(
    "name", ["private-extension", "teletex-e9", "printable-e9", "long-form-length", "raw-access"]
)
def test_openssl_verifies_strictly(odd: OddCertificates, name: str) -> None:
    assert odd.issuer.verify(odd.paths[name]).strip().endswith(": OK")


def test_private_extension_kept_raw(odd: OddCertificates) -> None:
    cert = PeerCertificate.from_der(der_of(odd.paths["private-extension"]))
    private = [item for item in cert.extensions if item.oid == PRIVATE_EXTENSION_OID]
    assert private == [CertificateExtension(PRIVATE_EXTENSION_OID, False, PRIVATE_EXTENSION_VALUE)]
    assert cert.undecodable_extensions == ()
    assert cert.subject == "CN=localhost"
    assert cert.issuer == "CN=tlskit odd CA"
    assert cert.dns_names == ("localhost",)
    assert cert.ip_addresses == ("127.0.0.1",)
    assert cert.authority_key_identifier is not None


def test_reader_matches_openssl(odd: OddCertificates, readable: str) -> None:
    path = odd.paths[readable]
    facts = read_openssl_facts(path)
    cert = PeerCertificate.from_der(der_of(path))
    assert [sorted(rdn) for rdn in split_rfc4514(cert.subject)] == normalize_openssl_name(facts.subject)
    assert [(item.oid, item.critical) for item in cert.extensions] == [
        (oid, critical) for oid, critical, _ in facts.extensions
    ]
    assert cert.spki == facts.spki
    assert cert.not_after == facts.not_after
    assert cert.serial_number == int(facts.serial_hex, 16)


@pytest.mark.parametrize("name", ["teletex-e9", "printable-e9"])
def test_latin1_subject(odd: OddCertificates, name: str) -> None:
    cert = PeerCertificate.from_der(der_of(odd.paths[name]))
    assert cert.subject == "CN=localhost,O=Café"


# Connections to a server that presents each certificate.


def test_get_and_peer_cache(
    odd: OddCertificates, readable_server: TLSServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cache = PeerCache()
    with tlskit.Client(cafile=str(odd.issuer.ca_cert), peer_cache=cache, session_cache=False) as client:
        assert client.get(readable_server.url("/"), headers=CLOSE).status == 200
    record = cache.get("127.0.0.1", readable_server.port)
    assert record is not None
    assert record.leaf.subject.startswith("CN=localhost")
    assert record.leaf.issuer == "CN=tlskit odd CA"
    assert [record for record in tlskit_records(caplog) if record.levelno >= logging.WARNING] == []


def test_module_get(odd: OddCertificates, readable_server: TLSServer) -> None:
    assert tlskit.get(readable_server.url("/"), cafile=str(odd.issuer.ca_cert), timeout=10).status == 200


def test_trust_on_first_use(odd: OddCertificates, readable_server: TLSServer, readable: str) -> None:
    cache = PeerCache()
    for _ in range(2):
        with tlskit.Client(
            cafile=str(odd.issuer.ca_cert), peer_cache=cache, session_cache=False, trust_on_first_use=True
        ) as client:
            assert client.get(readable_server.url("/"), headers=CLOSE).status == 200
    record = cache.get("127.0.0.1", readable_server.port)
    assert record is not None
    assert record.tofu_pin == spki_pin(der_of(odd.paths[readable]))


def test_cli_verbose(
    odd: OddCertificates, readable_server: TLSServer, readable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["get", readable_server.url("/"), "--cacert", str(odd.issuer.ca_cert), "-v"])
    assert code == EXIT_OK
    lines = capsys.readouterr().err.splitlines()
    expected = "CN=localhost" if readable == "private-extension" else "CN=localhost,O=Café"
    assert f"* server certificate: {expected}" in lines
    assert "*   names: DNS:localhost, IP:127.0.0.1" in lines
    assert f"*   SPKI pin: {spki_pin(der_of(odd.paths[readable]))}" in lines
    assert not any("undecodable" in line for line in lines)


def test_cli_json(
    odd: OddCertificates,
    readable_server: TLSServer,
    readable: str,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    code = main(["get", readable_server.url("/"), "--cacert", str(odd.issuer.ca_cert), "--json"])
    assert code == EXIT_OK
    certificate = json.loads(capsysbinary.readouterr().out)["tls"]["server_certificate"]
    assert certificate["spki_pin"] == spki_pin(der_of(odd.paths[readable]))
    assert certificate["subject"].startswith("CN=localhost")
    assert certificate["undecodable_extensions"] == []


def test_cli_inspect(
    odd: OddCertificates, readable_server: TLSServer, readable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", readable_server.url("/"), "--cacert", str(odd.issuer.ca_cert)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "verified:  yes" in out
    assert spki_pin(der_of(odd.paths[readable])) in out
    assert (
        main(["inspect", readable_server.url("/"), "--cacert", str(odd.issuer.ca_cert), "--json"]) == EXIT_OK
    )
    leaf = json.loads(capsys.readouterr().out)["chain"][0]
    assert leaf["subject"].startswith("CN=localhost")
    assert leaf["dns_names"] == ["localhost"]


# A known extension that tlskit cannot decode: recorded, shown, and linted.


@pytest.fixture
def raw_access_server(odd: OddCertificates) -> Iterator[TLSServer]:
    with serve(odd, "raw-access") as server:
        yield server


def test_undecodable_extension_recorded(odd: OddCertificates) -> None:
    cert = PeerCertificate.from_der(der_of(odd.paths["raw-access"]))
    (extension,) = cert.undecodable_extensions
    assert extension.name == "authorityInfoAccess"
    assert extension.value == PRIVATE_EXTENSION_VALUE
    assert extension.error is not None
    assert "unexpected data after the last field of the authorityInfoAccess extension" in extension.error
    assert cert.ocsp_urls == ()
    assert cert.dns_names == ("localhost",)


def test_undecodable_extension_cli(
    odd: OddCertificates, raw_access_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = str(odd.issuer.ca_cert)
    assert main(["get", raw_access_server.url("/"), "--cacert", ca, "-v"]) == EXIT_OK
    lines = capsys.readouterr().err.splitlines()
    assert "* server certificate: CN=localhost" in lines
    assert any(line.startswith("*   undecodable extension: authorityInfoAccess: ") for line in lines)

    assert main(["get", raw_access_server.url("/"), "--cacert", ca, "--json"]) == EXIT_OK
    certificate = json.loads(capsys.readouterr().out)["tls"]["server_certificate"]
    (extension,) = certificate["undecodable_extensions"]
    assert extension["oid"] == "1.3.6.1.5.5.7.1.1"
    assert extension["name"] == "authorityInfoAccess"
    assert extension["critical"] is False
    assert "unexpected data" in extension["error"]

    assert main(["inspect", raw_access_server.url("/"), "--cacert", ca]) == EXIT_OK
    assert "      undecodable extension authorityInfoAccess: unexpected data" in capsys.readouterr().out


def test_undecodable_extension_doctor(
    odd: OddCertificates, raw_access_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["doctor", "--json", raw_access_server.url("/"), "--cacert", str(odd.issuer.ca_cert)]
    assert main(argv) == EXIT_OK
    (report,) = json.loads(capsys.readouterr().out)
    found = [finding for finding in report["findings"] if finding["check"] == "undecodable-extension"]
    assert len(found) == 1
    assert found[0]["severity"] == "warning"
    assert found[0]["position"] == "[0]"
    assert found[0]["message"].startswith("tlskit cannot decode its authorityInfoAccess extension (")


# A certificate whose subject tlskit cannot read: only the SPKI is essential for pins.


def test_long_form_length_unreadable(odd: OddCertificates) -> None:
    der_bytes = der_of(odd.paths["long-form-length"])
    with pytest.raises(DERError, match="non-minimal length encoding"):
        PeerCertificate.from_der(der_bytes)
    assert spki_pin(der_bytes) == spki_pin(der_of(odd.paths["private-extension"]))


def test_unreadable_peer_warns_once_and_connects(
    odd: OddCertificates, long_form_server: TLSServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=PINNING_LOGGER)
    cache = PeerCache()
    with tlskit.Client(cafile=str(odd.issuer.ca_cert), peer_cache=cache, session_cache=False) as client:
        for _ in range(2):
            assert client.get(long_form_server.url("/"), headers=CLOSE).status == 200
    assert cache.get("127.0.0.1", long_form_server.port) is None
    reports = [record for record in caplog.records if record.name == PINNING_LOGGER]
    assert [record.levelno for record in reports] == [logging.WARNING, logging.DEBUG]
    message = reports[0].getMessage()
    assert f"could not record 127.0.0.1:{long_form_server.port} in the peer cache" in message
    assert "non-minimal length encoding" in message


def test_unreadable_peer_first_use_rejected(odd: OddCertificates, long_form_server: TLSServer) -> None:
    cache = PeerCache()
    with tlskit.Client(
        cafile=str(odd.issuer.ca_cert), peer_cache=cache, session_cache=False, trust_on_first_use=True
    ) as client:
        with pytest.raises(CertificateParseError) as caught:
            client.get(long_form_server.url("/"), headers=CLOSE)
    assert caught.value.host == "127.0.0.1"
    assert caught.value.port == long_form_server.port
    assert str(caught.value).startswith(f"trust on first use cannot pin 127.0.0.1:{long_form_server.port}:")
    assert isinstance(caught.value.__cause__, DERError)
    assert cache.get("127.0.0.1", long_form_server.port) is None


def test_unreadable_peer_checked_against_stored_pin(
    odd: OddCertificates, long_form_server: TLSServer
) -> None:
    # A readable certificate for the same key pins it first, as an earlier visit would.
    cache = PeerCache()
    readable = der_of(odd.paths["private-extension"])
    cache.record("127.0.0.1", long_form_server.port, [readable], "TLSv1.3", trust_on_first_use=True)
    with tlskit.Client(
        cafile=str(odd.issuer.ca_cert), peer_cache=cache, session_cache=False, trust_on_first_use=True
    ) as client:
        assert client.get(long_form_server.url("/"), headers=CLOSE).status == 200
    record = cache.get("127.0.0.1", long_form_server.port)
    assert record is not None
    assert record.tofu_pin == spki_pin(readable)
    assert record.fingerprint == PeerCertificate.from_der(readable).sha256_fingerprint


def test_unreadable_peer_mismatched_pin_rejected(odd: OddCertificates, long_form_server: TLSServer) -> None:
    cache = PeerCache()
    other_key = der.certificate()
    cache.record("127.0.0.1", long_form_server.port, [other_key], "TLSv1.3", trust_on_first_use=True)
    with tlskit.Client(
        cafile=str(odd.issuer.ca_cert), peer_cache=cache, session_cache=False, trust_on_first_use=True
    ) as client:
        with pytest.raises(tlskit.PinMismatchError) as caught:
            client.get(long_form_server.url("/"), headers=CLOSE)
    assert caught.value.expected_pins == (spki_pin(other_key),)
    assert caught.value.actual_pins[0] == spki_pin(der_of(odd.paths["long-form-length"]))


def test_unreadable_peer_cli(
    odd: OddCertificates, long_form_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = str(odd.issuer.ca_cert)
    fingerprint = sha256_fingerprint(der_of(odd.paths["long-form-length"]))
    assert main(["get", long_form_server.url("/"), "--cacert", ca, "-v"]) == EXIT_OK
    lines = capsys.readouterr().err.splitlines()
    assert any(
        line.startswith("* server certificate: tlskit cannot read it: non-minimal length") for line in lines
    )

    assert main(["get", long_form_server.url("/"), "--cacert", ca, "--json"]) == EXIT_OK
    certificate = json.loads(capsys.readouterr().out)["tls"]["server_certificate"]
    assert "non-minimal length encoding" in certificate["error"]
    assert certificate["sha256_fingerprint"] == fingerprint

    assert main(["inspect", long_form_server.url("/"), "--cacert", ca]) == EXIT_OK
    out = capsys.readouterr().out
    assert "  [0] tlskit cannot read this certificate: non-minimal length encoding" in out
    assert f"      SHA-256:  {fingerprint}" in out

    assert main(["inspect", long_form_server.url("/"), "--cacert", ca, "--json"]) == EXIT_OK
    leaf = json.loads(capsys.readouterr().out)["chain"][0]
    assert leaf["sha256_fingerprint"] == fingerprint
    assert "non-minimal length encoding" in leaf["error"]


def test_unreadable_peer_doctor(
    odd: OddCertificates, long_form_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["doctor", "--json", long_form_server.url("/"), "--cacert", str(odd.issuer.ca_cert)]
    assert main(argv) == EXIT_OK
    (report,) = json.loads(capsys.readouterr().out)
    (finding,) = report["findings"]
    assert finding["check"] == "malformed"
    assert finding["severity"] == "warning"
    assert finding["position"] == "[0]"
    assert "non-minimal length encoding" in finding["message"]
