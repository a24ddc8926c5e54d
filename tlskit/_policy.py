"""TLSPolicy: one frozen, validated description of how to make TLS connections.

A policy is a value: frozen, hashable and compared field by field, so it can
key caches of contexts, sessions and pooled connections. Everything that can be
checked without touching the file system is checked in ``__post_init__``; CA
files and client certificates are loaded, and their errors raised, when
`tlskit._context.build_context` turns the policy into an `ssl.SSLContext`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import ssl
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

from ._errors import PolicyError

PathType = Union[str, "os.PathLike[str]"]
PasswordType = Union[str, bytes, Callable[[], Union[str, bytes]]]
VersionType = Union[ssl.TLSVersion, str]


class CipherProfile(str, enum.Enum):
    """Named cipher profiles, each mapped to an OpenSSL cipher string below."""

    MODERN = "modern"
    INTERMEDIATE = "intermediate"
    COMPATIBLE = "compatible"


# OpenSSL cipher strings for TLS 1.2 and below. TLS 1.3 suites are configured
# separately by OpenSSL and are all AEAD, so every profile keeps them.
# - modern: TLS 1.3 only, so the TLS 1.2 list never applies; the string is kept
#   strict in case a caller widens the version range.
# - intermediate: forward secrecy (ECDHE) and AEAD (AES-GCM, ChaCha20-Poly1305)
#   only, which every maintained server has offered for a decade.
# - compatible: adds static-RSA and DHE key exchange with AEAD, for old servers
#   and appliances without ECDHE.
CIPHER_STRINGS: Mapping[CipherProfile, str] = {
    CipherProfile.MODERN: "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL",
    CipherProfile.INTERMEDIATE: "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL",
    CipherProfile.COMPATIBLE: "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:RSA+AESGCM:!aNULL:!eNULL",
}

_VERSION_NAMES: Mapping[str, ssl.TLSVersion] = {
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
    "tlsv1_2": ssl.TLSVersion.TLSv1_2,
    "tlsv1_3": ssl.TLSVersion.TLSv1_3,
}

# TLS 1.0 and 1.1 were deprecated by RFC 8996; tlskit does not offer them.
LOWEST_VERSION = ssl.TLSVersion.TLSv1_2

_PIN_DIGEST_BYTES = 32


def parse_version(value: VersionType, field_name: str) -> ssl.TLSVersion:
    """Turn an `ssl.TLSVersion` or a string such as ``"1.3"`` into a TLSVersion."""
    if isinstance(value, ssl.TLSVersion):
        version = value
    elif isinstance(value, str) and value.strip().lower() in _VERSION_NAMES:
        version = _VERSION_NAMES[value.strip().lower()]
    else:
        raise PolicyError(
            f"invalid TLSPolicy.{field_name}: {value!r} is not a TLS version. "
            'Use "1.2", "1.3" or an ssl.TLSVersion member.',
            field=field_name,
        )
    if version in (ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.MAXIMUM_SUPPORTED):
        return version
    if version < LOWEST_VERSION:
        raise PolicyError(
            f"invalid TLSPolicy.{field_name}: {version.name} is below TLSv1_2, the lowest "
            "version tlskit accepts. Use ssl.TLSVersion.TLSv1_2 or later.",
            field=field_name,
        )
    return version


def validate_pin(pin: object) -> str:
    """Check that ``pin`` has the form ``"sha256/<base64 of 32 bytes>"``."""
    if isinstance(pin, str) and pin.startswith("sha256/"):
        try:
            digest = base64.b64decode(pin[len("sha256/") :], validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) == _PIN_DIGEST_BYTES:
            return pin
    raise PolicyError(
        f"invalid TLSPolicy.pins entry: {pin!r}. A pin is 'sha256/' followed by the base64 "
        "SHA-256 digest of a SubjectPublicKeyInfo, as printed by "
        "'openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64'.",
        field="pins",
    )


@dataclass(frozen=True)
class TLSPolicy:
    """How tlskit makes and verifies TLS connections.

    Attributes:
        minimum_version: lowest TLS version offered; ``ssl.TLSVersion`` or ``"1.2"``/``"1.3"``.
        maximum_version: highest TLS version offered, or None for the highest supported.
        ciphers: a profile name (``"modern"``, ``"intermediate"``, ``"compatible"``) or an
            OpenSSL cipher string for TLS 1.2.
        cafile: PEM file of trusted CA certificates.
        capath: directory of hashed CA certificates, as made by ``openssl rehash``.
        cadata: trusted CA certificates in memory, as PEM text or DER bytes.
        system_ca: also trust the system store. When False, only the CAs given above are trusted.
        check_hostname: match the certificate against the requested host name.
        verify: verify the server's certificate chain. ``verify=False`` is the one way to
            turn verification off; it also turns hostname checking off.
        client_cert: PEM file with the client certificate, optionally with its key.
        client_key: PEM file with the client's private key, when not in ``client_cert``.
        client_key_password: password of an encrypted client key: str, bytes, or a callable
            returning either.
        pins: SPKI pins, ``"sha256/<base64>"``; a connection is accepted only when a
            certificate of the verified chain matches one of them.
        trust_env: read environment variables that change where tlskit connects
            and what it trusts (proxy variables, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``).
        diagnose: when verification fails, make a second handshake that verifies
            nothing, to read the chain the server presents and explain the
            failure in the error (``err.diagnosis``). It is bounded by the
            request's timeout and never carries a request.
    """

    minimum_version: VersionType = ssl.TLSVersion.TLSv1_2
    maximum_version: Optional[VersionType] = None
    ciphers: str = CipherProfile.INTERMEDIATE.value
    cafile: Optional[PathType] = None
    capath: Optional[PathType] = None
    cadata: Optional[Union[str, bytes]] = None
    system_ca: bool = True
    check_hostname: bool = True
    verify: bool = True
    client_cert: Optional[PathType] = None
    client_key: Optional[PathType] = None
    client_key_password: Optional[PasswordType] = field(default=None, repr=False)
    pins: Sequence[str] = ()
    trust_env: bool = True
    diagnose: bool = True

    def __post_init__(self) -> None:
        minimum = parse_version(self.minimum_version, "minimum_version")
        maximum = (
            None if self.maximum_version is None else parse_version(self.maximum_version, "maximum_version")
        )
        if maximum is not None and _is_version_above(minimum, maximum):
            raise PolicyError(
                f"invalid TLSPolicy: minimum_version {minimum.name} is above maximum_version "
                f"{maximum.name}. Lower minimum_version or raise maximum_version.",
                field="minimum_version",
            )
        object.__setattr__(self, "minimum_version", minimum)
        object.__setattr__(self, "maximum_version", maximum)

        if isinstance(self.ciphers, CipherProfile):
            object.__setattr__(self, "ciphers", self.ciphers.value)
        if not isinstance(self.ciphers, str) or not self.ciphers.strip():
            raise PolicyError(
                f"invalid TLSPolicy.ciphers: {self.ciphers!r}. Use a profile name "
                '("modern", "intermediate", "compatible") or an OpenSSL cipher string.',
                field="ciphers",
            )
        if (
            self.ciphers == CipherProfile.MODERN.value
            and maximum is not None
            and maximum < ssl.TLSVersion.TLSv1_3
        ):
            raise PolicyError(
                f'invalid TLSPolicy: ciphers "modern" allows TLS 1.3 only, but maximum_version is '
                f"{maximum.name}. Use ciphers='intermediate' or raise maximum_version.",
                field="ciphers",
            )

        if isinstance(self.pins, str):
            raise PolicyError(
                f"invalid TLSPolicy.pins: {self.pins!r} is a single string. Pass a list of pins.",
                field="pins",
            )
        object.__setattr__(self, "pins", tuple(validate_pin(pin) for pin in self.pins))

        for name in ("cafile", "capath", "client_cert", "client_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise PolicyError(
                    f"invalid TLSPolicy.{name}: {value!r} is not a path. Pass a str or pathlib.Path.",
                    field=name,
                )
        if self.cadata is not None and not isinstance(self.cadata, (str, bytes)):
            raise PolicyError(
                f"invalid TLSPolicy.cadata: expected PEM text (str) or DER bytes, got {type(self.cadata).__name__}.",
                field="cadata",
            )
        if self.client_key is not None and self.client_cert is None:
            raise PolicyError(
                "invalid TLSPolicy: client_key is set but client_cert is not. Set client_cert to the "
                "certificate that belongs to the key.",
                field="client_key",
            )

    @property
    def cipher_string(self) -> str:
        """The OpenSSL cipher string for TLS 1.2 that ``ciphers`` names."""
        try:
            return CIPHER_STRINGS[CipherProfile(self.ciphers)]
        except ValueError:
            return self.ciphers

    @property
    def effective_minimum_version(self) -> ssl.TLSVersion:
        """The lowest version offered, raised to TLS 1.3 by the modern profile."""
        assert isinstance(self.minimum_version, ssl.TLSVersion)
        if self.ciphers == CipherProfile.MODERN.value:
            return ssl.TLSVersion.TLSv1_3
        return self.minimum_version


def _is_version_above(first: ssl.TLSVersion, second: ssl.TLSVersion) -> bool:
    # MINIMUM_SUPPORTED and MAXIMUM_SUPPORTED are sentinels (-2, -1) that do not
    # order with the real versions.
    if ssl.TLSVersion.MAXIMUM_SUPPORTED in (first, second) or ssl.TLSVersion.MINIMUM_SUPPORTED in (
        first,
        second,
    ):
        return False
    return first > second


POLICY_FIELDS: Tuple[str, ...] = tuple(f.name for f in fields(TLSPolicy))


def make_policy(policy: Optional[TLSPolicy], overrides: Mapping[str, Any]) -> TLSPolicy:
    """Return ``policy`` (or the default policy) with ``overrides`` applied.

    Raises:
        PolicyError: an override is not a TLSPolicy field, or its value is invalid.
    """
    unknown = sorted(set(overrides) - set(POLICY_FIELDS))
    if unknown:
        raise PolicyError(
            f"unknown TLSPolicy field(s): {', '.join(unknown)}. Valid fields: {', '.join(POLICY_FIELDS)}.",
            field=unknown[0],
        )
    if policy is None:
        return TLSPolicy(**overrides) if overrides else DEFAULT_POLICY
    if not isinstance(policy, TLSPolicy):
        raise PolicyError(f"policy must be a tlskit.TLSPolicy, got {type(policy).__name__}.", field="policy")
    if not overrides:
        return policy
    values = {name: getattr(policy, name) for name in POLICY_FIELDS}
    values.update(overrides)
    return TLSPolicy(**values)


DEFAULT_POLICY = TLSPolicy()
