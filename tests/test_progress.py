"""The download progress bar: its line, its redraw rate, and a real terminal in a subprocess."""

from __future__ import annotations

import io
import re
import ssl
import threading
from pathlib import Path
from typing import Callable

import pytest

from servers import HTTPResponder, TLSServer, read_request
from terminal import run_on_terminal
from tlskit._progress import ProgressBar, format_bytes, format_duration, format_progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (59.6, "1:00"), (61, "1:01"), (3725, "1:02:05")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_progress_line_with_total() -> None:
    line = format_progress(512 * 1024, 1024 * 1024, 2.0)
    assert line == "[############------------]  50%  512.0 KiB of 1.0 MiB  256.0 KiB/s  ETA 0:02"


@pytest.mark.parametrize("elapsed", [0.0, 0.5, 30.0])
def test_progress_line_before_first_byte(elapsed: float) -> None:
    line = format_progress(0, 1024 * 1024, elapsed)
    assert line == "[------------------------]   0%  0 B of 1.0 MiB  0 B/s  ETA --:--"


def test_progress_line_when_done() -> None:
    assert format_progress(2048, 2048, 4.0).endswith("100%  2.0 KiB of 2.0 KiB  512 B/s  in 0:04")


def test_progress_line_without_total() -> None:
    assert format_progress(3 * 1024 * 1024, None, 3.0) == "3.0 MiB  1.0 MiB/s  ETA --:--"


def test_progress_line_without_total_complete() -> None:
    assert format_progress(3 * 1024 * 1024, None, 3.0, complete=True) == "3.0 MiB  1.0 MiB/s  in 0:03"


def test_failed_download_keeps_estimate() -> None:
    line = format_progress(512 * 1024, 1024 * 1024, 2.0)
    assert format_progress(512 * 1024, 1024 * 1024, 2.0, complete=False) == line
    assert line.endswith("ETA 0:02")


def test_redraws_are_throttled() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    bar = ProgressBar(stream, clock)
    for done in range(0, 10_000, 100):
        bar(done, 10_000)
    assert stream.getvalue().count("\r") == 1
    clock.now += 0.5
    bar(10_000, 10_000)
    bar.finish()
    lines = stream.getvalue().split("\r")
    assert len(lines) == 4
    assert lines[-1].startswith("[########################] 100%")
    assert lines[-1].endswith("\n")


def test_redraw_due_by_caller_clock_drawn() -> None:
    # The download loop reads the clock just before the bar does, so its
    # call on the interval arrives a little short of it by the bar's clock.
    stream = io.StringIO()
    clock = FakeClock()
    bar = ProgressBar(stream, clock)
    bar(0, None)
    clock.now += 0.199
    bar(1000, None)
    assert stream.getvalue().count("\r") == 2
    assert stream.getvalue().endswith("\r1000 B  4.9 KiB/s  ETA --:--")


def test_nothing_drawn_means_nothing_finished() -> None:
    stream = io.StringIO()
    ProgressBar(stream, FakeClock()).finish()
    assert stream.getvalue() == ""


@pytest.mark.skipif(run_on_terminal is None, reason="pseudo-terminals need a POSIX system")
def test_progress_bar_on_a_terminal(server_context: object, ca_file: str, tmp_path: Path) -> None:
    body = b"z" * (512 * 1024)
    target = tmp_path / "download.bin"
    with TLSServer(server_context, HTTPResponder({"/file": (200, [], body)})) as server:  # type: ignore[arg-type]
        status, output = run_on_terminal(["get", server.url("/file"), "--cacert", ca_file, "-o", str(target)])
        assert status == 0, output
        assert target.read_bytes() == body
        assert "[########################] 100%  512.0 KiB of 512.0 KiB" in output
        assert output.endswith("\r\n")

        status, output = run_on_terminal(
            ["get", server.url("/file"), "--cacert", ca_file, "-o", str(target), "-s"]
        )
        assert status == 0, output
        assert output == ""


@pytest.mark.skipif(run_on_terminal is None, reason="pseudo-terminals need a POSIX system")
def test_progress_without_size_during_stall(
    start_server: Callable[..., TLSServer], ca_file: str, tmp_path: Path
) -> None:
    # The bytes of the first piece, with no size announced and so no estimate.
    partial_line = re.compile(rb"\r2\.9 KiB  \S+ \S+/s  ETA --:--")
    partial_shown = threading.Event()

    def watch(output: bytes) -> None:
        if partial_line.search(output):
            partial_shown.set()

    def stall_after_first_piece(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        # The first piece arrives right after the head, too soon for a redraw
        # by the download loop, and the server then sends nothing until the
        # terminal shows it.
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n" + b"x" * 3000 + b"\r\n")
        partial_shown.wait(20)
        sock.sendall(b"3e8\r\n" + b"y" * 1000 + b"\r\n0\r\n\r\n")

    server = start_server(stall_after_first_piece)
    target = tmp_path / "stream.bin"
    assert run_on_terminal is not None
    status, output = run_on_terminal(
        ["get", server.url("/"), "--cacert", ca_file, "-o", str(target)], on_output=watch
    )
    assert status == 0, output
    assert partial_shown.is_set(), output
    assert target.read_bytes() == b"x" * 3000 + b"y" * 1000
    last_line = output.split("\r")[-2]
    assert last_line.startswith("3.9 KiB  ")
    assert re.search(r"  in [0-9]+:[0-9]{2} *$", last_line), last_line
    assert output.endswith("\r\n")
