"""describe_policy(policy): the text behind `TLSPolicy.describe`.

The summary shows what the policy puts in effect, not its field values
alone. The cipher suites come from an SSLContext configured by the same
code as real connections, and the system store's paths are located as a
context build would locate them now. It reads no CA file, so it works on
a policy whose files are missing, and it never shows passwords, keys or
in-memory certificate bytes.
"""

from __future__ import annotations

import os
import ssl
from typing import List, Mapping, Optional, Tuple

from ._context import configure_protocol
from ._errors import PolicyError
from ._keylog import KEYLOG_ENV
from ._policy import TLSPolicy
from ._trust import locate_system_store
from ._versions import is_profile, version_label

# Restrictions of each OpenSSL 3.0 security level, from SSL_CTX_set_security_level(3).
SECURITY_LEVELS: Mapping[int, str] = {
    0: "everything permitted",
    1: "80-bit strength: RSA and DH keys of 1024 bits or more, ECC of 160 or more, no SHA-1 or MD5 "
    "signatures, no TLS below 1.2",
    2: "112-bit strength: RSA and DH keys of 2048 bits or more, ECC of 224 or more, no SHA-1 or MD5 signatures",
    3: "128-bit strength: RSA and DH keys of 3072 bits or more, ECC of 256 or more, forward secrecy only",
    4: "192-bit strength: RSA and DH keys of 7680 bits or more, ECC of 384 or more",
    5: "256-bit strength: RSA and DH keys of 15360 bits or more, ECC of 512 or more",
}


def describe_policy(policy: TLSPolicy) -> str:
    """Return the multi-line summary that `TLSPolicy.describe` documents."""
    rows: List[Tuple[str, str]] = []
    rows.append(("versions", _versions(policy)))
    rows.extend(_ciphers(policy))
    rows.append(("security level", f"{policy.security_level} ({SECURITY_LEVELS[policy.security_level]})"))
    rows.append(("verification", _verification(policy)))
    if policy.verify:
        rows.append(("trust", _trust(policy)))
        rows.append(("revocation", _revocation(policy)))
    rows.append(("server name", _server_name(policy)))
    rows.append(("pins", ", ".join(policy.pins) if policy.pins else "none"))
    rows.append(("client certificate", _client_certificate(policy)))
    rows.append(("key log", _key_log(policy)))
    rows.append(("diagnosis", _diagnosis(policy)))
    rows.append(("options", "no compression, no renegotiation, ALPN http/1.1"))
    rows.append(("environment", _environment(policy)))

    width = max(len(name) for name, _ in rows)
    lines = ["TLSPolicy"]
    lines.extend(f"  {name + ':':<{width + 1}} {value}" for name, value in rows)
    return "\n".join(lines)


def _versions(policy: TLSPolicy) -> str:
    assert policy.maximum_version is None or isinstance(policy.maximum_version, ssl.TLSVersion)
    lowest = version_label(policy.effective_minimum_version)
    highest = version_label(policy.maximum_version)
    text = f"{lowest} only" if lowest == highest else f"{lowest} to {highest}"
    if policy.effective_minimum_version < ssl.TLSVersion.TLSv1_2:
        text += " (TLS 1.0 and 1.1 enabled by allow_legacy_versions)"
    return text


def _ciphers(policy: TLSPolicy) -> List[Tuple[str, str]]:
    if is_profile(policy.ciphers):
        setting = f"profile {policy.ciphers!r}"
    else:
        setting = f"OpenSSL cipher string {policy.ciphers!r}"

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    configure_protocol(context, policy)
    tls13: List[str] = []
    older: List[str] = []
    for cipher in context.get_ciphers():
        if cipher["symmetric"] is None and policy.security_level > 0:
            continue  # NULL encryption: the security level removes it at handshake time.
        (tls13 if cipher["protocol"] == "TLSv1.3" else older).append(cipher["name"])

    # get_ciphers lists every configured suite; keep those the version range can use.
    minimum = policy.effective_minimum_version
    maximum = policy.maximum_version or ssl.TLSVersion.TLSv1_3
    assert isinstance(maximum, ssl.TLSVersion)
    rows = [("ciphers", setting)]
    if maximum >= ssl.TLSVersion.TLSv1_3:
        rows.append(("TLS 1.3 suites", ", ".join(tls13) or "none"))
    if minimum <= ssl.TLSVersion.TLSv1_2:
        label = "TLS 1.2 suites" if minimum == ssl.TLSVersion.TLSv1_2 else "TLS 1.0 to 1.2 suites"
        rows.append((label, ", ".join(older) or "none"))
    return rows


def _verification(policy: TLSPolicy) -> str:
    if not policy.verify:
        return "OFF (verify=False): any server can impersonate any host"
    if policy.check_hostname:
        hostname = "hostname check on"
    else:
        hostname = "hostname check OFF, identity rests on the pins"
    strict = "on" if policy.strict_x509 else "off"
    partial = "on" if policy.partial_chain else "off"
    return f"on: chain check, {hostname}, strict X.509 {strict}, partial chains {partial}"


def _trust(policy: TLSPolicy) -> str:
    sources: List[str] = []
    if policy.system_ca:
        sources.append(_system_store(policy))
    if policy.cafile is not None:
        sources.append(f"cafile {os.fspath(policy.cafile)!r}")
    if policy.capath is not None:
        sources.append(f"capath {os.fspath(policy.capath)!r}")
    if isinstance(policy.cadata, str):
        sources.append(f"cadata (PEM, {len(policy.cadata)} characters)")
    elif isinstance(policy.cadata, bytes):
        sources.append(f"cadata ({len(policy.cadata)} bytes)")
    only = "" if policy.system_ca else "only "
    return only + " + ".join(sources)


def _system_store(policy: TLSPolicy) -> str:
    try:
        store = locate_system_store(policy.trust_env)
    except PolicyError as exc:
        return f"system store (unusable: {exc})"
    parts = []
    if store.cafile is not None:
        parts.append(f"file {store.cafile} from {store.cafile_origin}")
    if store.capath is not None:
        parts.append(f"directory {store.capath} from {store.capath_origin}")
    return f"system store ({'; '.join(parts) or 'no file or directory found'})"


def _revocation(policy: TLSPolicy) -> str:
    if policy.crlfile is None:
        return "not checked (no crlfile)"
    scope = "every certificate of the chain" if policy.crl_check_chain else "the server certificate"
    return f"CRLs in {os.fspath(policy.crlfile)!r}, checked for {scope}"


def _server_name(policy: TLSPolicy) -> str:
    if policy.server_hostname is None:
        return "the URL's host"
    return f"{policy.server_hostname!r} (sent as SNI and verified, in place of the URL's host)"


def _client_certificate(policy: TLSPolicy) -> str:
    if not policy.has_client_certificate:
        return "none"
    if policy.client_cert is not None:
        text = f"file {os.fspath(policy.client_cert)!r}"
    else:
        assert policy.client_cert_data is not None
        text = f"in memory ({len(policy.client_cert_data)} bytes)"
    key: Optional[str] = None
    if policy.client_key is not None:
        key = f"file {os.fspath(policy.client_key)!r}"
    elif policy.client_key_data is not None:
        key = "in memory"
    text += f", key {key}" if key else ", key in the same PEM"
    if policy.client_key_password is not None:
        text += ", password set"
    return text


def _key_log(policy: TLSPolicy) -> str:
    if policy.keylog_file is not None:
        return f"ON, session secrets written to {os.fspath(policy.keylog_file)!r}"
    if policy.keylog_from_env:
        current = os.environ.get(KEYLOG_ENV)
        where = f"now {current!r}" if current else "not set now"
        return f"ON when {KEYLOG_ENV} is set (keylog_from_env; {where})"
    return "off"


def _environment(policy: TLSPolicy) -> str:
    if policy.trust_env:
        return "trust_env on: SSL_CERT_FILE, SSL_CERT_DIR and proxy variables are honoured"
    return "trust_env off: no environment variable is read"


def _diagnosis(policy: TLSPolicy) -> str:
    explained = "failed verifications explained" if policy.diagnose else "off (diagnose=False)"
    if policy.expiry_warning_days is None:
        return f"{explained}; no expiry warnings"
    return f"{explained}; expiry warnings within {policy.expiry_warning_days} days"
