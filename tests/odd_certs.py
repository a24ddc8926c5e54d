"""Certificates that OpenSSL verifies although they bend X.509 or DER rules, made with the openssl CLI.

`OddIssuer` makes a CA and one leaf key, then issues leaves for that key in
two ways. `issue_with_extfile` runs ``openssl x509 -req`` with extension
lines and a subject as the tester wrote them. `issue_hand_built` encodes a
TBSCertificate with `der_builder`, so that a field can hold what OpenSSL
will not write (a PrintableString with byte 0xE9, a non-minimal length), and
has ``openssl dgst`` sign it with the CA key. `verify` runs
``openssl verify -x509_strict`` to check that OpenSSL accepts the result.
"""

from __future__ import annotations

import datetime
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Iterable, List, Optional, Union

import pytest

import der_builder as der

OPENSSL = shutil.which("openssl")
OPENSSL_TIMEOUT_SECONDS = 60
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
LEAF_NAMES = ("localhost", "127.0.0.1")

# An extension whose extnValue is five bytes that are not one DER element:
# a BOOLEAN that claims two bytes, then a stray 0x05.
PRIVATE_EXTENSION_OID = "1.3.6.1.4.1.99999.1"
PRIVATE_EXTENSION_VALUE = bytes.fromhex("0102030405")


def run_openssl(*args: Union[str, bytes], stdin: Optional[bytes] = None) -> bytes:
    """Run the openssl CLI and return its standard output; skip the test without the CLI."""
    if OPENSSL is None:
        pytest.skip("the openssl CLI is not on PATH")
    result = subprocess.run(
        [OPENSSL, *args], input=stdin, capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, f"openssl {args!r} failed: {result.stderr.decode(errors='replace')}"
    return result.stdout


class OddIssuer:
    """A self-signed P-256 CA and a P-256 leaf key in ``directory``, issuing leaves for that key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_key = directory / "odd-ca.key"
        self.ca_cert = directory / "odd-ca.pem"
        self.leaf_key = directory / "odd-leaf.key"
        self._serial = 0x5000
        for key in (self.ca_key, self.leaf_key):
            run_openssl(
                "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)
            )
        config = directory / "odd-ca.cnf"
        config.write_text(
            "[req]\ndistinguished_name = dn\nstring_mask = utf8only\n[dn]\n[v3]\n"
            "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
            "subjectKeyIdentifier = hash\n"
        )
        run_openssl(
            "req", "-x509", "-new", "-key", str(self.ca_key), "-subj", "/CN=tlskit odd CA", "-config",
            str(config), "-extensions", "v3", "-days", "30", "-sha256", "-out", str(self.ca_cert),
        )  # fmt: skip
        self.ca_der = ssl.PEM_cert_to_DER_cert(self.ca_cert.read_text())
        self.leaf_spki = run_openssl("pkey", "-in", str(self.leaf_key), "-pubout", "-outform", "DER")

    def issue_with_extfile(self, name: str, extension_lines: str, subject: Union[str, bytes]) -> Path:
        """Issue a leaf with ``openssl x509 -req``; ``subject`` in ``-subj`` syntax, bytes passed as they are.

        The request is made without ``-utf8`` and under ``string_mask = default``,
        so OpenSSL stores a byte above 0x7F in a TeletexString.
        """
        self._serial += 1
        config = self.directory / f"{name}.cnf"
        config.write_text(
            "[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n[v3]\n"
            f"subjectAltName = DNS:{LEAF_NAMES[0]}, IP:{LEAF_NAMES[1]}\n"
            "basicConstraints = critical, CA:FALSE\nauthorityKeyIdentifier = keyid\n" + extension_lines
        )
        request = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.pem"
        run_openssl(
            "req",
            "-new",
            "-key",
            str(self.leaf_key),
            "-subj",
            subject,
            "-config",
            str(config),
            "-out",
            str(request),
        )
        run_openssl(
            "x509", "-req", "-in", str(request), "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key),
            "-set_serial", str(self._serial), "-days", "30", "-sha256", "-extfile", str(config),
            "-extensions", "v3", "-out", str(cert),
        )  # fmt: skip
        return cert

    def issue_hand_built(self, name: str, subject: bytes, extensions: Iterable[bytes] = ()) -> Path:
        """Issue a leaf whose TBSCertificate is built byte by byte and signed by ``openssl dgst``.

        The leaf gets subjectAltName, basicConstraints and authorityKeyIdentifier
        after ``extensions``, so that it passes ``openssl verify -x509_strict``.
        """
        self._serial += 1
        algorithm = der.sequence(der.oid(ECDSA_WITH_SHA256))
        now = datetime.datetime.now(datetime.timezone.utc)
        validity = der.sequence(
            der.utc_time(now - datetime.timedelta(days=1)), der.utc_time(now + datetime.timedelta(days=30))
        )
        every_extension: List[bytes] = [
            *extensions,
            der.extension(
                "2.5.29.17",
                der.sequence(der.tlv(0x82, LEAF_NAMES[0].encode()), der.tlv(0x87, bytes([127, 0, 0, 1]))),
            ),
            der.extension("2.5.29.19", der.sequence(), critical=True),
            der.extension("2.5.29.35", der.sequence(der.tlv(0x80, self._ca_key_identifier()))),
        ]
        tbs = der.sequence(
            der.tlv(0xA0, der.integer(2)),
            der.integer(self._serial),
            algorithm,
            self._ca_subject(),
            validity,
            subject,
            self.leaf_spki,
            der.tlv(0xA3, der.sequence(*every_extension)),
        )
        signature = run_openssl("dgst", "-sha256", "-sign", str(self.ca_key), stdin=tbs)
        cert = self.directory / f"{name}.pem"
        cert.write_text(ssl.DER_cert_to_PEM_cert(der.sequence(tbs, algorithm, der.bit_string(signature))))
        return cert

    def verify(self, cert: Path) -> str:
        """Return what ``openssl verify -x509_strict`` prints, failing the test if it rejects ``cert``."""
        return run_openssl("verify", "-x509_strict", "-CAfile", str(self.ca_cert), str(cert)).decode()

    def server_context(self, cert: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(self.leaf_key))
        context.set_alpn_protocols(["http/1.1"])
        return context

    def _ca_subject(self) -> bytes:
        """The CA's subject Name, exactly as OpenSSL encoded it."""
        return der.sequence(der.set_of(der.sequence(der.oid("2.5.4.3"), der.utf8("tlskit odd CA"))))

    def _ca_key_identifier(self) -> bytes:
        text = run_openssl(
            "x509", "-in", str(self.ca_cert), "-noout", "-ext", "subjectKeyIdentifier"
        ).decode()
        return bytes.fromhex(text.splitlines()[1].strip().replace(":", ""))


def der_of(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def with_long_form_length(encoded: bytes) -> bytes:
    """Re-encode a short-form element header in the long form, ``0x81 len``, which DER forbids."""
    assert encoded[1] < 0x80
    return bytes([encoded[0], 0x81, encoded[1]]) + encoded[2:]
