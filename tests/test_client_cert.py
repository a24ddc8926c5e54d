"""Client certificates for mutual TLS: files, combined PEM, encrypted keys, bytes in memory."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import sys
import threading
from pathlib import Path
from typing import Callable, Optional

import pytest
import trustme

import tlskit
from pki import encrypt_key
from servers import SOCKET_TIMEOUT_SECONDS, TLSServer, read_request, response_bytes
from tlskit import ClientCertificateRequiredError, HandshakeError, PolicyError, create_context
from tlskit._client_cert import HAS_MEMFD, materialized

StartServer = Callable[..., TLSServer]
PASSWORD = "correct horse"


def mtls_context(
    server_cert: trustme.LeafCert, client_ca: trustme.CA, maximum: Optional[ssl.TLSVersion] = None
) -> ssl.SSLContext:
    """Return a server context that requires a client certificate issued by ``client_ca``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    client_ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    if maximum is not None:
        context.maximum_version = maximum
    return context


def echo_client_identity(sock: ssl.SSLSocket) -> None:
    """Respond to one request with the client certificate's first subjectAltName."""
    if read_request(sock, bytearray()) is None:
        return
    names = (sock.getpeercert() or {}).get("subjectAltName", ())
    body = names[0][1].encode() if names else b"no client certificate"
    sock.sendall(response_bytes(200, [("Connection", "close")], body))


@pytest.fixture(params=["TLSv1.3", "TLSv1.2"])
def mtls_server(
    request: pytest.FixtureRequest, start_server: StartServer, server_cert: trustme.LeafCert, ca: trustme.CA
) -> TLSServer:
    maximum = ssl.TLSVersion.TLSv1_2 if request.param == "TLSv1.2" else None
    return start_server(echo_client_identity, mtls_context(server_cert, ca, maximum))


@pytest.fixture(scope="module")
def client_leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("client.example.test")


@pytest.fixture(scope="module")
def client_files(client_leaf: trustme.LeafCert, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Certificate, key, combined PEM and encrypted keys of one client, as file paths."""
    directory = tmp_path_factory.mktemp("client")
    paths = {name: str(directory / f"{name}.pem") for name in ("cert", "key", "combined")}
    client_leaf.cert_chain_pems[0].write_to_path(paths["cert"])
    client_leaf.private_key_pem.write_to_path(paths["key"])
    client_leaf.private_key_and_cert_chain_pem.write_to_path(paths["combined"])
    paths["pkcs8"] = encrypt_key(paths["key"], PASSWORD, str(directory / "pkcs8.pem"))
    paths["traditional"] = encrypt_key(paths["key"], PASSWORD, str(directory / "trad.pem"), traditional=True)
    return paths


def read(path: str) -> bytes:
    return Path(path).read_bytes()


# Accepted certificates.


def test_cert_and_key_files(mtls_server: TLSServer, client_files: dict, ca_file: str) -> None:
    response = tlskit.get(
        mtls_server.url("/"), cafile=ca_file, client_cert=client_files["cert"], client_key=client_files["key"]
    )
    assert response.body == b"client.example.test"


def test_combined_pem(mtls_server: TLSServer, client_files: dict, ca_file: str) -> None:
    response = tlskit.get(mtls_server.url("/"), cafile=ca_file, client_cert=client_files["combined"])
    assert response.body == b"client.example.test"


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
def test_combined_pem_from_pipe(mtls_server: TLSServer, client_files: dict, ca_file: str) -> None:
    # As --cert <(...) in a shell: a pipe read once, whose bytes OpenSSL then gets from memory.
    reader, writer = os.pipe()
    feeder = threading.Thread(
        target=lambda: (os.write(writer, read(client_files["combined"])), os.close(writer))
    )
    feeder.start()
    try:
        response = tlskit.get(mtls_server.url("/"), cafile=ca_file, client_cert=f"/dev/fd/{reader}")
    finally:
        feeder.join(SOCKET_TIMEOUT_SECONDS)
        os.close(reader)
    assert response.body == b"client.example.test"


@pytest.mark.parametrize("key_format", ["pkcs8", "traditional"])
@pytest.mark.parametrize(
    "password",
    [PASSWORD, PASSWORD.encode(), lambda: PASSWORD, lambda: PASSWORD.encode()],
    ids=["str", "bytes", "callable-str", "callable-bytes"],
)
def test_encrypted_key(
    mtls_server: TLSServer, client_files: dict, ca_file: str, key_format: str, password: object
) -> None:
    response = tlskit.get(
        mtls_server.url("/"),
        cafile=ca_file,
        client_cert=client_files["cert"],
        client_key=client_files[key_format],
        client_key_password=password,
    )
    assert response.body == b"client.example.test"


def test_in_memory_cert_and_key(mtls_server: TLSServer, client_files: dict, ca_file: str) -> None:
    response = tlskit.get(
        mtls_server.url("/"),
        cafile=ca_file,
        client_cert_data=read(client_files["cert"]),
        client_key_data=read(client_files["pkcs8"]),
        client_key_password=PASSWORD,
    )
    assert response.body == b"client.example.test"


def test_in_memory_combined_pem_as_str(mtls_server: TLSServer, client_files: dict, ca_file: str) -> None:
    combined = read(client_files["combined"]).decode()
    response = tlskit.get(mtls_server.url("/"), cafile=ca_file, client_cert_data=combined)
    assert response.body == b"client.example.test"


# Servers that demand what the client lacks.


def test_server_requires_certificate(mtls_server: TLSServer, ca_file: str) -> None:
    # TLS 1.3: the client's handshake completes and the alert arrives on the
    # first read. TLS 1.2: the handshake itself fails.
    with pytest.raises(ClientCertificateRequiredError) as caught:
        tlskit.get(mtls_server.url("/"), cafile=ca_file)
    assert caught.value.port == mtls_server.port
    assert "client certificate" in str(caught.value)
    assert "TLSPolicy.client_cert" in str(caught.value)


def test_server_rejects_unknown_issuer(mtls_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    stranger = trustme.CA().issue_cert("stranger.test")
    combined = str(tmp_path / "stranger.pem")
    stranger.private_key_and_cert_chain_pem.write_to_path(combined)
    with pytest.raises(HandshakeError) as caught:
        tlskit.get(mtls_server.url("/"), cafile=ca_file, client_cert=combined)
    assert type(caught.value) is HandshakeError
    assert caught.value.reason == "TLSV1_ALERT_UNKNOWN_CA"
    assert "does not trust the issuer of the client certificate" in str(caught.value)


# Loading errors, raised when the context is built.


def test_encrypted_key_without_password(client_files: dict) -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(client_cert=client_files["cert"], client_key=client_files["pkcs8"])
    assert caught.value.field == "client_key_password"
    assert "is encrypted" in str(caught.value)
    assert client_files["pkcs8"] in str(caught.value)


@pytest.mark.parametrize("key_format", ["pkcs8", "traditional"])
def test_wrong_password(client_files: dict, key_format: str) -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(
            client_cert=client_files["cert"], client_key=client_files[key_format], client_key_password="wrong"
        )
    assert caught.value.field == "client_key_password"
    assert "does not decrypt the client key" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_password_callable_raises(client_files: dict) -> None:
    def secret_store() -> str:
        raise LookupError("vault is sealed")

    with pytest.raises(PolicyError) as caught:
        create_context(
            client_cert=client_files["cert"],
            client_key=client_files["pkcs8"],
            client_key_password=secret_store,
        )
    assert caught.value.field == "client_key_password"
    assert "LookupError: vault is sealed" in str(caught.value)


def test_password_callable_wrong_type(client_files: dict) -> None:
    with pytest.raises(PolicyError, match="returned int"):
        create_context(
            client_cert=client_files["cert"], client_key=client_files["pkcs8"], client_key_password=lambda: 42
        )


def test_key_does_not_match_certificate(client_files: dict, ca: trustme.CA, tmp_path: Path) -> None:
    other_key = str(tmp_path / "other.key")
    ca.issue_cert("other.test").private_key_pem.write_to_path(other_key)
    with pytest.raises(PolicyError) as caught:
        create_context(client_cert=client_files["cert"], client_key=other_key)
    assert caught.value.field == "client_key"
    assert "does not match the certificate" in str(caught.value)
    assert other_key in str(caught.value)


def test_rsa_key_for_ecdsa_certificate(client_files: dict, ca: trustme.CA, tmp_path: Path) -> None:
    rsa_key = str(tmp_path / "rsa.key")
    ca.issue_cert("rsa.test", key_type=trustme.KeyType.RSA).private_key_pem.write_to_path(rsa_key)
    with pytest.raises(PolicyError, match="does not match the certificate"):
        create_context(client_cert=client_files["cert"], client_key=rsa_key)


@pytest.mark.parametrize("field", ["client_cert", "client_key"])
def test_missing_file(client_files: dict, tmp_path: Path, field: str) -> None:
    missing = str(tmp_path / "missing.pem")
    fields = {"client_cert": client_files["cert"], "client_key": client_files["key"], field: missing}
    with pytest.raises(PolicyError) as caught:
        create_context(**fields)
    assert caught.value.field == field
    assert f"TLSPolicy.{field} {missing!r}: no such file" in str(caught.value)


def test_certificate_without_key(client_files: dict) -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(client_cert=client_files["cert"])
    assert caught.value.field == "client_key"
    assert "contains no PEM private key" in str(caught.value)


def test_key_given_as_certificate(client_files: dict) -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(client_cert=client_files["key"])
    assert caught.value.field == "client_cert"
    assert "contains no PEM certificate" in str(caught.value)


def test_in_memory_junk_certificate() -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(client_cert_data=b"not a certificate")
    assert caught.value.field == "client_cert_data"
    assert "TLSPolicy.client_cert_data (17 bytes)" in str(caught.value)


# Bytes in memory never left on disk.


@pytest.mark.skipif(not HAS_MEMFD, reason="memfd_create needs Linux")
def test_memory_file_on_linux() -> None:
    with materialized(b"secret bytes") as path:
        assert path.startswith("/proc/self/fd/")
        assert Path(path).read_bytes() == b"secret bytes"
        descriptor = int(path.rsplit("/", 1)[1])
        assert os.readlink(path).startswith("/memfd:")
    with pytest.raises(OSError):
        os.fstat(descriptor)


def test_temporary_file_removed_after_loading() -> None:
    with materialized(b"secret bytes", use_memfd=False) as path:
        assert Path(path).read_bytes() == b"secret bytes"
        if sys.platform != "win32":
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path)


def test_temporary_file_removed_when_loading_fails() -> None:
    with pytest.raises(RuntimeError):
        with materialized(b"secret bytes", use_memfd=False) as path:
            raise RuntimeError("OpenSSL rejected it")
    assert not os.path.exists(path)


class LingeringMTLSServer:
    """A TLS 1.3 server that requires a client certificate and, after rejecting the handshake,
    waits for the client's first bytes before it closes, so the client's write succeeds and
    the alert arrives on the client's first read."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(SOCKET_TIMEOUT_SECONDS)
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve_one, daemon=True)

    def __enter__(self) -> LingeringMTLSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.thread.join(SOCKET_TIMEOUT_SECONDS)
        self.listener.close()
        assert not self.thread.is_alive()

    def _serve_one(self) -> None:
        raw, _ = self.listener.accept()
        raw.settimeout(SOCKET_TIMEOUT_SECONDS)
        with self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError):
                pass
            # The TLS layer has failed; read the client's encrypted request bytes
            # from the TCP socket beneath it.
            try:
                self.received = socket.socket.recv(tls, 65536)
            except OSError:
                pass


def test_tls13_alert_on_first_read(server_cert: trustme.LeafCert, ca: trustme.CA, ca_file: str) -> None:
    with LingeringMTLSServer(mtls_context(server_cert, ca)) as server:
        with pytest.raises(ClientCertificateRequiredError) as caught:
            tlskit.get(f"https://127.0.0.1:{server.port}/", cafile=ca_file)
    assert caught.value.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    # The request was written: the error came from the first read.
    assert server.received
