"""Certificate hierarchies made with the openssl CLI, for chains that trustme cannot make.

`PKI.issue` writes a key and a certificate with the extensions given in
OpenSSL config syntax, signed by another issued certificate or by itself.
`server_context` turns certificates into a loopback server's context that
presents exactly the chain given, at security level 0 so that weak keys and
SHA-1 signatures can be served.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

OPENSSL = shutil.which("openssl")
OPENSSL_TIMEOUT_SECONDS = 60

# ``openssl genpkey`` arguments per key kind.
KEY_ARGUMENTS: Dict[str, List[str]] = {
    "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "rsa1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    "rsa2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
}

CA_EXTENSIONS = """
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

LEAF_EXTENSIONS = """
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

LOOPBACK_SAN = "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"


class Issued(NamedTuple):
    """One certificate and its key, as files."""

    name: str
    cert: Path
    key: Path

    def pem(self) -> str:
        return self.cert.read_text(encoding="ascii")

    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.pem())


def run_openssl(*args: str) -> None:
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, *args], capture_output=True, timeout=OPENSSL_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, (
        f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
    )


class PKI:
    """Issues certificates into one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def issue(
        self,
        name: str,
        subject: str,
        extensions: str,
        issuer: Optional[Issued] = None,
        *,
        key: str = "p256",
        digest: str = "-sha256",
        days: int = 365,
    ) -> Issued:
        """Write ``name``.pem and ``name``.key, signed by ``issuer`` or self-signed when None."""
        key_path = self.directory / f"{name}.key"
        cert_path = self.directory / f"{name}.pem"
        config = self.directory / f"{name}.cnf"
        # OpenSSL 3 adds key identifiers unless the section sets them to none.
        defaults = "".join(
            f"{field} = none\n"
            for field in ("subjectKeyIdentifier", "authorityKeyIdentifier")
            if field not in extensions
        )
        config.write_text(
            "[req]\ndistinguished_name = dn\n[dn]\n[v3]\n" + extensions + defaults, encoding="utf-8"
        )
        run_openssl("genpkey", *KEY_ARGUMENTS[key], "-out", str(key_path))
        common = ["-days", str(days), "-out", str(cert_path), digest]
        if issuer is None:
            run_openssl(
                "req", "-x509", "-new", "-key", str(key_path), "-subj", subject, "-config", str(config),
                "-extensions", "v3", "-set_serial", "0x1001", *common,
            )  # fmt: skip
        else:
            csr = self.directory / f"{name}.csr"
            run_openssl(
                "req",
                "-new",
                "-key",
                str(key_path),
                "-subj",
                subject,
                "-config",
                str(config),
                "-out",
                str(csr),
            )
            run_openssl(
                "x509", "-req", "-in", str(csr), "-CA", str(issuer.cert), "-CAkey", str(issuer.key),
                "-extfile", str(config), "-extensions", "v3", "-set_serial", "0x2002", *common,
            )  # fmt: skip
        return Issued(name, cert_path, key_path)

    def bundle(self, name: str, certificates: Sequence[Issued]) -> Path:
        """Write the PEM certificates into one file, in the order given."""
        path = self.directory / f"{name}.pem"
        path.write_text("".join(cert.pem() for cert in certificates), encoding="ascii")
        return path


def server_context(pki: PKI, leaf: Issued, *chain: Issued) -> ssl.SSLContext:
    """Return a TLS server context that presents ``leaf`` followed by ``chain``, exactly."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    chain_file = pki.bundle(f"{leaf.name}-sent-{len(chain)}", [leaf, *chain])
    context.load_cert_chain(str(chain_file), str(leaf.key))
    context.set_alpn_protocols(["http/1.1"])
    return context
