"""ConnectionPool: idle count and age bounds, closed idle connections, one pool per key."""

from __future__ import annotations

import socket
import time
from typing import Callable, Iterator, List, Tuple

import pytest

from tlskit._connection import Connection
from tlskit._policy import TLSPolicy
from tlskit._pool import RECENT_IDLE_SECONDS, ConnectionPool
from tlskit._timeouts import Deadline, Timeout
from tlskit._url import parse_url

URL = parse_url("http://127.0.0.1:8080/", allow_http=True)


Pair = Tuple[Connection, socket.socket]


@pytest.fixture
def new_pair() -> Iterator[Callable[[], Pair]]:
    """Make real connected socket pairs: the client end as a Connection, and the server end."""
    made: List[Pair] = []

    def make() -> Pair:
        client, server = socket.socketpair()
        client.settimeout(5)
        server.settimeout(5)
        pair = (Connection(client, URL, TLSPolicy()), server)
        made.append(pair)
        return pair

    yield make
    for connection, server in made:
        connection.close()
        server.close()


def test_release_then_acquire_by_key(new_pair: Callable[[], Pair]) -> None:
    pool = ConnectionPool()
    connection, _ = new_pair()
    pool.release("a", connection)
    assert pool.acquire("b") is None
    assert pool.acquire("a") is connection
    assert pool.acquire("a") is None


def test_idle_count_is_bounded(new_pair: Callable[[], Pair]) -> None:
    pool = ConnectionPool(max_idle_per_key=2)
    connections = [new_pair()[0] for _ in range(3)]
    for connection in connections:
        pool.release("key", connection)
    assert connections[2].sock.fileno() == -1
    assert {pool.acquire("key"), pool.acquire("key")} == set(connections[:2])
    assert pool.acquire("key") is None


def test_old_idle_connection_is_dropped(new_pair: Callable[[], Pair]) -> None:
    pool = ConnectionPool(idle_timeout=30)
    old, _ = new_pair()
    fresh, _ = new_pair()
    pool.release("key", fresh)
    pool.release("key", old)
    old.last_used = time.monotonic() - 31
    assert pool.acquire("key") is fresh
    assert old.sock.fileno() == -1


def test_idle_connection_closed_by_server_is_dropped(new_pair: Callable[[], Pair]) -> None:
    pool = ConnectionPool()
    closed, server = new_pair()
    alive, _ = new_pair()
    pool.release("key", alive)
    pool.release("key", closed)
    server.close()
    assert pool.acquire("key") is alive
    assert closed.sock.fileno() == -1


def test_idle_connection_with_unread_bytes_is_dropped(new_pair: Callable[[], Pair]) -> None:
    pool = ConnectionPool()
    chatty, server = new_pair()
    pool.release("key", chatty)
    server.sendall(b"HTTP/1.1 200 OK\r\n")
    assert pool.acquire("key") is None


def test_close_closes_idle_connections(new_pair: Callable[[], Pair]) -> None:
    pool = ConnectionPool()
    connection, _ = new_pair()
    pool.release("key", connection)
    pool.close()
    assert connection.sock.fileno() == -1
    assert pool.acquire("key") is None


@pytest.mark.parametrize(
    "is_idempotent, idle_seconds, handed_out",
    [(True, 0, True), (False, 0, False), (True, RECENT_IDLE_SECONDS + 1, False)],
    ids=["recent-idempotent", "recent-other-method", "older-idempotent"],
)
def test_closed_idle_connection_probe(
    new_pair: Callable[[], Pair], is_idempotent: bool, idle_seconds: float, handed_out: bool
) -> None:
    # A stale connection handed out unprobed is retried by the exchange for
    # idempotent requests, so one used recently costs no system call. Other
    # methods, and connections idle for longer, are probed and dropped.
    pool = ConnectionPool()
    closed, server = new_pair()
    pool.release("key", closed)
    closed.last_used -= idle_seconds
    server.close()
    acquired = pool.acquire("key", is_idempotent=is_idempotent)
    if handed_out:
        assert acquired is closed
    else:
        assert acquired is None
        assert closed.sock.fileno() == -1


def test_timeout_within_tolerance_kept(new_pair: Callable[[], Pair]) -> None:
    # The fixture's sockets start with a 5 s timeout, and each settimeout is a
    # system call, so a limit within 1 ms of the current one keeps it.
    connection, _ = new_pair()
    connection._set_timeout(Deadline(Timeout(read=5.0005)), "read")
    assert connection.sock.gettimeout() == 5.0
    connection._set_timeout(Deadline(Timeout(read=7.0)), "read")
    assert connection.sock.gettimeout() == 7.0
    connection._set_timeout(Deadline(Timeout()), "read")
    assert connection.sock.gettimeout() is None
