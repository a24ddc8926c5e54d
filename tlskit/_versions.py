"""TLS protocol versions and cipher profiles: the vocabulary a TLSPolicy is written in.

This module turns what callers write (``"1.3"``, ``ssl.TLSVersion.TLSv1_2``,
``"intermediate"``) into the values OpenSSL takes, and records the reason
for each profile. It makes no policy decisions beyond "SSLv3 never": whether TLS
1.0 and 1.1 are allowed is `TLSPolicy`'s call.
"""

from __future__ import annotations

import enum
import functools
import ssl
from typing import Mapping, NamedTuple, Optional, Tuple, Union

from ._errors import PolicyError

VersionType = Union[ssl.TLSVersion, str]


class CipherProfile(str, enum.Enum):
    """Named cipher profiles, each mapped to an exact OpenSSL cipher string in `CIPHER_STRINGS`."""

    MODERN = "modern"
    INTERMEDIATE = "intermediate"
    COMPATIBLE = "compatible"


# Suites with forward secrecy (ECDHE) and AEAD encryption (AES-GCM,
# ChaCha20-Poly1305): every TLS 1.2 server maintained in the last decade
# offers at least one. ECDSA before RSA is only a preference; the server's
# certificate decides which authentication is used.
_ECDHE_AEAD = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)

# AEAD suites without ECDHE, for servers and appliances that predate it.
# Finite-field DHE keeps forward secrecy. Static RSA key exchange does not,
# so a later theft of the server's key decrypts recorded sessions.
_OTHER_AEAD = (
    "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:"
    "AES256-GCM-SHA384:AES128-GCM-SHA256"
)

# OpenSSL cipher strings for TLS 1.2 and below. The ssl module cannot choose
# TLS 1.3 suites, so every profile gets OpenSSL's default set for TLS 1.3
# (TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256),
# all of them AEAD with forward secrecy.
# - modern: TLS 1.3 only (the policy raises the minimum version to 1.3), so
#   this list never applies. It stays strict in case the context is changed.
# - intermediate: ECDHE with AEAD only.
# - compatible: intermediate plus DHE and static-RSA AEAD suites.
CIPHER_STRINGS: Mapping[CipherProfile, str] = {
    CipherProfile.MODERN: _ECDHE_AEAD,
    CipherProfile.INTERMEDIATE: _ECDHE_AEAD,
    CipherProfile.COMPATIBLE: f"{_ECDHE_AEAD}:{_OTHER_AEAD}",
}

PROFILE_NAMES: Tuple[str, ...] = tuple(profile.value for profile in CipherProfile)

_VERSION_NAMES: Mapping[str, ssl.TLSVersion] = {
    **{alias: ssl.TLSVersion.TLSv1 for alias in ("1.0", "tlsv1", "tlsv1.0", "tlsv1_0")},
    **{alias: ssl.TLSVersion.TLSv1_1 for alias in ("1.1", "tlsv1.1", "tlsv1_1")},
    **{alias: ssl.TLSVersion.TLSv1_2 for alias in ("1.2", "tlsv1.2", "tlsv1_2")},
    **{alias: ssl.TLSVersion.TLSv1_3 for alias in ("1.3", "tlsv1.3", "tlsv1_3")},
}

_SSLV3_NAMES = ("3.0", "sslv3", "ssl3", "sslv3.0")

# RFC 8996 deprecates TLS 1.0 and 1.1; below this a policy needs allow_legacy_versions.
LOWEST_MODERN_VERSION = ssl.TLSVersion.TLSv1_2
HIGHEST_VERSION = ssl.TLSVersion.TLSv1_3


def parse_version(value: VersionType, field_name: str) -> ssl.TLSVersion:
    """Turn an `ssl.TLSVersion` or a string such as ``"1.3"`` into a TLSVersion.

    ``MAXIMUM_SUPPORTED`` becomes TLS 1.3. SSLv3 and ``MINIMUM_SUPPORTED``
    (which would let OpenSSL pick the floor) raise, whatever else the policy sets.

    Raises:
        PolicyError: the value names no TLS version, or names SSLv3.
    """
    if isinstance(value, ssl.TLSVersion):
        version = value
    elif isinstance(value, str) and value.strip().lower() in _VERSION_NAMES:
        version = _VERSION_NAMES[value.strip().lower()]
    elif isinstance(value, str) and value.strip().lower() in _SSLV3_NAMES:
        version = ssl.TLSVersion.SSLv3
    else:
        raise PolicyError(
            f"invalid TLSPolicy.{field_name}: {value!r} is not a TLS version. "
            'Use "1.2", "1.3" or an ssl.TLSVersion member.',
            field=field_name,
        )

    if version is ssl.TLSVersion.MAXIMUM_SUPPORTED:
        return HIGHEST_VERSION
    if version is ssl.TLSVersion.MINIMUM_SUPPORTED:
        raise PolicyError(
            f"invalid TLSPolicy.{field_name}: MINIMUM_SUPPORTED lets OpenSSL choose the lowest version. "
            'Name the version, such as "1.2".',
            field=field_name,
        )
    if version is ssl.TLSVersion.SSLv3:
        # RFC 7568: SSLv3 is broken (POODLE) and must not be negotiated.
        raise PolicyError(
            f"invalid TLSPolicy.{field_name}: SSLv3 is never allowed, because RFC 7568 forbids it. "
            'Use "1.2" or later.',
            field=field_name,
        )
    return version


def version_label(version: Optional[ssl.TLSVersion]) -> str:
    """Return a version as `ssl.SSLSocket.version` names it (``"TLSv1.2"``); None is TLS 1.3."""
    if version is None:
        version = HIGHEST_VERSION
    labels = {
        ssl.TLSVersion.TLSv1: "TLSv1",
        ssl.TLSVersion.TLSv1_1: "TLSv1.1",
        ssl.TLSVersion.TLSv1_2: "TLSv1.2",
        ssl.TLSVersion.TLSv1_3: "TLSv1.3",
    }
    return labels.get(version, version.name)


def is_profile(ciphers: str) -> bool:
    """Return whether ``ciphers`` names a profile rather than an OpenSSL cipher string."""
    return ciphers in PROFILE_NAMES


# Appended to every custom cipher string. Anonymous suites (ADH, AECDH) send
# no certificate, so OpenSSL would verify nothing and any server could pose
# as any host. Security level 0 allows them, and "ALL" or "HIGH" select them.
_NO_ANONYMOUS_SUITES = ":!aNULL"


def cipher_string(ciphers: str) -> str:
    """Return the OpenSSL cipher string that a profile name or custom string stands for.

    A custom string gets ``!aNULL`` appended, which removes anonymous suites.
    """
    if is_profile(ciphers):
        return CIPHER_STRINGS[CipherProfile(ciphers)]
    return ciphers + _NO_ANONYMOUS_SUITES


@functools.lru_cache(maxsize=64)
def check_cipher_string(ciphers: str) -> None:
    """Raise `PolicyError` unless OpenSSL selects at least one cipher from ``ciphers``.

    The result is cached per string, because a policy is built on each request
    and a check needs a throwaway SSLContext.
    """
    if "@SECLEVEL" in ciphers.upper():
        raise PolicyError(
            f"invalid TLSPolicy.ciphers {ciphers!r}: it sets @SECLEVEL, which TLSPolicy.security_level "
            "owns. Remove @SECLEVEL from the string and set security_level instead.",
            field="ciphers",
        )
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.set_ciphers(cipher_string(ciphers))
    except ssl.SSLError as exc:
        raise PolicyError(
            f"invalid TLSPolicy.ciphers {ciphers!r}: OpenSSL selects no cipher from it, anonymous (aNULL) "
            "suites aside, which tlskit never offers because they skip certificate verification. "
            f"Use a profile ({', '.join(repr(name) for name in PROFILE_NAMES)}) or check the string "
            "with 'openssl ciphers -v'.",
            field="ciphers",
        ) from exc


class SuitesBelowTLS13(NamedTuple):
    """The suites of a cipher string for TLS 1.2 and below, and those among them that encrypt nothing."""

    names: Tuple[str, ...]
    without_encryption: Tuple[str, ...]


@functools.lru_cache(maxsize=64)
def suites_below_tls13(ciphers: str) -> SuitesBelowTLS13:
    """Return the suites that ``ciphers`` selects for TLS 1.2 and below.

    OpenSSL lists NULL-encryption suites such as ``ECDHE-ECDSA-NULL-SHA``
    here, but removes them at security level 1 and above, since they give 0
    bits of security. ``ciphers`` must be a valid OpenSSL cipher string.
    """
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers(cipher_string(ciphers))
    suites = [suite for suite in probe.get_ciphers() if suite["protocol"] != "TLSv1.3"]
    return SuitesBelowTLS13(
        tuple(suite["name"] for suite in suites),
        tuple(suite["name"] for suite in suites if suite["symmetric"] is None),
    )
