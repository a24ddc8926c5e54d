"""Loopback TLS servers for tests: a small HTTP/1.1 responder and scripted raw peers.

`TLSServer` accepts connections on 127.0.0.1 or ::1, port 0, in a thread,
and hands each TLS socket to a handler in a thread of its own. Every socket
has a timeout and `stop` joins every thread with a timeout, so a broken test
cannot hang the run.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Callable, Dict, List, Optional, Tuple, Union

SOCKET_TIMEOUT_SECONDS = 5.0
JOIN_TIMEOUT_SECONDS = 5.0

Handler = Callable[[ssl.SSLSocket], None]


class TLSServer:
    """A threaded TLS server on loopback; use as a context manager."""

    def __init__(self, context: ssl.SSLContext, handler: Handler, host: str = "127.0.0.1") -> None:
        self.context = context
        self.handler = handler
        self.host = host
        self.connections = 0
        self.handshake_errors: List[BaseException] = []
        self.handler_errors: List[BaseException] = []
        self._listener: Optional[socket.socket] = None
        self._port = 0
        self._threads: List[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._port

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str = "/", host: Optional[str] = None) -> str:
        """Return an https URL for ``path`` on this server, optionally under another host name."""
        authority = f"{host}:{self.port}" if host else self.authority
        return f"https://{authority}{path}"

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
        for thread in list(self._threads):
            thread.join(JOIN_TIMEOUT_SECONDS)
        if self._listener is not None:
            self._listener.close()
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        assert not stuck, f"server threads did not stop within {JOIN_TIMEOUT_SECONDS} s: {stuck}"

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
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.handshake_errors.append(exc)
            raw.close()
            return
        try:
            self.handler(sock)
        except (ssl.SSLError, OSError) as exc:
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
            except (ssl.SSLError, OSError):
                pass

    return handler
