"""Certificates that trustme cannot make, made with the openssl command-line tool.

RSA-1024 and SHA-1 leaves, CAs that break strict X.509 rules, encrypted keys
and CRLs. Every function writes into a directory the caller owns and returns
paths. Tests that use this module skip when the ``openssl`` tool is missing.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from typing import Iterable, NamedTuple, Optional

import pytest
import trustme

OPENSSL_TIMEOUT_SECONDS = 30

_serials = itertools.count(0x1000)


class KeyPair(NamedTuple):
    cert: str
    key: str


def openssl(*args: str) -> str:
    """Run the openssl tool with ``args`` and return its output; skip the test if it is missing."""
    tool = shutil.which("openssl")
    if tool is None:
        pytest.skip("the openssl command-line tool is not installed")
    result = subprocess.run(
        [tool, *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, f"openssl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def write_trustme_ca(ca: trustme.CA, directory: str, name: str = "ca") -> KeyPair:
    """Write a trustme CA's certificate and key, so that openssl can sign with it."""
    pair = KeyPair(os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key"))
    ca.cert_pem.write_to_path(pair.cert)
    ca.private_key_pem.write_to_path(pair.key)
    return pair


def _write(path: str, text: str) -> str:
    with open(path, "w") as stream:
        stream.write(text)
    return path


def issue_leaf(
    issuer: KeyPair,
    directory: str,
    name: str,
    *,
    san: str = "IP:127.0.0.1,DNS:localhost",
    key_spec: str = "ec:P-256",
    digest: str = "sha256",
) -> KeyPair:
    """Issue a server certificate signed by ``issuer``, with a key of ``key_spec`` (``rsa:1024``...)."""
    key = os.path.join(directory, f"{name}.key")
    csr = os.path.join(directory, f"{name}.csr")
    cert = os.path.join(directory, f"{name}.pem")
    if key_spec.startswith("ec:"):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{key_spec[3:]}", "-out", key)
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{key_spec[4:]}", "-out", key)
    openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
    extensions = _write(
        os.path.join(directory, f"{name}.ext"),
        f"subjectAltName={san}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n",
    )
    openssl(
        "x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key, "-set_serial",
        str(next(_serials)), "-days", "30", f"-{digest}", "-extfile", extensions, "-out", cert,
    )  # fmt: skip
    return KeyPair(cert, key)


def make_lax_ca(directory: str, name: str = "lax-ca") -> KeyPair:
    """Make a self-signed CA whose basicConstraints is not critical, which strict X.509 rejects."""
    key = os.path.join(directory, f"{name}.key")
    cert = os.path.join(directory, f"{name}.pem")
    config = _write(
        os.path.join(directory, f"{name}.cnf"),
        "[req]\ndistinguished_name=dn\nx509_extensions=ca\nprompt=no\n"
        f"[dn]\nCN={name}\n"
        "[ca]\nbasicConstraints=CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\n",
    )
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    openssl("req", "-x509", "-new", "-key", key, "-config", config, "-days", "30", "-out", cert)
    return KeyPair(cert, key)


def encrypt_key(key: str, password: str, out: str, *, traditional: bool = False) -> str:
    """Write ``key`` encrypted with AES-256 under ``password``, as PKCS#8 or the traditional format."""
    args = ["pkey", "-in", key, "-aes256", "-passout", f"pass:{password}", "-out", out]
    if traditional:
        args.append("-traditional")
    openssl(*args)
    return out


def serial_of(cert: str) -> str:
    return openssl("x509", "-in", cert, "-noout", "-serial").strip().split("=", 1)[1]


def make_crl(issuer: KeyPair, directory: str, name: str, revoked: Iterable[str] = (), days: int = 30) -> str:
    """Write a PEM CRL signed by ``issuer`` that lists the certificate files in ``revoked``."""
    index = os.path.join(directory, f"{name}.index")
    lines = [
        f"R\t301001010000Z\t240101000000Z\t{serial_of(cert)}\tunknown\t/CN=revoked\n" for cert in revoked
    ]
    _write(index, "".join(lines))
    config = _write(
        os.path.join(directory, f"{name}.crl.cnf"),
        f"[ca]\ndefault_ca=crl\n[crl]\ndatabase={index}\ndefault_md=sha256\ndefault_crl_days={days}\n",
    )
    out = os.path.join(directory, f"{name}.crl.pem")
    openssl("ca", "-gencrl", "-config", config, "-cert", issuer.cert, "-keyfile", issuer.key, "-out", out)
    return out


def concatenate(out: str, *paths: str, extra: Optional[bytes] = None) -> str:
    """Write the contents of ``paths`` one after another into ``out``."""
    with open(out, "wb") as stream:
        for path in paths:
            with open(path, "rb") as source:
                stream.write(source.read())
        if extra:
            stream.write(extra)
    return out
