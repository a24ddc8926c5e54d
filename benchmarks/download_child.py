"""One 100 MiB download in a process of its own, reporting its time and memory as JSON.

Run as ``python -m benchmarks.download_child CLIENT MODE WARMUP_URL URL CA_FILE OUTPUT``,
where MODE is "file" (stream the body to OUTPUT) or "memory" (hold the whole
body). The child first GETs WARMUP_URL on the same connection, so the timed
download pays for no handshake. Then it records its resident memory as the
baseline, resets the kernel's peak counter, downloads, and prints one JSON
line: status, length, seconds, the baseline, and the peak resident memory
(VmHWM) in all and above the baseline.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import urlsplit

from . import floor

CHUNK_BYTES = 64 * 1024
RECEIVE_BYTES = 256 * 1024
MIB = 1024 * 1024

WarmUp = Callable[[str], object]
Download = Callable[[str, Optional[str]], Tuple[int, int]]
Setup = Callable[[str, str], Tuple[WarmUp, Download]]


def read_status_kib(field: str) -> int:
    """Return a ``VmRSS``-style field of /proc/self/status in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} field")


def reset_peak_memory() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0 and later) and return whether that worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def write_chunks(chunks: Iterable[bytes], output: str) -> int:
    written = 0
    with open(output, "wb") as file:
        for chunk in chunks:
            file.write(chunk)
            written += len(chunk)
    return written


def floor_setup(url: str, ca_file: str) -> Tuple[WarmUp, Download]:
    port = urlsplit(url).port or 443
    sock = floor.connect(floor.make_context(ca_file), port)

    def warm_up(warmup_url: str) -> object:
        sock.sendall(floor.build_request(port, urlsplit(warmup_url).path))
        return floor.read_response(sock)

    def download(download_url: str, output: Optional[str]) -> Tuple[int, int]:
        sock.sendall(floor.build_request(port, urlsplit(download_url).path))
        return read_length_body(sock, output)

    return warm_up, download


def read_length_body(sock: ssl.SSLSocket, output: Optional[str]) -> Tuple[int, int]:
    """Read a Content-Length response into a preallocated buffer or through one buffer into a file."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(RECEIVE_BYTES)
    head, _, first = data.partition(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    start = lowered.index(b"\r\ncontent-length:") + 17
    length = int(lowered[start:].split(b"\r\n", 1)[0])
    if output is None:
        body = bytearray(length)
        view = memoryview(body)
        view[: len(first)] = first
        received = len(first)
        while received < length:
            received += sock.recv_into(view[received:], min(RECEIVE_BYTES, length - received))
        return status, received
    # Each recv_into returns at most one TLS record (16 KiB), so the buffer
    # is filled by several before one write, which keeps write calls few. The
    # buffer has the CHUNK_BYTES that the other clients write: with 256 KiB,
    # 3 to 4 of 7 downloads took about twice the median of the others.
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(output, "wb") as file:
        file.write(first)
        received = len(first)
        while received < length:
            filled = 0
            wanted = min(CHUNK_BYTES, length - received)
            while filled < wanted:
                count = sock.recv_into(view[filled:wanted])
                if not count:
                    raise ConnectionError(f"server closed after {received + filled} of {length} bytes")
                filled += count
            file.write(view[:filled])
            received += filled
    return status, received


def tlskit_setup(url: str, ca_file: str) -> Tuple[WarmUp, Download]:
    import tlskit

    client = tlskit.Client(cafile=ca_file, system_ca=False)

    def download(download_url: str, output: Optional[str]) -> Tuple[int, int]:
        if output is None:
            response = client.get(download_url)
            return response.status, len(response.body)
        if hasattr(client, "download"):
            result = client.download(download_url, output)
            return getattr(result, "status", 200), os.path.getsize(output)
        with client.stream(download_url) as response:  # type: ignore[attr-defined]
            return response.status, write_chunks(response.iter_bytes(CHUNK_BYTES), output)

    return client.get, download


def requests_setup(url: str, ca_file: str) -> Tuple[WarmUp, Download]:
    import requests

    session = requests.Session()
    session.verify = ca_file

    def download(download_url: str, output: Optional[str]) -> Tuple[int, int]:
        if output is None:
            response = session.get(download_url)
            return response.status_code, len(response.content)
        with session.get(download_url, stream=True) as response:
            return response.status_code, write_chunks(response.iter_content(CHUNK_BYTES), output)

    return session.get, download


def urllib3_setup(url: str, ca_file: str) -> Tuple[WarmUp, Download]:
    import urllib3

    pool = urllib3.PoolManager(ca_certs=ca_file)

    def download(download_url: str, output: Optional[str]) -> Tuple[int, int]:
        if output is None:
            response = pool.request("GET", download_url)
            return response.status, len(response.data)
        response = pool.request("GET", download_url, preload_content=False)
        written = write_chunks(response.stream(CHUNK_BYTES), output)
        response.release_conn()
        return response.status, written

    return (lambda warmup_url: pool.request("GET", warmup_url)), download


def httpx_setup(url: str, ca_file: str) -> Tuple[WarmUp, Download]:
    import httpx

    client = httpx.Client(verify=ssl.create_default_context(cafile=ca_file))

    def download(download_url: str, output: Optional[str]) -> Tuple[int, int]:
        if output is None:
            response = client.get(download_url)
            return response.status_code, len(response.content)
        with client.stream("GET", download_url) as response:
            return response.status_code, write_chunks(response.iter_bytes(CHUNK_BYTES), output)

    return client.get, download


def http_client_setup(url: str, ca_file: str) -> Tuple[WarmUp, Download]:
    from http.client import HTTPSConnection

    parts = urlsplit(url)
    connection = HTTPSConnection(
        parts.hostname or "", parts.port, context=ssl.create_default_context(cafile=ca_file)
    )

    def warm_up(warmup_url: str) -> object:
        connection.request("GET", urlsplit(warmup_url).path)
        return connection.getresponse().read()

    def download(download_url: str, output: Optional[str]) -> Tuple[int, int]:
        connection.request("GET", urlsplit(download_url).path)
        response = connection.getresponse()
        if output is None:
            return response.status, len(response.read())
        buffer = bytearray(CHUNK_BYTES)
        view = memoryview(buffer)
        written = 0
        with open(output, "wb") as file:
            while True:
                count = response.readinto(buffer)
                if not count:
                    break
                file.write(view[:count])
                written += count
        return response.status, written

    return warm_up, download


SETUPS: Dict[str, Setup] = {
    "floor": floor_setup,
    "tlskit": tlskit_setup,
    "requests": requests_setup,
    "urllib3": urllib3_setup,
    "httpx": httpx_setup,
    "http.client": http_client_setup,
}


def main(argv: List[str]) -> int:
    client, mode, warmup_url, url, ca_file, output = argv
    warm_up, download = SETUPS[client](url, ca_file)
    warm_up(warmup_url)

    baseline_kib = read_status_kib("VmRSS")
    peak_was_reset = reset_peak_memory()
    started = time.perf_counter()
    status, length = download(url, output if mode == "file" else None)
    seconds = time.perf_counter() - started
    peak_kib = read_status_kib("VmHWM")

    print(
        json.dumps(
            {
                "status": status,
                "length": length,
                "seconds": seconds,
                "baseline_mib": baseline_kib / 1024,
                "peak_mib": peak_kib / 1024,
                "peak_above_baseline_mib": (peak_kib - baseline_kib) / 1024 if peak_was_reset else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
