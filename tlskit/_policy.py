"""TLSPolicy: one frozen, validated description of how to make TLS connections.

A policy is a value: frozen, hashable and compared field by field, so it can
key caches of contexts, sessions and pooled connections. `__post_init__`
checks everything that needs neither the file system nor the network, and it
stays cheap because a policy is built on every `tlskit.get` call. CA files,
CRLs and client certificates are read, and their errors raised, when
`tlskit._context.build_context` turns the policy into an `ssl.SSLContext`:
once per policy, before the first connection.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import ssl
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._errors import PolicyError
from ._frozen import field_names
from ._url import idna_encode
from ._versions import (
    LOWEST_MODERN_VERSION,
    CipherProfile,
    VersionType,
    check_cipher_string,
    cipher_string,
    is_profile,
    parse_version,
    suites_below_tls13,
    version_label,
)

if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:
    # At run time, the same behaviour without importing dataclasses (see tlskit._frozen).
    from ._frozen import dataclass, field

PathType = Union[str, "os.PathLike[str]"]
PasswordType = Union[str, bytes, Callable[[], Union[str, bytes]]]

DEFAULT_SECURITY_LEVEL = 2
# Two weeks leaves time to renew by hand; ACME clients renew 30 days ahead,
# so a certificate that gets this close has usually missed its renewal.
DEFAULT_EXPIRY_WARNING_DAYS = 14
# OpenSSL 3 defines security levels 0 to 5 (SSL_CTX_set_security_level).
MAX_SECURITY_LEVEL = 5

_PIN_DIGEST_BYTES = 32
_MAX_HOST_NAME_CHARS = 253
# Compiled on first use through re's cache: only server_hostname needs it.
_HOST_NAME = r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?)*"

_PATH_FIELDS = ("cafile", "capath", "crlfile", "client_cert", "client_key", "keylog_file")
_BOOL_FIELDS = (
    "system_ca",
    "check_hostname",
    "verify",
    "trust_env",
    "allow_legacy_versions",
    "strict_x509",
    "partial_chain",
    "crl_check_chain",
    "keylog_from_env",
    "diagnose",
)


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


def normalize_server_hostname(value: object) -> str:
    """Return the name to send as SNI and verify: A-labels, lower case, no trailing dot.

    IP literals (IPv6 with or without brackets) come back in canonical form;
    the ssl module sends no SNI for them and checks the certificate's IP addresses.

    Raises:
        PolicyError: ``value`` is neither an IP literal nor a valid host name.
    """
    if not isinstance(value, str) or not value:
        raise PolicyError(
            f"invalid TLSPolicy.server_hostname: {value!r}. Pass a host name or IP address as a str.",
            field="server_hostname",
        )
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        pass

    name = text[:-1] if text.endswith(".") else text
    try:
        name = idna_encode(name).lower()
    except ValueError as exc:
        raise PolicyError(
            f"invalid TLSPolicy.server_hostname {value!r}: {exc}.", field="server_hostname"
        ) from None
    last_label = name.rsplit(".", 1)[-1]
    if len(name) > _MAX_HOST_NAME_CHARS or not re.fullmatch(_HOST_NAME, name) or last_label.isdigit():
        raise PolicyError(
            f"invalid TLSPolicy.server_hostname: {value!r} is not a valid host name or IP address. "
            "Use letters, digits, '-' and '.' only, or a dotted-quad or IPv6 address.",
            field="server_hostname",
        )
    return name


@dataclass(frozen=True)
class TLSPolicy:
    """The settings tlskit uses to make and verify TLS connections.

    Build variants with `dataclasses.replace`, or pass fields as keyword
    arguments to `tlskit.get`, `tlskit.Client` and `tlskit.create_context`.

    Attributes:
        minimum_version: lowest TLS version offered: ``"1.2"``, ``"1.3"`` or an
            ``ssl.TLSVersion``. ``"1.0"`` and ``"1.1"`` need ``allow_legacy_versions``.
        maximum_version: highest TLS version offered, or None for TLS 1.3.
        ciphers: a profile name (``"modern"``, ``"intermediate"``, ``"compatible"``)
            or an OpenSSL cipher string for TLS 1.2 and below.
        cafile: PEM file of trusted CA certificates.
        capath: directory of hashed CA certificates, as made by ``openssl rehash``.
        cadata: trusted CA certificates in memory, as PEM text or DER bytes.
        system_ca: also trust the system store. When False, only the CAs given above are trusted.
        check_hostname: match the certificate against the host name (the URL's,
            or ``server_hostname``). It can be False while ``verify`` is True
            only together with ``pins``, because a chain check without a name
            check accepts any certificate that a trusted CA issued to anyone.
        verify: verify the server's certificate chain. ``verify=False`` is the one way to
            turn verification off. It also turns hostname checking off and logs a
            WARNING once per policy.
        client_cert: PEM file with the client certificate, optionally followed by its key.
        client_key: PEM file with the client's private key, when not in ``client_cert``.
        client_key_password: password of an encrypted client key: str, bytes, or a callable
            returning either.
        pins: SPKI pins, ``"sha256/<base64>"``; a connection is accepted only when a
            certificate of the verified chain matches one of them.
        trust_env: read environment variables that change where tlskit connects
            and what it trusts (proxy variables, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``).
            Never turns on key logging by itself.
        allow_legacy_versions: permit ``minimum_version`` "1.0" or "1.1" (RFC 8996
            deprecated both). Such a policy also needs ``security_level=0`` and a
            cipher string with CBC suites, and logs a WARNING. SSLv3 is never allowed.
        security_level: OpenSSL security level, 0 to 5. Level 2 rejects RSA and DH
            keys under 2048 bits and SHA-1 signatures.
        strict_x509: verify with ``VERIFY_X509_STRICT``, which rejects certificates that
            break RFC 5280 rules OpenSSL otherwise tolerates, as Python 3.13 does by default.
        partial_chain: accept a chain that ends at any trusted certificate, such as an
            intermediate given in ``cafile``, not only at a self-signed root.
        crlfile: PEM file of one or more CRLs. When set, the server certificate is
            checked for revocation and a CRL from its issuer is required.
        crl_check_chain: check every certificate of the chain against the CRLs, not only
            the server's; then every issuer in the chain needs a CRL in ``crlfile``.
        server_hostname: name to send as SNI and verify, in place of the URL's host,
            like curl's ``--connect-to``. The connection still goes to the URL's host and
            port, and the Host header is unchanged. Takes host names (U-labels are
            converted to A-labels, a trailing dot is dropped) and IP literals. It
            applies to the origin of the URL requested: a redirect to another
            scheme, host or port is verified against that URL's own host.
        client_cert_data: the client certificate as PEM bytes, optionally followed by its
            key, for secrets that must not be written to disk.
        client_key_data: the client's private key as PEM bytes.
        keylog_file: file to append TLS session secrets to (NSS key log format), for
            Wireshark. Created with mode 0600; logs a WARNING.
        keylog_from_env: use the ``SSLKEYLOGFILE`` environment variable as
            ``keylog_file``. Needs ``trust_env``, which alone never enables key logging.
        diagnose: when verification fails, make a second handshake that verifies
            nothing, to read the chain the server presents and explain the
            failure in the error (``err.diagnosis``). It is bounded by the
            request's timeout and never carries a request.
        expiry_warning_days: log a WARNING, once per process per certificate,
            when the client certificate or a certificate of ``cafile`` or
            ``cadata`` expires within this many days; None for no warning. The
            server's chain is checked by the peer cache
            (``PeerCache(expiry_warning_days=...)``).
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
    allow_legacy_versions: bool = False
    security_level: int = DEFAULT_SECURITY_LEVEL
    strict_x509: bool = True
    partial_chain: bool = True
    crlfile: Optional[PathType] = None
    crl_check_chain: bool = False
    server_hostname: Optional[str] = None
    client_cert_data: Optional[bytes] = field(default=None, repr=False)
    client_key_data: Optional[bytes] = field(default=None, repr=False)
    keylog_file: Optional[PathType] = None
    keylog_from_env: bool = False
    diagnose: bool = True
    expiry_warning_days: Optional[int] = DEFAULT_EXPIRY_WARNING_DAYS

    def __post_init__(self) -> None:
        self._check_types()
        self._normalize_values()
        self._normalize_versions()
        self._check_ciphers()
        self._check_verification()
        self._check_client_certificate()
        self._check_key_logging()
        self._check_expiry_warning_days()

    @property
    def cipher_string(self) -> str:
        """The OpenSSL cipher string for TLS 1.2 and below that ``ciphers`` names."""
        return cipher_string(self.ciphers)

    @property
    def effective_minimum_version(self) -> ssl.TLSVersion:
        """The lowest version offered, raised to TLS 1.3 by the modern profile."""
        assert isinstance(self.minimum_version, ssl.TLSVersion)
        if self.ciphers == CipherProfile.MODERN.value:
            return ssl.TLSVersion.TLSv1_3
        return self.minimum_version

    @property
    def has_client_certificate(self) -> bool:
        """Whether the policy sends a client certificate, from a file or from memory."""
        return self.client_cert is not None or self.client_cert_data is not None

    def describe(self) -> str:
        """Return a readable multi-line summary of the settings this policy puts in effect.

        It lists the version range, the cipher suites OpenSSL enables, trust
        sources (with the system store's paths as found now), verification
        options, client certificate, pins and key logging. Secrets are never shown.
        """
        from ._describe import describe_policy

        return describe_policy(self)

    # Validation steps, in the order __post_init__ runs them.

    def _check_types(self) -> None:
        for name in _BOOL_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise PolicyError(f"invalid TLSPolicy.{name}: {value!r}. Use True or False.", field=name)
        for name in _PATH_FIELDS:
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
        for name in ("client_cert_data", "client_key_data"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.encode("utf-8"))
            elif value is not None and not isinstance(value, bytes):
                raise PolicyError(
                    f"invalid TLSPolicy.{name}: expected PEM as bytes or str, got {type(value).__name__}.",
                    field=name,
                )

    def _normalize_values(self) -> None:
        level = self.security_level
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= MAX_SECURITY_LEVEL:
            raise PolicyError(
                f"invalid TLSPolicy.security_level: {level!r}. Use an int from 0 to {MAX_SECURITY_LEVEL} "
                f"(default {DEFAULT_SECURITY_LEVEL}).",
                field="security_level",
            )
        if isinstance(self.pins, str):
            raise PolicyError(
                f"invalid TLSPolicy.pins: {self.pins!r} is a single string. Pass a list of pins.",
                field="pins",
            )
        if not isinstance(self.pins, (list, tuple, set, frozenset)):
            raise PolicyError(
                f"invalid TLSPolicy.pins: {self.pins!r}. Pass a list of pins such as ['sha256/...'], "
                "or () for none.",
                field="pins",
            )
        object.__setattr__(self, "pins", tuple(validate_pin(pin) for pin in self.pins))
        if self.server_hostname is not None:
            object.__setattr__(self, "server_hostname", normalize_server_hostname(self.server_hostname))

    def _normalize_versions(self) -> None:
        minimum = parse_version(self.minimum_version, "minimum_version")
        maximum = None
        if self.maximum_version is not None:
            maximum = parse_version(self.maximum_version, "maximum_version")
        if maximum is not None and minimum > maximum:
            raise PolicyError(
                f"invalid TLSPolicy: minimum_version {version_label(minimum)} is above maximum_version "
                f"{version_label(maximum)}. Lower minimum_version or raise maximum_version.",
                field="minimum_version",
            )
        object.__setattr__(self, "minimum_version", minimum)
        object.__setattr__(self, "maximum_version", maximum)

        if minimum >= LOWEST_MODERN_VERSION:
            return
        if not self.allow_legacy_versions:
            raise PolicyError(
                f"invalid TLSPolicy.minimum_version: {version_label(minimum)} is below TLSv1.2, the lowest "
                "version tlskit accepts by default (RFC 8996 deprecates TLS 1.0 and 1.1). Use "
                "ssl.TLSVersion.TLSv1_2 or later, or set allow_legacy_versions=True for a server that "
                "supports nothing newer.",
                field="minimum_version",
            )
        if self.security_level > 0:
            # OpenSSL 3 disables TLS 1.0 and 1.1 at security level 1 and above,
            # because their handshake signatures use SHA-1 and MD5.
            raise PolicyError(
                f"invalid TLSPolicy: minimum_version {version_label(minimum)} needs security_level=0, but "
                f"security_level is {self.security_level}. OpenSSL 3 refuses TLS 1.0 and 1.1 at level 1 "
                "and above. Set security_level=0 as well, or raise minimum_version to 1.2.",
                field="security_level",
            )

    def _check_ciphers(self) -> None:
        if isinstance(self.ciphers, CipherProfile):
            object.__setattr__(self, "ciphers", self.ciphers.value)
        if not isinstance(self.ciphers, str) or not self.ciphers.strip():
            raise PolicyError(
                f"invalid TLSPolicy.ciphers: {self.ciphers!r}. Use a profile name "
                '("modern", "intermediate", "compatible") or an OpenSSL cipher string.',
                field="ciphers",
            )
        if not is_profile(self.ciphers):
            check_cipher_string(self.ciphers)
            self._check_encrypting_suites()
            return

        maximum = self.maximum_version
        assert isinstance(self.minimum_version, ssl.TLSVersion)
        assert maximum is None or isinstance(maximum, ssl.TLSVersion)
        if (
            self.ciphers == CipherProfile.MODERN.value
            and maximum is not None
            and maximum < ssl.TLSVersion.TLSv1_3
        ):
            raise PolicyError(
                f'invalid TLSPolicy: ciphers "modern" allows TLS 1.3 only, but maximum_version is '
                f"{version_label(maximum)}. Use ciphers='intermediate' or raise maximum_version.",
                field="ciphers",
            )
        if self.minimum_version < LOWEST_MODERN_VERSION:
            raise PolicyError(
                f"invalid TLSPolicy: ciphers {self.ciphers!r} has AEAD suites only, which need TLS 1.2, "
                f"but minimum_version is {version_label(self.minimum_version)}. For TLS 1.0 and 1.1 pass "
                "an OpenSSL cipher string with CBC suites, such as 'ECDHE+AESGCM:ECDHE+AES:RSA+AES'.",
                field="ciphers",
            )

    def _check_verification(self) -> None:
        if self.verify and not self.check_hostname and not self.pins:
            raise PolicyError(
                "invalid TLSPolicy: check_hostname=False with verify=True accepts any certificate that a "
                "trusted CA issued, for any host. To verify a name other than the URL's host, set "
                "server_hostname; to accept only known keys, add pins; to turn verification off, set "
                "verify=False.",
                field="check_hostname",
            )
        if (
            self.verify
            and not self.system_ca
            and self.cafile is None
            and self.capath is None
            and self.cadata is None
        ):
            raise PolicyError(
                "invalid TLSPolicy: system_ca is False and no cafile, capath or cadata is given, so no "
                "certificate could ever be trusted. Set one of them, or set system_ca=True.",
                field="system_ca",
            )
        if self.crl_check_chain and self.crlfile is None:
            raise PolicyError(
                "invalid TLSPolicy: crl_check_chain=True needs crlfile. Set crlfile to a PEM file with "
                "the CRL of every CA in the chain.",
                field="crl_check_chain",
            )
        if self.crlfile is not None and not self.verify:
            raise PolicyError(
                "invalid TLSPolicy: crlfile is set but verify=False, so no certificate would be checked "
                "against it. Set verify=True or drop crlfile.",
                field="crlfile",
            )

    def _check_client_certificate(self) -> None:
        for file_field, data_field in (
            ("client_cert", "client_cert_data"),
            ("client_key", "client_key_data"),
        ):
            if getattr(self, file_field) is not None and getattr(self, data_field) is not None:
                raise PolicyError(
                    f"invalid TLSPolicy: both {file_field} and {data_field} are set. Set one of them.",
                    field=data_field,
                )
        has_key = self.client_key is not None or self.client_key_data is not None
        if has_key and not self.has_client_certificate:
            key_field = "client_key" if self.client_key is not None else "client_key_data"
            raise PolicyError(
                f"invalid TLSPolicy: {key_field} is set but client_cert is not. Set client_cert (or "
                "client_cert_data) to the certificate that belongs to the key.",
                field=key_field,
            )
        password = self.client_key_password
        if password is not None and not isinstance(password, (str, bytes)) and not callable(password):
            raise PolicyError(
                "invalid TLSPolicy.client_key_password: expected str, bytes or a callable returning "
                f"either, got {type(password).__name__}.",
                field="client_key_password",
            )

    def _check_key_logging(self) -> None:
        if not self.keylog_from_env:
            return
        if self.keylog_file is not None:
            raise PolicyError(
                "invalid TLSPolicy: both keylog_file and keylog_from_env are set. Set one of them.",
                field="keylog_from_env",
            )
        if not self.trust_env:
            raise PolicyError(
                "invalid TLSPolicy: keylog_from_env=True reads SSLKEYLOGFILE, but trust_env=False forbids "
                "reading the environment. Set trust_env=True, or give the path as keylog_file.",
                field="keylog_from_env",
            )

    def _check_encrypting_suites(self) -> None:
        """Raise when a cipher string leaves TLS 1.2 and below only suites that the security level removes."""
        maximum = self.maximum_version
        assert maximum is None or isinstance(maximum, ssl.TLSVersion)
        if self.security_level == 0 or (maximum is None or maximum >= ssl.TLSVersion.TLSv1_3):
            return
        suites = suites_below_tls13(self.ciphers)
        if suites.names and len(suites.without_encryption) == len(suites.names):
            raise PolicyError(
                f"invalid TLSPolicy.ciphers {self.ciphers!r}: it selects only suites without encryption "
                f"({', '.join(suites.without_encryption[:3])}{', ...' if len(suites.names) > 3 else ''}), which "
                f"security level {self.security_level} removes, and maximum_version "
                f"{version_label(maximum)} rules out TLS 1.3. Use a profile or a string with encrypting "
                "suites, such as 'ECDHE+AESGCM'.",
                field="ciphers",
            )

    def _check_expiry_warning_days(self) -> None:
        days = self.expiry_warning_days
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
            raise PolicyError(
                f"invalid TLSPolicy.expiry_warning_days: {days!r}. Use a number of days of 0 or more, "
                "or None for no expiry warnings.",
                field="expiry_warning_days",
            )


POLICY_FIELDS: Tuple[str, ...] = field_names(TLSPolicy)
_POLICY_FIELD_SET = frozenset(POLICY_FIELDS)

# Policies that make_policy built, by base policy and overrides, so that
# repeated calls such as tlskit.get(url, cafile=...) skip validation. A key
# contains each value's exact type, because True == 1 while only True is a
# valid bool field. Overrides of other types, such as lists, are not cached.
MAX_CACHED_POLICIES = 64
_CACHEABLE_TYPES = frozenset({str, bytes, int, bool, type(None), ssl.TLSVersion, CipherProfile})
_made_policies: Dict[Tuple[Any, ...], TLSPolicy] = {}


def _policy_cache_key(policy: Optional[TLSPolicy], overrides: Mapping[str, Any]) -> Optional[Tuple[Any, ...]]:
    key: List[Any] = [policy]
    for name, value in overrides.items():
        kind = type(value)
        if kind not in _CACHEABLE_TYPES:
            return None
        key += (name, kind, value)
    return tuple(key)


def make_policy(policy: Optional[TLSPolicy], overrides: Mapping[str, Any]) -> TLSPolicy:
    """Return ``policy`` (or the default policy) with ``overrides`` applied.

    Raises:
        PolicyError: an override is not a TLSPolicy field, or its value is invalid.
    """
    if not _POLICY_FIELD_SET.issuperset(overrides):
        unknown = sorted(set(overrides) - _POLICY_FIELD_SET)
        raise PolicyError(
            f"unknown TLSPolicy field(s): {', '.join(unknown)}. Valid fields: {', '.join(POLICY_FIELDS)}.",
            field=unknown[0],
        )
    if policy is not None and not isinstance(policy, TLSPolicy):
        raise PolicyError(f"policy must be a tlskit.TLSPolicy, got {type(policy).__name__}.", field="policy")
    if not overrides:
        return DEFAULT_POLICY if policy is None else policy

    key = _policy_cache_key(policy, overrides)
    cached = None if key is None else _made_policies.get(key)
    if cached is not None:
        return cached
    if policy is None:
        result = TLSPolicy(**overrides)
    else:
        values = {name: getattr(policy, name) for name in POLICY_FIELDS}
        values.update(overrides)
        result = TLSPolicy(**values)
    if key is not None:
        if len(_made_policies) >= MAX_CACHED_POLICIES:
            _made_policies.clear()
        _made_policies[key] = result
    return result


DEFAULT_POLICY = TLSPolicy()
