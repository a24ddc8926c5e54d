"""Contestants that run in child processes: import time, one GET per process, 100 MiB downloads.

Children run with this interpreter (``sys.executable``), never through a
shim such as pyenv's, which would add its own start-up to every process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .clients import Target, require
from .curl import WRITE_OUT, find_curl
from .method import FRESH, CheckError, Contestant, Expectation, Metrics, Unsupported

PROCESS_TIMEOUT_SECONDS = 120.0
REPOSITORY = Path(__file__).resolve().parent.parent

NO_TRAFFIC = Expectation(connections=(0, 0), requests=(0, 0))

# Modules whose bare import is timed, by contestant key.
IMPORTS: Dict[str, str] = {
    "python": "pass",
    "ssl": "import ssl",
    "tlskit": "import tlskit",
    "http.client": "import http.client",
    "urllib3": "import urllib3",
    "requests": "import requests",
    "httpx": "import httpx",
}

# One GET per process. Each program gets the URL and the CA file as
# arguments and prints the status and the body length.
FLOOR_PROGRAM = """\
import socket, ssl, sys
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
context = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.socket()
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
raw.connect((url.hostname, url.port))
sock = context.wrap_socket(raw, server_hostname=url.hostname)
sock.sendall(b"GET %s HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" % (url.path.encode(), url.netloc.encode()))
data = sock.recv(65536)
while b"\\r\\n\\r\\n" not in data:
    data += sock.recv(65536)
head, _, body = data.partition(b"\\r\\n\\r\\n")
length = int(head.lower().split(b"content-length:")[1].split(b"\\r\\n")[0])
while len(body) < length:
    body += sock.recv(65536)
print(int(head[9:12]), len(body))
"""

GET_PROGRAMS: Dict[str, str] = {
    "floor": FLOOR_PROGRAM,
    "tlskit": (
        "import sys, tlskit\n"
        "response = tlskit.get(sys.argv[1], cafile=sys.argv[2], system_ca=False)\n"
        "print(response.status, len(response.body))\n"
    ),
    "requests": (
        "import sys, requests\n"
        "response = requests.get(sys.argv[1], verify=sys.argv[2])\n"
        "print(response.status_code, len(response.content))\n"
    ),
    "urllib3": (
        "import sys, urllib3\n"
        "response = urllib3.PoolManager(ca_certs=sys.argv[2]).request('GET', sys.argv[1])\n"
        "print(response.status, len(response.data))\n"
    ),
    "httpx": (
        "import ssl, sys, httpx\n"
        "response = httpx.get(sys.argv[1], verify=ssl.create_default_context(cafile=sys.argv[2]))\n"
        "print(response.status_code, len(response.content))\n"
    ),
    "http.client": (
        "import ssl, sys, http.client\n"
        "from urllib.parse import urlsplit\n"
        "url = urlsplit(sys.argv[1])\n"
        "connection = http.client.HTTPSConnection(url.hostname, url.port, "
        "context=ssl.create_default_context(cafile=sys.argv[2]))\n"
        "connection.request('GET', url.path)\n"
        "response = connection.getresponse()\n"
        "print(response.status, len(response.read()))\n"
    ),
}


def run_child(command: Sequence[str]) -> str:
    """Run ``command``, wait for it, and return its stdout; raise `CheckError` if it failed."""
    result = subprocess.run(
        list(command), capture_output=True, text=True, timeout=PROCESS_TIMEOUT_SECONDS, cwd=REPOSITORY
    )
    if result.returncode != 0:
        raise CheckError(
            f"{Path(command[0]).name} exited with status {result.returncode}: {result.stderr.strip()[-300:]}"
        )
    return result.stdout


class ProcessRunner:
    """Run the same command once per operation; optionally check its printed result."""

    def __init__(self, command: Sequence[str], expected_output: Optional[str]) -> None:
        self.command = list(command)
        self.expected_output = expected_output

    def run(self, count: int) -> Optional[Metrics]:
        for _ in range(count):
            output = run_child(self.command).strip()
            if self.expected_output is not None and output != self.expected_output:
                raise CheckError(f"child printed {output!r}, expected {self.expected_output!r}")
        return None

    def close(self) -> None:
        pass


def import_contestants() -> List[Contestant]:
    contestants = []
    for key, statement in IMPORTS.items():
        label = "python -c pass" if key == "python" else statement

        def start(key: str = key, statement: str = statement) -> ProcessRunner:
            module = statement.split()[-1]
            if key not in ("python", "ssl", "http.client"):
                require(module)
            return ProcessRunner([sys.executable, "-c", statement], None)

        contestants.append(Contestant(key, label, key if key != "python" else "floor", start, NO_TRAFFIC))
    return contestants


def process_get_contestants(target: Target) -> List[Contestant]:
    expected = f"200 {target.length}"
    contestants = []
    for key, program in GET_PROGRAMS.items():

        def start(key: str = key, program: str = program) -> ProcessRunner:
            if key in ("urllib3", "requests", "httpx"):
                require(key)
            return ProcessRunner([sys.executable, "-c", program, target.url, target.ca_file], expected)

        label = "floor (raw ssl)" if key == "floor" else key
        contestants.append(Contestant(key, label, key, start, FRESH))

    def start_curl() -> ProcessRunner:
        executable = find_curl()
        if executable is None:
            raise Unsupported("curl is not on PATH")
        command = [
            executable, "-q", "--silent", "--show-error", "--cacert", target.ca_file,
            "--output", "/dev/null", "--write-out", WRITE_OUT.replace("\\n", ""), target.url,
        ]  # fmt: skip
        return ProcessRunner(command, expected)

    contestants.append(Contestant("curl", "curl", "curl", start_curl, FRESH))
    return contestants


class DownloadRunner:
    """Run one download child per operation and return its own time and memory figures."""

    def __init__(self, client: str, mode: str, warmup: Target, target: Target, directory: str) -> None:
        self.client = client
        self.mode = mode
        self.warmup = warmup
        self.target = target
        self.output = os.path.join(directory, f"download-{client}-{mode}")

    def run(self, count: int) -> Optional[Metrics]:
        if count != 1:
            raise ValueError(f"a download batch is one download, not {count}")
        if self.client == "curl":
            return self._run_curl()
        command = [
            sys.executable, "-m", "benchmarks.download_child", self.client, self.mode,
            self.warmup.url, self.target.url, self.target.ca_file, self.output,
        ]  # fmt: skip
        try:
            report = json.loads(run_child(command))
        finally:
            self._remove_output()
        if (report["status"], report["length"]) != (200, self.target.length):
            raise CheckError(
                f"download returned status {report['status']} and {report['length']} bytes, "
                f"expected 200 and {self.target.length}"
            )
        metrics: Metrics = {
            "seconds": report["seconds"],
            "baseline_mib": report["baseline_mib"],
            "peak_rss_mib": report["peak_mib"],
        }
        if report["peak_above_baseline_mib"] is not None:
            metrics["peak_above_baseline_mib"] = report["peak_above_baseline_mib"]
        return metrics

    def _run_curl(self) -> Metrics:
        """Fetch the warm-up URL and the download in one curl process, reusing the connection.

        curl's own timer gives the download's time: total minus the time to the
        first request byte.

        NOTE: curl's memory is not measured. Linux's ru_maxrss for a child
        includes the parent's peak from before exec, so wait4 would report
        this Python process's memory, not curl's.
        """
        executable = find_curl()
        assert executable is not None
        write_out = "%{http_code} %{size_download} %{time_total} %{time_pretransfer}\\n"
        command = [
            executable, "-q", "--silent", "--show-error", "--max-time", str(PROCESS_TIMEOUT_SECONDS),
            "--cacert", self.target.ca_file, "--write-out", write_out,
            "--output", "/dev/null", self.warmup.url, "--output", self.output, self.target.url,
        ]  # fmt: skip
        try:
            stdout = run_child(command)
        finally:
            self._remove_output()
        lines = stdout.splitlines()
        if len(lines) != 2:
            raise CheckError(f"curl printed {stdout!r}, expected one line per transfer")
        status, size, total, pretransfer = lines[1].split()
        if (int(status), int(size)) != (200, self.target.length):
            raise CheckError(
                f"curl downloaded status {status}, {size} bytes, expected 200 and {self.target.length}"
            )
        return {"seconds": float(total) - float(pretransfer)}

    def _remove_output(self) -> None:
        try:
            os.remove(self.output)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self._remove_output()


def download_contestants(mode: str, warmup: Target, target: Target, directory: str) -> List[Contestant]:
    """Contestants that download ``target`` to a file (``mode`` "file") or into memory ("memory")."""
    expect = Expectation(connections=(1, 0), requests=(2, 0))
    clients = ["floor", "tlskit", "requests", "urllib3", "httpx", "http.client"]
    if mode == "file":
        clients.append("curl")
    contestants = []
    for client in clients:

        def start(client: str = client) -> DownloadRunner:
            if client in ("urllib3", "requests", "httpx"):
                require(client)
            if client == "curl" and find_curl() is None:
                raise Unsupported("curl is not on PATH")
            if client == "tlskit" and mode == "file":
                import tlskit

                if not (hasattr(tlskit.Client, "download") or hasattr(tlskit.Client, "stream")):
                    raise Unsupported("not supported yet")
            return DownloadRunner(client, mode, warmup, target, directory)

        label = "floor (raw ssl)" if client == "floor" else client
        contestants.append(Contestant(client, label, client, start, expect, fixed_count=1))
    return contestants
