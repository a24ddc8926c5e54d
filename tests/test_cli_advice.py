"""CLI messages name options, not library keywords, show values in full, hide passwords and stay short."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import trustme

import tlskit
from conftest import make_server_context
from servers import HTTPResponder, TLSServer, read_request, response_bytes
from tlskit import HostnameMismatchError
from tlskit._causes import MAX_LISTED_NAMES
from tlskit._cli import EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_VERIFICATION, main

StartServer = Callable[..., TLSServer]
SUBPROCESS_TIMEOUT_SECONDS = 30
MANY_NAMES = [f"host{number:04d}.example" for number in range(3000)]


# Library keywords.


@pytest.mark.parametrize("verb", ["inspect", "doctor"])
def test_http_url_without_library_keyword(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([verb, "http://localhost:1/"]) == EXIT_POLICY
    error = capsys.readouterr().err
    assert "allow_http" not in error
    assert "scheme 'http' is not supported. Use 'https'." in error


def test_bad_ssl_cert_file_without_library_keyword(https_server: TLSServer, tmp_path: Path) -> None:
    # A child process, because this process may have built and cached the
    # context before, without reading SSL_CERT_FILE again.
    missing = str(tmp_path / "missing.pem")
    completed = subprocess.run(
        [sys.executable, "-m", "tlskit", "get", https_server.url("/")],
        capture_output=True,
        env=dict(os.environ, SSL_CERT_FILE=missing, PYTHONPATH=os.pathsep.join(sys.path)),
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    error = completed.stderr.decode()
    assert completed.returncode == EXIT_POLICY
    assert "trust_env" not in error
    assert f"invalid SSL_CERT_FILE={missing!r}" in error
    assert error.rstrip().endswith("Fix or unset SSL_CERT_FILE.")


@pytest.mark.parametrize(
    "rule",
    [
        "localhost:50133:::1:99999",
        "www.example.com:443:[2001:db8::1]:8443:extra",
        "a-rather-long-host-name.internal.example.com:443:127.0.0.1:port",
    ],
)
def test_connect_to_value_shown_in_full(rule: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["get", "https://localhost/", "--connect-to", rule])
    assert caught.value.code == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"invalid value {rule!r}" in error
    assert "characters)" not in error


# Credentials.


def test_user_option_sends_basic_auth(
    start_server: StartServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    def echo_authorization(sock: ssl.SSLSocket) -> None:
        received = read_request(sock, bytearray())
        value = received[0].headers.get("authorization", "none").encode() if received else b"none"
        sock.sendall(response_bytes(200, [("Connection", "close")], value))

    server = start_server(echo_authorization)
    assert main(["get", server.url("/"), "--cacert", ca_file, "-u", "alice:s3cret:with-colon"]) == EXIT_OK
    expected = "Basic " + base64.b64encode(b"alice:s3cret:with-colon").decode()
    assert capsysbinary.readouterr().out == expected.encode()


@pytest.mark.parametrize("value", ["alice-s3cret", ":s3cret"])
def test_user_option_without_colon(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["get", "https://localhost:1/", "-u", value])
    assert caught.value.code == EXIT_USAGE
    error = capsys.readouterr().err
    assert "argument -u/--user: invalid value (not shown): expected USER:PASSWORD" in error
    assert "s3cret" not in error


def test_inspect_masks_password(
    https_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = https_server.url("/").replace("https://", "https://user:secret@")
    assert main(["inspect", url, "--cacert", ca_file]) == EXIT_OK
    text = capsys.readouterr().out
    assert "secret" not in text
    assert "user:***@" in text


def test_inspect_json_masks_password(
    https_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = https_server.url("/").replace("https://", "https://user:secret@")
    assert main(["inspect", url, "--cacert", ca_file, "--json"]) == EXIT_OK
    output = capsys.readouterr().out
    assert "secret" not in output
    assert json.loads(output)["url"] == url.replace("user:secret@", "user:***@")


# Certificates with many names.


@pytest.fixture(scope="module")
def crowded_leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(*MANY_NAMES)


@pytest.fixture
def crowded_server(start_server: StartServer, crowded_leaf: trustme.LeafCert) -> TLSServer:
    responder = HTTPResponder({"/": (200, [], b"ok")})
    return start_server(responder, make_server_context(crowded_leaf))


def test_mismatch_message_lists_few_names(crowded_server: TLSServer, ca_file: str) -> None:
    with pytest.raises(HostnameMismatchError) as caught:
        tlskit.get(crowded_server.url("/"), policy=tlskit.TLSPolicy(cafile=ca_file))
    message = str(caught.value)
    assert "DNS:host0000.example" in message
    assert f"DNS:host{MAX_LISTED_NAMES - 1:04d}.example" in message
    assert f"DNS:host{MAX_LISTED_NAMES:04d}.example" not in message
    assert f"and {len(MANY_NAMES) - MAX_LISTED_NAMES} more" in message
    assert len(message) < 3000
    # The diagnosis keeps every name.
    assert caught.value.diagnosis is not None
    assert list(caught.value.diagnosis.chain[0].dns_names) == MANY_NAMES


def test_mismatch_cli_message_short(
    crowded_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", crowded_server.url("/"), "--cacert", ca_file]) == EXIT_VERIFICATION
    error = capsys.readouterr().err
    assert f"and {len(MANY_NAMES) - MAX_LISTED_NAMES} more" in error
    assert len(error) < 3000


def test_verbose_names_capped(
    start_server: StartServer, ca: trustme.CA, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The server chooses how many names its certificate carries; inspect lists them all.
    leaf = ca.issue_cert(*MANY_NAMES, "127.0.0.1")
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), make_server_context(leaf))
    assert main(["get", server.url("/"), "--cacert", ca_file, "-v"]) == EXIT_OK
    names = [line for line in capsys.readouterr().err.splitlines() if line.startswith("*   names: ")]
    assert names == [
        "*   names: "
        + ", ".join(f"DNS:{name}" for name in MANY_NAMES[:MAX_LISTED_NAMES])
        + f" and {len(MANY_NAMES) + 1 - MAX_LISTED_NAMES} more"
    ]
