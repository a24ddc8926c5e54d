"""TLSPolicy validation and the contexts built from it, checked against real files."""

from __future__ import annotations

import dataclasses
import ssl
from typing import Callable

import pytest
import trustme

from tlskit import PolicyError, TLSPolicy, create_context
from tlskit._context import context_for
from tlskit._policy import make_policy

PIN = "sha256/" + "A" * 43 + "="


def test_defaults() -> None:
    policy = TLSPolicy()
    assert policy.minimum_version is ssl.TLSVersion.TLSv1_2
    assert policy.maximum_version is None
    assert policy.check_hostname is True
    assert policy.verify is True
    assert policy.pins == ()


def test_version_strings_normalised() -> None:
    policy = TLSPolicy(minimum_version="1.3", maximum_version="1.3")
    assert policy.minimum_version is ssl.TLSVersion.TLSv1_3
    assert policy.maximum_version is ssl.TLSVersion.TLSv1_3


def test_policy_is_frozen_hashable_value() -> None:
    first = TLSPolicy(pins=[PIN], minimum_version="1.2")
    second = TLSPolicy(pins=(PIN,), minimum_version=ssl.TLSVersion.TLSv1_2)
    assert first == second
    assert hash(first) == hash(second)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.verify = False  # type: ignore[misc]


def test_password_not_in_repr() -> None:
    assert "hunter2" not in repr(TLSPolicy(client_key_password="hunter2"))


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"minimum_version": ssl.TLSVersion.TLSv1_1}, "minimum_version", "TLSv1_1 is below TLSv1_2"),
        ({"minimum_version": "1.1"}, "minimum_version", "'1.1' is not a TLS version"),
        ({"maximum_version": "2.0"}, "maximum_version", "'2.0' is not a TLS version"),
        ({"minimum_version": "1.3", "maximum_version": "1.2"}, "minimum_version", "above maximum_version"),
        ({"ciphers": "modern", "maximum_version": "1.2"}, "ciphers", '"modern" allows TLS 1.3 only'),
        ({"ciphers": ""}, "ciphers", "invalid TLSPolicy.ciphers"),
        ({"pins": PIN}, "pins", "single string"),
        ({"pins": ["sha1/abc"]}, "pins", "'sha1/abc'"),
        ({"pins": ["sha256/short"]}, "pins", "'sha256/short'"),
        ({"cafile": 42}, "cafile", "not a path"),
        ({"cadata": 42}, "cadata", "expected PEM text"),
        ({"client_key": "key.pem"}, "client_key", "client_cert is not"),
    ],
)
def test_invalid_policy(fields: dict, field: str, text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        TLSPolicy(**fields)
    assert caught.value.field == field
    assert text in str(caught.value)


def test_make_policy_rejects_unknown_field() -> None:
    with pytest.raises(PolicyError, match="unknown TLSPolicy field"):
        make_policy(None, {"cafiel": "ca.pem"})


def test_make_policy_overrides() -> None:
    base = TLSPolicy(minimum_version="1.3")
    merged = make_policy(base, {"check_hostname": False})
    assert merged.minimum_version is ssl.TLSVersion.TLSv1_3
    assert merged.check_hostname is False


def test_context_settings(ca_file: str) -> None:
    context = create_context(cafile=ca_file)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.check_hostname is True
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.verify_flags & ssl.VERIFY_X509_STRICT
    assert context.verify_flags & 0x80000  # X509_V_FLAG_PARTIAL_CHAIN


def test_context_ciphers_are_ecdhe_aead_only() -> None:
    names = [cipher["name"] for cipher in create_context().get_ciphers() if cipher["protocol"] == "TLSv1.2"]
    assert names
    for name in names:
        assert name.startswith("ECDHE-")
        assert "GCM" in name or "CHACHA20" in name


def test_modern_profile_raises_minimum_to_tls13() -> None:
    assert create_context(ciphers="modern").minimum_version is ssl.TLSVersion.TLSv1_3


def test_verify_false_turns_off_both_checks(caplog: pytest.LogCaptureFixture) -> None:
    context = create_context(verify=False)
    assert context.verify_mode is ssl.CERT_NONE
    assert context.check_hostname is False
    assert "verification is off" in caplog.text


def test_create_context_returns_new_context_each_call() -> None:
    assert create_context() is not create_context()


def test_shared_context_is_reused(ca_file: str) -> None:
    policy = TLSPolicy(cafile=ca_file)
    assert context_for(policy) is context_for(TLSPolicy(cafile=ca_file))


def test_unknown_cipher_string() -> None:
    with pytest.raises(PolicyError, match="'NOPE-NOTHING'") as caught:
        create_context(ciphers="NOPE-NOTHING")
    assert caught.value.field == "ciphers"


def test_missing_cafile(tmp_path) -> None:
    path = str(tmp_path / "missing.pem")
    with pytest.raises(PolicyError, match="no such file") as caught:
        create_context(cafile=path)
    assert path in str(caught.value)
    assert caught.value.field == "cafile"


def test_empty_cafile(tmp_file: Callable[[str, bytes], str]) -> None:
    with pytest.raises(PolicyError, match="the file is empty"):
        create_context(cafile=tmp_file("empty.pem", b""))


def test_cafile_without_certificate(tmp_file: Callable[[str, bytes], str]) -> None:
    with pytest.raises(PolicyError, match="holds no PEM certificate"):
        create_context(cafile=tmp_file("junk.pem", b"not a certificate\n"))


def test_cafile_that_is_a_directory(tmp_path) -> None:
    with pytest.raises(PolicyError, match="is a directory"):
        create_context(cafile=str(tmp_path))


def test_capath_missing(tmp_path) -> None:
    with pytest.raises(PolicyError, match="no such directory"):
        create_context(capath=str(tmp_path / "nope"))


def test_cadata_pem_and_der(ca: trustme.CA) -> None:
    pem = ca.cert_pem.bytes().decode()
    assert create_context(cadata=pem, system_ca=False).cert_store_stats()["x509_ca"] == 1
    der = ssl.PEM_cert_to_DER_cert(pem)
    assert create_context(cadata=der, system_ca=False).cert_store_stats()["x509_ca"] == 1


def test_cadata_junk() -> None:
    with pytest.raises(PolicyError, match="hold no certificate"):
        create_context(cadata="junk")


def test_no_trust_at_all() -> None:
    with pytest.raises(PolicyError, match="no certificate could ever be trusted"):
        create_context(system_ca=False)


def test_missing_client_cert(tmp_path) -> None:
    with pytest.raises(PolicyError, match="no such file") as caught:
        create_context(client_cert=str(tmp_path / "client.pem"))
    assert caught.value.field == "client_cert"


def test_client_key_mismatch(ca: trustme.CA, tmp_path) -> None:
    first, second = ca.issue_cert("a.test"), ca.issue_cert("b.test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    first.cert_chain_pems[0].write_to_path(str(cert))
    second.private_key_pem.write_to_path(str(key))
    with pytest.raises(PolicyError, match="key matches the certificate"):
        create_context(client_cert=str(cert), client_key=str(key))
