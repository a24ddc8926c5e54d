"""Trust anchors and CRLs: load the sources a policy names into an SSLContext.

Sources are the system store, ``cafile``, ``capath``, ``cadata`` and
``crlfile``, in any combination. Each is checked before OpenSSL reads it, so
a missing, unreadable, empty or non-certificate source raises `PolicyError`
naming the path and the reason when the context is built, never at the first
request.

The system store is loaded from explicit paths, never through
`ssl.SSLContext.load_default_certs`: that calls OpenSSL's
``SSL_CTX_set_default_verify_paths``, which reads ``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` itself, so ``trust_env=False`` could not keep them out.
`locate_system_store` is the one place tlskit reads those two variables,
and only when the policy's ``trust_env`` is on. As in OpenSSL, each variable
replaces the compiled-in path it stands for rather than adding to it.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
import sys
from typing import List, NamedTuple, Optional, Union

from ._client_cert import materialized
from ._errors import PolicyError, join_sentences
from ._local_files import LocalFile, read_local_file
from ._log import get_logger
from ._policy import TLSPolicy

log = get_logger(__name__)

_PEM_CERTIFICATE_MARKERS = (b"-----BEGIN CERTIFICATE-----", b"-----BEGIN TRUSTED CERTIFICATE-----")
_PEM_CRL_MARKER = b"-----BEGIN X509 CRL-----"
# A DER certificate or CRL starts with a SEQUENCE tag.
_DER_SEQUENCE = 0x30
# 'openssl rehash' names certificate links HASH.N and CRL links HASH.rN.
_HASHED_CERTIFICATE_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
_COMPILED_IN = "OpenSSL default"

# Windows keeps its roots in the "ROOT" and "CA" system stores; this OID marks
# a certificate trusted for TLS server authentication.
_WINDOWS_STORES = ("CA", "ROOT")
_SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1"
# The library's second choice for a bad SSL_CERT_FILE or SSL_CERT_DIR; the command line has no such option.
TRUST_ENV_CHOICE = ", or set trust_env=False to ignore it"


class _Source(NamedTuple):
    """A trust source as error messages name it."""

    label: str
    field: str
    advice: str = ""

    def error(self, reason: str) -> PolicyError:
        return PolicyError(join_sentences(f"invalid {self.label}: {reason}", self.advice), field=self.field)


def _field_source(name: str, path: str) -> _Source:
    return _Source(f"TLSPolicy.{name} {path!r}", name)


def _env_source(variable: str, path: str) -> _Source:
    return _Source(
        f"{variable}={path!r} (from the environment)",
        variable,
        f" Fix or unset {variable}{TRUST_ENV_CHOICE}.",
    )


class SystemStore(NamedTuple):
    """Paths of the system trust store, and the origin of each.

    Attributes:
        cafile: PEM bundle to load, or None when there is none.
        capath: hashed-certificate directories to search (``os.pathsep``-separated), or None.
        cafile_origin: ``"SSL_CERT_FILE"`` or ``"OpenSSL default"``.
        capath_origin: ``"SSL_CERT_DIR"`` or ``"OpenSSL default"``.
    """

    cafile: Optional[str]
    capath: Optional[str]
    cafile_origin: str
    capath_origin: str


def locate_system_store(trust_env: bool) -> SystemStore:
    """Find the system store's bundle and directory, honouring the environment when asked.

    With ``trust_env``, ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` replace
    OpenSSL's compiled-in paths, and each one used is logged at DEBUG. A
    compiled-in path that does not exist is skipped, as OpenSSL skips it.

    Raises:
        PolicyError: an environment variable names a path that cannot be used.
    """
    defaults = ssl.get_default_verify_paths()
    cafile: Optional[str] = defaults.openssl_cafile
    capath: Optional[str] = defaults.openssl_capath
    cafile_origin = capath_origin = _COMPILED_IN

    if trust_env:
        env_file = os.environ.get(defaults.openssl_cafile_env)
        if env_file:
            log.debug("using %s=%s for the system trust store", defaults.openssl_cafile_env, env_file)
            _check_file(env_file, _env_source(defaults.openssl_cafile_env, env_file))
            cafile, cafile_origin = env_file, defaults.openssl_cafile_env
        env_dir = os.environ.get(defaults.openssl_capath_env)
        if env_dir:
            log.debug("using %s=%s for the system trust store", defaults.openssl_capath_env, env_dir)
            for directory in env_dir.split(os.pathsep):
                _check_directory(directory, _env_source(defaults.openssl_capath_env, directory))
            capath, capath_origin = env_dir, defaults.openssl_capath_env

    if cafile_origin == _COMPILED_IN and not (cafile and os.path.isfile(cafile)):
        cafile = None
    if capath_origin == _COMPILED_IN and not (capath and os.path.isdir(capath)):
        capath = None
    return SystemStore(cafile, capath, cafile_origin, capath_origin)


def load_trust(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    """Load the system store (when asked), every CA source and the CRLs of ``policy``.

    Raises:
        PolicyError: a source is missing, unreadable, empty or contains no
            certificate (or, for ``crlfile``, no CRL).
    """
    if policy.system_ca:
        load_system_store(context, policy.trust_env)
    if policy.cafile is not None:
        _load_cafile(context, os.fspath(policy.cafile))
    if policy.capath is not None:
        path = os.fspath(policy.capath)
        _check_directory(path, _field_source("capath", path))
        context.load_verify_locations(capath=path)
        log.debug("added CA directory %s", path)
    if policy.cadata is not None:
        _load_cadata(context, policy.cadata)
    if policy.crlfile is not None:
        _load_crlfile(context, os.fspath(policy.crlfile))


def load_system_store(context: ssl.SSLContext, trust_env: bool) -> None:
    """Load the system trust store into ``context`` from explicit paths."""
    store = locate_system_store(trust_env)
    if sys.platform == "win32":
        # NOTE: this branch is not run by the test suite, which runs on Linux.
        _load_windows_stores(context)
    if store.cafile is not None:
        if store.cafile_origin == _COMPILED_IN:
            context.load_verify_locations(cafile=store.cafile)
        else:
            source = _env_source(store.cafile_origin, store.cafile)
            file = _read_file(store.cafile, source)
            _check_certificates(file.data, source)
            _load_verify_file(context, store.cafile, file)
    if store.capath is not None:
        context.load_verify_locations(capath=store.capath)
    log.debug("loaded the system trust store: file %s, directory %s", store.cafile, store.capath)


def _load_windows_stores(context: ssl.SSLContext) -> None:
    if sys.platform == "win32":
        certificates = bytearray()
        for store_name in _WINDOWS_STORES:
            for certificate, encoding, trust in ssl.enum_certificates(store_name):
                if encoding == "x509_asn" and (trust is True or _SERVER_AUTH_OID in trust):
                    certificates += certificate
        if certificates:
            context.load_verify_locations(cadata=bytes(certificates))


def _load_cafile(context: ssl.SSLContext, path: str) -> None:
    source = _field_source("cafile", path)
    file = _read_file(path, source)
    _check_certificates(file.data, source)
    try:
        _load_verify_file(context, path, file)
    except ssl.SSLError as exc:
        raise source.error(
            f"OpenSSL could not read its certificates ({exc.reason or exc}). "
            "Check that each '-----BEGIN CERTIFICATE-----' block is complete"
        ) from exc
    log.debug("loaded CA file %s", path)


def _load_cadata(context: ssl.SSLContext, cadata: Union[str, bytes]) -> None:
    if isinstance(cadata, bytes) and cadata.lstrip().startswith(b"-----BEGIN"):
        # PEM read from a file in binary mode: take it as the text it is.
        cadata = cadata.decode("ascii", "replace")
    kind = "PEM text" if isinstance(cadata, str) else "DER data"
    unit = "characters" if isinstance(cadata, str) else "bytes"
    if not cadata.strip():
        raise PolicyError(
            "invalid TLSPolicy.cadata: it is empty. Pass PEM text as str or DER certificates as bytes.",
            field="cadata",
        )
    try:
        context.load_verify_locations(cadata=cadata)
    except ssl.SSLError as exc:
        raise PolicyError(
            f"invalid TLSPolicy.cadata: the {kind} ({len(cadata)} {unit}) contains no certificate "
            f"({exc.reason or exc}). Pass PEM text as str or DER certificates as bytes.",
            field="cadata",
        ) from exc


def _load_crlfile(context: ssl.SSLContext, path: str) -> None:
    source = _field_source("crlfile", path)
    file = _read_file(path, source)
    data = file.data
    if _PEM_CRL_MARKER not in data:
        if data[:1] == bytes([_DER_SEQUENCE]):
            hint = (
                f"It looks like a DER CRL; convert it with 'openssl crl -inform DER -in {path} -out crl.pem'"
            )
        else:
            hint = "Pass a file with one or more '-----BEGIN X509 CRL-----' blocks"
        raise source.error(f"it contains no PEM CRL. {hint}")
    try:
        _load_verify_file(context, path, file)
    except ssl.SSLError as exc:
        raise source.error(f"OpenSSL could not read its CRLs ({exc.reason or exc})") from exc
    log.debug("loaded CRL file %s", path)


def _check_certificates(data: bytes, source: _Source) -> None:
    if any(marker in data for marker in _PEM_CERTIFICATE_MARKERS):
        return
    if data[:1] == bytes([_DER_SEQUENCE]):
        hint = (
            "It looks like a DER certificate; convert it with 'openssl x509 -inform DER -in FILE -out "
            "FILE.pem', or pass its bytes as cadata"
        )
    else:
        hint = "Pass a file with one or more '-----BEGIN CERTIFICATE-----' blocks"
    raise source.error(f"it contains no PEM certificate. {hint}")


def _read_file(path: str, source: _Source) -> LocalFile:
    """Return the content of ``path``, or raise PolicyError saying why it cannot be used."""
    _check_file(path, source)
    try:
        file = read_local_file(path)
    except OSError as exc:
        raise source.error(exc.strerror or str(exc)) from exc
    if not file.data.strip():
        # A FIFO that no process writes to reads as empty at once.
        writerless = file.is_fifo and not file.data
        raise source.error("it is a FIFO that no process writes to" if writerless else "the file is empty")
    return file


def _load_verify_file(context: ssl.SSLContext, path: str, file: LocalFile) -> None:
    """Load certificates and CRLs from ``path``, or from the bytes read once from a pipe."""
    if file.is_regular:
        context.load_verify_locations(cafile=path)
        return
    with materialized(file.data) as copy:
        context.load_verify_locations(cafile=copy)


def _check_file(path: str, source: _Source) -> None:
    if not os.path.exists(path):
        # exists() is also False for a link that leads nowhere or in a loop.
        raise source.error("no such file" if not os.path.islink(path) else "a symbolic link to no file")
    if os.path.isdir(path):
        raise source.error("is a directory; use capath for a directory of hashed certificates")
    if not os.access(path, os.R_OK):
        raise source.error("permission denied")


def _check_directory(path: str, source: _Source) -> None:
    if not os.path.exists(path):
        raise source.error("no such directory")
    if not os.path.isdir(path):
        raise source.error("not a directory. Use cafile for a single PEM file")
    try:
        names: List[str] = os.listdir(path)
    except OSError as exc:
        raise source.error(exc.strerror or str(exc)) from exc
    hashed = [name for name in names if _HASHED_CERTIFICATE_NAME.fullmatch(name)]
    if not hashed:
        raise source.error(
            "it contains no hashed certificate names (such as 3513523f.0), so OpenSSL would find no CA "
            f"in it. Run 'openssl rehash {path}'"
        )
    # OpenSSL opens these during the handshake, where a FIFO without a
    # writer would block it beyond any timeout.
    for name in hashed:
        try:
            mode = os.stat(os.path.join(path, name)).st_mode
        except OSError:
            continue  # a dangling link: OpenSSL skips it as well
        if not stat.S_ISREG(mode):
            raise source.error(f"its entry {name!r} is not a regular file, which OpenSSL could block on")
