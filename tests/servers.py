"""Loopback servers for tests: TLS and plain TCP, an HTTP/1.1 responder, scripted raw peers, a proxy.

`TLSServer` accepts connections on 127.0.0.1 or ::1, port 0, in a thread,
and hands each TLS socket (or plain socket, without a context) to a handler
in a thread of its own. `ConnectProxy` is an HTTP proxy that opens CONNECT
tunnels and forwards absolute-form requests, to loopback addresses only.
Every socket has a timeout and `stop` joins every thread with a timeout, so
a broken test cannot hang the run.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

SOCKET_TIMEOUT_SECONDS = 5.0
# Longer than a socket timeout, so that a handler blocked in one read or one
# handshake has always given up before a loaded machine fails the join.
JOIN_TIMEOUT_SECONDS = 3 * SOCKET_TIMEOUT_SECONDS

Handler = Callable[[Any], None]
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class TLSServer:
    """A threaded TLS server on loopback, or plain TCP when ``context`` is None; use as a context manager."""

    def __init__(self, context: Optional[ssl.SSLContext], handler: Handler, host: str = "127.0.0.1") -> None:
        self.context = context
        self.handler = handler
        self.host = host
        self.connections = 0
        self.handshake_errors: List[BaseException] = []
        self.handler_errors: List[BaseException] = []
        self._listener: Optional[socket.socket] = None
        self._port = 0
        self._threads: List[threading.Thread] = []
        self._live: List[socket.socket] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._port

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str = "/", host: Optional[str] = None) -> str:
        """Return an https URL for ``path`` on this server, optionally under another host name."""
        authority = f"{host}:{self.port}" if host else self.authority
        scheme = "http" if self.context is None else "https"
        return f"{scheme}://{authority}{path}"

    def start(self) -> TLSServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._port = int(listener.getsockname()[1])
        thread = threading.Thread(target=self._accept_loop, name=f"tls-server-{self.port}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        # The accept loop ends first, so no handler thread starts after the
        # sockets below are shut down.
        if self._threads:
            self._threads[0].join(JOIN_TIMEOUT_SECONDS)
        # Wake handlers blocked in a read on a connection the client left open.
        with self._lock:
            live = list(self._live)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + JOIN_TIMEOUT_SECONDS
        for thread in self._threads[1:]:
            thread.join(max(deadline - time.monotonic(), 0.0))
        if self._listener is not None:
            self._listener.close()
        stuck = [thread for thread in self._threads if thread.is_alive()]
        assert not stuck, f"server threads did not stop within {JOIN_TIMEOUT_SECONDS} s:\n" + _stacks(stuck)

    def __enter__(self) -> TLSServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            raw.settimeout(SOCKET_TIMEOUT_SECONDS)
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket) -> None:
        # Tracked before the handshake too, so a client that never finishes
        # it cannot hold stop() up.
        with self._lock:
            self._live.append(raw)
        if self.context is None:
            try:
                self.handler(raw)
            except OSError as exc:
                self.handler_errors.append(exc)
            finally:
                raw.close()
            return
        with self._lock:
            self._live.append(raw)
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.handshake_errors.append(exc)
            raw.close()
            return
        with self._lock:
            self._live.append(sock)
        try:
            self.handler(sock)
        except (ssl.SSLError, OSError, ValueError) as exc:
            # ValueError: stop() shut the socket down under the handler.
            self.handler_errors.append(exc)
        finally:
            sock.close()


# HTTP responder.

Route = Union[Tuple[int, List[Tuple[str, str]], bytes], Callable[["Request"], bytes]]


class Request:
    """A request as the responder received it."""

    def __init__(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        self.method, self.target, self.version = lines[0].split(" ", 2)
        self.headers: Dict[str, str] = {}
        self.raw_lines = lines[1:]
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()


def read_request(sock: ssl.SSLSocket, buffer: bytearray) -> Optional[Tuple[Request, bytes]]:
    """Read one request head and its Content-Length body; None when the client closed first."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n")
    request = Request(bytes(buffer[:end]))
    del buffer[: end + 4]
    length = int(request.headers.get("content-length", "0"))
    while len(buffer) < length:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    body = bytes(buffer[:length])
    del buffer[:length]
    return request, body


def response_bytes(status: int, headers: List[Tuple[str, str]], body: bytes, reason: str = "OK") -> bytes:
    """Return a response with Content-Length added unless the headers frame the body themselves."""
    names = {name.lower() for name, _ in headers}
    fields = list(headers)
    if "content-length" not in names and "transfer-encoding" not in names:
        fields.append(("Content-Length", str(len(body))))
    head = (
        f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
    )
    return head.encode("latin-1") + body


class HTTPResponder:
    """A keep-alive HTTP/1.1 handler that serves fixed routes and records requests."""

    def __init__(self, routes: Optional[Dict[str, Route]] = None) -> None:
        self.routes: Dict[str, Route] = dict(routes or {})
        self.requests: List[Tuple[Request, bytes]] = []

    def __call__(self, sock: ssl.SSLSocket) -> None:
        buffer = bytearray()
        while True:
            received = read_request(sock, buffer)
            if received is None:
                return
            request, body = received
            self.requests.append((request, body))
            route = self.routes.get(request.target.split("?")[0])
            if route is None:
                sock.sendall(response_bytes(404, [], b"not found\n", "Not Found"))
            elif callable(route):
                sock.sendall(route(request))
            else:
                status, headers, content = route
                if request.method == "HEAD":
                    sock.sendall(
                        response_bytes(status, headers + [("Content-Length", str(len(content)))], b"")
                    )
                else:
                    sock.sendall(response_bytes(status, headers, content))
            if request.headers.get("connection", "").lower() == "close":
                return


def scripted(*chunks: bytes, close_notify: bool = False, read_request_first: bool = True) -> Handler:
    """Return a handler that reads one request, sends ``chunks`` as given, and closes.

    With ``close_notify`` the server ends TLS cleanly; otherwise it closes TCP
    under TLS, as a crashed or truncating server would.
    """

    def handler(sock: ssl.SSLSocket) -> None:
        if read_request_first:
            read_request(sock, bytearray())
        for chunk in chunks:
            sock.sendall(chunk)
        if close_notify:
            try:
                sock.unwrap().close()
            except (ssl.SSLError, OSError, ValueError):
                pass

    return handler


class ConnectProxy:
    """An HTTP proxy on loopback: CONNECT tunnels and absolute-form forwarding, to loopback only.

    Attributes:
        requests: the request heads received, as `Request` objects.
        refuse: a status line such as ``"403 Forbidden"`` to respond to every request with.
        require_auth: a Proxy-Authorization value that must be sent, else 407.
    """

    def __init__(self, refuse: Optional[str] = None, require_auth: Optional[str] = None) -> None:
        self.refuse = refuse
        self.require_auth = require_auth
        self.requests: List[Request] = []
        self.server = TLSServer(None, self._handle)

    @property
    def url(self) -> str:
        return f"http://{self.server.authority}"

    def __enter__(self) -> ConnectProxy:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()

    def _handle(self, client: socket.socket) -> None:
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            data = client.recv(65536)
            if not data:
                return
            buffer += data
        end = buffer.index(b"\r\n\r\n") + 4
        request = Request(bytes(buffer[: end - 4]))
        self.requests.append(request)
        rest = bytes(buffer[end:])
        if self.refuse is not None:
            client.sendall(f"HTTP/1.1 {self.refuse}\r\nContent-Length: 0\r\n\r\n".encode())
            return
        if self.require_auth is not None and request.headers.get("proxy-authorization") != self.require_auth:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        if request.method == "CONNECT":
            host, _, port = request.target.rpartition(":")
            upstream = self._open(host.strip("[]"), int(port))
            client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        else:
            # Absolute form: http://host:port/path becomes /path to the origin.
            authority, _, path = request.target.partition("://")[2].partition("/")
            host, _, port = authority.rpartition(":")
            upstream = self._open(host.strip("[]"), int(port))
            lines = [f"{request.method} /{path} {request.version}"] + [
                line for line in request.raw_lines if not line.lower().startswith("proxy-authorization")
            ]
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if rest:
            upstream.sendall(rest)
        with upstream:
            relay(client, upstream, self.server.stopping)

    @staticmethod
    def _open(host: str, port: int) -> socket.socket:
        assert host in LOOPBACK_HOSTS, f"test proxy refuses non-loopback target {host!r}"
        return socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_SECONDS)


def relay(first: socket.socket, second: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes or the server stops."""
    peers = {first: second, second: first}
    while not stopping.is_set():
        readable, _, _ = select.select(list(peers), [], [], 0.05)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            peers[sock].sendall(data)


def _stacks(threads: List[threading.Thread]) -> str:
    """Return where each of ``threads`` is, for a failure message."""
    frames = sys._current_frames()
    parts = []
    for thread in threads:
        frame = frames.get(thread.ident) if thread.ident is not None else None
        where = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)\n"
        parts.append(f"{thread.name}:\n{where}")
    return "".join(parts)
