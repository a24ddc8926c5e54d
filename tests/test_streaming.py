"""Streaming responses and downloads against loopback TLS servers."""

from __future__ import annotations

import gzip
import os
import ssl
import tracemalloc
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import pytest

import tlskit
import tlskit._streaming
from servers import HTTPResponder, Request, TLSServer, read_request, scripted
from tlskit import HTTPStatusError, IncompleteBodyError, LimitExceededError, StreamingResponse

StartServer = Callable[..., TLSServer]

BODY = bytes(range(256)) * 400  # 102400 bytes


@pytest.fixture
def body_server(start_server: StartServer) -> TLSServer:
    def chunked(request: Request) -> bytes:
        pieces = b"".join(
            b"%x\r\n" % len(BODY[i : i + 5000]) + BODY[i : i + 5000] + b"\r\n"
            for i in range(0, len(BODY), 5000)
        )
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + pieces + b"0\r\nX-Done: yes\r\n\r\n"

    return start_server(
        HTTPResponder(
            {
                "/body": (200, [], BODY),
                "/chunked": chunked,
                "/gzip": (200, [("Content-Encoding", "gzip")], gzip.compress(BODY)),
                "/missing": (404, [], b"not here"),
            }
        )
    )


def test_iter_bytes_exact_chunks(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client, client.stream(body_server.url("/body")) as response:
        assert isinstance(response, StreamingResponse)
        assert response.status == 200
        chunks = list(response.iter_bytes(1000))
    assert b"".join(chunks) == BODY
    assert [len(chunk) for chunk in chunks[:-1]] == [1000] * (len(chunks) - 1)
    assert len(chunks[-1]) == len(BODY) % 1000


def test_iter_bytes_as_they_come(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client, client.stream(body_server.url("/chunked")) as response:
        chunks = list(response.iter_bytes())
        assert response.trailers["x-done"] == "yes"
    assert b"".join(chunks) == BODY
    assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)


def test_readinto(body_server: TLSServer, ca_file: str) -> None:
    buffer = bytearray(777)
    received = bytearray()
    with tlskit.Client(cafile=ca_file) as client, client.stream(body_server.url("/gzip")) as response:
        for _ in range(10_000):
            count = response.readinto(buffer)
            if not count:
                break
            assert count <= len(buffer)
            received += buffer[:count]
        assert response.readinto(buffer) == 0
        assert response.is_closed
    assert bytes(received) == BODY


def test_mixed_reads(body_server: TLSServer, ca_file: str) -> None:
    buffer = bytearray(10)
    with tlskit.Client(cafile=ca_file) as client, client.stream(body_server.url("/body")) as response:
        assert response.readinto(buffer) == 10
        first = next(response.iter_bytes(90))
        rest = response.read()
    assert bytes(buffer) + first + rest == BODY


def test_full_read_returns_connection(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        for _ in range(3):
            with client.stream(body_server.url("/body")) as response:
                assert response.read() == BODY
    assert body_server.connections == 1


def test_early_close_drops_connection(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        with client.stream(body_server.url("/body")) as response:
            assert len(next(response.iter_bytes(100))) == 100
        assert response.is_closed
        with pytest.raises(RuntimeError, match="closed before its body was read in full"):
            response.read()
        assert client.get(body_server.url("/body")).body == BODY
    assert body_server.connections == 2


def test_read_after_complete_returns_empty_once_released(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        with client.stream(body_server.url("/body")) as response:
            assert response.read() == BODY
            assert response.read() == b""
            assert list(response.iter_bytes()) == []
        # The connection went back to the pool exactly once.
        assert sum(len(idle) for idle in client._pool._idle.values()) == 1


def test_read_after_failure_raises_again(start_server: StartServer, ca_file: str) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
    with tlskit.Client(cafile=ca_file) as client, client.stream(server.url("/")) as response:
        with pytest.raises(IncompleteBodyError):
            response.read()
        with pytest.raises(IncompleteBodyError):
            response.read()


def test_stream_keeps_raw_bytes_when_asked(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        with client.stream(body_server.url("/gzip"), decode_content=False) as response:
            assert gzip.decompress(response.read()) == BODY


def test_stream_max_body(body_server: TLSServer, ca_file: str) -> None:
    with (
        tlskit.Client(cafile=ca_file) as client,
        client.stream(body_server.url("/body"), max_body=5000) as response,
    ):
        with pytest.raises(LimitExceededError) as caught:
            response.read()
        assert response.is_closed
    assert caught.value.limit == "max_body"


@pytest.mark.parametrize("path", ["/body", "/chunked", "/gzip"])
def test_memory_limit_without_max_body(
    body_server: TLSServer, ca_file: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default limit is 1 GiB; a smaller one shows the rule without sending a GiB.
    monkeypatch.setattr(tlskit._streaming, "MAX_MEMORY_BODY_BYTES", 50_000)
    with pytest.raises(LimitExceededError) as caught:
        tlskit.get(body_server.url(path), cafile=ca_file)
    assert caught.value.limit == "max_body"
    assert caught.value.value == 50_000
    assert "the limit of a body read into memory without max_body" in str(caught.value)


def test_memory_limit_yields_to_max_body(
    body_server: TLSServer, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tlskit._streaming, "MAX_MEMORY_BODY_BYTES", 50_000)
    for path in ("/body", "/chunked"):
        assert tlskit.get(body_server.url(path), cafile=ca_file, max_body=len(BODY)).body == BODY
    with tlskit.Client(cafile=ca_file) as client, client.stream(body_server.url("/chunked")) as response:
        assert b"".join(response.iter_bytes()) == BODY


def test_invalid_chunk_size_argument(body_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file) as client, client.stream(body_server.url("/body")) as response:
        with pytest.raises(ValueError, match="chunk_size"):
            next(response.iter_bytes(0))


def test_memory_stays_flat(start_server: StartServer, ca_file: str) -> None:
    size = 24 * 1024 * 1024
    block = b"z" * (1024 * 1024)

    def big(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            sock.sendall(block)

    server = start_server(big)
    received = 0
    tracemalloc.start()
    try:
        with tlskit.Client(cafile=ca_file) as client, client.stream(server.url("/")) as response:
            for chunk in response.iter_bytes(64 * 1024):
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 2 * 1024 * 1024, f"peak traced memory {peak} bytes for a {size}-byte body"


# Downloads.


def test_download_writes_complete_file(body_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    calls: List[Tuple[int, Optional[int]]] = []
    with tlskit.Client(cafile=ca_file) as client:
        response = client.download(
            body_server.url("/body"),
            str(target),
            progress=lambda done, total: calls.append((done, total)),
            chunk_size=10_000,
        )
    assert response.status == 200
    assert target.read_bytes() == BODY
    assert calls[0] == (0, len(BODY))
    assert calls[-1] == (len(BODY), len(BODY))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert os.listdir(tmp_path) == ["out.bin"]


def test_download_decoded_has_no_total(body_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    totals = set()
    with tlskit.Client(cafile=ca_file) as client:
        client.download(body_server.url("/gzip"), str(target), progress=lambda done, total: totals.add(total))
    assert target.read_bytes() == BODY
    assert totals == {None}


def test_cut_download_leaves_target_alone(start_server: StartServer, ca_file: str, tmp_path: Path) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000))
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with tlskit.Client(cafile=ca_file) as client:
        with pytest.raises(IncompleteBodyError) as caught:
            client.download(server.url("/"), str(target))
    assert caught.value.received == 5000
    assert caught.value.expected == 100000
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_download_error_status_writes_nothing(body_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with tlskit.Client(cafile=ca_file) as client:
        with pytest.raises(HTTPStatusError) as caught:
            client.download(body_server.url("/missing"), str(target))
    assert caught.value.status == 404
    assert os.listdir(tmp_path) == []


def test_download_respects_umask(body_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with tlskit.Client(cafile=ca_file) as client:
        client.download(body_server.url("/body"), str(target))
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
