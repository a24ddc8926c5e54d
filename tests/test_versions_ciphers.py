"""Versions, cipher profiles and security levels, each against a real server on loopback."""

from __future__ import annotations

import logging
import ssl
import warnings
from typing import Callable, Optional

import pytest
import trustme

import tlskit
from pki import KeyPair, issue_leaf, openssl, write_trustme_ca
from servers import ConnectProxy, HTTPResponder, TLSServer
from tlskit import HandshakeError, NoSharedCipherError, ProtocolVersionError, TLSPolicy, WeakCertificateError

StartServer = Callable[..., TLSServer]
V = ssl.TLSVersion


def server_context(
    cert: trustme.LeafCert | KeyPair,
    *,
    minimum: Optional[ssl.TLSVersion] = None,
    maximum: Optional[ssl.TLSVersion] = None,
    ciphers: Optional[str] = None,
) -> ssl.SSLContext:
    """Return a server context; security level 0 so that it can present and offer weak things."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers(f"{ciphers or 'ALL'}:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Python 3.10+ warns when a context enables TLS 1.0 or 1.1.
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            context.minimum_version = minimum
        if maximum is not None:
            context.maximum_version = maximum
    if isinstance(cert, KeyPair):
        context.load_cert_chain(cert.cert, cert.key)
    else:
        cert.configure_cert(context)
    return context


def serve(start_server: StartServer, context: ssl.SSLContext) -> TLSServer:
    return start_server(HTTPResponder({"/": (200, [], b"ok")}), context)


@pytest.fixture(scope="module")
def rsa_server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)


@pytest.fixture(scope="module")
def ca_pair(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_trustme_ca(ca, str(tmp_path_factory.mktemp("signing-ca")))


# Versions.


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({}, "TLSv1.3"),
        ({"minimum_version": "1.3"}, "TLSv1.3"),
        ({"maximum_version": "1.2"}, "TLSv1.2"),
        ({"minimum_version": V.TLSv1_2, "maximum_version": V.TLSv1_2}, "TLSv1.2"),
        ({"ciphers": "modern"}, "TLSv1.3"),
    ],
)
def test_negotiated_version(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str, fields: dict, expected: str
) -> None:
    server = serve(start_server, server_context(server_cert))
    assert tlskit.get(server.url("/"), cafile=ca_file, **fields).tls.version == expected


def test_server_below_policy_minimum(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    server = serve(start_server, server_context(server_cert, maximum=V.TLSv1_2))
    with pytest.raises(ProtocolVersionError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, minimum_version="1.3")
    error = caught.value
    assert error.policy_versions == ("TLSv1.3", "TLSv1.3")
    assert error.server_version == "TLSv1.2"
    assert error.reason == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert error.port == server.port
    assert "only TLSv1.3" in str(error)
    assert "the server chose TLSv1.2" in str(error)
    assert "below the policy's minimum" in str(error)
    # The failed handshake and one probe handshake.
    assert server.connections == 2


def test_no_probe_through_proxy(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    server = serve(start_server, server_context(server_cert, maximum=V.TLSv1_2))
    with ConnectProxy() as proxy:
        with pytest.raises(ProtocolVersionError) as caught:
            tlskit.get(server.url("/"), cafile=ca_file, minimum_version="1.3", proxy=proxy.url)
    assert caught.value.server_version is None
    assert "The server accepts none of the versions the policy allows (only TLSv1.3)." in str(caught.value)
    assert server.connections == 1


def test_server_above_policy_maximum(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    server = serve(start_server, server_context(server_cert, minimum=V.TLSv1_3))
    with pytest.raises(ProtocolVersionError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, maximum_version="1.2")
    assert caught.value.policy_versions == ("TLSv1.2", "TLSv1.2")
    assert caught.value.server_version == "TLSv1.3"
    assert "Raise TLSPolicy.maximum_version" in str(caught.value)


@pytest.fixture
def legacy_server(start_server: StartServer, server_cert: trustme.LeafCert) -> TLSServer:
    if not ssl.HAS_TLSv1_1:
        pytest.skip("this OpenSSL build has no TLS 1.1")
    return serve(start_server, server_context(server_cert, minimum=V.TLSv1, maximum=V.TLSv1_1))


def test_legacy_server_rejected_by_default(legacy_server: TLSServer, ca_file: str) -> None:
    with pytest.raises(ProtocolVersionError) as caught:
        tlskit.get(legacy_server.url("/"), cafile=ca_file)
    assert caught.value.policy_versions == ("TLSv1.2", "TLSv1.3")
    assert caught.value.server_version == "TLSv1.1"
    assert "allow_legacy_versions=True" in str(caught.value)


def test_legacy_server_with_opt_in(
    legacy_server: TLSServer, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = TLSPolicy(
        minimum_version="1.0",
        allow_legacy_versions=True,
        security_level=0,
        ciphers="ECDHE+AESGCM:ECDHE+AES",
        cafile=ca_file,
    )
    with caplog.at_level(logging.WARNING, logger="tlskit"), warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        response = tlskit.get(legacy_server.url("/"), policy=policy)
    assert response.tls.version == "TLSv1.1"
    assert "RFC 8996" in caplog.text


# Cipher profiles.


def test_intermediate_has_no_cipher_for_static_rsa_server(
    start_server: StartServer, rsa_server_cert: trustme.LeafCert, ca_file: str
) -> None:
    context = server_context(rsa_server_cert, maximum=V.TLSv1_2, ciphers="AES128-GCM-SHA256")
    server = serve(start_server, context)
    with pytest.raises(NoSharedCipherError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert "ciphers='intermediate'" in str(caught.value)
    assert "the server chose AES128-GCM-SHA256" in str(caught.value)
    assert "set ciphers='compatible'" in str(caught.value)


def test_compatible_reaches_static_rsa_server(
    start_server: StartServer, rsa_server_cert: trustme.LeafCert, ca_file: str
) -> None:
    context = server_context(rsa_server_cert, maximum=V.TLSv1_2, ciphers="AES128-GCM-SHA256")
    server = serve(start_server, context)
    response = tlskit.get(server.url("/"), cafile=ca_file, ciphers="compatible")
    assert response.tls.cipher == "AES128-GCM-SHA256"


def test_cbc_only_server_names_no_profile(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    context = server_context(server_cert, maximum=V.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA")
    server = serve(start_server, context)
    with pytest.raises(NoSharedCipherError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, ciphers="compatible")
    assert "No profile includes it" in str(caught.value)


def test_custom_cipher_string(start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str) -> None:
    server = serve(start_server, server_context(server_cert, maximum=V.TLSv1_2))
    response = tlskit.get(server.url("/"), cafile=ca_file, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305")
    assert response.tls.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305"


# Suites without encryption: OpenSSL selects them, the security level removes them.


def test_null_only_cipher_string_rejected() -> None:
    with pytest.raises(tlskit.PolicyError) as caught:
        TLSPolicy(ciphers="eNULL", maximum_version="1.2")
    assert caught.value.field == "ciphers"
    assert str(caught.value).startswith(
        "invalid TLSPolicy.ciphers 'eNULL': it selects only suites without encryption ("
    )
    assert "which security level 2 removes, and maximum_version TLSv1.2 rules out TLS 1.3" in str(
        caught.value
    )


def test_null_suites_left_out_of_describe() -> None:
    described = TLSPolicy(ciphers="eNULL:ECDHE+AESGCM", maximum_version="1.2").describe()
    assert "NULL" not in described.split("TLS 1.2 suites:")[1].splitlines()[0]


def test_null_suites_at_level_0_warn(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(
        start_server, server_context(server_cert, maximum=V.TLSv1_2, ciphers="ECDHE-ECDSA-NULL-SHA")
    )
    with caplog.at_level(logging.WARNING, logger="tlskit"):
        response = tlskit.get(
            server.url("/"),
            cafile=ca_file,
            ciphers="ECDHE-ECDSA-NULL-SHA",
            maximum_version="1.2",
            security_level=0,
        )
    assert response.tls.cipher == "ECDHE-ECDSA-NULL-SHA"
    warnings_logged = [
        record.getMessage() for record in caplog.records if "without encryption" in record.getMessage()
    ]
    assert warnings_logged == [
        "TLSPolicy.ciphers 'ECDHE-ECDSA-NULL-SHA' enables suites without encryption at security level 0 "
        "(ECDHE-ECDSA-NULL-SHA): anyone on the path can read the traffic if the server picks one."
    ]


def test_anonymous_suites_never_offered(start_server: StartServer, ca_file: str) -> None:
    # A server without a certificate that offers only an anonymous suite: at
    # security level 0, "ALL" would select it and verification would check nothing.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = V.TLSv1_2
    context.set_ciphers("AECDH-AES128-SHA:@SECLEVEL=0")
    server = serve(start_server, context)
    with pytest.raises(tlskit.TLSKitError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, ciphers="ALL", security_level=0, maximum_version="1.2")
    assert isinstance(caught.value, (NoSharedCipherError, HandshakeError))
    assert TLSPolicy(ciphers="HIGH").cipher_string == "HIGH:!aNULL"


def test_anonymous_only_string_rejected() -> None:
    with pytest.raises(tlskit.PolicyError) as caught:
        TLSPolicy(ciphers="aNULL", maximum_version="1.2")
    assert "anonymous (aNULL) suites aside" in str(caught.value)


# Security levels.


@pytest.fixture(scope="module")
def rsa1024_leaf(ca_pair: KeyPair, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return issue_leaf(ca_pair, str(tmp_path_factory.mktemp("rsa1024")), "rsa1024", key_spec="rsa:1024")


@pytest.fixture(scope="module")
def sha1_leaf(ca_pair: KeyPair, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return issue_leaf(ca_pair, str(tmp_path_factory.mktemp("sha1")), "sha1", digest="sha1")


def test_level_2_rejects_rsa_1024(start_server: StartServer, rsa1024_leaf: KeyPair, ca_file: str) -> None:
    server = serve(start_server, server_context(rsa1024_leaf))
    with pytest.raises(WeakCertificateError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.verify_code == 66  # EE_KEY_TOO_SMALL
    assert "security_level" in str(caught.value)


def test_level_1_accepts_rsa_1024(start_server: StartServer, rsa1024_leaf: KeyPair, ca_file: str) -> None:
    server = serve(start_server, server_context(rsa1024_leaf))
    assert tlskit.get(server.url("/"), cafile=ca_file, security_level=1).status == 200


def test_level_2_rejects_sha1_signature(start_server: StartServer, sha1_leaf: KeyPair, ca_file: str) -> None:
    server = serve(start_server, server_context(sha1_leaf))
    with pytest.raises(WeakCertificateError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file)
    assert caught.value.verify_code == 68  # CA_MD_TOO_WEAK


def test_level_0_accepts_sha1_signature(start_server: StartServer, sha1_leaf: KeyPair, ca_file: str) -> None:
    server = serve(start_server, server_context(sha1_leaf))
    assert tlskit.get(server.url("/"), cafile=ca_file, security_level=0).status == 200


@pytest.fixture(scope="module")
def dh1024_params(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("dh") / "dh1024.pem")
    openssl("dhparam", "-out", path, "1024")
    return path


def dhe_server(start_server: StartServer, cert: trustme.LeafCert, dh_params: str) -> TLSServer:
    """Start a TLS 1.2 server whose only suite is DHE-RSA with the DH parameters in ``dh_params``."""
    context = server_context(cert, maximum=V.TLSv1_2, ciphers="DHE-RSA-AES128-GCM-SHA256")
    context.load_dh_params(dh_params)
    return serve(start_server, context)


def test_level_2_rejects_dh_1024(
    start_server: StartServer, rsa_server_cert: trustme.LeafCert, dh1024_params: str, ca_file: str
) -> None:
    server = dhe_server(start_server, rsa_server_cert, dh1024_params)
    with pytest.raises(HandshakeError) as caught:
        tlskit.get(server.url("/"), cafile=ca_file, ciphers="compatible")
    assert caught.value.reason == "DH_KEY_TOO_SMALL"
    assert "Configure the server with larger DH parameters, or lower TLSPolicy.security_level" in str(
        caught.value
    )


def test_level_1_accepts_dh_1024(
    start_server: StartServer, rsa_server_cert: trustme.LeafCert, dh1024_params: str, ca_file: str
) -> None:
    server = dhe_server(start_server, rsa_server_cert, dh1024_params)
    response = tlskit.get(server.url("/"), cafile=ca_file, ciphers="compatible", security_level=1)
    assert response.tls.cipher == "DHE-RSA-AES128-GCM-SHA256"
