"""The command line, through main(argv) and once as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tlskit
from servers import TLSServer
from tlskit._cli import EXIT_CONNECT, EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_VERIFICATION, main


def test_get_prints_body(
    https_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["get", https_server.url("/"), "--cacert", ca_file]) == EXIT_OK
    assert capsysbinary.readouterr().out == b"hello, world\n"


def test_get_writes_output_file(https_server: TLSServer, ca_file: str, tmp_path) -> None:
    target = tmp_path / "body.txt"
    assert main(["get", https_server.url("/"), "--cacert", ca_file, "-o", str(target)]) == EXIT_OK
    assert target.read_bytes() == b"hello, world\n"
    assert not (tmp_path / "body.txt.part").exists()


def test_get_sends_headers_and_min_tls(https_server: TLSServer, responder, ca_file: str) -> None:
    argv = [
        "get",
        https_server.url("/"),
        "--cacert",
        ca_file,
        "-H",
        "X-One: 1",
        "-H",
        "X-Two: 2",
        "--min-tls",
        "1.3",
    ]
    assert main(argv) == EXIT_OK
    request, _ = responder.requests[0]
    assert request.headers["x-one"] == "1"
    assert request.headers["x-two"] == "2"


def test_verification_failure_exit_status(
    https_server: TLSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", https_server.url("/")]) == EXIT_VERIFICATION
    error = capsys.readouterr().err
    assert error.startswith("tlskit: certificate verification failed")
    assert "Traceback" not in error


def test_missing_cacert(https_server: TLSServer, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "none.pem")
    assert main(["get", https_server.url("/"), "--cacert", missing]) == EXIT_POLICY
    assert missing in capsys.readouterr().err


def test_connect_failure_exit_status(https_server: TLSServer, ca_file: str) -> None:
    url = https_server.url("/")
    https_server.stop()
    assert main(["get", url, "--cacert", ca_file, "--timeout", "5"]) == EXIT_CONNECT


def test_bad_header_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["get", "https://localhost/", "-H", "no colon"])
    assert caught.value.code == EXIT_USAGE
    assert "expected 'Name: value'" in capsys.readouterr().err


def test_python_m_tlskit(https_server: TLSServer, ca_file: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    completed = subprocess.run(
        [sys.executable, "-m", "tlskit", "get", https_server.url("/"), "--cacert", ca_file],
        capture_output=True,
        timeout=30,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == b"hello, world\n"


def test_policy_prints_description(capsys: pytest.CaptureFixture[str], ca_file: str) -> None:
    argv = [
        "policy",
        "--min-tls",
        "1.3",
        "--cacert",
        ca_file,
        "--no-system-ca",
        "--pin",
        "sha256/" + "A" * 43 + "=",
    ]
    assert main(argv) == EXIT_OK
    output = capsys.readouterr().out
    assert (
        output
        == tlskit.TLSPolicy(
            minimum_version="1.3", cafile=ca_file, system_ca=False, pins=["sha256/" + "A" * 43 + "="]
        ).describe()
        + "\n"
    )
    assert "TLSv1.3 only" in output


def test_policy_never_shows_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSKIT_TEST_PASSWORD", "hunter2")
    argv = ["policy", "--cert", "client.pem", "--key", "client.key", "--pass", "env:TLSKIT_TEST_PASSWORD"]
    assert main(argv) == EXIT_OK
    output = capsys.readouterr().out
    assert "client.pem" in output
    assert "hunter2" not in output


def test_policy_rejects_invalid_combination(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "--ciphers", "modern", "--max-tls", "1.2"]) == EXIT_POLICY
    error = capsys.readouterr().err
    assert error.startswith("tlskit: invalid TLSPolicy")
    assert "Traceback" not in error


def test_docs_list_every_option_and_status() -> None:
    import argparse
    import re
    from pathlib import Path

    from tlskit import _cli

    docs = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    parser = _cli.build_parser()
    verbs = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    for verb, subparser in verbs.choices.items():
        assert f"tlskit {verb}" in docs
        for action in subparser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in docs or f", `{option}" in docs, f"{verb} {option}"
    statuses = {value for name, value in vars(_cli).items() if name.startswith("EXIT_")}
    documented = {int(number) for number in re.findall(r"^\| (\d+) \|", docs, re.MULTILINE)}
    assert documented == statuses
