"""Benchmark servers, seen from the parent: start, URLs, counters, stop.

Two servers implement `BenchmarkServer`: nginx, when it is on PATH, and the
stdlib server of `benchmarks.stdlib_server`, both run as child processes on
127.0.0.1 and stopped by their PID. Each has one listener per certificate key
type ("ecdsa", "rsa") and serves the endpoints of `benchmarks.content`.

`counters` returns what the server itself counted, so the runner can check
that a "fresh connection" client really opened one connection per request,
that a keep-alive client opened none, and that resumed handshakes resumed.
"""

from __future__ import annotations

import json
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

from .certs import Certificates

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
MESSAGE_TIMEOUT_SECONDS = 10.0
SERVER_MODES = ("threads", "selector")


class ServerError(RuntimeError):
    """The benchmark server failed to start, respond or stop."""


class Counters(NamedTuple):
    """Totals counted by the server since it started."""

    connections: int
    requests: int
    resumed: int

    def __sub__(self, other: object) -> Counters:
        assert isinstance(other, Counters)
        return Counters(*(mine - theirs for mine, theirs in zip(self, other)))


class BenchmarkServer:
    """Common interface of the benchmark servers."""

    name = "server"

    def __init__(self) -> None:
        self.ports: Dict[str, int] = {}
        self.process: Optional[subprocess.Popen[str]] = None

    @property
    def description(self) -> str:
        """The server's name and version, for the report."""
        return self.name

    def url(self, path: str, key_type: str = "ecdsa") -> str:
        """Return the https URL of ``path`` on the listener for ``key_type``."""
        return f"https://{HOST}:{self.ports[key_type]}{path}"

    def counters(self) -> Counters:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server process and wait for it to exit."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> BenchmarkServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class StdlibServer(BenchmarkServer):
    """The stdlib server of `benchmarks.stdlib_server`, run with this interpreter."""

    name = "stdlib"

    def __init__(self, certificates: Certificates, mode: str = "threads") -> None:
        super().__init__()
        if mode not in SERVER_MODES:
            raise ValueError(
                f"invalid stdlib server mode {mode!r}: expected one of {', '.join(SERVER_MODES)}"
            )
        self.mode = mode
        config = {
            "mode": mode,
            "certificates": {name: list(files) for name, files in certificates.servers.items()},
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.stdlib_server", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            self.ports = self._read_message()["ports"]
        except BaseException:
            self.stop()
            raise

    @property
    def description(self) -> str:
        return f"stdlib ssl server, {self.mode} mode (Python {sys.version.split()[0]})"

    def counters(self) -> Counters:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("counters\n")
        self.process.stdin.flush()
        values = self._read_message()
        return Counters(values["connections"], values["requests"], values["resumed"])

    def stop(self) -> None:
        # Closing stdin makes the server exit. The signal in super().stop()
        # covers a server that no longer reads it.
        process = self.process
        if process is not None and process.stdin is not None and not process.stdin.closed:
            try:
                process.stdin.close()
                process.wait(STOP_TIMEOUT_SECONDS)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().stop()

    def _read_message(self) -> Dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        # The server writes one line per command and nothing else, so the
        # pipe holds no buffered line that select could miss.
        readable, _, _ = select.select([self.process.stdout], [], [], MESSAGE_TIMEOUT_SECONDS)
        if not readable:
            raise ServerError(f"stdlib benchmark server sent no message within {MESSAGE_TIMEOUT_SECONDS:g} s")
        line = self.process.stdout.readline()
        if not line:
            code = self.process.poll()
            raise ServerError(f"stdlib benchmark server exited (status {code}) before sending a message")
        message: Dict[str, Any] = json.loads(line)
        return message


def free_ports(count: int) -> List[int]:
    """Return ``count`` loopback ports that were free a moment ago.

    Another process may take a port before the server binds it, so callers
    retry a start that fails with "address in use".
    """
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(probe)
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Wait until ``port`` accepts TCP connections, or raise `ServerError`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"server exited with status {process.returncode} before listening on port {port}"
            )
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise ServerError(f"server did not listen on {HOST}:{port} within {timeout:g} s")


def find_nginx() -> Optional[str]:
    """Return the path of nginx on PATH, or None."""
    return shutil.which("nginx")


def start_server(kind: str, certificates: Certificates, stdlib_mode: str = "threads") -> BenchmarkServer:
    """Start the server ``kind`` ("auto", "nginx" or "stdlib").

    "auto" starts nginx when it is on PATH and the stdlib server otherwise.
    """
    from .nginx import NginxServer

    nginx = find_nginx()
    if kind == "nginx" and nginx is None:
        raise ServerError(
            "nginx is not on PATH. Install it (apt-get install nginx-light) or use --server stdlib."
        )
    if kind in ("auto", "nginx") and nginx is not None:
        return NginxServer(nginx, certificates)
    return StdlibServer(certificates, stdlib_mode)
