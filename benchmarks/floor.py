"""The floor: the least work a Python HTTPS GET can do over raw `ssl` sockets.

One SSLContext is built once and reused, sockets get TCP_NODELAY, requests
are prebuilt bytes, and the response parser only finds the head's end, the
status and the body framing (Content-Length or chunked). It does no header
validation, no limits and no error mapping, so it is a floor to measure
clients against, not a client to use.
"""

from __future__ import annotations

import socket
import ssl
from typing import Optional, Tuple

HOST = "127.0.0.1"
RECEIVE_BYTES = 256 * 1024


def make_context(
    ca_file: str,
    minimum_version: Optional[ssl.TLSVersion] = None,
    maximum_version: Optional[ssl.TLSVersion] = None,
) -> ssl.SSLContext:
    """Return a verifying client context that trusts only ``ca_file``."""
    context = ssl.create_default_context(cafile=ca_file)
    if minimum_version is not None:
        context.minimum_version = minimum_version
    if maximum_version is not None:
        context.maximum_version = maximum_version
    return context


def build_request(port: int, path: str, keep_alive: bool = True) -> bytes:
    """Return the bytes of a GET request for ``path``."""
    connection = b"keep-alive" if keep_alive else b"close"
    return b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: %s\r\n\r\n" % (
        path.encode("ascii"),
        HOST.encode("ascii"),
        port,
        connection,
    )


def connect(context: ssl.SSLContext, port: int, session: Optional[ssl.SSLSession] = None) -> ssl.SSLSocket:
    """Open a TCP connection with TCP_NODELAY and complete the TLS handshake."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.connect((HOST, port))
        return context.wrap_socket(raw, server_hostname=HOST, session=session)
    except BaseException:
        raw.close()
        raise


def read_response(sock: ssl.SSLSocket, buffer: Optional[bytearray] = None) -> Tuple[int, int]:
    """Read one response and return its status and body length.

    Bytes are received into ``buffer`` (a new one when None) and the body is
    dropped as it arrives. SSLSocket.recv would allocate a bytes object of
    the requested size for every TLS record, which recv_into avoids. Bytes
    past the response are an error, because this client never pipelines.
    """
    if buffer is None:
        buffer = bytearray(RECEIVE_BYTES)
    view = memoryview(buffer)
    filled = sock.recv_into(view)
    head_end = buffer.find(b"\r\n\r\n", 0, filled)
    while head_end < 0:
        received = sock.recv_into(view[filled:])
        if not received:
            raise ConnectionError("server closed the connection inside the response head")
        filled += received
        head_end = buffer.find(b"\r\n\r\n", 0, filled)
    head = buffer[:head_end].lower()
    status = int(head[9:12])
    body_start = head_end + 4

    start = head.find(b"\r\ncontent-length:")
    if start >= 0:
        end = head.find(b"\r\n", start + 2)
        length = int(head[start + 17 : end if end >= 0 else len(head)])
        received = filled - body_start
        while received < length:
            count = sock.recv_into(view)
            if not count:
                raise ConnectionError(f"server closed the connection after {received} of {length} body bytes")
            received += count
        if received != length:
            raise ConnectionError(f"server sent {received - length} bytes past the response")
        return status, length
    if b"\r\ntransfer-encoding: chunked" in head:
        return status, read_chunked(sock, bytes(view[body_start:filled]), view)
    raise ConnectionError("response has neither Content-Length nor chunked framing")


def read_chunked(sock: ssl.SSLSocket, data: bytes, buffer: memoryview) -> int:
    """Read a chunked body whose first bytes are ``data`` and return its decoded length.

    Chunk data beyond ``data`` is received into ``buffer`` and dropped, and
    reads are capped at the chunk's end so the next size line is never lost.
    """
    total = 0
    while True:
        line_end = data.find(b"\r\n")
        while line_end < 0:
            data += _receive(sock, buffer, len(buffer))
            line_end = data.find(b"\r\n")
        size = int(data[:line_end].split(b";", 1)[0], 16)
        data = data[line_end + 2 :]
        if size == 0:
            # No trailers: the body ends with the empty line after the last chunk.
            while len(data) < 2:
                data += _receive(sock, buffer, 2 - len(data))
            return total
        total += size
        remaining = size + 2 - len(data)
        if remaining <= 0:
            data = data[size + 2 :]
            continue
        data = b""
        while remaining > 0:
            remaining -= _receive_into(sock, buffer, min(remaining, len(buffer)))


def _receive_into(sock: ssl.SSLSocket, buffer: memoryview, limit: int) -> int:
    count = sock.recv_into(buffer, limit)
    if not count:
        raise ConnectionError("server closed the connection inside a chunked body")
    return count


def _receive(sock: ssl.SSLSocket, buffer: memoryview, limit: int) -> bytes:
    return bytes(buffer[: _receive_into(sock, buffer, limit)])


def get_fresh(
    context: ssl.SSLContext,
    port: int,
    request: bytes,
    session: Optional[ssl.SSLSession] = None,
    buffer: Optional[bytearray] = None,
) -> Tuple[int, int, bool]:
    """Send one request on a new connection and return status, body length and whether TLS resumed."""
    sock = connect(context, port, session)
    try:
        sock.sendall(request)
        status, length = read_response(sock, buffer)
        return status, length, bool(sock.session_reused)
    finally:
        sock.close()
