"""Compare tlskit with requests on a loopback TLS server: ``python -m benchmarks``."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import requests

import tlskit

from .certs import make_certificates
from .content import SMALL

# Variables that make clients trust CA files other than the one they are given.
# requests, for one, lets REQUESTS_CA_BUNDLE override Session.verify.
CLEARED_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
ROUNDS = 9
GETS_PER_BATCH = 50


def start_server(directory: Path) -> Tuple["subprocess.Popen[str]", str, str]:
    """Start the stdlib server and return the process, the 13-byte URL and the CA file."""
    certificates = make_certificates(directory)
    config = {"certificates": {name: list(files) for name, files in certificates.servers.items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stdlib_server", json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ports = json.loads(process.stdout.readline())["ports"]
    return process, f"https://127.0.0.1:{ports['ecdsa']}{SMALL.path}", certificates.ca_file


def main() -> int:
    for name in CLEARED_VARIABLES:
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="tlskit-bench-") as directory:
        server, url, ca_file = start_server(Path(directory))
        try:
            tlskit_client = tlskit.Client(cafile=ca_file, system_ca=False)
            session = requests.Session()
            session.verify = ca_file
            close = {"Connection": "close"}
            operations: Dict[str, Dict[str, Callable[[], object]]] = {
                "fresh connection GET": {
                    "tlskit": lambda: tlskit_client.get(url, headers=close),
                    "requests": lambda: requests.get(url, verify=ca_file),
                },
                "keep-alive GET": {
                    "tlskit": lambda: tlskit_client.get(url),
                    "requests": lambda: session.get(url),
                },
            }
            print(f"{'scenario':24} {'tlskit':>10} {'requests':>10} {'tlskit/requests':>16}")
            for scenario, clients in operations.items():
                times: Dict[str, List[float]] = {name: [] for name in clients}
                for name, operation in clients.items():
                    operation()
                for _ in range(ROUNDS):
                    order = list(clients)
                    random.shuffle(order)
                    for name in order:
                        start = time.perf_counter()
                        for _ in range(GETS_PER_BATCH):
                            operation = clients[name]
                            operation()
                        times[name].append((time.perf_counter() - start) / GETS_PER_BATCH)
                ours = statistics.median(times["tlskit"])
                theirs = statistics.median(times["requests"])
                print(f"{scenario:24} {ours * 1e6:8.0f}us {theirs * 1e6:8.0f}us {ours / theirs:16.2f}")
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
