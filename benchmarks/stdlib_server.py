"""A loopback HTTPS/1.1 server on the standard library alone, run as a subprocess.

Every ratio in the suite is bounded by how fast the server responds, so this
server does as little as it can per request. It finds the end of the request
head, reads the path and the Connection field, and sends response bytes that
were built at start-up. There is no http.server and no header parsing beyond
that. Connections stay open until the client sends "Connection: close" or
closes, and every accepted socket has TCP_NODELAY.

Two modes share that request handling. "threads" serves each connection in
a thread of its own with blocking sockets, and "selector" serves every
connection from one thread with non-blocking sockets and `selectors`.

The parent talks to it over stdin and stdout, one JSON object a line:

    server -> parent   {"ports": {"ecdsa": 40001, "rsa": 40002}}    once, when listening
    parent -> server   counters
    server -> parent   {"connections": 12, "requests": 340, "resumed": 0, "errors": 0}

End of stdin stops the server. Run it as
``python -m benchmarks.stdlib_server CONFIG_JSON``, where the config names
the certificate files (see `main`).
"""

from __future__ import annotations

import json
import selectors
import socket
import ssl
import sys
import threading
from typing import Dict, List, Optional, Tuple, Union

from .content import CHUNK_BYTES, ENDPOINTS, Endpoint, body_for

HOST = "127.0.0.1"
RECEIVE_BYTES = 64 * 1024
# A request head larger than this is a client bug, so the connection is dropped.
MAX_REQUEST_HEAD_BYTES = 16 * 1024
LISTEN_BACKLOG = 128
# Largest slice handed to one non-blocking SSLSocket.send in selector mode.
SEND_BYTES = 256 * 1024


class Counters:
    """Thread-safe counts of what the server did, for the parent's checks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = {"connections": 0, "requests": 0, "resumed": 0, "errors": 0}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.values[name] += amount

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self.values)


def build_response(endpoint: Optional[Endpoint], keep_alive: bool) -> bytes:
    """Return the complete response bytes for ``endpoint`` (None: 404)."""
    connection = "keep-alive" if keep_alive else "close"
    if endpoint is None:
        body = b"not found\n"
        head = f"HTTP/1.1 404 Not Found\r\nContent-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n"
        return head.encode("ascii") + body

    body = body_for(endpoint)
    fields = ["Server: tlskit-bench", "Content-Type: application/octet-stream"]
    if endpoint.chunked:
        fields.append("Transfer-Encoding: chunked")
        pieces = []
        for start in range(0, len(body), CHUNK_BYTES):
            chunk = body[start : start + CHUNK_BYTES]
            pieces.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        pieces.append(b"0\r\n\r\n")
        body = b"".join(pieces)
    else:
        fields.append(f"Content-Length: {len(body)}")
    fields.append(f"Connection: {connection}")
    head = "HTTP/1.1 200 OK\r\n" + "".join(field + "\r\n" for field in fields) + "\r\n"
    return head.encode("ascii") + body


def build_responses() -> Dict[Tuple[bytes, bool], bytes]:
    """Return response bytes keyed by (path, keep_alive), plus (b"", flag) for unknown paths."""
    responses = {}
    for keep_alive in (True, False):
        for path, endpoint in ENDPOINTS.items():
            responses[(path.encode("ascii"), keep_alive)] = build_response(endpoint, keep_alive)
        responses[(b"", keep_alive)] = build_response(None, keep_alive)
    return responses


def parse_request_head(head: bytes) -> Tuple[bytes, bool]:
    """Return the request's path and whether the client keeps the connection open.

    Only the request line and the Connection field matter to this server.
    HTTP/1.0 requests are treated as "Connection: close" unless they ask for
    keep-alive, as RFC 9112 9.3 prescribes.
    """
    line_end = head.find(b"\r\n")
    request_line = head if line_end < 0 else head[:line_end]
    parts = request_line.split(b" ")
    target = parts[1] if len(parts) == 3 else b""
    path = target.split(b"?", 1)[0]
    lowered = head.lower()
    if request_line.endswith(b"HTTP/1.0"):
        keep_alive = b"connection: keep-alive" in lowered
    else:
        keep_alive = b"connection: close" not in lowered
    return path, keep_alive


def make_server_context(chain_file: str, key_file: str) -> ssl.SSLContext:
    """Return a TLS 1.2 and 1.3 server context. Session tickets are on, as OpenSSL defaults."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(chain_file, key_file)
    context.set_alpn_protocols(["http/1.1"])
    return context


def close_tls(sock: ssl.SSLSocket) -> None:
    """Send a TLS close_notify without waiting for the client's, then close the socket."""
    try:
        sock.setblocking(False)
        sock.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass
    sock.close()


class Server:
    """State shared by both modes: contexts, listeners, responses and counters."""

    def __init__(self, contexts: Dict[str, ssl.SSLContext]) -> None:
        self.contexts = contexts
        self.responses = build_responses()
        self.counters = Counters()
        self.listeners: Dict[str, socket.socket] = {}

    def bind(self) -> Dict[str, int]:
        """Bind a listener per context on a free loopback port and return the ports by name."""
        for name in self.contexts:
            self.listeners[name] = socket.create_server((HOST, 0), backlog=LISTEN_BACKLOG)
        return {name: listener.getsockname()[1] for name, listener in self.listeners.items()}

    def response_for(self, head: bytes) -> Tuple[bytes, bool]:
        """Return the response bytes for a request head and whether to keep the connection."""
        path, keep_alive = parse_request_head(head)
        response = self.responses.get((path, keep_alive)) or self.responses[(b"", keep_alive)]
        self.counters.add("requests")
        return response, keep_alive

    def start(self) -> Dict[str, int]:
        raise NotImplementedError


class ThreadedServer(Server):
    """Serve each connection in a thread of its own, with blocking sockets."""

    def start(self) -> Dict[str, int]:
        """Bind the listeners and start an accept thread for each."""
        ports = self.bind()
        for name, listener in self.listeners.items():
            thread = threading.Thread(
                target=self._accept_loop,
                args=(listener, self.contexts[name]),
                name=f"accept-{name}",
                daemon=True,
            )
            thread.start()
        return ports

    def _accept_loop(self, listener: socket.socket, context: ssl.SSLContext) -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(raw, context), daemon=True).start()

    def _serve(self, raw: socket.socket, context: ssl.SSLContext) -> None:
        try:
            sock = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.counters.add("errors")
            raw.close()
            return
        self.counters.add("connections")
        if sock.session_reused:
            self.counters.add("resumed")
        try:
            self._serve_requests(sock)
        except (ssl.SSLError, OSError):
            self.counters.add("errors")
        close_tls(sock)

    def _serve_requests(self, sock: ssl.SSLSocket) -> None:
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_REQUEST_HEAD_BYTES:
                    self.counters.add("errors")
                    return
                data = sock.recv(RECEIVE_BYTES)
                if not data:
                    return
                buffer += data
                continue
            response, keep_alive = self.response_for(buffer[:end])
            buffer = buffer[end + 4 :]
            sock.sendall(response)
            if not keep_alive:
                return


class Connection:
    """One client connection of the selector server and where it is in its life.

    A connection handshakes, then alternates between reading a request head
    and writing its response. ``output`` is the response being written and
    ``sent`` how much of it has gone out. An SSLSocket.send that raises
    SSLWantWriteError must be retried with the same bytes, so a slice is only
    advanced past once a send of it returns.
    """

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.handshaken = False
        self.buffer = b""
        self.output: Optional[memoryview] = None
        self.sent = 0
        self.keep_alive = True


class SelectorServer(Server):
    """Serve every connection from one thread with non-blocking sockets."""

    def start(self) -> Dict[str, int]:
        """Bind the listeners and start the event loop thread."""
        ports = self.bind()
        self.selector = selectors.DefaultSelector()
        for name, listener in self.listeners.items():
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, self.contexts[name])
        threading.Thread(target=self._loop, name="selector", daemon=True).start()
        return ports

    def _loop(self) -> None:
        while True:
            for key, _events in self.selector.select():
                target: Union[ssl.SSLContext, Connection] = key.data
                if isinstance(target, ssl.SSLContext):
                    self._accept(key.fileobj, target)  # type: ignore[arg-type]
                else:
                    self._advance(target)

    def _accept(self, listener: socket.socket, context: ssl.SSLContext) -> None:
        try:
            raw, _ = listener.accept()
        except BlockingIOError:
            return
        except OSError:
            # Out of file descriptors, or the client gave up: count it and go on.
            self.counters.add("errors")
            return
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.setblocking(False)
        sock = context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        connection = Connection(sock)
        self.selector.register(sock, selectors.EVENT_READ, connection)
        self._advance(connection)

    def _advance(self, connection: Connection) -> None:
        """Run ``connection`` until it must wait for the socket, then wait for the right event."""
        try:
            waiting_for = self._run(connection)
        except (ssl.SSLError, OSError):
            self.counters.add("errors")
            waiting_for = None
        if waiting_for is None:
            self.selector.unregister(connection.sock)
            close_tls(connection.sock)
        elif self.selector.get_key(connection.sock).events != waiting_for:
            self.selector.modify(connection.sock, waiting_for, connection)

    def _run(self, connection: Connection) -> Optional[int]:
        """Return the selector event to wait for next, or None to close the connection."""
        sock = connection.sock
        if not connection.handshaken:
            try:
                sock.do_handshake()
            except ssl.SSLWantReadError:
                return selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                return selectors.EVENT_WRITE
            connection.handshaken = True
            self.counters.add("connections")
            if sock.session_reused:
                self.counters.add("resumed")

        while True:
            # 1. Finish the response under way.
            output = connection.output
            while output is not None and connection.sent < len(output):
                try:
                    connection.sent += sock.send(output[connection.sent : connection.sent + SEND_BYTES])
                except ssl.SSLWantWriteError:
                    return selectors.EVENT_WRITE
                except ssl.SSLWantReadError:
                    return selectors.EVENT_READ
            if output is not None:
                connection.output = None
                if not connection.keep_alive:
                    return None

            # 2. Take the next request head from the buffer, reading more if needed.
            end = connection.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(connection.buffer) > MAX_REQUEST_HEAD_BYTES:
                    self.counters.add("errors")
                    return None
                try:
                    data = sock.recv(RECEIVE_BYTES)
                except ssl.SSLWantReadError:
                    return selectors.EVENT_READ
                except ssl.SSLWantWriteError:
                    return selectors.EVENT_WRITE
                if not data:
                    return None
                connection.buffer += data
                continue
            response, connection.keep_alive = self.response_for(connection.buffer[:end])
            connection.buffer = connection.buffer[end + 4 :]
            connection.output = memoryview(response)
            connection.sent = 0


SERVER_CLASSES = {"threads": ThreadedServer, "selector": SelectorServer}


def serve_control(server: Server, ports: Dict[str, int]) -> None:
    """Print the ports, then reply to each "counters" line on stdin until stdin closes."""
    print(json.dumps({"ports": ports}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "counters":
            print(json.dumps(server.counters.snapshot()), flush=True)
        elif command:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the server until stdin closes.

    The single argument is JSON: ``{"mode": "threads", "certificates":
    {"ecdsa": [chain_file, key_file], "rsa": [...]}}``, where the mode is
    "threads" or "selector". One listener is opened per certificate.
    """
    args = sys.argv[1:] if argv is None else argv
    config = json.loads(args[0])
    contexts = {name: make_server_context(*files) for name, files in config["certificates"].items()}
    server = SERVER_CLASSES[config.get("mode", "threads")](contexts)
    ports = server.start()
    serve_control(server, ports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
