"""The SSLContext each policy field produces, and how contexts are shared."""

from __future__ import annotations

import logging
import ssl
import threading
import warnings
from pathlib import Path
from typing import List

import pytest
import trustme

import tlskit
from pki import make_crl, write_trustme_ca
from servers import TLSServer
from tlskit import PolicyError, TLSPolicy, create_context
from tlskit._context import context_for
from tlskit._versions import CIPHER_STRINGS, CipherProfile

PARTIAL_CHAIN = 0x80000  # X509_V_FLAG_PARTIAL_CHAIN


def tls12_suites(context: ssl.SSLContext) -> List[str]:
    return [cipher["name"] for cipher in context.get_ciphers() if cipher["protocol"] == "TLSv1.2"]


def test_default_context(ca_file: str) -> None:
    context = create_context(cafile=ca_file)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.maximum_version is ssl.TLSVersion.MAXIMUM_SUPPORTED
    assert context.check_hostname is True
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.verify_flags & ssl.VERIFY_X509_STRICT
    assert context.hostname_checks_common_name is False
    assert context.verify_flags & PARTIAL_CHAIN
    assert not context.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
    assert context.post_handshake_auth is not True
    assert context.keylog_filename is None


@pytest.mark.parametrize("profile", [CipherProfile.INTERMEDIATE, CipherProfile.COMPATIBLE])
def test_profile_suites_match_documented_string(profile: CipherProfile) -> None:
    assert tls12_suites(create_context(ciphers=profile.value)) == CIPHER_STRINGS[profile].split(":")


def test_intermediate_is_ecdhe_aead_only() -> None:
    for name in tls12_suites(create_context()):
        assert name.startswith("ECDHE-")
        assert "GCM" in name or "CHACHA20" in name


def test_compatible_adds_non_ecdhe_aead() -> None:
    added = set(tls12_suites(create_context(ciphers="compatible"))) - set(tls12_suites(create_context()))
    assert added == {
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
    }


def test_modern_profile_raises_minimum_to_tls13() -> None:
    assert create_context(ciphers="modern").minimum_version is ssl.TLSVersion.TLSv1_3


def test_version_range() -> None:
    context = create_context(minimum_version="1.2", maximum_version="1.2")
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.maximum_version is ssl.TLSVersion.TLSv1_2


def test_legacy_context_logs_warning_without_deprecation_warning(caplog: pytest.LogCaptureFixture) -> None:
    policy = TLSPolicy(
        minimum_version="1.1", allow_legacy_versions=True, security_level=0, ciphers="ECDHE+AES:RSA+AES"
    )
    with caplog.at_level(logging.WARNING, logger="tlskit"), warnings.catch_warnings():
        warnings.simplefilter("error")
        context = create_context(policy)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_1
    assert "TLS versions down to TLSv1.1 are enabled" in caplog.text


@pytest.mark.parametrize(
    "fields, present, absent",
    [
        ({"strict_x509": False}, PARTIAL_CHAIN, ssl.VERIFY_X509_STRICT),
        ({"partial_chain": False}, ssl.VERIFY_X509_STRICT, PARTIAL_CHAIN),
    ],
)
def test_verification_switches(ca_file: str, fields: dict, present: int, absent: int) -> None:
    flags = create_context(cafile=ca_file, **fields).verify_flags
    assert flags & present
    assert not flags & absent


def test_crl_flags(ca: trustme.CA, ca_file: str, tmp_path: Path) -> None:
    crl = make_crl(write_trustme_ca(ca, str(tmp_path)), str(tmp_path), "empty")
    leaf_only = create_context(cafile=ca_file, crlfile=crl)
    assert leaf_only.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN == ssl.VERIFY_CRL_CHECK_LEAF
    assert leaf_only.cert_store_stats()["crl"] == 1
    chain = create_context(cafile=ca_file, crlfile=crl, crl_check_chain=True)
    assert chain.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN == ssl.VERIFY_CRL_CHECK_CHAIN


def test_check_hostname_off_with_pins(ca_file: str) -> None:
    context = create_context(cafile=ca_file, check_hostname=False, pins=["sha256/" + "A" * 43 + "="])
    assert context.check_hostname is False
    assert context.verify_mode is ssl.CERT_REQUIRED


def test_verify_false_turns_off_both_checks() -> None:
    context = create_context(verify=False, server_hostname="verify-off.test")
    assert context.verify_mode is ssl.CERT_NONE
    assert context.check_hostname is False


def test_verify_false_warns_once_per_equal_policy(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tlskit"):
        for _ in range(3):
            create_context(verify=False, server_hostname="warned-once.test")
        create_context(verify=False, server_hostname="warned-twice.test")
    messages = [record.getMessage() for record in caplog.records]
    assert sum("verification is off" in message for message in messages) == 2


def test_create_context_returns_new_context_each_call() -> None:
    assert create_context() is not create_context()


def test_shared_context_is_reused(ca_file: str) -> None:
    policy = TLSPolicy(cafile=ca_file)
    assert context_for(policy) is context_for(TLSPolicy(cafile=ca_file))
    assert context_for(policy) is not create_context(policy)


def test_shared_context_built_once_across_threads(ca_file: str) -> None:
    policy = TLSPolicy(cafile=ca_file, server_hostname="threads.test")
    barrier = threading.Barrier(8, timeout=5)
    contexts: List[ssl.SSLContext] = []

    def build() -> None:
        barrier.wait()
        contexts.append(context_for(policy))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(contexts) == 8
    assert all(context is contexts[0] for context in contexts)


def test_requests_do_not_read_ca_file_again(https_server: TLSServer, ca: trustme.CA, tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    policy = TLSPolicy(cafile=str(cafile), system_ca=False)
    with tlskit.Client(policy) as client:
        cafile.unlink()
        assert client.get(https_server.url("/")).status == 200
        assert tlskit.get(https_server.url("/"), policy=policy).status == 200
    with pytest.raises(PolicyError, match="no such file"):
        create_context(policy)
