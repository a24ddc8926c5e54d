"""Trust sources: files, directories, memory, the system store and its environment variables.

Build-time errors are checked against real files. Tests that depend on the
environment build their own context with `create_context` and connect with
it directly, because the shared context of a policy keeps whatever the
environment held when it was first built.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import ssl
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest
import trustme
from unprivileged import needs_root, run_as_nobody, shared_directory

import tlskit
from pki import make_crl, openssl, write_trustme_ca
from servers import TLSServer
from tlskit import PolicyError, TLSPolicy, create_context
from tlskit._trust import locate_system_store


def handshake(server: TLSServer, context: ssl.SSLContext) -> str:
    """Complete a handshake with ``server`` using ``context`` and return the TLS version."""
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server.host) as sock:
            return str(sock.version())


def holds_ca(context: ssl.SSLContext, ca: trustme.CA) -> bool:
    der = ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())
    return der in context.get_ca_certs(binary_form=True)


@pytest.fixture
def other_ca_file(tmp_path: Path) -> str:
    path = str(tmp_path / "other-ca.pem")
    trustme.CA().cert_pem.write_to_path(path)
    return path


@pytest.fixture
def hashed_dir(ca: trustme.CA, tmp_path: Path) -> str:
    """A directory holding the session CA under its OpenSSL hash name."""
    directory = tmp_path / "hashed"
    directory.mkdir()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    openssl("rehash", str(directory))
    return str(directory)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove the machine's SSL_CERT_FILE and SSL_CERT_DIR for one test."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return monkeypatch


# Sources that work.


def test_cafile_alone(https_server: TLSServer, ca_file: str) -> None:
    context = create_context(cafile=ca_file, system_ca=False)
    assert context.cert_store_stats()["x509_ca"] == 1
    assert handshake(https_server, context) == "TLSv1.3"


def test_capath_alone(https_server: TLSServer, hashed_dir: str) -> None:
    assert handshake(https_server, create_context(capath=hashed_dir, system_ca=False)) == "TLSv1.3"


@pytest.mark.parametrize("form", ["pem-str", "pem-bytes", "der-bytes"])
def test_cadata_alone(https_server: TLSServer, ca: trustme.CA, form: str) -> None:
    pem = ca.cert_pem.bytes().decode()
    cadata = {"pem-str": pem, "pem-bytes": pem.encode(), "der-bytes": ssl.PEM_cert_to_DER_cert(pem)}[form]
    context = create_context(cadata=cadata, system_ca=False)
    assert context.cert_store_stats()["x509_ca"] == 1
    assert handshake(https_server, context) == "TLSv1.3"


def test_all_sources_combined(
    ca: trustme.CA, other_ca_file: str, hashed_dir: str, clean_env: pytest.MonkeyPatch
) -> None:
    third = trustme.CA().cert_pem.bytes().decode()
    clean_env.setenv("SSL_CERT_FILE", other_ca_file)
    context = create_context(cafile=other_ca_file, capath=hashed_dir, cadata=third)
    # The system store (here SSL_CERT_FILE) and cafile name the same CA; OpenSSL keeps one copy.
    assert context.cert_store_stats()["x509_ca"] == 2


# "Only these CAs" against "these CAs plus the system store".


def test_system_store_from_ssl_cert_file(
    https_server: TLSServer, ca_file: str, other_ca_file: str, clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    clean_env.setenv("SSL_CERT_FILE", ca_file)
    with caplog.at_level(logging.DEBUG, logger="tlskit"):
        plus_system = create_context(cafile=other_ca_file, system_ca=True)
    assert handshake(https_server, plus_system) == "TLSv1.3"
    assert f"using SSL_CERT_FILE={ca_file}" in caplog.text

    only_these = create_context(cafile=other_ca_file, system_ca=False)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(https_server, only_these)


def test_system_store_from_ssl_cert_dir(
    https_server: TLSServer, ca: trustme.CA, hashed_dir: str, clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    clean_env.setenv("SSL_CERT_DIR", hashed_dir)
    with caplog.at_level(logging.DEBUG, logger="tlskit"):
        context = create_context()
    assert handshake(https_server, context) == "TLSv1.3"
    assert f"using SSL_CERT_DIR={hashed_dir}" in caplog.text


def test_trust_env_false_ignores_variables(
    https_server: TLSServer, ca: trustme.CA, ca_file: str, hashed_dir: str, clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    clean_env.setenv("SSL_CERT_FILE", ca_file)
    clean_env.setenv("SSL_CERT_DIR", hashed_dir)
    with caplog.at_level(logging.DEBUG, logger="tlskit"):
        context = create_context(trust_env=False)
    assert not holds_ca(context, ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(https_server, context)
    assert "SSL_CERT" not in caplog.text
    store = locate_system_store(trust_env=False)
    assert store.cafile_origin == "OpenSSL default"
    assert store.capath_origin == "OpenSSL default"


def test_trust_env_false_ignores_broken_variable(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert create_context(trust_env=False).verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    "variable, make, reason",
    [
        ("SSL_CERT_FILE", lambda tmp: str(tmp / "missing.pem"), "no such file"),
        ("SSL_CERT_FILE", lambda tmp: str(tmp), "is a directory"),
        ("SSL_CERT_DIR", lambda tmp: str(tmp / "missing"), "no such directory"),
        ("SSL_CERT_DIR", lambda tmp: str(tmp), "contains no hashed certificate names"),
    ],
)
def test_unusable_environment_variable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, variable: str, make: Callable[[Path], str], reason: str
) -> None:
    value = make(tmp_path)
    clean_env.setenv(variable, value)
    with pytest.raises(PolicyError) as caught:
        create_context()
    assert caught.value.field == variable
    assert f"{variable}={value!r} (from the environment)" in str(caught.value)
    assert reason in str(caught.value)
    assert "trust_env=False" in str(caught.value)


def test_ssl_cert_file_without_certificates(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a bundle\n")
    clean_env.setenv("SSL_CERT_FILE", str(junk))
    with pytest.raises(PolicyError, match="contains no PEM certificate"):
        create_context()


# Unusable sources, reported when the context is built.


@pytest.fixture
def files(tmp_path: Path, ca: trustme.CA) -> Callable[[str], str]:
    """Make a file of a named kind and return its path."""
    pem = ca.cert_pem.bytes()

    def make(kind: str) -> str:
        path = tmp_path / kind
        contents = {
            "empty": b"",
            "blank": b"\n  \n",
            "junk": b"hello\n",
            "der": ssl.PEM_cert_to_DER_cert(pem.decode()),
            "truncated": pem[:120] + b"\n-----END CERTIFICATE-----\n",
            "certificate": pem,
        }
        if kind == "directory":
            path.mkdir()
        else:
            path.write_bytes(contents[kind])
        return str(path)

    return make


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "no such file"),
        ("directory", "is a directory; use capath"),
        ("empty", "the file is empty"),
        ("blank", "the file is empty"),
        ("junk", "it contains no PEM certificate. Pass a file with one or more"),
        ("der", "it contains no PEM certificate. It looks like a DER certificate"),
        ("truncated", "OpenSSL could not read its certificates"),
    ],
)
def test_unusable_cafile(files: Callable[[str], str], tmp_path: Path, kind: str, reason: str) -> None:
    path = str(tmp_path / "missing") if kind == "missing" else files(kind)
    with pytest.raises(PolicyError) as caught:
        create_context(cafile=path)
    assert caught.value.field == "cafile"
    assert f"invalid TLSPolicy.cafile {path!r}: {reason}" in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_cafile(files: Callable[[str], str]) -> None:
    path = files("certificate")
    os.chmod(path, 0)
    with pytest.raises(PolicyError, match="permission denied"):
        create_context(cafile=path)


@needs_root
def test_unreadable_cafile_as_nobody(files: Callable[[str], str]) -> None:
    with shared_directory() as directory:
        path = str(directory / "ca.pem")
        shutil.copyfile(files("certificate"), path)
        os.chmod(path, 0)
        completed = run_as_nobody(
            "import sys\nfrom tlskit import PolicyError, create_context\n",
            """
            try:
                create_context(cafile=sys.argv[1], system_ca=False)
            except PolicyError as exc:
                print(exc.field)
                print(exc)
            """,
            path,
        )
    assert completed.returncode == 0, completed.stderr
    field, message = completed.stdout.splitlines()
    assert field == "cafile"
    assert message == f"invalid TLSPolicy.cafile {path!r}: permission denied."


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_cafile_read_error() -> None:
    # Opening /proc/self/mem succeeds, even for root, but reading from offset 0 fails with EIO.
    with pytest.raises(PolicyError) as caught:
        create_context(cafile="/proc/self/mem")
    assert caught.value.field == "cafile"
    assert "invalid TLSPolicy.cafile '/proc/self/mem': Input/output error." in str(caught.value)


# Pipes and devices: a shell's <(...) names a pipe that can be read once.

posix_pipes = pytest.mark.skipif(
    not os.path.isdir("/dev/fd") or not hasattr(os, "mkfifo"), reason="needs /dev/fd and FIFOs"
)


@contextlib.contextmanager
def pipe_of(data: bytes) -> Iterator[str]:
    """Yield a /dev/fd path of a pipe that delivers ``data`` once, as ``<(cat FILE)`` does."""
    reader, writer = os.pipe()
    thread = threading.Thread(target=lambda: (os.write(writer, data), os.close(writer)))
    thread.start()
    try:
        yield f"/dev/fd/{reader}"
    finally:
        thread.join(5)
        os.close(reader)


@posix_pipes
def test_cafile_from_pipe(https_server: TLSServer, ca: trustme.CA) -> None:
    # The pipe is read once for the checks, and OpenSSL gets those bytes.
    with pipe_of(ca.cert_pem.bytes()) as path:
        context = create_context(cafile=path, system_ca=False)
    assert handshake(https_server, context) == "TLSv1.3"


@posix_pipes
def test_cafile_pipe_read_once_per_client(https_server: TLSServer, ca: trustme.CA) -> None:
    # A call that overrides a policy field builds another context from the same, drained pipe.
    with pipe_of(ca.cert_pem.bytes()) as path:
        with tlskit.Client(cafile=path, system_ca=False) as client:
            assert client.get(https_server.url("/")).status == 200
            assert client.get(https_server.url("/"), minimum_version="1.3").status == 200


@posix_pipes
def test_crlfile_from_pipe(ca: trustme.CA, ca_file: str, tmp_path: Path) -> None:
    crl = make_crl(write_trustme_ca(ca, str(tmp_path)), str(tmp_path), "empty")
    with pipe_of(Path(crl).read_bytes()) as path:
        context = create_context(cafile=ca_file, crlfile=path)
    assert context.cert_store_stats()["crl"] == 1


@posix_pipes
def test_fifo_without_writer_named(tmp_path: Path) -> None:
    # Opening a FIFO for reading would wait for a writer, without limit.
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    with pytest.raises(PolicyError) as caught:
        create_context(cafile=str(fifo))
    assert (
        str(caught.value)
        == f"invalid TLSPolicy.cafile {str(fifo)!r}: it is a FIFO that no process writes to."
    )


@posix_pipes
def test_fifo_in_capath_rejected(ca: trustme.CA, tmp_path: Path) -> None:
    # OpenSSL would open it during the handshake and wait for a writer.
    ca.cert_pem.write_to_path(str(tmp_path / "3513523f.0"))
    os.mkfifo(tmp_path / "3513523f.1")
    with pytest.raises(PolicyError) as caught:
        create_context(capath=str(tmp_path))
    assert str(caught.value).endswith(
        "its entry '3513523f.1' is not a regular file, which OpenSSL could block on."
    )


def test_cafile_link_loop_named(tmp_path: Path) -> None:
    (tmp_path / "a.pem").symlink_to(tmp_path / "b.pem")
    (tmp_path / "b.pem").symlink_to(tmp_path / "a.pem")
    with pytest.raises(PolicyError) as caught:
        create_context(cafile=str(tmp_path / "a.pem"))
    assert str(caught.value).endswith(": a symbolic link to no file.")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_device_rejected() -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(cafile="/dev/zero")
    assert "invalid TLSPolicy.cafile '/dev/zero': it is larger than 64 MiB" in str(caught.value)


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "no such directory"),
        ("certificate", "not a directory. Use cafile"),
        ("directory", "it contains no hashed certificate names"),
    ],
)
def test_unusable_capath(files: Callable[[str], str], tmp_path: Path, kind: str, reason: str) -> None:
    path = str(tmp_path / "missing") if kind == "missing" else files(kind)
    with pytest.raises(PolicyError) as caught:
        create_context(capath=path)
    assert caught.value.field == "capath"
    assert f"invalid TLSPolicy.capath {path!r}: {reason}" in str(caught.value)


@pytest.mark.parametrize(
    "cadata, reason",
    [("", "it is empty"), (b"", "it is empty"), ("junk", "the PEM text (4 characters) contains no certificate"),
     (b"\x30\x03\x02\x01\x00", "the DER data (5 bytes) contains no certificate")],
)  # fmt: skip
def test_unusable_cadata(cadata: object, reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        create_context(cadata=cadata)
    assert caught.value.field == "cadata"
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "no such file"),
        ("empty", "the file is empty"),
        ("certificate", "it contains no PEM CRL"),
        ("der", "it contains no PEM CRL. It looks like a DER CRL; convert it with 'openssl crl -inform DER"),
    ],
)
def test_unusable_crlfile(
    files: Callable[[str], str], tmp_path: Path, ca_file: str, kind: str, reason: str
) -> None:
    path = str(tmp_path / "missing") if kind == "missing" else files(kind)
    with pytest.raises(PolicyError) as caught:
        create_context(cafile=ca_file, crlfile=path)
    assert caught.value.field == "crlfile"
    assert f"invalid TLSPolicy.crlfile {path!r}: {reason}" in str(caught.value)


def test_errors_raised_when_client_is_built(tmp_path: Path) -> None:
    import tlskit

    with pytest.raises(PolicyError, match="no such file"):
        tlskit.Client(cafile=str(tmp_path / "missing.pem"))


def test_describe_names_system_store_source(ca_file: str, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SSL_CERT_FILE", ca_file)
    text = TLSPolicy(cafile=ca_file).describe()
    assert f"system store (file {ca_file} from SSL_CERT_FILE" in text
    assert f"+ cafile {ca_file!r}" in text
    assert "from SSL_CERT_FILE" not in TLSPolicy(trust_env=False).describe()
