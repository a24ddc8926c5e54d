"""Client certificates for mutual TLS: from files, or from bytes that never touch the disk.

`load_client_certificate` checks each source before OpenSSL reads it, so a
missing file, a file without a certificate or key, an encrypted key without
a password, a wrong password and a key that does not belong to the
certificate each raise a `PolicyError` that names the cause.

OpenSSL reads certificates and keys only from files. Bytes given in memory
(``client_cert_data``, ``client_key_data``) are handed over through an
anonymous memory file on Linux (``memfd_create``), which has no name in any
file system. Elsewhere, and where memfd_create fails, they go through a
temporary file that only this user can read, removed as soon as OpenSSL has
read it.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Callable, Iterator, List, NamedTuple, Optional, Union

from ._errors import PolicyError
from ._local_files import read_local_file
from ._log import get_logger
from ._policy import TLSPolicy

log = get_logger(__name__)

HAS_MEMFD = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")

_CERTIFICATE_MARKER = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY_MARKER = b"PRIVATE KEY-----"
# PKCS#8 encrypted keys, and the traditional OpenSSL format with a Proc-Type header.
_ENCRYPTED_KEY_MARKERS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")
# OpenSSL reasons for a key that does not belong to the certificate. A key of
# another type (EC for an RSA certificate) fills another slot and leaves the
# certificate without a key, hence NO_CERTIFICATE_ASSIGNED.
_MISMATCH_REASONS = ("KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED")


class _Part(NamedTuple):
    """A certificate or key source: its bytes, where they came from, and its path if a file."""

    data: bytes
    label: str
    field: str
    path: Optional[str]


def load_client_certificate(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    """Load the policy's client certificate and key into ``context``.

    Raises:
        PolicyError: a file is missing or unreadable, the certificate or key is
            absent, the key is encrypted and no password is set, the password
            is wrong, or the key does not match the certificate.
    """
    certificate = _read_part(policy, "client_cert", "client_cert_data")
    assert certificate is not None
    key = _read_part(policy, "client_key", "client_key_data")

    if _CERTIFICATE_MARKER not in certificate.data:
        raise PolicyError(
            f"invalid {certificate.label}: it contains no PEM certificate. Pass a file with a "
            "'-----BEGIN CERTIFICATE-----' block.",
            field=certificate.field,
        )
    key_source = key or certificate
    if _PRIVATE_KEY_MARKER not in key_source.data:
        raise PolicyError(
            f"invalid {key_source.label}: it contains no PEM private key. Set client_key to the key file, "
            "or append the key to the certificate file.",
            field="client_key" if key is None else key.field,
        )
    is_encrypted = any(marker in key_source.data for marker in _ENCRYPTED_KEY_MARKERS)
    if is_encrypted and policy.client_key_password is None:
        raise PolicyError(
            f"invalid TLSPolicy: the client key in {key_source.label} is encrypted, but "
            "client_key_password is not set. Set it to the key's password (str, bytes or a callable).",
            field="client_key_password",
        )

    with contextlib.ExitStack() as stack:
        certfile = certificate.path or stack.enter_context(materialized(certificate.data))
        keyfile = None
        if key is not None:
            keyfile = key.path or stack.enter_context(materialized(key.data))
        _load_chain(context, policy, certfile, keyfile, certificate, key_source)

    # TLS 1.3 servers may ask for the certificate after the handshake (RFC 8446 4.6.2).
    context.post_handshake_auth = True
    log.debug("loaded client certificate from %s", certificate.label)


def _load_chain(
    context: ssl.SSLContext,
    policy: TLSPolicy,
    certfile: str,
    keyfile: Optional[str],
    certificate: _Part,
    key_source: _Part,
) -> None:
    # A callable is passed even when no password is set: without one OpenSSL
    # would prompt on the terminal for an encrypted key it was not warned of.
    password_calls: List[int] = []
    callback = _password_callback(policy.client_key_password, password_calls)
    try:
        context.load_cert_chain(certfile, keyfile, callback)
    except ssl.SSLError as exc:
        if exc.reason in _MISMATCH_REASONS:
            raise PolicyError(
                f"invalid TLSPolicy: the client key in {key_source.label} does not match the certificate "
                f"in {certificate.label}. Pass the key that was issued with this certificate.",
                field="client_key" if key_source is not certificate else "client_cert",
            ) from exc
        if password_calls:
            raise PolicyError(
                f"invalid TLSPolicy.client_key_password: it does not decrypt the client key in "
                f"{key_source.label}. Check the password.",
                field="client_key_password",
            ) from exc
        raise PolicyError(
            f"invalid {certificate.label}: OpenSSL could not load the certificate and key "
            f"({exc.reason or exc}). Check that both are complete PEM blocks.",
            field=certificate.field,
        ) from exc
    except PolicyError:
        raise
    except ValueError as exc:
        # CPython limits a password to 1024 bytes.
        raise PolicyError(
            f"invalid TLSPolicy.client_key_password: {exc}.", field="client_key_password"
        ) from exc


def _password_callback(
    password: Union[str, bytes, Callable[[], Union[str, bytes]], None], calls: List[int]
) -> Callable[[], Union[str, bytes]]:
    def callback() -> Union[str, bytes]:
        calls.append(1)
        if password is None:
            raise PolicyError(
                "invalid TLSPolicy: the client key is encrypted, but client_key_password is not set.",
                field="client_key_password",
            )
        if not callable(password):
            return password
        try:
            value = password()
        except PolicyError:
            # The callable's own message already names the setting and the fix.
            raise
        except Exception as exc:
            raise PolicyError(
                f"invalid TLSPolicy.client_key_password: the callable raised {type(exc).__name__}: {exc}.",
                field="client_key_password",
            ) from exc
        if not isinstance(value, (str, bytes)):
            raise PolicyError(
                "invalid TLSPolicy.client_key_password: the callable returned "
                f"{type(value).__name__}. Return the password as str or bytes.",
                field="client_key_password",
            )
        return value

    return callback


def _read_part(policy: TLSPolicy, file_field: str, data_field: str) -> Optional[_Part]:
    data: Optional[bytes] = getattr(policy, data_field)
    if data is not None:
        return _Part(data, f"TLSPolicy.{data_field} ({len(data)} bytes)", data_field, None)
    path_value = getattr(policy, file_field)
    if path_value is None:
        return None
    path = os.fspath(path_value)
    label = f"TLSPolicy.{file_field} {path!r}"
    if not os.path.exists(path):
        raise PolicyError(f"invalid {label}: no such file.", field=file_field)
    if os.path.isdir(path):
        raise PolicyError(f"invalid {label}: is a directory, not a PEM file.", field=file_field)
    try:
        file = read_local_file(path)
    except OSError as exc:
        raise PolicyError(f"invalid {label}: {exc.strerror or exc}.", field=file_field) from exc
    if not file.data.strip():
        raise PolicyError(f"invalid {label}: the file is empty.", field=file_field)
    # A pipe can be read once only: OpenSSL then gets the bytes read here.
    return _Part(file.data, label, file_field, path if file.is_regular else None)


@contextlib.contextmanager
def materialized(data: bytes, use_memfd: bool = HAS_MEMFD) -> Iterator[str]:
    """Yield a path from which OpenSSL can read ``data``, and make it unreadable afterwards.

    On Linux the path is ``/proc/self/fd/N`` of an anonymous memory file, closed
    on exit. Otherwise it is a temporary file created with mode 0600 and removed
    on exit, before any connection is made.
    """
    if use_memfd:
        try:
            descriptor = os.memfd_create("tlskit-client-cert", os.MFD_CLOEXEC)
        except OSError as exc:
            log.debug("memfd_create failed (%s); using a temporary file", exc)
        else:
            try:
                _write_all(descriptor, data)
                yield f"/proc/self/fd/{descriptor}"
            finally:
                os.close(descriptor)
            return

    import tempfile  # Deferred: it loads random and shutil, which import tlskit need not.

    # mkstemp creates the file with mode 0600, readable by this user only.
    descriptor, path = tempfile.mkstemp(prefix="tlskit-", suffix=".pem")
    try:
        try:
            _write_all(descriptor, data)
        finally:
            os.close(descriptor)
        yield path
    finally:
        os.unlink(path)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]
