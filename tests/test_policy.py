"""TLSPolicy as a value: defaults, validation, normalisation and describe()."""

from __future__ import annotations

import dataclasses
import ssl
from typing import Dict

import pytest

from tlskit import CipherProfile, PolicyError, TLSPolicy
from tlskit._policy import DEFAULT_POLICY, POLICY_FIELDS, make_policy

PIN = "sha256/" + "A" * 43 + "="


def describe_rows(policy: TLSPolicy) -> Dict[str, str]:
    """Return describe()'s rows as {label: value}."""
    lines = policy.describe().splitlines()
    assert lines[0] == "TLSPolicy"
    rows = {}
    for line in lines[1:]:
        label, _, value = line.strip().partition(":")
        rows[label] = value.strip()
    return rows


def test_defaults() -> None:
    policy = TLSPolicy()
    assert policy.minimum_version is ssl.TLSVersion.TLSv1_2
    assert policy.maximum_version is None
    assert policy.ciphers == "intermediate"
    assert policy.check_hostname is True
    assert policy.verify is True
    assert policy.system_ca is True
    assert policy.trust_env is True
    assert policy.pins == ()
    assert policy.allow_legacy_versions is False
    assert policy.security_level == 2
    assert policy.strict_x509 is True
    assert policy.partial_chain is True
    assert policy.crlfile is None
    assert policy.server_hostname is None
    assert policy.keylog_file is None
    assert policy.keylog_from_env is False


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1.2", ssl.TLSVersion.TLSv1_2),
        ("1.3", ssl.TLSVersion.TLSv1_3),
        (" TLSv1.3 ", ssl.TLSVersion.TLSv1_3),
        ("tlsv1_2", ssl.TLSVersion.TLSv1_2),
        (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3),
    ],
)
def test_version_forms(value: object, expected: ssl.TLSVersion) -> None:
    assert TLSPolicy(minimum_version=value).minimum_version is expected  # type: ignore[arg-type]


def test_maximum_supported_means_tls13() -> None:
    policy = TLSPolicy(maximum_version=ssl.TLSVersion.MAXIMUM_SUPPORTED)
    assert policy.maximum_version is ssl.TLSVersion.TLSv1_3


@pytest.mark.parametrize("value", ["1.0", "1.1", ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_legacy_versions_with_opt_in(value: object) -> None:
    policy = TLSPolicy(
        minimum_version=value,  # type: ignore[arg-type]
        allow_legacy_versions=True,
        security_level=0,
        ciphers="ECDHE+AESGCM:ECDHE+AES",
    )
    assert policy.minimum_version < ssl.TLSVersion.TLSv1_2
    assert "(TLS 1.0 and 1.1 enabled by allow_legacy_versions)" in describe_rows(policy)["versions"]


def test_policy_is_frozen_hashable_value() -> None:
    first = TLSPolicy(pins=[PIN], minimum_version="1.2", server_hostname="API.example.")
    second = TLSPolicy(pins=(PIN,), minimum_version=ssl.TLSVersion.TLSv1_2, server_hostname="api.example")
    assert first == second
    assert hash(first) == hash(second)
    assert {first: 1}[second] == 1
    assert first != dataclasses.replace(first, security_level=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.verify = False  # type: ignore[misc]


def test_replace_validates_again() -> None:
    with pytest.raises(PolicyError, match="security_level"):
        dataclasses.replace(TLSPolicy(), security_level=9)


def test_secrets_not_in_repr_or_describe() -> None:
    policy = TLSPolicy(
        client_cert_data=b"-----BEGIN CERTIFICATE-----cert-bytes",
        client_key_data="-----BEGIN PRIVATE KEY-----key-bytes",
        client_key_password="hunter2",
    )
    for text in (repr(policy), policy.describe()):
        assert "hunter2" not in text
        assert "key-bytes" not in text
        assert "cert-bytes" not in text
    assert describe_rows(policy)["client certificate"] == "in memory (37 bytes), key in memory, password set"


def test_in_memory_str_becomes_bytes() -> None:
    assert TLSPolicy(client_cert_data="PEM").client_cert_data == b"PEM"


def test_profile_enum_accepted() -> None:
    assert TLSPolicy(ciphers=CipherProfile.COMPATIBLE).ciphers == "compatible"  # type: ignore[arg-type]


def test_custom_cipher_string_accepted() -> None:
    policy = TLSPolicy(ciphers="ECDHE+AESGCM")
    assert policy.cipher_string == "ECDHE+AESGCM:!aNULL"
    assert describe_rows(policy)["ciphers"] == "OpenSSL cipher string 'ECDHE+AESGCM'"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("[::1]", "::1"),
    ],
)
def test_server_hostname_normalised(value: str, expected: str) -> None:
    assert TLSPolicy(server_hostname=value).server_hostname == expected


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"minimum_version": ssl.TLSVersion.TLSv1_1}, "minimum_version", "TLSv1.1 is below TLSv1.2"),
        ({"minimum_version": "1.1"}, "minimum_version", "set allow_legacy_versions=True"),
        (
            {"minimum_version": "1.0", "allow_legacy_versions": True},
            "security_level",
            "needs security_level=0",
        ),
        (
            {"minimum_version": "1.0", "allow_legacy_versions": True, "security_level": 0},
            "ciphers",
            "'intermediate' has AEAD suites only",
        ),
        ({"minimum_version": "sslv3"}, "minimum_version", "SSLv3 is never allowed"),
        (
            {"minimum_version": ssl.TLSVersion.SSLv3, "allow_legacy_versions": True},
            "minimum_version",
            "SSLv3",
        ),
        ({"minimum_version": ssl.TLSVersion.MINIMUM_SUPPORTED}, "minimum_version", "Name the version"),
        ({"minimum_version": "1.4"}, "minimum_version", "'1.4' is not a TLS version"),
        ({"maximum_version": "2.0"}, "maximum_version", "'2.0' is not a TLS version"),
        ({"minimum_version": "1.3", "maximum_version": "1.2"}, "minimum_version", "above maximum_version"),
        ({"ciphers": "modern", "maximum_version": "1.2"}, "ciphers", 'ciphers "modern" allows TLS 1.3 only'),
        ({"ciphers": ""}, "ciphers", "invalid TLSPolicy.ciphers"),
        ({"ciphers": "NOPE-NOTHING"}, "ciphers", "'NOPE-NOTHING': OpenSSL selects no cipher"),
        ({"ciphers": "ECDHE+AESGCM:@SECLEVEL=1"}, "ciphers", "set security_level instead"),
        ({"security_level": 6}, "security_level", "from 0 to 5"),
        ({"security_level": True}, "security_level", "from 0 to 5"),
        ({"security_level": "2"}, "security_level", "from 0 to 5"),
        ({"verify": "no"}, "verify", "Use True or False"),
        ({"pins": PIN}, "pins", "single string"),
        ({"pins": ["sha1/abc"]}, "pins", "'sha1/abc'"),
        ({"pins": ["sha256/short"]}, "pins", "'sha256/short'"),
        ({"cafile": 42}, "cafile", "not a path"),
        ({"crlfile": 42}, "crlfile", "not a path"),
        ({"cadata": 42}, "cadata", "expected PEM text"),
        ({"check_hostname": False}, "check_hostname", "accepts any certificate that a trusted CA issued"),
        ({"system_ca": False}, "system_ca", "no certificate could ever be trusted"),
        ({"crl_check_chain": True}, "crl_check_chain", "needs crlfile"),
        ({"crlfile": "crl.pem", "verify": False}, "crlfile", "verify=False"),
        ({"client_key": "key.pem"}, "client_key", "client_cert is not"),
        ({"client_key_data": b"key"}, "client_key_data", "client_cert is not"),
        ({"client_cert": "c.pem", "client_cert_data": b"c"}, "client_cert_data", "both client_cert and"),
        ({"client_cert": "c.pem", "client_key_password": 42}, "client_key_password", "got int"),
        ({"client_cert_data": 42}, "client_cert_data", "expected PEM as bytes or str"),
        ({"server_hostname": ""}, "server_hostname", "Pass a host name"),
        ({"server_hostname": "bad name"}, "server_hostname", "'bad name' is not a valid host name"),
        ({"server_hostname": "127.1"}, "server_hostname", "'127.1' is not a valid host name"),
        ({"server_hostname": "a" * 64 + ".test"}, "server_hostname", "not a valid host name"),
        ({"server_hostname": "fa\u00df.example"}, "server_hostname", "A-label form (xn--...)"),
        ({"keylog_file": "k", "keylog_from_env": True}, "keylog_from_env", "Set one of them"),
        ({"keylog_from_env": True, "trust_env": False}, "keylog_from_env", "trust_env=False forbids"),
    ],
)
def test_invalid_policy(fields: dict, field: str, text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        TLSPolicy(**fields)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field
    assert text in str(caught.value)


def test_check_hostname_off_allowed_with_pins_or_without_verify() -> None:
    assert TLSPolicy(check_hostname=False, pins=[PIN]).check_hostname is False
    assert TLSPolicy(check_hostname=False, verify=False).verify is False


def test_make_policy_rejects_unknown_field() -> None:
    with pytest.raises(PolicyError, match="unknown TLSPolicy field") as caught:
        make_policy(None, {"cafiel": "ca.pem"})
    assert caught.value.field == "cafiel"


def test_make_policy_overrides() -> None:
    base = TLSPolicy(minimum_version="1.3")
    merged = make_policy(base, {"server_hostname": "api.example", "security_level": 3})
    assert merged.minimum_version is ssl.TLSVersion.TLSv1_3
    assert merged.server_hostname == "api.example"
    assert merged.security_level == 3
    assert make_policy(None, {}) is DEFAULT_POLICY
    assert "server_hostname" in POLICY_FIELDS


def test_make_policy_reuses_validated_policy() -> None:
    base = TLSPolicy(minimum_version="1.3")
    first = make_policy(base, {"cafile": "ca.pem", "system_ca": False})
    second = make_policy(base, {"cafile": "ca.pem", "system_ca": False})
    assert second is first
    assert make_policy(None, {"cafile": "ca.pem"}) is not make_policy(base, {"cafile": "ca.pem"})
    assert make_policy(None, {"security_level": 3}).security_level == 3
    assert make_policy(None, {"security_level": 4}).security_level == 4


def test_make_policy_cache_keeps_type_checks() -> None:
    assert make_policy(None, {"verify": True}).verify is True
    # 1 == True and hash(1) == hash(True), but only a bool is a valid flag.
    with pytest.raises(PolicyError, match="Use True or False") as caught:
        make_policy(None, {"verify": 1})
    assert caught.value.field == "verify"
    with pytest.raises(PolicyError, match="security_level"):
        make_policy(None, {"security_level": True})


def test_make_policy_uncached_values_still_work() -> None:
    policy = make_policy(None, {"pins": [PIN]})
    assert policy.pins == (PIN,)
    assert make_policy(None, {"pins": [PIN]}) == policy


# describe()


def test_describe_default_policy() -> None:
    rows = describe_rows(TLSPolicy(trust_env=False))
    assert rows["versions"] == "TLSv1.2 to TLSv1.3"
    assert rows["ciphers"] == "profile 'intermediate'"
    assert (
        rows["TLS 1.3 suites"]
        == "TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256"
    )
    assert rows["TLS 1.2 suites"].startswith("ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-GCM-SHA384")
    assert rows["security level"].startswith("2 (112-bit strength")
    assert rows["verification"] == "on: chain check, hostname check on, strict X.509 on, partial chains on"
    assert rows["trust"].startswith("system store (")
    assert rows["revocation"] == "not checked (no crlfile)"
    assert rows["server name"] == "the URL's host"
    assert rows["pins"] == "none"
    assert rows["client certificate"] == "none"
    assert rows["key log"] == "off"
    assert rows["environment"] == "trust_env off: no environment variable is read"


def test_describe_lists_only_usable_suites() -> None:
    tls13_only = describe_rows(TLSPolicy(ciphers="modern"))
    assert tls13_only["versions"] == "TLSv1.3 only"
    assert "TLS 1.2 suites" not in tls13_only
    tls12_only = describe_rows(TLSPolicy(ciphers="compatible", maximum_version="1.2"))
    assert "TLS 1.3 suites" not in tls12_only
    assert tls12_only["TLS 1.2 suites"].endswith("AES256-GCM-SHA384, AES128-GCM-SHA256")


def test_describe_every_option() -> None:
    policy = TLSPolicy(
        cafile="/etc/private/ca.pem",
        system_ca=False,
        pins=[PIN],
        check_hostname=False,
        strict_x509=False,
        partial_chain=False,
        crlfile="/etc/private/crl.pem",
        crl_check_chain=True,
        server_hostname="api.internal",
        client_cert="/etc/client.pem",
        client_key="/etc/client.key",
        keylog_file="/tmp/keys.log",
        security_level=3,
    )
    rows = describe_rows(policy)
    assert rows["verification"] == (
        "on: chain check, hostname check OFF, identity rests on the pins, strict X.509 off, partial chains off"
    )
    assert rows["trust"] == "only cafile '/etc/private/ca.pem'"
    assert rows["revocation"] == "CRLs in '/etc/private/crl.pem', checked for every certificate of the chain"
    assert rows["server name"] == "'api.internal' (sent as SNI and verified, in place of the URL's host)"
    assert rows["pins"] == PIN
    assert rows["client certificate"] == "file '/etc/client.pem', key file '/etc/client.key'"
    assert rows["key log"] == "ON, session secrets written to '/tmp/keys.log'"
    assert rows["security level"].startswith("3 (128-bit strength")
