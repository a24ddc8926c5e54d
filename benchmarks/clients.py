"""In-process contestants: each client set up for fresh, keep-alive, resumed and threaded GETs.

Every client is given the same CA file and nothing else to trust, and each
operation returns (status, body length) for the runner to check. Clients are
used the way their documentation shows: a one-shot call where the library
has one for a single request, and a session, pool or client object kept for
keep-alive. Where a client has no way to do what a scenario needs, its start
raises `Unsupported` and the report shows n/a with the reason.
"""

from __future__ import annotations

import importlib.util
import ssl
import threading
import time
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Tuple

from . import floor
from .method import FRESH, KEEP_ALIVE, CheckError, Contestant, Expectation, Metrics, Runner, Unsupported

Result = Tuple[int, int]
Operation = Callable[[], Result]

CLOSE_HEADERS = {"Connection": "close"}
THREADS = 8


class Target(NamedTuple):
    """A GET's URL, port, path, CA file and expected body length."""

    url: str
    port: int
    path: str
    ca_file: str
    length: int


class OperationRunner:
    """Run an operation ``count`` times and check each (status, body length)."""

    def __init__(self, operation: Operation, length: int, close: Callable[[], Any] = lambda: None) -> None:
        self.operation = operation
        self.expected = (200, length)
        self._close = close

    def run(self, count: int) -> Optional[Metrics]:
        operation = self.operation
        expected = self.expected
        for _ in range(count):
            result = operation()
            if result != expected:
                raise CheckError(f"expected (status, body length) {expected}, got {result}")
        return None

    def close(self) -> None:
        self._close()


class ThreadedRunner:
    """Split each batch over threads that start together; time from release to the last join.

    ``operations`` has one operation per thread. Threads of a shared client
    get the same operation, so they share its connection pool.
    """

    def __init__(
        self, operations: Sequence[Operation], length: int, close: Callable[[], Any] = lambda: None
    ) -> None:
        self.operations = list(operations)
        self.expected = (200, length)
        self._close = close
        # One request per operation opens a connection for every thread that has one of its own.
        for operation in dict.fromkeys(self.operations):
            operation()

    def run(self, count: int) -> Optional[Metrics]:
        threads = len(self.operations)
        barrier = threading.Barrier(threads + 1)
        errors: List[BaseException] = []

        def work(operation: Operation, repeats: int) -> None:
            barrier.wait()
            try:
                for _ in range(repeats):
                    result = operation()
                    if result != self.expected:
                        raise CheckError(f"expected (status, body length) {self.expected}, got {result}")
            except BaseException as exc:  # Re-raised in the calling thread below.
                errors.append(exc)

        workers = [
            threading.Thread(target=work, args=(operation, count // threads + (index < count % threads)))
            for index, operation in enumerate(self.operations)
        ]
        for worker in workers:
            worker.start()
        barrier.wait()
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        return {"seconds": elapsed}

    def close(self) -> None:
        self._close()


def shared_runner(operation: Operation, threads: int, length: int, close: Callable[[], Any]) -> Runner:
    """Run `operation` on one thread, or on `threads` threads sharing one client."""
    if threads == 1:
        return OperationRunner(operation, length, close)
    return ThreadedRunner([operation] * threads, length, close)


def require(module: str) -> None:
    """Raise `Unsupported` when ``module`` cannot be imported."""
    if importlib.util.find_spec(module) is None:
        raise Unsupported(f"{module} is not installed")


def verifying_context(ca_file: str, version: Optional[ssl.TLSVersion] = None) -> ssl.SSLContext:
    """Return a context that trusts only ``ca_file``, pinned to ``version`` when given."""
    return floor.make_context(ca_file, version, version)


# The floor.


def floor_fresh(target: Target, version: Optional[ssl.TLSVersion] = None) -> Runner:
    context = verifying_context(target.ca_file, version)
    request = floor.build_request(target.port, target.path, keep_alive=False)
    buffer = bytearray(floor.RECEIVE_BYTES)

    def operation() -> Result:
        status, length, _ = floor.get_fresh(context, target.port, request, buffer=buffer)
        return status, length

    return OperationRunner(operation, target.length)


def floor_resumed(target: Target, version: ssl.TLSVersion) -> Runner:
    context = verifying_context(target.ca_file, version)
    request = floor.build_request(target.port, target.path, keep_alive=False)

    # The session is read once. Reading SSLSocket.session copies it, which
    # on every request would cost much of what resumption saves. A TLS 1.3
    # ticket arrives after the handshake, so it is read after the response.
    sock = floor.connect(context, target.port)
    try:
        sock.sendall(request)
        floor.read_response(sock)
        session = sock.session
    finally:
        sock.close()

    buffer = bytearray(floor.RECEIVE_BYTES)

    def operation() -> Result:
        status, length, reused = floor.get_fresh(context, target.port, request, session, buffer)
        if not reused:
            raise CheckError("the floor's TLS session was not resumed")
        return status, length

    return OperationRunner(operation, target.length)


def floor_keep_alive(target: Target) -> Runner:
    context = verifying_context(target.ca_file)
    request = floor.build_request(target.port, target.path)
    sock = floor.connect(context, target.port)
    buffer = bytearray(floor.RECEIVE_BYTES)

    def operation() -> Result:
        sock.sendall(request)
        return floor.read_response(sock, buffer)

    return OperationRunner(operation, target.length, sock.close)


def floor_threads(target: Target) -> Runner:
    context = verifying_context(target.ca_file)
    request = floor.build_request(target.port, target.path)
    sockets = [floor.connect(context, target.port) for _ in range(THREADS)]

    def make_operation(sock: ssl.SSLSocket) -> Operation:
        buffer = bytearray(floor.RECEIVE_BYTES)

        def operation() -> Result:
            sock.sendall(request)
            return floor.read_response(sock, buffer)

        return operation

    def close() -> None:
        for sock in sockets:
            sock.close()

    return ThreadedRunner([make_operation(sock) for sock in sockets], target.length, close)


# tlskit.


def tlskit_fresh(target: Target) -> Runner:
    import tlskit

    url, ca_file = target.url, target.ca_file

    # tlskit.get offers sessions from the process-wide cache, so without
    # session_cache=False every GET after the first would resume.
    def operation() -> Result:
        response = tlskit.get(url, cafile=ca_file, system_ca=False, session_cache=False)
        return response.status, len(response.body)

    return OperationRunner(operation, target.length)


def tlskit_keep_alive(target: Target, threads: int = 1) -> Runner:
    import tlskit

    client = tlskit.Client(cafile=target.ca_file, system_ca=False)
    url = target.url

    def operation() -> Result:
        response = client.get(url)
        return response.status, len(response.body)

    return shared_runner(operation, threads, target.length, client.close)


def tlskit_resumed(target: Target, version: str) -> Runner:
    """Reconnect for every GET ("Connection: close") and expect the Client to resume.

    tlskit resumes inside `Client` when it supports resumption at all, so
    support is detected by behaviour: the second of two reconnects must
    report ``response.tls.session_reused``.
    """
    import tlskit

    client = tlskit.Client(
        cafile=target.ca_file, system_ca=False, minimum_version=version, maximum_version=version
    )
    url = target.url
    reused = [client.get(url, headers=CLOSE_HEADERS).tls.session_reused for _ in range(2)]
    if not reused[-1]:
        client.close()
        raise Unsupported("not supported yet")

    def operation() -> Result:
        response = client.get(url, headers=CLOSE_HEADERS)
        if not response.tls.session_reused:
            raise CheckError("tlskit did not resume the TLS session")
        return response.status, len(response.body)

    return OperationRunner(operation, target.length, client.close)


# requests.


def requests_fresh(target: Target, ca_file: Optional[str] = None) -> Runner:
    import requests

    url, verify = target.url, ca_file or target.ca_file

    def operation() -> Result:
        response = requests.get(url, verify=verify)
        return response.status_code, len(response.content)

    return OperationRunner(operation, target.length)


def requests_session(target: Target) -> Any:
    import requests

    session = requests.Session()
    session.verify = target.ca_file
    return session


def requests_keep_alive(target: Target, threads: int = 1) -> Runner:
    session = requests_session(target)
    url = target.url

    def operation() -> Result:
        response = session.get(url)
        return response.status_code, len(response.content)

    return shared_runner(operation, threads, target.length, session.close)


# urllib3.


def urllib3_pool(target: Target, prebuilt_context: bool, **options: Any) -> Any:
    require("urllib3")
    import urllib3

    if prebuilt_context:
        return urllib3.PoolManager(ssl_context=verifying_context(target.ca_file), **options)
    return urllib3.PoolManager(ca_certs=target.ca_file, **options)


def urllib3_fresh(target: Target, prebuilt_context: bool) -> Runner:
    pool = urllib3_pool(target, prebuilt_context)
    url = target.url

    def operation() -> Result:
        response = pool.request("GET", url, headers=CLOSE_HEADERS)
        return response.status, len(response.data)

    return OperationRunner(operation, target.length, pool.clear)


def urllib3_keep_alive(target: Target, threads: int = 1) -> Runner:
    # PoolManager keeps one connection per host by default, so threads
    # sharing it would open and drop connections all the time.
    pool = urllib3_pool(target, prebuilt_context=False, maxsize=threads)
    url = target.url

    def operation() -> Result:
        response = pool.request("GET", url)
        return response.status, len(response.data)

    return shared_runner(operation, threads, target.length, pool.clear)


# httpx.


# httpx closes a connection left idle for 5 s by default. On a loaded machine
# a round can leave a contestant idle that long, and the reconnect would fail
# the keep-alive check, so the expiry is raised past any round's length.
HTTPX_KEEPALIVE_EXPIRY_SECONDS = 300.0


def httpx_client(target: Target) -> Any:
    require("httpx")
    import httpx

    limits = httpx.Limits(keepalive_expiry=HTTPX_KEEPALIVE_EXPIRY_SECONDS)
    return httpx.Client(verify=verifying_context(target.ca_file), limits=limits)


def httpx_fresh(target: Target) -> Runner:
    client = httpx_client(target)
    url = target.url

    def operation() -> Result:
        response = client.get(url, headers=CLOSE_HEADERS)
        return response.status_code, len(response.content)

    return OperationRunner(operation, target.length, client.close)


def httpx_keep_alive(target: Target, threads: int = 1) -> Runner:
    client = httpx_client(target)
    url = target.url

    def operation() -> Result:
        response = client.get(url)
        return response.status_code, len(response.content)

    return shared_runner(operation, threads, target.length, client.close)


# http.client.


def http_client_fresh(target: Target) -> Runner:
    from http.client import HTTPSConnection

    context = verifying_context(target.ca_file)
    port, path = target.port, target.path

    def operation() -> Result:
        connection = HTTPSConnection(floor.HOST, port, context=context)
        try:
            connection.request("GET", path, headers=CLOSE_HEADERS)
            response = connection.getresponse()
            return response.status, len(response.read())
        finally:
            connection.close()

    return OperationRunner(operation, target.length)


def http_client_operation(target: Target, context: ssl.SSLContext) -> Tuple[Operation, Callable[[], None]]:
    from http.client import HTTPSConnection

    connection = HTTPSConnection(floor.HOST, target.port, context=context)
    path = target.path

    def operation() -> Result:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, len(response.read())

    return operation, connection.close


def http_client_keep_alive(target: Target) -> Runner:
    operation, close = http_client_operation(target, verifying_context(target.ca_file))
    return OperationRunner(operation, target.length, close)


def http_client_threads(target: Target) -> Runner:
    """Eight threads, each with an HTTPSConnection of its own: the reference for shared clients."""
    context = verifying_context(target.ca_file)
    pairs = [http_client_operation(target, context) for _ in range(THREADS)]

    def close() -> None:
        for _, close_connection in pairs:
            close_connection()

    return ThreadedRunner([operation for operation, _ in pairs], target.length, close)


# Contestant lists per scenario.


def fresh_contestants(target: Target, bundle_file: Optional[str]) -> List[Contestant]:
    contestants = [
        Contestant("floor", "floor (raw ssl)", "floor", lambda: floor_fresh(target), FRESH),
        Contestant("tlskit", "tlskit.get()", "tlskit", lambda: tlskit_fresh(target), FRESH),
        Contestant("requests", "requests.get()", "requests", lambda: requests_fresh(target), FRESH),
    ]
    if bundle_file is not None:
        contestants.append(
            Contestant(
                "requests-bundle",
                "requests.get(), certifi + CA file",
                "requests",
                lambda: requests_fresh(target, bundle_file),
                FRESH,
            )
        )
    contestants += [
        Contestant("urllib3", "urllib3, ca_certs", "urllib3", lambda: urllib3_fresh(target, False), FRESH),
        Contestant(
            "urllib3-context",
            "urllib3, prebuilt context",
            "urllib3",
            lambda: urllib3_fresh(target, True),
            FRESH,
        ),
        Contestant("httpx", "httpx Client, Connection: close", "httpx", lambda: httpx_fresh(target), FRESH),
        Contestant("http.client", "http.client", "http.client", lambda: http_client_fresh(target), FRESH),
    ]
    return contestants


def keep_alive_contestants(target: Target) -> List[Contestant]:
    return [
        Contestant("floor", "floor (raw ssl)", "floor", lambda: floor_keep_alive(target), KEEP_ALIVE),
        Contestant("tlskit", "tlskit Client", "tlskit", lambda: tlskit_keep_alive(target), KEEP_ALIVE),
        Contestant(
            "requests", "requests Session", "requests", lambda: requests_keep_alive(target), KEEP_ALIVE
        ),
        Contestant(
            "urllib3", "urllib3 PoolManager", "urllib3", lambda: urllib3_keep_alive(target), KEEP_ALIVE
        ),
        Contestant("httpx", "httpx Client", "httpx", lambda: httpx_keep_alive(target), KEEP_ALIVE),
        Contestant(
            "http.client", "http.client", "http.client", lambda: http_client_keep_alive(target), KEEP_ALIVE
        ),
    ]


def resumption_contestants(target: Target, version: ssl.TLSVersion) -> List[Contestant]:
    name = "1.2" if version == ssl.TLSVersion.TLSv1_2 else "1.3"
    resumed = Expectation(connections=(1, 0), requests=(1, 0), resumed=(1, 0))
    full = Expectation(connections=(1, 0), requests=(1, 0), resumed=(0, 0))
    return [
        Contestant("floor", "floor, full handshake", "floor", lambda: floor_fresh(target, version), full),
        Contestant(
            "floor-resumed", "floor, resumed", "floor", lambda: floor_resumed(target, version), resumed
        ),
        Contestant("tlskit", "tlskit Client", "tlskit", lambda: tlskit_resumed(target, name), resumed),
    ]


def thread_contestants(target: Target) -> List[Contestant]:
    # A shared pool may open up to one connection per thread in any batch
    # when the warm-up left it fewer, so up to THREADS new ones are allowed.
    shared = Expectation(connections=(0, 0), requests=(1, 0), slack=THREADS)
    return [
        Contestant("floor", "floor, a socket per thread", "floor", lambda: floor_threads(target), KEEP_ALIVE),
        Contestant(
            "tlskit", "tlskit Client, shared", "tlskit", lambda: tlskit_keep_alive(target, THREADS), shared
        ),
        Contestant(
            "requests",
            "requests Session, shared",
            "requests",
            lambda: requests_keep_alive(target, THREADS),
            shared,
        ),
        Contestant(
            "urllib3",
            "urllib3 PoolManager, shared",
            "urllib3",
            lambda: urllib3_keep_alive(target, THREADS),
            shared,
        ),
        Contestant(
            "httpx", "httpx Client, shared", "httpx", lambda: httpx_keep_alive(target, THREADS), shared
        ),
        Contestant(
            "http.client",
            "http.client, a connection per thread",
            "http.client",
            lambda: http_client_threads(target),
            KEEP_ALIVE,
        ),
    ]
