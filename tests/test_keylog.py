"""Key logging: only on an explicit opt-in, into a file that only this user can read."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

import tlskit
from servers import TLSServer
from tlskit import PolicyError, TLSPolicy

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("maximum, marker", [(None, "CLIENT_TRAFFIC_SECRET_0"), ("1.2", "CLIENT_RANDOM")])
def test_keylog_file_receives_secrets(
    https_server: TLSServer,
    ca_file: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    maximum: str,
    marker: str,
) -> None:
    keylog = tmp_path / "keys.log"
    with caplog.at_level(logging.WARNING, logger="tlskit"):
        tlskit.get(https_server.url("/"), cafile=ca_file, keylog_file=str(keylog), maximum_version=maximum)
    assert marker in keylog.read_text()
    assert mode_of(keylog) == 0o600
    assert f"TLS session keys are being written to {keylog}" in caplog.text


def test_file_created_0600_despite_open_umask(ca_file: str, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    previous = os.umask(0)
    try:
        tlskit.create_context(cafile=ca_file, keylog_file=str(keylog))
    finally:
        os.umask(previous)
    assert mode_of(keylog) == 0o600


def test_sslkeylogfile_ignored_without_opt_in(
    https_server: TLSServer, ca_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keylog = tmp_path / "inherited.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    policy = TLSPolicy(cafile=ca_file, trust_env=True)
    assert tlskit.get(https_server.url("/"), policy=policy).status == 200
    assert not keylog.exists()
    assert "key log:" in policy.describe()


def test_sslkeylogfile_with_opt_in(
    https_server: TLSServer, ca_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keylog = tmp_path / "from-env.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    policy = TLSPolicy(cafile=ca_file, keylog_from_env=True)
    assert f"now {str(keylog)!r}" in policy.describe()
    assert tlskit.get(https_server.url("/"), policy=policy).status == 200
    assert "CLIENT_TRAFFIC_SECRET_0" in keylog.read_text()
    assert mode_of(keylog) == 0o600


def test_keylog_from_env_needs_trust_env() -> None:
    with pytest.raises(PolicyError) as caught:
        TLSPolicy(keylog_from_env=True, trust_env=False)
    assert caught.value.field == "keylog_from_env"
    assert "SSLKEYLOGFILE" in str(caught.value)


def test_world_readable_file_rejected(ca_file: str, tmp_path: Path) -> None:
    keylog = tmp_path / "shared.log"
    keylog.write_text("")
    keylog.chmod(0o644)
    with pytest.raises(PolicyError) as caught:
        tlskit.create_context(cafile=ca_file, keylog_file=str(keylog))
    assert caught.value.field == "keylog_file"
    assert "mode 0644" in str(caught.value)
    assert f"chmod 600 {keylog}" in str(caught.value)


def test_missing_directory(ca_file: str, tmp_path: Path) -> None:
    keylog = tmp_path / "no-such-dir" / "keys.log"
    with pytest.raises(PolicyError) as caught:
        tlskit.create_context(cafile=ca_file, keylog_file=str(keylog))
    assert caught.value.field == "keylog_file"
    assert "No such file or directory" in str(caught.value)


def test_no_file_for_policy_that_fails_earlier(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    with pytest.raises(PolicyError):
        tlskit.create_context(cafile=str(tmp_path / "missing.pem"), keylog_file=str(keylog))
    assert not keylog.exists()
