"""PeerCertificate against openssl and CPython's decoder, PEM bundles, expiry, and pins.

The openssl comparisons run on the certificates `openssl_certs` issues, and
are skipped when the openssl CLI is not on PATH. The pin tests run real TLS
servers on loopback with trustme chains of root, intermediate and leaf.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import ipaddress
import socket
import ssl
import sys
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest
import trustme

import tlskit
from conftest import make_server_context
from openssl_certs import (
    OPENSSL,
    OPENSSL_KEY_PURPOSES,
    OPENSSL_KEY_USAGES,
    SPECS,
    OpenSSLFacts,
    generate_certificates,
    normalize_openssl_name,
    read_openssl_facts,
    run_openssl,
    split_rfc4514,
)
from servers import SOCKET_TIMEOUT_SECONDS, HTTPResponder, TLSServer
from tlskit import CertificateParseError, PeerCertificate, PinMismatchError, PolicyError
from tlskit._certs import pem_to_der_list, sha256_fingerprint, spki_pin
from tlskit._connection import verified_chain

UTC = datetime.timezone.utc
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not on PATH")


def der_of(pem: bytes) -> bytes:
    (der,) = pem_to_der_list(pem)
    return der


# Field by field against ``openssl x509``.


class Generated(NamedTuple):
    path: Path
    facts: OpenSSLFacts
    cert: PeerCertificate


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Generated]:
    if OPENSSL is None:
        pytest.skip("the openssl CLI is not on PATH")
    paths = generate_certificates(tmp_path_factory.mktemp("openssl-certs"))
    return {
        name: Generated(path, read_openssl_facts(path), PeerCertificate.from_der(der_of(path.read_bytes())))
        for name, path in paths.items()
    }


CERTIFICATE_NAMES = [spec.name for spec in SPECS]


def extension_lines(facts: OpenSSLFacts, oid: str) -> Optional[List[str]]:
    """Return the value lines OpenSSL printed for the extension ``oid``, or None without it."""
    for found_oid, _, lines in facts.extensions:
        if found_oid == oid:
            return lines
    return None


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_header_fields_match_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    assert cert.version == facts.version
    assert cert.serial_number == int(facts.serial_hex, 16)
    assert cert.serial_number_hex.replace(":", "") == facts.serial_hex
    assert cert.signature_algorithm == facts.signature_algorithm
    assert cert.not_before == facts.not_before
    assert cert.not_after == facts.not_after
    assert cert.sha256_fingerprint == facts.sha256_fingerprint


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_names_match_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    assert [sorted(rdn) for rdn in split_rfc4514(cert.subject)] == normalize_openssl_name(facts.subject)
    assert [sorted(rdn) for rdn in split_rfc4514(cert.issuer)] == normalize_openssl_name(facts.issuer)


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_public_key_matches_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    assert cert.public_key_algorithm == facts.public_key_algorithm
    assert cert.key_size == facts.key_size
    assert cert.curve == facts.curve
    assert cert.spki == facts.spki
    assert cert.spki_pin == "sha256/" + base64.b64encode(hashlib.sha256(facts.spki).digest()).decode()


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_extension_list_matches_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    assert [(item.oid, item.critical) for item in cert.extensions] == [
        (oid, critical) for oid, critical, _ in facts.extensions
    ]


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_subject_alt_name_matches_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    lines = extension_lines(facts, "2.5.29.17")
    entries = lines[0].split(", ") if lines else []
    by_kind: Dict[str, List[str]] = {"DNS": [], "IP Address": [], "URI": [], "email": []}
    for entry in entries:
        kind, _, value = entry.partition(":")
        by_kind[kind].append(value)
    assert list(cert.dns_names) == by_kind["DNS"]
    assert list(cert.ip_addresses) == [str(ipaddress.ip_address(value)) for value in by_kind["IP Address"]]
    assert list(cert.uris) == by_kind["URI"]
    assert list(cert.emails) == by_kind["email"]


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_basic_constraints_match_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    lines = extension_lines(facts, "2.5.29.19")
    parts = dict(part.split(":") for part in lines[0].split(", ")) if lines else {}
    assert cert.is_ca is (parts.get("CA") == "TRUE")
    assert cert.path_length == (int(parts["pathlen"]) if "pathlen" in parts else None)


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_key_usages_match_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    key_usage = extension_lines(facts, "2.5.29.15")
    extended = extension_lines(facts, "2.5.29.37")
    expected_key_usage = (
        tuple(OPENSSL_KEY_USAGES[label] for label in key_usage[0].split(", ")) if key_usage else None
    )
    expected_extended = (
        tuple(OPENSSL_KEY_PURPOSES.get(label, label) for label in extended[0].split(", "))
        if extended
        else None
    )
    assert cert.key_usage == expected_key_usage
    assert cert.extended_key_usage == expected_extended


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_key_identifiers_match_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    subject_id = extension_lines(facts, "2.5.29.14")
    authority_id = extension_lines(facts, "2.5.29.35")
    assert cert.subject_key_identifier == (
        bytes.fromhex(subject_id[0].replace(":", "")) if subject_id else None
    )
    expected_authority = None
    if authority_id:
        expected_authority = bytes.fromhex(authority_id[0].replace("keyid:", "").replace(":", ""))
    assert cert.authority_key_identifier == expected_authority


@needs_openssl
@pytest.mark.parametrize("name", CERTIFICATE_NAMES)
def test_authority_info_access_matches_openssl(generated: Dict[str, Generated], name: str) -> None:
    facts, cert = generated[name].facts, generated[name].cert
    lines = extension_lines(facts, "1.3.6.1.5.5.7.1.1") or []
    assert list(cert.ocsp_urls) == [line.split("URI:", 1)[1] for line in lines if line.startswith("OCSP - ")]
    assert list(cert.ca_issuers_urls) == [
        line.split("URI:", 1)[1] for line in lines if line.startswith("CA Issuers - ")
    ]


@needs_openssl
def test_generated_set_covers_both_time_types(generated: Dict[str, Generated]) -> None:
    long_lived = run_openssl("asn1parse", "-in", str(generated["leaf-rsa4096-every-san"].path))
    short_lived = run_openssl("asn1parse", "-in", str(generated["leaf-p256-ip"].path))
    assert "GENERALIZEDTIME" in long_lived
    assert "GENERALIZEDTIME" not in short_lived
    assert generated["leaf-rsa4096-every-san"].cert.not_after.year > 2049


@needs_openssl
def test_escaped_names_exact(generated: Dict[str, Generated]) -> None:
    assert generated["names-need-escaping"].cert.subject == (
        "CN=trailing\\ ,ST=日本,L=Zürich,SN=Sur,title=Dr,UID=u1,DC=example,STREET=1 Main St,"
        'serialNumber=123,givenName=Zoë,emailAddress=x@y.test,CN=\\ #lead\\"q\\\\\\ ,'
        "OU=a\\+b\\;c\\<d\\>e=f,O=Example\\, Inc.,C=US"
    )
    assert generated["names-multi-valued"].cert.subject == "CN=a+L=c+OU=b,O=Multi"


@needs_openssl
def test_pin_matches_openssl_pipeline(generated: Dict[str, Generated]) -> None:
    """The pin equals what the pipeline in TLSPolicy's pin error message prints."""
    path = generated["leaf-rsa2048"].path
    spki_der = base64.b64decode(
        "".join(
            line
            for line in run_openssl("x509", "-in", str(path), "-noout", "-pubkey").splitlines()
            if "-----" not in line
        )
    )
    expected = "sha256/" + base64.b64encode(hashlib.sha256(spki_der).digest()).decode()
    assert spki_pin(der_of(path.read_bytes())) == expected
    assert generated["leaf-rsa2048"].cert.spki_pin == expected


# Against CPython's own decoder, on trustme certificates.


def decoded_by_cpython(pem_path: Path) -> Dict[str, object]:
    # ssl._ssl._test_decode_cert is CPython's private test hook, the decoder behind getpeercert().
    return ssl._ssl._test_decode_cert(str(pem_path))  # type: ignore[attr-defined,no-any-return]


def cpython_time(text: object) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(str(text)), UTC)


@pytest.mark.parametrize("key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA])
def test_trustme_leaf_matches_cpython(key_type: trustme.KeyType, tmp_path: Path) -> None:
    ca = trustme.CA(key_type=key_type)
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", "user@example.test", key_type=key_type)
    path = tmp_path / "leaf.pem"
    leaf.cert_chain_pems[0].write_to_path(str(path))
    decoded = decoded_by_cpython(path)
    cert = PeerCertificate.from_der(der_of(path.read_bytes()))

    assert cert.version == decoded["version"]
    assert cert.serial_number_hex.replace(":", "") == decoded["serialNumber"]
    assert cert.not_before == cpython_time(decoded["notBefore"])
    assert cert.not_after == cpython_time(decoded["notAfter"])
    assert cert.subject == ",".join(
        f"{'O' if key == 'organizationName' else 'OU'}={value}"
        for rdn in reversed(decoded["subject"])  # type: ignore[call-overload]
        for key, value in rdn
    )
    assert cert.dns_names == ("localhost",)
    assert cert.ip_addresses == ("127.0.0.1", "::1")
    assert cert.emails == ("user@example.test",)
    assert cert.public_key_algorithm == ("EC" if key_type == trustme.KeyType.ECDSA else "RSA")
    assert cert.key_size == (256 if key_type == trustme.KeyType.ECDSA else 2048)
    assert cert.is_ca is False
    assert cert.extended_key_usage == ("clientAuth", "serverAuth", "codeSigning")


def test_trustme_ca_flags() -> None:
    ca = trustme.CA()
    root = PeerCertificate.from_der(der_of(ca.cert_pem.bytes()))
    intermediate = PeerCertificate.from_der(der_of(ca.create_child_ca().cert_pem.bytes()))
    assert root.is_ca is True
    assert root.path_length == 9
    assert root.subject == root.issuer
    assert root.key_usage == ("digitalSignature", "keyCertSign", "cRLSign")
    assert intermediate.is_ca is True
    assert intermediate.path_length == 8
    assert intermediate.issuer == root.subject
    assert intermediate.authority_key_identifier == root.subject_key_identifier


# PeerCertificate behaviour.


@pytest.fixture(scope="module")
def trustme_leaf() -> PeerCertificate:
    return PeerCertificate.from_der(
        der_of(trustme.CA().issue_cert("leaf.example.test").cert_chain_pems[0].bytes())
    )


def test_fingerprint_and_pin_helpers_agree(trustme_leaf: PeerCertificate) -> None:
    assert trustme_leaf.sha256_fingerprint == sha256_fingerprint(trustme_leaf.der)
    assert (
        trustme_leaf.sha256_fingerprint.replace(":", "")
        == hashlib.sha256(trustme_leaf.der).hexdigest().upper()
    )
    assert len(trustme_leaf.sha256_fingerprint.split(":")) == 32
    assert trustme_leaf.spki_pin == spki_pin(trustme_leaf.der)
    assert tlskit.TLSPolicy(pins=[trustme_leaf.spki_pin]).pins == (trustme_leaf.spki_pin,)


def test_peer_certificate_is_frozen(trustme_leaf: PeerCertificate) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        trustme_leaf.subject = "CN=other"  # type: ignore[misc]


def test_peer_certificate_equality_and_repr(trustme_leaf: PeerCertificate) -> None:
    again = PeerCertificate.from_der(bytearray(trustme_leaf.der))
    assert again == trustme_leaf
    assert hash(again) == hash(trustme_leaf)
    assert "der=" not in repr(trustme_leaf)
    assert "subject='OU=Testing cert" in repr(trustme_leaf)


def test_from_der_rejects_pem_text(trustme_leaf: PeerCertificate) -> None:
    pem = ssl.DER_cert_to_PEM_cert(trustme_leaf.der).encode()
    with pytest.raises(CertificateParseError, match="expected tag 0x30 at offset 0, found 0x2d"):
        PeerCertificate.from_der(pem)


def leaf_with_validity(not_before: datetime.datetime, not_after: datetime.datetime) -> PeerCertificate:
    ca = trustme.CA()
    leaf = ca.issue_cert("validity.example.test", not_before=not_before, not_after=not_after)
    return PeerCertificate.from_der(der_of(leaf.cert_chain_pems[0].bytes()))


NOT_BEFORE = datetime.datetime(2030, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime.datetime(2030, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def dated() -> PeerCertificate:
    return leaf_with_validity(NOT_BEFORE, NOT_AFTER)


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (NOT_BEFORE, 59),
        (NOT_AFTER - datetime.timedelta(days=1), 1),
        (NOT_AFTER - datetime.timedelta(days=1) + datetime.timedelta(seconds=1), 0),
        (NOT_AFTER, 0),
        (NOT_AFTER + datetime.timedelta(seconds=1), -1),
        (NOT_AFTER + datetime.timedelta(days=10), -10),
        (datetime.datetime(2030, 2, 28, 18, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))), 0),
        (datetime.datetime(2030, 2, 28, 20, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))), -1),
    ],
)
def test_days_until_expiry(dated: PeerCertificate, now: datetime.datetime, days: int) -> None:
    assert dated.days_until_expiry(now) == days


@pytest.mark.parametrize(
    ("now", "expired", "not_yet_valid"),
    [
        (NOT_BEFORE - datetime.timedelta(seconds=1), False, True),
        (NOT_BEFORE, False, False),
        (NOT_AFTER, False, False),
        (NOT_AFTER + datetime.timedelta(microseconds=1), True, False),
    ],
)
def test_validity_predicates(
    dated: PeerCertificate, now: datetime.datetime, expired: bool, not_yet_valid: bool
) -> None:
    assert dated.is_expired(now) is expired
    assert dated.is_not_yet_valid(now) is not_yet_valid


def test_validity_defaults_to_current_time(trustme_leaf: PeerCertificate) -> None:
    # trustme's default validity runs to the year 3000.
    assert trustme_leaf.days_until_expiry() > 0
    assert trustme_leaf.is_expired() is False
    assert trustme_leaf.is_not_yet_valid() is False


@pytest.mark.parametrize("method", ["days_until_expiry", "is_expired", "is_not_yet_valid"])
def test_naive_now_rejected(dated: PeerCertificate, method: str) -> None:
    with pytest.raises(PolicyError, match="has no time zone") as caught:
        getattr(dated, method)(datetime.datetime(2030, 1, 1))
    assert caught.value.field == "now"


# PEM bundles.


@pytest.fixture(scope="module")
def two_pems() -> Tuple[str, str]:
    ca = trustme.CA()
    return ca.cert_pem.bytes().decode(), ca.issue_cert("a.test").cert_chain_pems[0].bytes().decode()


def test_pem_bundle_with_comments(two_pems: Tuple[str, str]) -> None:
    first, second = two_pems
    bundle = (
        '# Issuer: CN=Zoë Root\n# Label: "example"\n\n' + first + "\nsome notes\n"
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + second.replace("\n", "\r\n")
    )
    ders = pem_to_der_list(bundle)
    assert ders == [ssl.PEM_cert_to_DER_cert(first), ssl.PEM_cert_to_DER_cert(second)]
    assert pem_to_der_list(bundle.encode("utf-8")) == ders


def test_pem_without_certificates() -> None:
    assert pem_to_der_list("") == []
    assert pem_to_der_list("just text\n") == []


def test_pem_indented_block(two_pems: Tuple[str, str]) -> None:
    indented = "".join("    " + line + "\n" for line in two_pems[0].splitlines())
    assert pem_to_der_list(indented) == [ssl.PEM_cert_to_DER_cert(two_pems[0])]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "block at line 1 has no -----END CERTIFICATE----- line"),
        (
            "x\n-----BEGIN CERTIFICATE-----\nMIIB\n-----BEGIN CERTIFICATE-----\n",
            "block at line 2 ends at line 4",
        ),
        ("-----BEGIN CERTIFICATE-----\nMI*B\n-----END CERTIFICATE-----\n", "invalid base64"),
        ("-----BEGIN CERTIFICATE-----\nMIIBx\n-----END CERTIFICATE-----\n", "invalid base64"),
        ("-----BEGIN CERTIFICATE-----\nMIIé\n-----END CERTIFICATE-----\n", "invalid base64"),
        ("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "is empty"),
    ],
)
def test_pem_rejects(text: str, reason: str) -> None:
    with pytest.raises(CertificateParseError, match=reason):
        pem_to_der_list(text)


def test_public_names() -> None:
    assert "PeerCertificate" in tlskit.__all__
    assert "CertificateParseError" in tlskit.__all__
    assert "CertificateExtension" in tlskit.__all__
    assert issubclass(tlskit.CertificateParseError, tlskit.TLSKitError)
    assert issubclass(tlskit.CertificateParseError, ValueError)


# The verified chain and pins, over real TLS on loopback.

HAS_VERIFIED_CHAIN = sys.version_info >= (3, 10)


class Chain(NamedTuple):
    root: trustme.CA
    intermediate: trustme.CA
    leaf: trustme.LeafCert
    root_file: str

    def pins(self) -> Tuple[str, str, str]:
        """Return the leaf, intermediate and root pins."""
        return (
            spki_pin(der_of(self.leaf.cert_chain_pems[0].bytes())),
            spki_pin(der_of(self.intermediate.cert_pem.bytes())),
            spki_pin(der_of(self.root.cert_pem.bytes())),
        )

    def ders(self) -> List[bytes]:
        return [
            der_of(self.leaf.cert_chain_pems[0].bytes()),
            der_of(self.intermediate.cert_pem.bytes()),
            der_of(self.root.cert_pem.bytes()),
        ]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("localhost", "127.0.0.1", "::1")
    root_file = tmp_path_factory.mktemp("chain") / "root.pem"
    root.cert_pem.write_to_path(str(root_file))
    return Chain(root, intermediate, leaf, str(root_file))


@pytest.fixture
def chain_server(chain: Chain, loopback_host: str) -> Iterator[TLSServer]:
    # trustme's configure_cert sends the leaf and the intermediate.
    responder = HTTPResponder({"/": (200, [], b"ok\n")})
    with TLSServer(make_server_context(chain.leaf), responder, loopback_host) as server:
        yield server


def server_with_chain(tmp_path: Path, key_pem: bytes, chain_pems: List[bytes]) -> ssl.SSLContext:
    """Return a server context that sends exactly ``chain_pems``, leaf first."""
    chain_file = tmp_path / "chain.pem"
    key_file = tmp_path / "key.pem"
    chain_file.write_bytes(b"".join(chain_pems))
    key_file.write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(chain_file), str(key_file))
    return context


def handshake(
    server: TLSServer, context: ssl.SSLContext, session: Optional[ssl.SSLSession] = None
) -> ssl.SSLSocket:
    raw = socket.create_connection((server.host, server.port), timeout=SOCKET_TIMEOUT_SECONDS)
    return context.wrap_socket(raw, server_hostname="localhost", session=session)


@pytest.mark.skipif(not HAS_VERIFIED_CHAIN, reason="Python 3.9 exposes no verified chain")
def test_verified_chain_is_leaf_to_root(chain: Chain, chain_server: TLSServer) -> None:
    context = ssl.create_default_context(cafile=chain.root_file)
    with handshake(chain_server, context) as sock:
        assert verified_chain(sock) == chain.ders()


@pytest.mark.skipif(HAS_VERIFIED_CHAIN, reason="Python 3.10 and later expose the verified chain")
def test_verified_chain_is_leaf_only_on_39(chain: Chain, chain_server: TLSServer) -> None:
    context = ssl.create_default_context(cafile=chain.root_file)
    with handshake(chain_server, context) as sock:
        assert verified_chain(sock) == chain.ders()[:1]


def test_verified_chain_without_verification_is_leaf_only(chain: Chain, chain_server: TLSServer) -> None:
    context = ssl.create_default_context(cafile=chain.root_file)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with handshake(chain_server, context) as sock:
        assert verified_chain(sock) == chain.ders()[:1]


def test_verified_chain_after_resumption_is_leaf_only(chain: Chain) -> None:
    # TLS 1.2 hands out the session right after the handshake; TLS 1.3 sends
    # its ticket later, with the first application data.
    server_context = make_server_context(chain.leaf)
    server_context.maximum_version = ssl.TLSVersion.TLSv1_2
    client_context = ssl.create_default_context(cafile=chain.root_file)
    with TLSServer(server_context, HTTPResponder()) as server:
        with handshake(server, client_context) as first:
            session = first.session
            full = verified_chain(first)
        with handshake(server, client_context, session) as second:
            assert second.session_reused
            resumed = verified_chain(second)
    assert full == (chain.ders() if HAS_VERIFIED_CHAIN else chain.ders()[:1])
    assert resumed == chain.ders()[:1]


def test_leaf_pin_accepted(chain: Chain, chain_server: TLSServer) -> None:
    leaf_pin, _, _ = chain.pins()
    response = tlskit.get(chain_server.url(), cafile=chain.root_file, pins=[leaf_pin])
    assert response.status == 200


@pytest.mark.skipif(not HAS_VERIFIED_CHAIN, reason="Python 3.9 exposes no verified chain")
def test_root_pin_accepted(chain: Chain, chain_server: TLSServer) -> None:
    _, _, root_pin = chain.pins()
    response = tlskit.get(chain_server.url(), cafile=chain.root_file, pins=[root_pin])
    assert response.status == 200


@pytest.mark.skipif(not HAS_VERIFIED_CHAIN, reason="Python 3.9 exposes no verified chain")
def test_intermediate_pin_accepted(chain: Chain, chain_server: TLSServer) -> None:
    _, intermediate_pin, _ = chain.pins()
    response = tlskit.get(chain_server.url(), cafile=chain.root_file, pins=[intermediate_pin])
    assert response.status == 200


@pytest.mark.skipif(HAS_VERIFIED_CHAIN, reason="Python 3.10 and later expose the verified chain")
def test_root_pin_rejected_on_39(chain: Chain, chain_server: TLSServer) -> None:
    leaf_pin, _, root_pin = chain.pins()
    with pytest.raises(PinMismatchError) as caught:
        tlskit.get(chain_server.url(), cafile=chain.root_file, pins=[root_pin])
    assert caught.value.actual_pins == (leaf_pin,)


def test_unknown_pin_rejected(chain: Chain, chain_server: TLSServer) -> None:
    other_pin = spki_pin(der_of(trustme.CA().cert_pem.bytes()))
    with pytest.raises(PinMismatchError) as caught:
        tlskit.get(chain_server.url(), cafile=chain.root_file, pins=[other_pin])
    assert caught.value.expected_pins == (other_pin,)
    assert caught.value.actual_pins == (chain.pins() if HAS_VERIFIED_CHAIN else chain.pins()[:1])
    assert caught.value.host == chain_server.host
    assert caught.value.port == chain_server.port


def test_pin_of_extra_certificate_sent_by_server_rejected(chain: Chain, tmp_path: Path) -> None:
    """A certificate the server sends but that is not in the verified chain never satisfies a pin."""
    extra = trustme.CA()
    extra_pin = spki_pin(der_of(extra.cert_pem.bytes()))
    context = server_with_chain(
        tmp_path,
        chain.leaf.private_key_pem.bytes(),
        [chain.leaf.cert_chain_pems[0].bytes(), chain.intermediate.cert_pem.bytes(), extra.cert_pem.bytes()],
    )
    with TLSServer(context, HTTPResponder({"/": (200, [], b"ok\n")})) as server:
        with pytest.raises(PinMismatchError) as caught:
            tlskit.get(server.url(), cafile=chain.root_file, pins=[extra_pin])
    assert extra_pin not in caught.value.actual_pins


def test_ca_pin_without_verification_rejected(chain: Chain, tmp_path: Path) -> None:
    """With verification off, a server cannot satisfy a CA pin by sending a copy of that CA."""
    impostor = trustme.CA().issue_cert("localhost", "127.0.0.1")
    _, _, root_pin = chain.pins()
    context = server_with_chain(
        tmp_path,
        impostor.private_key_pem.bytes(),
        [impostor.cert_chain_pems[0].bytes(), chain.root.cert_pem.bytes()],
    )
    with TLSServer(context, HTTPResponder({"/": (200, [], b"ok\n")})) as server:
        with pytest.raises(PinMismatchError) as caught:
            tlskit.get(server.url(), verify=False, pins=[root_pin])
        impostor_pin = spki_pin(der_of(impostor.cert_chain_pems[0].bytes()))
        response = tlskit.get(server.url(), verify=False, pins=[impostor_pin])
    assert caught.value.actual_pins == (impostor_pin,)
    assert response.status == 200


def test_peer_certificate_from_live_connection(chain: Chain, chain_server: TLSServer) -> None:
    context = ssl.create_default_context(cafile=chain.root_file)
    with handshake(chain_server, context) as sock:
        leaf_der = sock.getpeercert(binary_form=True)
        decoded = sock.getpeercert()
    assert leaf_der is not None
    cert = PeerCertificate.from_der(leaf_der)
    assert cert.dns_names == ("localhost",)
    assert cert.ip_addresses == ("127.0.0.1", "::1")
    assert cert.not_after == cpython_time(decoded["notAfter"])
    assert cert.serial_number_hex.replace(":", "") == decoded["serialNumber"]
    assert cert.issuer == PeerCertificate.from_der(chain.ders()[1]).subject
