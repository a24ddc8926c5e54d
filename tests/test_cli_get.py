"""tlskit get: every option through main(argv), against real servers on loopback."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest
import trustme

import tlskit
from conftest import make_server_context
from pki import encrypt_key
from servers import ConnectProxy, HTTPResponder, TLSServer, read_request, response_bytes, scripted
from terminal import run_on_terminal
from tlskit._certs import pem_to_der_list, spki_pin
from tlskit._cli import (
    EXIT_CONNECT,
    EXIT_HANDSHAKE,
    EXIT_HTTP,
    EXIT_OK,
    EXIT_POLICY,
    EXIT_PROTOCOL,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    EXIT_VERIFICATION,
    EXIT_WRITE,
    main,
)
from tlskit._cli_options import parse_pins

StartServer = Callable[..., TLSServer]
PASSWORD = "correct horse battery"


@pytest.fixture
def responder() -> HTTPResponder:
    return HTTPResponder(
        {
            "/": (200, [("Content-Type", "text/plain")], b"hello, world\n"),
            "/missing": (404, [("Content-Type", "text/plain")], b"no such page\n"),
            "/moved": (301, [("Location", "/")], b"moved\n"),
            "/big": (200, [], b"x" * 5000),
        }
    )


def get(*argv: str) -> int:
    return main(["get", *argv])


def json_output(capsysbinary: pytest.CaptureFixture[bytes]) -> dict:
    return json.loads(capsysbinary.readouterr().out)  # type: ignore[no-any-return]


# Output.


def test_include_prints_head_then_body(
    https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert get(https_server.url("/"), "--cacert", ca_file, "-i") == EXIT_OK
    assert capsysbinary.readouterr().out == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n"
    )


def test_head_sends_head(
    https_server: TLSServer,
    responder: HTTPResponder,
    ca_file: str,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    assert get(https_server.url("/"), "--cacert", ca_file, "--head") == EXIT_OK
    assert capsysbinary.readouterr().out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert [request.method for request, _ in responder.requests] == ["HEAD"]


def test_head_to_output_file(https_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "head.txt"
    assert get(https_server.url("/"), "--cacert", ca_file, "-I", "-o", str(target)) == EXIT_OK
    assert target.read_bytes().startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")


def test_verbose_facts_on_stderr(
    https_server: TLSServer, server_cert: trustme.LeafCert, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert get(https_server.url("/moved"), "--cacert", ca_file, "-v") == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == "hello, world\n"
    lines = captured.err.splitlines()
    der = pem_to_der_list(server_cert.cert_chain_pems[0].bytes())[0]
    assert lines[0] == f"* 301 redirect from {https_server.url('/moved')}"
    assert lines[1] == f"* URL: {https_server.url('/')}"
    assert lines[2].startswith("* TLS: TLSv1.3, TLS_")
    assert lines[2].endswith(", ALPN http/1.1, new session")
    assert lines[3].startswith("* server certificate: ")
    assert "*   names: DNS:localhost, IP:127.0.0.1, IP:::1" in lines
    assert f"*   SPKI pin: {spki_pin(der)}" in lines
    assert "< HTTP/1.1 200 OK" in lines
    assert "< Content-Type: text/plain" in lines


def test_json_metadata(
    https_server: TLSServer,
    server_cert: trustme.LeafCert,
    ca_file: str,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    assert get(https_server.url("/moved"), "--cacert", ca_file, "--json") == EXIT_OK
    data = json_output(capsysbinary)
    assert data["url"] == https_server.url("/")
    assert data["status"] == 200
    assert data["http_version"] == "HTTP/1.1"
    assert ["Content-Type", "text/plain"] in data["headers"]
    assert data["redirects"] == [{"status": 301, "url": https_server.url("/moved")}]
    assert data["tls"]["version"] == "TLSv1.3"
    assert data["tls"]["alpn"] == "http/1.1"
    der = pem_to_der_list(server_cert.cert_chain_pems[0].bytes())[0]
    assert data["tls"]["server_certificate"]["spki_pin"] == spki_pin(der)
    assert data["body_bytes"] == 13
    assert data["output"] is None


def test_json_with_output_file(
    https_server: TLSServer, ca_file: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    target = tmp_path / "body.txt"
    assert get(https_server.url("/"), "--cacert", ca_file, "--json", "-o", str(target)) == EXIT_OK
    data = json_output(capsysbinary)
    assert data["output"] == str(target)
    assert target.read_bytes() == b"hello, world\n"


def test_json_and_include_conflict(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        get("https://localhost/", "--json", "-i")
    assert caught.value.code == EXIT_USAGE
    assert "--json and -i both write to stdout" in capsys.readouterr().err


def test_http_error_without_fail(
    https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert get(https_server.url("/missing"), "--cacert", ca_file) == EXIT_OK
    assert capsysbinary.readouterr().out == b"no such page\n"


def test_fail_on_http_error(
    https_server: TLSServer, ca_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "body.txt"
    assert get(https_server.url("/missing"), "--cacert", ca_file, "--fail", "-o", str(target)) == EXIT_HTTP
    assert EXIT_HTTP == 22
    assert not target.exists()
    captured = capsys.readouterr()
    assert captured.err == f"tlskit: {https_server.url('/missing')} returned HTTP 404 OK.\n"
    assert os.listdir(tmp_path) == []


def test_fail_cuts_long_reason(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(HTTPResponder({"/": lambda request: response_bytes(500, [], b"", "x" * 7000)}))
    assert get(server.url("/"), "--cacert", ca_file, "--fail") == EXIT_HTTP
    error = capsys.readouterr().err
    assert "(7000 characters)" in error
    assert len(error) < 400


def test_silent_hides_errors(https_server: TLSServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert get(https_server.url("/"), "-s") == EXIT_VERIFICATION
    assert capsys.readouterr().err == ""
    assert get(https_server.url("/"), "-s", "-S") == EXIT_VERIFICATION
    assert capsys.readouterr().err.startswith("tlskit: certificate verification failed")


def test_debug_raises(https_server: TLSServer) -> None:
    with pytest.raises(tlskit.UntrustedCertificateError):
        get(https_server.url("/"), "--debug")


def test_unwritable_output(
    https_server: TLSServer, ca_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-directory" / "body.txt"
    assert get(https_server.url("/"), "--cacert", ca_file, "-o", str(target)) == EXIT_WRITE
    error = capsys.readouterr().err
    assert error.startswith("tlskit: ")
    assert "Check the path and its permissions." in error
    assert "Traceback" not in error


def test_output_directory_rejected_before_request(
    https_server: TLSServer,
    responder: HTTPResponder,
    ca_file: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sorted(os.listdir(tmp_path.parent))
    assert get(https_server.url("/big"), "--cacert", ca_file, "-o", str(tmp_path)) == EXIT_WRITE
    assert capsys.readouterr().err == (
        f"tlskit: could not write {str(tmp_path)!r}: it is a directory. Check the path and its permissions.\n"
    )
    assert responder.requests == []
    assert os.listdir(tmp_path) == []
    assert sorted(os.listdir(tmp_path.parent)) == before


@pytest.mark.parametrize("head", [False, True])
def test_output_missing_directory_named(
    https_server: TLSServer,
    responder: HTTPResponder,
    ca_file: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    head: bool,
) -> None:
    target = tmp_path / "no-such-directory" / "out.bin"
    argv = ["--cacert", ca_file, "-o", str(target)] + (["-I"] if head else [])
    assert get(https_server.url("/"), *argv) == EXIT_WRITE
    error = capsys.readouterr().err
    assert error == (
        f"tlskit: could not write {str(target)!r}: the directory {str(target.parent)!r} does not exist. "
        "Check the path and its permissions.\n"
    )
    assert responder.requests == []


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_output_keeps_mode_and_link(https_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    real = tmp_path / "token.txt"
    real.write_bytes(b"old")
    real.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    for argv in (["-o", str(link)], ["-I", "-o", str(link)]):
        assert get(https_server.url("/"), "--cacert", ca_file, *argv) == EXIT_OK
        assert link.is_symlink()
        assert real.stat().st_mode & 0o777 == 0o600
    assert real.read_bytes().startswith(b"HTTP/1.1 200 OK\r\n")


def test_empty_output_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        get("https://localhost:1/", "-o", "")
    assert caught.value.code == EXIT_USAGE
    assert "argument -o/--output: expected a file name, not an empty string" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="select() on a pipe needs a POSIX system")
def test_body_reaches_pipe_as_it_arrives(start_server: StartServer, ca_file: str) -> None:
    import select
    import sys

    first_part_read = threading.Event()

    def pause_mid_body(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + b"a" * 100)
        first_part_read.wait(30)
        sock.sendall(b"b" * 19900)

    server = start_server(pause_mid_body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [sys.executable, "-m", "tlskit", "get", server.url("/"), "--cacert", ca_file],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    first = b""
    try:
        # The body is a pipe's only while the server holds back the rest.
        while len(first) < 100 and select.select([process.stdout], [], [], 10)[0]:
            piece = os.read(process.stdout.fileno(), 100 - len(first))
            if not piece:
                break
            first += piece
        first_part_read.set()
        rest, errors = process.communicate(timeout=30)
    finally:
        first_part_read.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert first == b"a" * 100
    assert rest == b"b" * 19900
    assert errors == b""
    assert process.returncode == EXIT_OK


# Trust and TLS options.


def test_capath(https_server: TLSServer, ca: trustme.CA, tmp_path: Path) -> None:
    directory = tmp_path / "certs"
    directory.mkdir()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True, timeout=60)
    assert get(https_server.url("/"), "--capath", str(directory), "--no-system-ca") == EXIT_OK


def test_no_system_ca_alone_is_policy_error(
    https_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert get(https_server.url("/"), "--no-system-ca") == EXIT_POLICY
    assert "system_ca is False" in capsys.readouterr().err


def test_max_tls(https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert get(https_server.url("/"), "--cacert", ca_file, "--max-tls", "1.2", "--json") == EXIT_OK
    assert json_output(capsysbinary)["tls"]["version"] == "TLSv1.2"


def test_ciphers_string(
    https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    argv = ["--cacert", ca_file, "--max-tls", "1.2", "--ciphers", "ECDHE+CHACHA20", "--json"]
    assert get(https_server.url("/"), *argv) == EXIT_OK
    assert "CHACHA20" in json_output(capsysbinary)["tls"]["cipher"]


@pytest.mark.parametrize(("profile", "version"), [("modern", "TLSv1.3"), ("compatible", "TLSv1.2")])
def test_ciphers_profile(
    https_server: TLSServer,
    ca_file: str,
    capsysbinary: pytest.CaptureFixture[bytes],
    profile: str,
    version: str,
) -> None:
    # The modern profile offers TLS 1.3 only, so a TLS 1.2 ceiling shows the compatible one at work.
    ceiling = ["--max-tls", "1.2"] if version == "TLSv1.2" else []
    argv = ["--cacert", ca_file, "--ciphers", profile, *ceiling, "--json"]
    assert get(https_server.url("/"), *argv) == EXIT_OK
    assert json_output(capsysbinary)["tls"]["version"] == version


def test_ciphers_profile_conflict(capsys: pytest.CaptureFixture[str]) -> None:
    assert get("https://localhost:1/", "--ciphers", "modern", "--max-tls", "1.2") == EXIT_POLICY
    assert "modern" in capsys.readouterr().err


def test_min_tls_handshake_failure(
    start_server: StartServer, server_cert: trustme.LeafCert, ca_file: str
) -> None:
    context = make_server_context(server_cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), context)
    assert get(server.url("/"), "--cacert", ca_file, "--min-tls", "1.3") == EXIT_HANDSHAKE


@pytest.mark.parametrize("spelling", ["sha256/{pin}", "sha256//{pin}", "sha256/{wrong};sha256//{pin}"])
def test_pin_matches(
    https_server: TLSServer, server_cert: trustme.LeafCert, ca_file: str, spelling: str
) -> None:
    pin = spki_pin(pem_to_der_list(server_cert.cert_chain_pems[0].bytes())[0])[len("sha256/") :]
    value = spelling.format(pin=pin, wrong="A" * 43 + "=")
    assert get(https_server.url("/"), "--cacert", ca_file, "--pin", value) == EXIT_OK


def test_pin_mismatch(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "sha256/" + "A" * 43 + "="
    assert get(https_server.url("/"), "--cacert", ca_file, "--pin", wrong) == EXIT_VERIFICATION
    assert responder.requests == []
    error = capsys.readouterr().err
    assert f"but --pin allows only {wrong}." in error
    assert "add its new pin to --pin." in error
    assert "TLSPolicy" not in error


def mtls_server(start_server: StartServer, server_cert: trustme.LeafCert, ca: trustme.CA) -> TLSServer:
    context = make_server_context(server_cert)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED

    def echo_client(sock: ssl.SSLSocket) -> None:
        if read_request(sock, bytearray()) is None:
            return
        names = (sock.getpeercert() or {}).get("subjectAltName", ())
        sock.sendall(response_bytes(200, [("Connection", "close")], names[0][1].encode()))

    return start_server(echo_client, context)


@pytest.fixture(scope="module")
def client_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict:
    directory = tmp_path_factory.mktemp("client")
    leaf = ca.issue_cert("client.example.test")
    cert, key = directory / "client.pem", directory / "client.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    encrypted = encrypt_key(str(key), PASSWORD, str(directory / "encrypted.key"))
    return {"cert": str(cert), "key": str(key), "encrypted": encrypted}


def test_client_certificate(
    start_server: StartServer,
    server_cert: trustme.LeafCert,
    ca: trustme.CA,
    ca_file: str,
    client_files: dict,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    server = mtls_server(start_server, server_cert, ca)
    argv = ["--cacert", ca_file, "--cert", client_files["cert"], "--key", client_files["key"]]
    assert get(server.url("/"), *argv) == EXIT_OK
    assert capsysbinary.readouterr().out == b"client.example.test"


def test_key_password_from_environment(
    start_server: StartServer,
    server_cert: trustme.LeafCert,
    ca: trustme.CA,
    ca_file: str,
    client_files: dict,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TLSKIT_TEST_KEY_PASSWORD", PASSWORD)
    server = mtls_server(start_server, server_cert, ca)
    argv = ["--cacert", ca_file, "--cert", client_files["cert"], "--key", client_files["encrypted"]]
    assert get(server.url("/"), *argv, "--pass", "env:TLSKIT_TEST_KEY_PASSWORD") == EXIT_OK
    captured = capsysbinary.readouterr()
    assert captured.out == b"client.example.test"
    assert PASSWORD.encode() not in captured.err


def test_wrong_key_password(
    ca_file: str, client_files: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSKIT_TEST_KEY_PASSWORD", "not it")
    argv = [
        "--cert",
        client_files["cert"],
        "--key",
        client_files["encrypted"],
        "--pass",
        "env:TLSKIT_TEST_KEY_PASSWORD",
    ]
    assert get("https://localhost:1/", "--cacert", ca_file, *argv) == EXIT_POLICY
    error = capsys.readouterr().err
    assert "not it" not in error
    assert "client" in error


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (PASSWORD, "invalid --pass value: expected 'env:NAME'"),
        ("pass:secret", "invalid --pass value"),
        ("env:TLSKIT_TEST_UNSET_VARIABLE", "the environment variable TLSKIT_TEST_UNSET_VARIABLE is not set"),
    ],
)
def test_pass_usage_errors(capsys: pytest.CaptureFixture[str], value: str, fragment: str) -> None:
    with pytest.raises(SystemExit) as caught:
        get("https://localhost:1/", "--cert", "c.pem", "--pass", value)
    assert caught.value.code == EXIT_USAGE
    error = capsys.readouterr().err
    assert fragment in error
    assert PASSWORD not in error
    assert "secret" not in error


# Routing and limits.


def test_proxy(https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    with ConnectProxy() as proxy:
        assert get(https_server.url("/"), "--cacert", ca_file, "--proxy", proxy.url) == EXIT_OK
    assert capsysbinary.readouterr().out == b"hello, world\n"
    assert [request.method for request in proxy.requests] == ["CONNECT"]


def test_connect_to(
    ca: trustme.CA, start_server: StartServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    names: List[Optional[str]] = []
    context = make_server_context(ca.issue_cert("www.example.com"))
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    responder = HTTPResponder({"/page": (200, [], b"routed")})
    server = start_server(responder, context)
    rule = f"www.example.com:443:127.0.0.1:{server.port}"
    assert get("https://www.example.com/page", "--cacert", ca_file, "--connect-to", rule) == EXIT_OK
    assert capsysbinary.readouterr().out == b"routed"
    assert names == ["www.example.com"]
    request, _ = responder.requests[0]
    assert request.headers["host"] == "www.example.com"


def test_connect_to_not_matching(https_server: TLSServer, ca_file: str) -> None:
    rule = "other.test:443:127.0.0.1:1"
    assert get(https_server.url("/"), "--cacert", ca_file, "--connect-to", rule) == EXIT_OK


def test_no_redirects(
    https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert get(https_server.url("/moved"), "--cacert", ca_file, "--no-redirects", "--json") == EXIT_OK
    data = json_output(capsysbinary)
    assert data["status"] == 301
    assert data["redirects"] == []


def test_max_redirs(https_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert get(https_server.url("/moved"), "--cacert", ca_file, "--max-redirs", "0") == EXIT_PROTOCOL
    assert "redirect" in capsys.readouterr().err


@pytest.fixture
def silent_server(start_server: StartServer) -> Iterator[TLSServer]:
    release = threading.Event()

    def silent(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        release.wait(5)

    yield start_server(silent)
    release.set()


def test_timeout(silent_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert get(silent_server.url("/"), "--cacert", ca_file, "--timeout", "0.3") == EXIT_TIMEOUT
    error = capsys.readouterr().err
    assert "timed out after 0.3 s. Raise --timeout or check the server.\n" in error


def test_max_time(start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    release = threading.Event()

    def trickle(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(50):
            if release.wait(0.1):
                return
            sock.sendall(b"x")

    server = start_server(trickle)
    try:
        assert (
            get(server.url("/"), "--cacert", ca_file, "--max-time", "0.5", "-o", os.devnull) == EXIT_TIMEOUT
        )
    finally:
        release.set()
    error = capsys.readouterr().err
    assert "exceeded its total timeout after 0.5 s. Raise --max-time or check the server.\n" in error


@pytest.mark.parametrize(
    ("value", "status"), [("4999", EXIT_PROTOCOL), ("5000", EXIT_OK), ("1K", EXIT_PROTOCOL), ("5k", EXIT_OK)]
)
def test_max_filesize(https_server: TLSServer, ca_file: str, value: str, status: int) -> None:
    assert (
        get(https_server.url("/big"), "--cacert", ca_file, "--max-filesize", value, "-o", os.devnull)
        == status
    )


# Exit statuses of the other failure classes.


def test_connect_failure(https_server: TLSServer, ca_file: str) -> None:
    url = https_server.url("/")
    https_server.stop()
    assert get(url, "--cacert", ca_file, "--timeout", "5") == EXIT_CONNECT


def test_protocol_failure(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close_notify=True))
    assert get(server.url("/"), "--cacert", ca_file, "-o", os.devnull) == EXIT_PROTOCOL
    assert "Traceback" not in capsys.readouterr().err


def test_invalid_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert get("ftp://localhost/") == EXIT_POLICY
    assert capsys.readouterr().err.startswith("tlskit: invalid URL 'ftp://localhost/'")


@pytest.mark.skipif(run_on_terminal is None, reason="pseudo-terminals need a POSIX system")
def test_pass_prompt_on_a_terminal(
    start_server: StartServer, server_cert: trustme.LeafCert, ca: trustme.CA, ca_file: str, client_files: dict
) -> None:
    server = mtls_server(start_server, server_cert, ca)
    argv = ["get", server.url("/"), "--cacert", ca_file, "--cert", client_files["cert"]]
    argv += ["--key", client_files["encrypted"], "--pass", "prompt", "-o", os.devnull]
    assert run_on_terminal is not None
    status, output = run_on_terminal(argv, answer=PASSWORD.encode())
    assert status == EXIT_OK, output
    assert "tlskit: password for the client key: " in output
    assert PASSWORD not in output


@pytest.mark.parametrize(
    ("values", "pins"),
    [
        (["sha256/" + "A" * 43 + "="], ["sha256/" + "A" * 43 + "="]),
        (["sha256//" + "A" * 43 + "="], ["sha256/" + "A" * 43 + "="]),
        # A digest whose base64 starts with "/" is not curl's spelling.
        (["sha256//" + "B" * 42 + "="], ["sha256//" + "B" * 42 + "="]),
        (
            ["sha256/" + "A" * 43 + "=; sha256//" + "C" * 43 + "="],
            ["sha256/" + "A" * 43 + "=", "sha256/" + "C" * 43 + "="],
        ),
    ],
)
def test_parse_pins(values: List[str], pins: List[str]) -> None:
    assert parse_pins(values) == pins


def test_connect_to_ipv6_and_verbose(
    ca: trustme.CA,
    server_context: ssl.SSLContext,
    loopback_host: str,
    ca_file: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = make_server_context(ca.issue_cert("www.example.com"))
    with TLSServer(context, HTTPResponder({"/": (200, [], b"ok")}), host=loopback_host) as server:
        target = f"[{loopback_host}]" if ":" in loopback_host else loopback_host
        rule = f"www.example.com::{target}:{server.port}"
        assert get("https://www.example.com/", "--cacert", ca_file, "--connect-to", rule, "-v") == EXIT_OK
    error = capsys.readouterr().err
    assert f"* --connect-to: https://www.example.com/ goes to https://{target}:{server.port}/" in error
    assert "verified as www.example.com" in error


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process needs POSIX signals")
def test_interrupt_exit_status(start_server: StartServer, ca_file: str) -> None:
    import signal
    import sys

    received = threading.Event()
    release = threading.Event()

    def hold(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        received.set()
        release.wait(10)

    server = start_server(hold)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # A shell that starts the test run in the background ignores SIGINT, and
    # the child would inherit that; restoring Python's handler first keeps
    # the test independent of how it was launched.
    launcher = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'tlskit'; runpy.run_module('tlskit', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, "get", server.url("/"), "--cacert", ca_file],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert received.wait(30), "the request never arrived"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 130
    assert stderr == b"tlskit: interrupted.\n"


def test_cert_with_password_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        get("https://localhost:1/", "--cert", f"client.pem:{PASSWORD}")
    assert caught.value.code == EXIT_USAGE
    error = capsys.readouterr().err
    assert "invalid --cert value: it takes a file only" in error
    assert PASSWORD not in error
