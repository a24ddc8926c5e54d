"""Helpers for the pinning, peer cache and resumption tests: certificates and servers.

Certificates that share a key (a renewal) are made with the openssl CLI,
because trustme gives every certificate a fresh key.
"""

from __future__ import annotations

import datetime
import ssl
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import trustme

from servers import HTTPResponder

OPENSSL = "/usr/bin/openssl"
OPENSSL_TIMEOUT_SECONDS = 30
CLOSE = {"Connection": "close"}

# Python 3.9 exposes no verified chain, so tlskit gets the leaf alone there.
HAS_VERIFIED_CHAIN = sys.version_info >= (3, 10)


def leaf_der(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


def ca_der(ca: trustme.CA) -> bytes:
    return ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())


def verified_chain_of(cert: trustme.LeafCert, ca: trustme.CA) -> Tuple[bytes, ...]:
    """The chain tlskit reports for ``cert`` on this Python: leaf and CA, or the leaf on 3.9."""
    return (leaf_der(cert), ca_der(ca)) if HAS_VERIFIED_CHAIN else (leaf_der(cert),)


def expiring_cert(ca: trustme.CA, days: int, *names: str) -> trustme.LeafCert:
    """Issue a certificate for ``names`` that expires ``days`` days and a few hours from now."""
    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days, hours=12)
    return ca.issue_cert(*(names or ("127.0.0.1", "localhost")), not_after=not_after)


def run_openssl(*arguments: str) -> None:
    subprocess.run([OPENSSL, *arguments], check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS)


class OpensslIssuer:
    """Issues leaf certificates from a trustme CA with the openssl CLI, reusing keys on request."""

    def __init__(self, ca: trustme.CA, directory: Path) -> None:
        self.directory = directory
        self.ca_cert = directory / "ca.pem"
        self.ca_key = directory / "ca.key"
        ca.cert_pem.write_to_path(str(self.ca_cert))
        ca.private_key_pem.write_to_path(str(self.ca_key))
        self._serial = 1000

    def new_key(self, name: str) -> Path:
        key = self.directory / f"{name}.key"
        run_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
        return key

    def issue(self, key: Path, days: int = 30, names: Tuple[str, ...] = ("127.0.0.1", "localhost")) -> Path:
        """Issue a certificate for ``key``; each call gets a new serial number."""
        self._serial += 1
        stem = self.directory / f"{key.stem}-{self._serial}"
        request, cert, extensions = (stem.with_suffix(suffix) for suffix in (".csr", ".pem", ".ext"))
        alt_names = ",".join(("IP:" if name[0].isdigit() else "DNS:") + name for name in names)
        extensions.write_text(
            f"subjectAltName={alt_names}\nbasicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        )
        run_openssl("req", "-new", "-key", str(key), "-subj", "/CN=renewed.test", "-out", str(request))
        run_openssl(
            "x509", "-req", "-in", str(request), "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key),
            "-set_serial", str(self._serial), "-days", str(days), "-sha256",
            "-extfile", str(extensions), "-out", str(cert),
        )  # fmt: skip
        return cert

    def server_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert), str(key))
        context.set_alpn_protocols(["http/1.1"])
        return context


def der_of_file(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


class ReuseRecorder:
    """A handler that records, for each connection, whether the server resumed its session."""

    def __init__(self, responder: HTTPResponder) -> None:
        self.responder = responder
        self.reused: List[bool] = []

    def __call__(self, sock: ssl.SSLSocket) -> None:
        self.reused.append(sock.session_reused)
        self.responder(sock)


def ok_responder() -> HTTPResponder:
    return HTTPResponder({"/": (200, [("Content-Type", "text/plain")], b"ok")})
