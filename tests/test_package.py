"""Packaging facts: stdlib-only imports, the public API, typing marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tlskit


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names is new in Python 3.10")
def test_import_loads_only_stdlib_and_tlskit() -> None:
    # -S keeps site-packages .pth hooks (editable-install finders, setuptools'
    # distutils shim) out of the list: they load whatever tlskit imports.
    code = (
        "import sys, tlskit; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names and m != '__main__'))"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(tlskit.__file__).parent.parent))
    output = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=30, env=env
    )
    assert output.returncode == 0, output.stderr
    modules = eval(output.stdout)
    assert modules
    assert all(name == "tlskit" or name.startswith("tlskit.") for name in modules), modules


def test_every_public_name_exists() -> None:
    for name in tlskit.__all__:
        assert hasattr(tlskit, name), name


def test_py_typed_marker_ships() -> None:
    assert (Path(tlskit.__file__).parent / "py.typed").is_file()


def test_error_tree() -> None:
    assert issubclass(tlskit.PolicyError, ValueError)
    assert issubclass(tlskit.TimeoutExceededError, TimeoutError)
    for name in (
        "CertificateExpiredError",
        "CertificateNotYetValidError",
        "HostnameMismatchError",
        "UntrustedCertificateError",
        "WeakCertificateError",
        "CertificateRevokedError",
        "InvalidChainError",
        "PinMismatchError",
    ):
        assert issubclass(getattr(tlskit, name), tlskit.VerificationError), name
    for name in ("IncompleteBodyError", "LimitExceededError"):
        assert issubclass(getattr(tlskit, name), tlskit.ProtocolError), name
    for name in (
        "PolicyError",
        "ConnectError",
        "TimeoutExceededError",
        "HandshakeError",
        "VerificationError",
        "ProtocolError",
    ):
        assert issubclass(getattr(tlskit, name), tlskit.TLSKitError), name


def test_import_skips_heavy_stdlib_modules() -> None:
    # These load on first use only: decoding, JSON, retries, Retry-After dates.
    heavy = [
        "email",
        "http.client",
        "urllib.request",
        "json",
        "zlib",
        "gzip",
        "tempfile",
        "random",
        "secrets",
    ]
    code = f"import sys, tlskit; print([m for m in {heavy!r} if m in sys.modules])"
    env = dict(os.environ, PYTHONPATH=str(Path(tlskit.__file__).parent.parent))
    output = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=30, env=env
    )
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]"
