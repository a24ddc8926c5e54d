"""curl as a contestant: one curl process per batch, fetching the batch's URLs in order.

curl's URL globbing (``?n=[1-N]``) turns one URL into N transfers in one
process, so a batch pays curl's start-up once and the time per GET is close
to curl's own. curl reuses the connection between transfers unless the
request carries "Connection: close", and caches TLS sessions unless given
``--no-sessionid``.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import List, Optional

from .clients import CLOSE_HEADERS, Target
from .method import FRESH, CheckError, Contestant, Expectation, Metrics, Unsupported

# Seconds a batch may take before curl is considered hung.
BATCH_TIMEOUT_SECONDS = 300.0
WRITE_OUT = "%{http_code} %{size_download}\\n"


def find_curl() -> Optional[str]:
    return shutil.which("curl")


def curl_version() -> Optional[str]:
    """Return curl's first version line, or None when curl is not on PATH."""
    executable = find_curl()
    if executable is None:
        return None
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10)
    return result.stdout.splitlines()[0] if result.stdout else None


class CurlRunner:
    """Run a batch as one curl process and check each transfer's status and size."""

    def __init__(self, target: Target, options: List[str]) -> None:
        executable = find_curl()
        if executable is None:
            raise Unsupported("curl is not on PATH")
        separator = "&" if "?" in target.url else "?"
        self.command = [
            executable,
            # -q must come first: it stops curl from reading ~/.curlrc.
            "-q",
            "--silent",
            "--show-error",
            "--cacert",
            target.ca_file,
            "--output",
            "/dev/null",
            "--write-out",
            WRITE_OUT,
            *options,
        ]
        self.url_prefix = target.url + separator
        self.expected = f"200 {target.length}"

    def run(self, count: int) -> Optional[Metrics]:
        result = subprocess.run(
            [*self.command, f"{self.url_prefix}n=[1-{count}]"],
            capture_output=True,
            text=True,
            timeout=BATCH_TIMEOUT_SECONDS,
        )
        lines = result.stdout.splitlines()
        if result.returncode != 0 or len(lines) != count or any(line != self.expected for line in lines):
            wrong = next((line for line in lines if line != self.expected), "")
            raise CheckError(
                f"curl exited with status {result.returncode} after {len(lines)} of {count} transfers "
                f"(first unexpected result {wrong!r}, expected {self.expected!r}): {result.stderr.strip()[:200]}"
            )
        return None

    def close(self) -> None:
        pass


def close_header_options() -> List[str]:
    return [option for name, value in CLOSE_HEADERS.items() for option in ("--header", f"{name}: {value}")]


def curl_fresh(target: Target) -> Contestant:
    options = ["--no-sessionid", *close_header_options()]
    return Contestant("curl", "curl, --no-sessionid", "curl", lambda: CurlRunner(target, options), FRESH)


def curl_keep_alive(target: Target) -> Contestant:
    # The first transfer of each batch opens the connection the others reuse.
    expect = Expectation(connections=(0, 1), requests=(1, 0))
    return Contestant("curl", "curl", "curl", lambda: CurlRunner(target, []), expect)


def curl_resumed(target: Target, version: str) -> Contestant:
    # Each batch's first handshake is full, and every later one resumes.
    expect = Expectation(connections=(1, 0), requests=(1, 0), resumed=(1, -1))
    options = [f"--tlsv{version}", "--tls-max", version, *close_header_options()]
    return Contestant("curl", "curl, session cache", "curl", lambda: CurlRunner(target, options), expect)
