"""Packaging facts: stdlib-only imports, the public API, typing marker."""

from __future__ import annotations

import logging
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


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(tlskit.__file__).parent.parent))
    return subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=30, env=env
    )


def test_bare_import_loads_no_submodule() -> None:
    output = run_isolated(
        "import sys, tlskit; print(sorted(m for m in sys.modules if m.startswith('tlskit')))"
    )
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "['tlskit', 'tlskit._version']"


def test_public_names_listed_and_resolved() -> None:
    assert set(tlskit.__all__) <= set(dir(tlskit))
    assert tlskit.Client.__module__ == "tlskit._client"
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        tlskit.missing  # noqa: B018


def test_debug_skips_logging_warning_reaches_stderr() -> None:
    code = (
        "import sys\n"
        "from tlskit._log import get_logger\n"
        "log = get_logger('tlskit.test')\n"
        "log.debug('quiet %s', 1)\n"
        "print('logging' in sys.modules)\n"
        "log.warning('loud %s', 2)\n"
    )
    output = run_isolated(code)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "False"
    assert output.stderr.strip() == "loud 2"


def test_lazy_logger_keeps_caller_location(caplog: pytest.LogCaptureFixture) -> None:
    from tlskit._log import get_logger

    with caplog.at_level(logging.DEBUG, logger="tlskit.test"):
        get_logger("tlskit.test").debug("here %s", 3)
    assert [record.getMessage() for record in caplog.records] == ["here 3"]
    assert caplog.records[0].funcName == "test_lazy_logger_keeps_caller_location"


def test_lazy_logger_reports_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    from tlskit._log import get_logger

    log = get_logger("tlskit.test.level")
    with caplog.at_level(logging.INFO, logger="tlskit.test.level"):
        assert not log.is_debug_enabled()
    with caplog.at_level(logging.DEBUG, logger="tlskit.test.level"):
        assert log.is_debug_enabled()


def test_debug_check_skips_logging_import() -> None:
    code = (
        "import sys\n"
        "from tlskit._log import get_logger\n"
        "print(get_logger('tlskit.test').is_debug_enabled(), 'logging' in sys.modules)\n"
    )
    output = run_isolated(code)
    assert output.returncode == 0, output.stderr
    assert output.stdout.split() == ["False", "False"]
