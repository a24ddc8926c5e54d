"""tlskit get against closed pipes, full disks, SIGTERM, '-o -', control characters and a missing terminal."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List

import pytest
import trustme

from pki import encrypt_key
from servers import HTTPResponder, TLSServer, read_request, response_bytes, scripted
from tlskit._cli import EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_VERIFICATION, EXIT_WRITE, main
from tlskit._cli_streams import printable

StartServer = Callable[..., TLSServer]
SUBPROCESS_TIMEOUT_SECONDS = 30
BIG_BODY = b"x" * (4 * 1024 * 1024)
# C1 controls: CSI (clear the screen), OSC (set the window title) and ST.
HOSTILE_REASON = b"\x9d0;owned-title\x9c\x9b2J"
C1_CONTROLS = [chr(code) for code in range(0x80, 0xA0)]
EXIT_TERMINATED = 128 + signal.SIGTERM


@pytest.fixture
def responder() -> HTTPResponder:
    return HTTPResponder({"/": (200, [], b"hello"), "/big": (200, [], BIG_BODY)})


@pytest.fixture(scope="module")
def client_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict:
    directory = tmp_path_factory.mktemp("client")
    leaf = ca.issue_cert("client.example.test")
    cert, key = directory / "client.pem", directory / "client.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    encrypted = encrypt_key(str(key), "correct horse battery", str(directory / "encrypted.key"))
    return {"cert": str(cert), "encrypted": encrypted}


def tlskit_command(*argv: str) -> List[str]:
    return [sys.executable, "-m", "tlskit", *argv]


def child_environment() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


# Closed pipes and full disks.


@pytest.mark.skipif(os.name != "posix", reason="closing a child's descriptor needs POSIX")
@pytest.mark.parametrize("closed", [1, 2], ids=["stdout", "stderr"])
def test_closed_descriptor(https_server: TLSServer, ca_file: str, closed: int) -> None:
    # Started with >&- or 2>&-, Python sets sys.stdout or sys.stderr to None.
    command = tlskit_command("get", https_server.url("/"), "--cacert", ca_file)
    script = f"exec {closed}>&-; exec " + " ".join(f"'{part}'" for part in command)
    completed = subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        env=child_environment(),
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    if closed == 1:
        assert completed.returncode == EXIT_WRITE
        assert completed.stderr == b"tlskit: could not write to stdout: stdout is closed.\n"
    else:
        assert completed.returncode == EXIT_OK
        assert completed.stdout == b"hello"


def test_stdout_closed_pipe_names_stdout(https_server: TLSServer, ca_file: str) -> None:
    process = subprocess.Popen(
        tlskit_command("get", https_server.url("/big"), "--cacert", ca_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment(),
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        process.stdout.read(10)
        process.stdout.close()
        errors = process.stderr.read()
        status = process.wait(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    assert status == EXIT_WRITE
    assert errors == b"tlskit: could not write to stdout: the reader closed the pipe.\n"


def test_stderr_closed_keeps_exit_status(https_server: TLSServer) -> None:
    # Without --cacert verification fails, and the message goes to a pipe
    # whose reader has already exited.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(
            tlskit_command("get", https_server.url("/")),
            stdout=subprocess.PIPE,
            stderr=write_end,
            env=child_environment(),
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
        )
    finally:
        os.close(write_end)
    assert completed.returncode == EXIT_VERIFICATION
    assert completed.stdout == b""


@pytest.mark.parametrize(
    ("argv", "closed", "status"),
    [(["get", "--no-such-option"], "stderr", EXIT_USAGE), (["get", "--help"], "stdout", EXIT_OK)],
)
def test_argparse_output_to_closed_pipe(argv: List[str], closed: str, status: int) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, closed: write_end}
    try:
        completed = subprocess.run(
            tlskit_command(*argv), env=child_environment(), timeout=SUBPROCESS_TIMEOUT_SECONDS, **streams
        )
    finally:
        os.close(write_end)
    assert completed.returncode == status
    other = completed.stderr if closed == "stdout" else completed.stdout
    assert other == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_full_disk_names_stdout(https_server: TLSServer, ca_file: str) -> None:
    with open("/dev/full", "wb") as full:
        completed = subprocess.run(
            tlskit_command("get", https_server.url("/big"), "--cacert", ca_file),
            stdout=full,
            stderr=subprocess.PIPE,
            env=child_environment(),
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
        )
    assert completed.returncode == EXIT_WRITE
    assert completed.stderr == b"tlskit: could not write to stdout: No space left on device.\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_full_disk_names_file(
    https_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", https_server.url("/big"), "--cacert", ca_file, "-o", "/dev/full"]) == EXIT_WRITE
    error = capsys.readouterr().err
    assert "could not write '/dev/full': No space left on device. Free space on that file system" in error
    assert "permissions" not in error


# -o -


def test_output_dash_writes_stdout(
    https_server: TLSServer,
    ca_file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["get", https_server.url("/"), "--cacert", ca_file, "-o", "-"]) == EXIT_OK
    assert capsysbinary.readouterr().out == b"hello"
    assert list(tmp_path.iterdir()) == []


def test_output_dot_slash_dash_writes_file(
    https_server: TLSServer, ca_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["get", https_server.url("/"), "--cacert", ca_file, "-o", "./-"]) == EXIT_OK
    assert (tmp_path / "-").read_bytes() == b"hello"


def test_output_dash_with_json_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["get", "https://localhost:1/", "--json", "-o", "-"])
    assert caught.value.code == EXIT_USAGE
    assert "--json and -o - both write to stdout" in capsys.readouterr().err


# SIGTERM.


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM to a child process needs POSIX signals")
@pytest.mark.parametrize(
    "signum, status, message",
    [(signal.SIGTERM, EXIT_TERMINATED, b"terminated"), (getattr(signal, "SIGHUP", 1), 129, b"hung up")],
    ids=["SIGTERM", "SIGHUP"],
)
def test_ending_signal_removes_partial_file(
    start_server: StartServer, ca_file: str, tmp_path: Path, signum: int, status: int, message: bytes
) -> None:
    release = threading.Event()

    def send_half(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"a" * 100000)
        release.wait(SUBPROCESS_TIMEOUT_SECONDS)

    server = start_server(send_half)
    output = tmp_path / "out.bin"
    process = subprocess.Popen(
        tlskit_command("get", server.url("/"), "--cacert", ca_file, "-o", str(output)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment(),
    )
    try:
        # The signal is sent once the temporary file holds part of the body.
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not any(
            path.stat().st_size > 0 for path in tmp_path.glob(".out.bin.*.part")
        ):
            time.sleep(0.05)
        assert list(tmp_path.glob(".out.bin.*.part")), "the temporary file never appeared"
        process.send_signal(signum)
        _, errors = process.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    assert process.returncode == status
    assert errors == b"tlskit: " + message + b".\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM to a child process needs POSIX signals")
def test_ignored_sigterm_stays_ignored(start_server: StartServer, ca_file: str) -> None:
    received = threading.Event()
    release = threading.Event()

    def hold_then_answer(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        received.set()
        release.wait(SUBPROCESS_TIMEOUT_SECONDS)
        sock.sendall(response_bytes(200, [("Connection", "close")], b"done"))

    server = start_server(hold_then_answer)
    # As nohup does for SIGHUP, the parent tells the child to ignore SIGTERM.
    launcher = (
        "import runpy, signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "sys.argv[0] = 'tlskit'; runpy.run_module('tlskit', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, "get", server.url("/"), "--cacert", ca_file],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment(),
    )
    try:
        assert received.wait(SUBPROCESS_TIMEOUT_SECONDS), "the request never arrived"
        process.send_signal(signal.SIGTERM)
        release.set()
        output, errors = process.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    assert process.returncode == EXIT_OK
    assert output == b"done"
    assert errors == b""


# Control characters from the server.


def test_c1_controls_escaped_in_verbose(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    head = b"HTTP/1.1 200 " + HOSTILE_REASON + b"\r\nX-Note: \x9b31mred\r\nContent-Length: 2\r\n\r\nok"
    server = start_server(scripted(head))
    assert main(["get", server.url("/"), "--cacert", ca_file, "-v", "-o", os.devnull]) == EXIT_OK
    errors = capsys.readouterr().err
    assert [char for char in errors if char in C1_CONTROLS] == []
    assert "\\x9d0;owned-title\\x9c\\x9b2J" in errors
    assert "X-Note: \\x9b31mred" in errors


def test_c1_controls_escaped_with_fail(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(scripted(response_bytes(404, [], b"no", reason=HOSTILE_REASON.decode("latin-1"))))
    assert main(["get", server.url("/"), "--cacert", ca_file, "--fail"]) == 22
    errors = capsys.readouterr().err
    assert [char for char in errors if char in C1_CONTROLS] == []
    assert "returned HTTP 404 \\x9d0;owned-title\\x9c\\x9b2J." in errors


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text\twith tab\nand newline", "plain text\twith tab\nand newline"),
        ("esc\x1b[2J del\x7f nul\x00", "esc\\x1b[2J del\\x7f nul\\x00"),
        ("csi\x9b osc\x9d st\x9c", "csi\\x9b osc\\x9d st\\x9c"),
        ("caf\u00e9 \u00a0 \u65e5\u672c", "caf\u00e9 \u00a0 \u65e5\u672c"),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


# --pass prompt without a terminal.


def test_pass_prompt_without_terminal(client_files: dict) -> None:
    argv = ["get", "https://localhost:1/", "--cert", client_files["cert"], "--key", client_files["encrypted"]]
    completed = subprocess.run(
        tlskit_command(*argv, "--pass", "prompt"),
        input=b"typed-on-stdin\n",
        capture_output=True,
        env=child_environment(),
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        # A new session has no controlling terminal, as under cron or CI.
        start_new_session=True,
    )
    errors = completed.stderr.decode()
    assert completed.returncode == EXIT_POLICY
    assert errors.count("\n") == 1
    assert errors.startswith("tlskit: --pass prompt needs a terminal")
    assert "--pass env:NAME" in errors
    assert "Warning" not in errors
    assert "password for the client key" not in errors
