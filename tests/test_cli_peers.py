"""``tlskit inspect`` and ``tlskit cache``, through main(argv) and once as a subprocess."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import pytest
import trustme
from peer_helpers import HAS_VERIFIED_CHAIN, ca_der, leaf_der, ok_responder

import tlskit
from conftest import make_server_context
from servers import TLSServer
from tlskit._certs import spki_pin
from tlskit._cli import (
    EXIT_CONNECT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_POLICY,
    EXIT_USAGE,
    EXIT_VERIFICATION,
    main,
)

StartServer = Callable[..., TLSServer]
TLS13_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")


# inspect


def test_inspect_verified(
    https_server: TLSServer,
    server_cert: trustme.LeafCert,
    ca: trustme.CA,
    ca_file: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["inspect", https_server.url("/"), "--cacert", ca_file]) == EXIT_OK
    out = capsys.readouterr().out
    assert "verified:  yes" in out
    assert "TLSv1.3, TLS_" in out
    assert "ALPN http/1.1" in out
    assert spki_pin(leaf_der(server_cert)) in out
    assert ("[1] subject" in out) is HAS_VERIFIED_CHAIN
    assert (spki_pin(ca_der(ca)) in out) is HAS_VERIFIED_CHAIN
    assert "UNVERIFIED" not in out


def test_inspect_json(
    https_server: TLSServer, server_cert: trustme.LeafCert, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", https_server.url("/"), "--cacert", ca_file, "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is True
    assert report["error"] is None
    assert report["host"] == "127.0.0.1"
    assert report["port"] == https_server.port
    assert report["tls"]["version"] == "TLSv1.3"
    assert report["tls"]["cipher"] in TLS13_SUITES
    assert report["tls"]["alpn"] == "http/1.1"
    assert report["chain_source"] == "verified"
    assert len(report["chain"]) == (2 if HAS_VERIFIED_CHAIN else 1)
    leaf = report["chain"][0]
    assert leaf["spki_pin"] == spki_pin(leaf_der(server_cert))
    assert leaf["ip_addresses"] == ["127.0.0.1", "::1"]
    assert leaf["days_left"] > 0


def test_inspect_untrusted_shows_presented_chain(
    start_server: StartServer, ca: trustme.CA, capsys: pytest.CaptureFixture[str]
) -> None:
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert("127.0.0.1")
    server = start_server(ok_responder(), make_server_context(leaf))
    assert main(["inspect", server.url("/"), "--json"]) == EXIT_VERIFICATION
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert report["chain_source"] == "presented, unverified"
    assert report["error"]["type"] == "UntrustedCertificateError"
    assert report["error"]["verify_code"] == 20
    pins = [certificate["spki_pin"] for certificate in report["chain"]]
    assert pins[0] == spki_pin(leaf_der(leaf))
    if HAS_VERIFIED_CHAIN:
        # The server sends its intermediate, never the root the client lacks.
        assert pins[1:] == [spki_pin(ca_der(intermediate))]


def test_inspect_expired_text(
    start_server: StartServer, ca: trustme.CA, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = ca.issue_cert(
        "127.0.0.1", not_after=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    )
    server = start_server(ok_responder(), make_server_context(expired))
    assert main(["inspect", server.url("/"), "--cacert", ca_file]) == EXIT_VERIFICATION
    out = capsys.readouterr().out
    assert "verified:  NO: certificate verification failed" in out
    assert "expired" in out
    assert "chain (UNVERIFIED" in out
    assert "EXPIRED" in out
    assert "2020-01-01 00:00:00 UTC" in out
    assert spki_pin(leaf_der(expired)) in out


def test_inspect_expired_json(
    start_server: StartServer, ca: trustme.CA, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = ca.issue_cert(
        "127.0.0.1", not_after=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    )
    server = start_server(ok_responder(), make_server_context(expired))
    assert main(["inspect", server.url("/"), "--cacert", ca_file, "--json"]) == EXIT_VERIFICATION
    report = json.loads(capsys.readouterr().out)
    assert report["error"]["type"] == "CertificateExpiredError"
    assert report["error"]["verify_code"] == 10
    assert report["chain"][0]["not_after"] == "2020-01-01T00:00:00+00:00"
    assert report["chain"][0]["days_left"] < 0


def test_inspect_connect_failure(https_server: TLSServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = https_server.url("/")
    https_server.stop()
    assert main(["inspect", url, "--timeout", "5"]) == EXIT_CONNECT
    assert capsys.readouterr().err.startswith("tlskit: could not connect")


def test_inspect_invalid_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "ftp://example.test/"]) == EXIT_POLICY
    assert "scheme 'ftp' is not supported" in capsys.readouterr().err


def test_python_m_tlskit_inspect(https_server: TLSServer, ca_file: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    completed = subprocess.run(
        [sys.executable, "-m", "tlskit", "inspect", https_server.url("/"), "--cacert", ca_file, "--json"],
        capture_output=True,
        timeout=30,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["verified"] is True


# cache


@pytest.fixture
def cache_file(https_server: TLSServer, ca_file: str, tmp_path: Path) -> str:
    """A cache file with the test server recorded, with trust on first use."""
    path = str(tmp_path / "peers.sqlite3")
    with tlskit.PeerCache(path) as cache:
        with tlskit.Client(cafile=ca_file, peer_cache=cache, trust_on_first_use=True) as client:
            client.get(https_server.url("/"))
        cache.record("other.test", 443, [leaf_der(trustme.CA().issue_cert("other.test"))], "TLSv1.2")
    return path


def test_cache_list(cache_file: str, https_server: TLSServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "--file", cache_file, "list"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"127.0.0.1:{https_server.port}  TLSv1.3  ")
    assert lines[1].startswith("other.test:443  TLSv1.2  ")


def test_cache_list_json(
    cache_file: str, https_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "list", "--file", cache_file, "--json"]) == EXIT_OK
    records = json.loads(capsys.readouterr().out)
    assert [(record["host"], record["port"]) for record in records] == [
        ("127.0.0.1", https_server.port),
        ("other.test", 443),
    ]
    assert records[0]["tofu_pin"] == records[0]["chain"][0]["spki_pin"]
    assert records[1]["tofu_pin"] is None


def test_cache_list_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "none.sqlite3"
    assert main(["cache", "--file", str(path), "list"]) == EXIT_OK
    assert capsys.readouterr().out == f"no peers recorded in {path}\n"
    assert not path.exists()


def test_cache_show(
    cache_file: str,
    https_server: TLSServer,
    server_cert: trustme.LeafCert,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cache", "--file", cache_file, "show", f"127.0.0.1:{https_server.port}"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"peer:        127.0.0.1:{https_server.port}" in out
    assert f"TOFU pin:    {spki_pin(leaf_der(server_cert))}" in out
    assert "first seen:" in out
    assert "[0] subject:" in out


def test_cache_show_json_by_host(
    cache_file: str, https_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "--file", cache_file, "show", "127.0.0.1", "--json"]) == EXIT_OK
    records = json.loads(capsys.readouterr().out)
    assert [record["port"] for record in records] == [https_server.port]


def test_cache_show_unknown_host(cache_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "--file", cache_file, "show", "nowhere.test"]) == EXIT_NOT_FOUND
    assert capsys.readouterr().err == f"tlskit: no record for nowhere.test in {cache_file}\n"


def test_cache_forget(cache_file: str, https_server: TLSServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "--file", cache_file, "forget", "OTHER.test:443"]) == EXIT_OK
    assert capsys.readouterr().out == "forgot 1 record for OTHER.test:443\n"
    assert main(["cache", "--file", cache_file, "forget", "other.test"]) == EXIT_NOT_FOUND
    with tlskit.PeerCache(cache_file) as cache:
        assert [record.host for record in cache.records()] == ["127.0.0.1"]


def test_cache_invalid_host_is_usage_error(cache_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["cache", "--file", cache_file, "show", "https://x.test/"])
    assert caught.value.code == EXIT_USAGE
    assert "invalid host 'https://x.test/'" in capsys.readouterr().err


def test_cache_damaged_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "peers.sqlite3"
    path.write_bytes(b"not sqlite at all " * 64)
    assert main(["cache", "--file", str(path), "list"]) == EXIT_POLICY
    error = capsys.readouterr().err
    assert error.startswith(f"tlskit: invalid peer cache file {str(path)!r}")
    assert "Traceback" not in error


@pytest.mark.parametrize("verb", [["list"], ["show", "a.test"], ["forget", "a.test"]])
def test_cache_file_of_other_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: List[str]
) -> None:
    path = tmp_path / "hostname"
    path.write_bytes(b"build-host\n")
    assert main(["cache", "--file", str(path), *verb]) == EXIT_POLICY
    error = capsys.readouterr().err
    assert error == (
        f"tlskit: invalid peer cache file {str(path)!r}: could not open it: file is not a database. It is not "
        "an SQLite database, so it is not a tlskit peer cache. Check the path, or use a new file to start an "
        "empty cache.\n"
    )
    assert path.read_bytes() == b"build-host\n"
