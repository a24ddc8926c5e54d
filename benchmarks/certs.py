"""Throwaway certificates for the benchmark servers.

Each run makes two certificate authorities with trustme, one with an ECDSA
P-256 key and one with an RSA-2048 key, and issues each a server certificate
of its own key type for the loopback names. A chain is all one key type, as
deployed chains usually are, so an "RSA handshake" costs RSA at every step.
Both CA certificates go into one CA file that every client trusts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, NamedTuple

import trustme

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
KEY_TYPES: Dict[str, trustme.KeyType] = {"ecdsa": trustme.KeyType.ECDSA, "rsa": trustme.KeyType.RSA}


class ServerCertificate(NamedTuple):
    """PEM files of one server certificate: the chain (leaf first) and its private key."""

    chain_file: str
    key_file: str


class Certificates(NamedTuple):
    """The CA file every client trusts, and a server certificate per key type."""

    ca_file: str
    servers: Dict[str, ServerCertificate]


def make_certificates(directory: Path) -> Certificates:
    """Create the CAs and server certificates as PEM files in ``directory``.

    Private keys are written with mode 0600. nginx's master process reads
    them before it drops privileges, so its workers never need to.
    """
    ca_pems = []
    servers = {}
    for name, key_type in KEY_TYPES.items():
        ca = trustme.CA(key_type=key_type, organization_name=f"tlskit benchmark {name} CA")
        leaf = ca.issue_cert(*LOOPBACK_NAMES, key_type=key_type)
        ca_pems.append(ca.cert_pem.bytes())

        chain_file = directory / f"{name}-chain.pem"
        chain_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key_file = directory / f"{name}-key.pem"
        key_file.touch(mode=0o600)
        key_file.write_bytes(leaf.private_key_pem.bytes())
        servers[name] = ServerCertificate(str(chain_file), str(key_file))

    ca_file = directory / "ca.pem"
    ca_file.write_bytes(b"".join(ca_pems))
    os.chmod(ca_file, 0o644)
    return Certificates(str(ca_file), servers)
