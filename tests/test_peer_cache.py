"""The peer cache: records of verified peers, change and expiry events, the sqlite3 file."""

from __future__ import annotations

import datetime
import logging
import os
import sqlite3
import ssl
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Callable, List

import pytest
import trustme
from peer_helpers import (
    CLOSE,
    HAS_VERIFIED_CHAIN,
    OpensslIssuer,
    der_of_file,
    expiring_cert,
    leaf_der,
    ok_responder,
    verified_chain_of,
)
from unprivileged import needs_root, run_as_nobody, shared_directory

import tlskit
from conftest import make_server_context
from servers import HTTPResponder, TLSServer
from tlskit import PeerCache, PeerCacheError, PinMismatchError, PolicyError
from tlskit._certs import sha256_fingerprint, spki_pin

StartServer = Callable[..., TLSServer]
LOGGER = "tlskit._peer_cache"
SUBPROCESS_TIMEOUT_SECONDS = 60
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


def fetch(url: str, ca_file: str, cache: PeerCache, **options: object) -> tlskit.Response:
    with tlskit.Client(cafile=ca_file, peer_cache=cache, session_cache=False, **options) as client:
        return client.get(url, headers=CLOSE)


def records_at(caplog: pytest.LogCaptureFixture, level: int) -> List[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER and record.levelno == level]


# Recording.


def test_records_verified_peer(
    https_server: TLSServer, server_cert: trustme.LeafCert, ca: trustme.CA, ca_file: str
) -> None:
    cache = PeerCache()
    fetch(https_server.url("/"), ca_file, cache)
    record = cache.get("127.0.0.1", https_server.port)
    assert record is not None
    chain = verified_chain_of(server_cert, ca)
    assert record.host == "127.0.0.1"
    assert record.port == https_server.port
    assert record.tls_version == "TLSv1.3"
    assert record.fingerprint == sha256_fingerprint(chain[0])
    assert record.pins == tuple(spki_pin(der) for der in chain)
    assert len(record.chain) == (2 if HAS_VERIFIED_CHAIN else 1)
    if HAS_VERIFIED_CHAIN:
        assert record.leaf.issuer == record.chain[1].subject
    assert record.first_seen == record.last_seen
    assert record.tofu_pin is None
    assert record.leaf.not_after > datetime.datetime.now(datetime.timezone.utc)


def test_revisit_keeps_first_seen(https_server: TLSServer, ca_file: str) -> None:
    cache = PeerCache()
    fetch(https_server.url("/"), ca_file, cache)
    first = cache.get("127.0.0.1", https_server.port)
    fetch(https_server.url("/"), ca_file, cache)
    second = cache.get("127.0.0.1", https_server.port)
    assert first is not None and second is not None
    assert second.first_seen == first.first_seen
    assert second.last_seen >= first.last_seen
    assert second.chain == first.chain


def test_keep_alive_request_not_recorded_again(https_server: TLSServer, ca_file: str) -> None:
    cache = PeerCache()
    with tlskit.Client(cafile=ca_file, peer_cache=cache) as client:
        client.get(https_server.url("/"))
        first = cache.get("127.0.0.1", https_server.port)
        client.get(https_server.url("/"))
        second = cache.get("127.0.0.1", https_server.port)
    assert https_server.connections == 1
    assert first == second


def test_unverified_peer_not_recorded(https_server: TLSServer) -> None:
    cache = PeerCache()
    with tlskit.Client(verify=False, peer_cache=cache) as client:
        client.get(https_server.url("/"))
    assert cache.records() == []


def test_records_lists_and_forgets(ca: trustme.CA) -> None:
    cache = PeerCache()
    der = leaf_der(ca.issue_cert("a.test"))
    for host, port in (("b.test", 443), ("a.test", 8443), ("a.test", 443)):
        cache.record(host, port, [der], "TLSv1.3")
    assert [(record.host, record.port) for record in cache.records()] == [
        ("a.test", 443),
        ("a.test", 8443),
        ("b.test", 443),
    ]
    assert [record.port for record in cache.records("a.test")] == [443, 8443]
    assert cache.forget("a.test", 8443) == 1
    assert cache.forget("a.test") == 1
    assert cache.forget("a.test") == 0
    assert [record.host for record in cache.records()] == ["b.test"]


@pytest.mark.parametrize("other_form", ["a.test", "A.TEST", "A.test."])
def test_one_peer_whatever_case_and_dot(ca: trustme.CA, other_form: str) -> None:
    first, second = leaf_der(ca.issue_cert("a.test")), leaf_der(ca.issue_cert("a.test"))
    cache = PeerCache()
    cache.record("a.test.", 443, [first], "TLSv1.3", trust_on_first_use=True)
    with pytest.raises(PinMismatchError):
        cache.record(other_form, 443, [second], "TLSv1.3", trust_on_first_use=True)
    record = cache.get("a.test", 443)
    assert record is not None
    assert record.host == "a.test"
    assert cache.get(other_form, 443) == record
    assert cache.records(other_form) == [record]
    assert cache.forget(other_form) == 1
    assert cache.records() == []


def test_memory_cache_is_bounded(ca: trustme.CA) -> None:
    cache = PeerCache(max_entries=2)
    der = leaf_der(ca.issue_cert("a.test"))
    for port in (1, 2, 3):
        cache.record("a.test", port, [der], "TLSv1.3")
    assert [record.port for record in cache.records()] == [2, 3]


@pytest.mark.parametrize(
    "options, field",
    [({"max_entries": 0}, "max_entries"), ({"expiry_warning_days": -1}, "expiry_warning_days")],
)
def test_invalid_options(options: dict, field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        PeerCache(**options)
    assert caught.value.field == field


# Events.


def revisit_after_change(
    server: TLSServer, new_context: ssl.SSLContext, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Record ``server``, switch it to ``new_context``, and record it again with INFO logs captured."""
    cache = PeerCache()
    fetch(server.url("/"), ca_file, cache)
    server.context = new_context
    with caplog.at_level(logging.INFO, logger=LOGGER):
        fetch(server.url("/"), ca_file, cache)


def test_rotated_key_logs_warning(
    start_server: StartServer, ca: trustme.CA, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    server = start_server(ok_responder(), make_server_context(old))
    revisit_after_change(server, make_server_context(new), ca_file, caplog)
    warnings = records_at(caplog, logging.WARNING)
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "another key" in message
    assert sha256_fingerprint(leaf_der(old)) in message
    assert sha256_fingerprint(leaf_der(new)) in message
    assert spki_pin(leaf_der(old)) in message
    assert spki_pin(leaf_der(new)) in message
    assert records_at(caplog, logging.INFO) == []


def test_renewed_certificate_logs_info(
    start_server: StartServer, ca: trustme.CA, ca_file: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = OpensslIssuer(ca, tmp_path)
    key = issuer.new_key("server")
    old, new = issuer.issue(key), issuer.issue(key)
    server = start_server(ok_responder(), issuer.server_context(old, key))
    revisit_after_change(server, issuer.server_context(new, key), ca_file, caplog)
    infos = records_at(caplog, logging.INFO)
    assert len(infos) == 1
    message = infos[0].getMessage()
    assert "same key" in message
    assert sha256_fingerprint(der_of_file(old)) in message
    assert sha256_fingerprint(der_of_file(new)) in message
    assert records_at(caplog, logging.WARNING) == []


def test_unchanged_certificate_logs_nothing(
    https_server: TLSServer, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PeerCache()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        fetch(https_server.url("/"), ca_file, cache)
        fetch(https_server.url("/"), ca_file, cache)
    assert records_at(caplog, logging.INFO) == []
    assert records_at(caplog, logging.WARNING) == []


def test_expiry_warning_once_per_peer(
    start_server: StartServer, ca: trustme.CA, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(ok_responder(), make_server_context(expiring_cert(ca, 5)))
    cache = PeerCache()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            fetch(server.url("/"), ca_file, cache)
    warnings = records_at(caplog, logging.WARNING)
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"127.0.0.1:{server.port}" in message
    assert "expires in 5 days" in message


@pytest.mark.parametrize("days, threshold, warned", [(20, 14, False), (5, 3, False), (10, 30, True)])
def test_expiry_warning_threshold(
    start_server: StartServer,
    ca: trustme.CA,
    ca_file: str,
    caplog: pytest.LogCaptureFixture,
    days: int,
    threshold: int,
    warned: bool,
) -> None:
    server = start_server(ok_responder(), make_server_context(expiring_cert(ca, days)))
    cache = PeerCache(expiry_warning_days=threshold)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        fetch(server.url("/"), ca_file, cache)
    assert bool(records_at(caplog, logging.WARNING)) is warned


# The sqlite3 file.


def test_file_persists_records(https_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    with PeerCache(path) as cache:
        fetch(https_server.url("/"), ca_file, cache)
        written = cache.get("127.0.0.1", https_server.port)
    with PeerCache(str(path)) as reopened:
        assert reopened.get("127.0.0.1", https_server.port) == written
        assert reopened.records() == [written]


def test_file_cache_is_bounded(ca: trustme.CA, tmp_path: Path) -> None:
    der = leaf_der(ca.issue_cert("a.test"))
    with PeerCache(tmp_path / "peers.sqlite3", max_entries=2) as cache:
        for port in (1, 2, 3):
            cache.record("a.test", port, [der], "TLSv1.3")
        assert [record.port for record in cache.records()] == [2, 3]


def cache_error(path: Path) -> PeerCacheError:
    """Return the error that opening ``path`` as a peer cache, or listing its records, raises."""
    with pytest.raises(PeerCacheError) as caught:
        with PeerCache(path) as cache:
            cache.records()
    return caught.value


def test_garbage_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    path.write_bytes(b"this is not a database, just text " * 100)
    error = cache_error(path)
    assert error.path == str(path)
    assert str(error) == (
        f"invalid peer cache file {str(path)!r}: could not open it: file is not a database. It is not an "
        "SQLite database, so it is not a tlskit peer cache. Check the path, or use a new file to start an "
        "empty cache."
    )
    assert isinstance(error, PolicyError)
    assert path.read_bytes() == b"this is not a database, just text " * 100


def damaged_cache(ca: trustme.CA, path: Path, offset: int) -> None:
    """Write a tlskit cache with one record, then overwrite 100 bytes at ``offset``."""
    with PeerCache(path) as cache:
        cache.record("a.test", 443, [leaf_der(ca.issue_cert("a.test"))], "TLSv1.3")
    data = bytearray(path.read_bytes())
    data[offset : offset + 100] = b"\xff" * 100
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [0, 4096], ids=["header", "second page"])
def test_damaged_tlskit_cache_may_be_deleted(ca: trustme.CA, tmp_path: Path, offset: int) -> None:
    path = tmp_path / "peers.sqlite3"
    damaged_cache(ca, path, offset)
    message = str(cache_error(path))
    assert message.startswith(f"invalid peer cache file {str(path)!r}: ")
    assert message.endswith(" It is a damaged tlskit peer cache. Delete it to start an empty cache.")


def test_damaged_other_database_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(str(path)) as db:
        db.execute("CREATE TABLE accounts (name TEXT)")
        db.executemany("INSERT INTO accounts VALUES (?)", [("x" * 500,)] * 50)
    data = bytearray(path.read_bytes())
    data[4096:4196] = b"\xff" * 100
    data[100:110] = b"\xff" * 10
    path.write_bytes(bytes(data))
    message = str(cache_error(path))
    assert "Delete" not in message
    assert "delete" not in message
    assert "Check the path, or use a new file to start an empty cache." in message


@pytest.mark.parametrize("place", ["directory", "missing parent"])
def test_unopenable_file_raises(tmp_path: Path, place: str) -> None:
    path = tmp_path if place == "directory" else tmp_path / "missing" / "peers.sqlite3"
    error = cache_error(path)
    assert error.path == str(path)
    assert "could not open it" in str(error)


# tlskit imports sqlite3 and json only when a file cache needs them.
CACHE_IMPORTS = "import json, sqlite3, sys\nfrom tlskit import PeerCache, PeerCacheError\n"


@needs_root
def test_unreadable_file_as_nobody() -> None:
    with shared_directory() as directory:
        path = directory / "peers.sqlite3"
        PeerCache(path).close()
        path.chmod(0)
        check = """
            try:
                PeerCache(sys.argv[1])
            except PeerCacheError as exc:
                print(exc)
            """
        completed = run_as_nobody(CACHE_IMPORTS, check, str(path))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == (
        f"invalid peer cache file {str(path)!r}: could not open it: unable to open database file. "
        "Check that its directory exists and that this user may read and write both."
    )


@needs_root
def test_read_only_file_as_nobody(ca: trustme.CA) -> None:
    with shared_directory() as directory:
        path = directory / "peers.sqlite3"
        der_file = directory / "leaf.der"
        der_file.write_bytes(leaf_der(ca.issue_cert("a.test")))
        der_file.chmod(0o644)
        with PeerCache(path) as cache:
            cache.record("a.test", 443, [der_file.read_bytes()], "TLSv1.3")
        path.chmod(0o644)
        check = """
            with PeerCache(sys.argv[1]) as cache:
                print(len(cache.records()))
                try:
                    cache.record("b.test", 443, [open(sys.argv[2], "rb").read()], "TLSv1.3")
                except PeerCacheError as exc:
                    print(exc)
            """
        completed = run_as_nobody(CACHE_IMPORTS, check, str(path), str(der_file))
    assert completed.returncode == 0, completed.stderr
    count, message = completed.stdout.splitlines()
    assert count == "1"
    assert message == (
        f"invalid peer cache file {str(path)!r}: could not write it: attempt to write a readonly database. "
        "Make the file and its directory writable for this user."
    )


def test_foreign_database_raises(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(str(path)) as db:
        db.execute("CREATE TABLE accounts (name TEXT)")
    error = cache_error(path)
    assert "another program" in str(error)
    assert "accounts" in str(error)


def test_newer_schema_raises(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    PeerCache(path).close()
    with sqlite3.connect(str(path)) as db:
        db.execute("PRAGMA user_version = 99")
    error = cache_error(path)
    assert "schema version 99" in str(error)


def test_damaged_record_raises(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    PeerCache(path).close()
    with sqlite3.connect(str(path)) as db:
        db.execute("INSERT INTO peers VALUES ('a.test', 443, '[{\"subject\": 1}]', NULL, 0, 0, NULL)")
    with PeerCache(path) as cache:
        with pytest.raises(PeerCacheError) as caught:
            cache.get("a.test", 443)
    assert "'a.test' port 443 is damaged" in str(caught.value)


def test_file_damaged_while_open_fails_requests(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str, tmp_path: Path
) -> None:
    path = tmp_path / "peers.sqlite3"
    cache = PeerCache(path)
    fetch(https_server.url("/"), ca_file, cache, trust_on_first_use=True)
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(PeerCacheError):
        fetch(https_server.url("/"), ca_file, cache, trust_on_first_use=True)
    assert len(responder.requests) == 1


RECORD_SCRIPT = textwrap.dedent(
    """
    import sys
    from tlskit import PeerCache
    path, der_file, host = sys.argv[1:4]
    der = open(der_file, "rb").read()
    with PeerCache(path) as cache:
        for port in range(1, 41):
            cache.record(host, port, [der], "TLSv1.3")
    """
)


def subprocess_env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


def test_processes_share_file(ca: trustme.CA, tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    der_file = tmp_path / "leaf.der"
    der_file.write_bytes(leaf_der(ca.issue_cert("a.test")))
    PeerCache(path).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_SCRIPT, str(path), str(der_file), host],
            env=subprocess_env(),
            stderr=subprocess.PIPE,
        )
        for host in ("one.test", "two.test")
    ]
    with PeerCache(path) as cache:
        for port in range(1, 41):
            cache.record("parent.test", port, [der_file.read_bytes()], "TLSv1.2")
    for writer in writers:
        _, errors = writer.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS)
        assert writer.returncode == 0, errors.decode()
    with PeerCache(path) as cache:
        hosts = [record.host for record in cache.records()]
    assert hosts.count("one.test") == 40
    assert hosts.count("two.test") == 40
    assert hosts.count("parent.test") == 40


TOFU_SCRIPT = textwrap.dedent(
    """
    import sys
    from tlskit import PeerCache, PinMismatchError
    path, der_file = sys.argv[1:3]
    with PeerCache(path) as cache:
        try:
            cache.record("a.test", 443, [open(der_file, "rb").read()], "TLSv1.3", trust_on_first_use=True)
        except PinMismatchError as exc:
            print(exc.expected_pins[0])
            sys.exit(3)
    """
)


def test_processes_share_first_use_pin(ca: trustme.CA, tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    first, second = leaf_der(ca.issue_cert("a.test")), leaf_der(ca.issue_cert("a.test"))
    with PeerCache(path) as cache:
        cache.record("a.test", 443, [first], "TLSv1.3", trust_on_first_use=True)
    der_file = tmp_path / "second.der"
    der_file.write_bytes(second)
    completed = subprocess.run(
        [sys.executable, "-c", TOFU_SCRIPT, str(path), str(der_file)],
        env=subprocess_env(),
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    assert completed.returncode == 3, completed.stderr.decode()
    assert completed.stdout.decode().strip() == spki_pin(first)


# A child process that makes real TLS connections through a PeerCache file.
# It exits with 3 and prints the pinned key when trust on first use rejects the server.
CONNECT_SCRIPT = textwrap.dedent(
    """
    import sys
    import tlskit
    path, ca_file, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with tlskit.PeerCache(path) as cache:
        options = dict(cafile=ca_file, peer_cache=cache, session_cache=False, trust_on_first_use=True)
        with tlskit.Client(**options) as client:
            for _ in range(count):
                for url in sys.argv[4:]:
                    try:
                        client.get(url, headers={"Connection": "close"})
                    except tlskit.PinMismatchError as exc:
                        print(exc.expected_pins[0])
                        sys.exit(3)
    """
)
CONNECTIONS_PER_CLIENT = 10


def start_connecting_child(path: Path, ca_file: str, urls: List[str], count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CONNECT_SCRIPT, str(path), ca_file, str(count), *urls],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_processes_share_file_over_tls(
    start_server: StartServer, server_cert: trustme.LeafCert, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    path = tmp_path / "peers.sqlite3"
    servers = [start_server(ok_responder()), start_server(ok_responder())]
    urls = [server.url("/") for server in servers]
    children = [start_connecting_child(path, ca_file, urls, CONNECTIONS_PER_CLIENT) for _ in range(2)]
    with PeerCache(path) as cache:
        for url in urls * CONNECTIONS_PER_CLIENT:
            fetch(url, ca_file, cache, trust_on_first_use=True)
    for child in children:
        _, errors = child.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS)
        assert child.returncode == 0, errors.decode()

    assert sum(server.connections for server in servers) == 3 * len(urls) * CONNECTIONS_PER_CLIENT
    with PeerCache(path) as cache:
        records = cache.records()
    assert [(record.host, record.port) for record in records] == sorted(
        ("127.0.0.1", s.port) for s in servers
    )
    leaf = verified_chain_of(server_cert, ca)[0]
    for record in records:
        assert record.tofu_pin == spki_pin(leaf)
        assert record.fingerprint == sha256_fingerprint(leaf)
        assert record.tls_version == "TLSv1.3"
        # The file store refreshes last_seen at most once a minute.
        assert record.first_seen <= record.last_seen


def test_processes_share_first_use_pin_over_tls(
    start_server: StartServer, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    path = tmp_path / "peers.sqlite3"
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    responder = ok_responder()
    server = start_server(responder, make_server_context(old))
    with PeerCache(path) as cache:
        fetch(server.url("/"), ca_file, cache, trust_on_first_use=True)

    server.context = make_server_context(new)
    child = start_connecting_child(path, ca_file, [server.url("/")], 1)
    output, errors = child.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    assert child.returncode == 3, errors.decode()
    assert output.decode().strip() == spki_pin(leaf_der(old))
    assert len(responder.requests) == 1
    with PeerCache(path) as cache:
        record = cache.get("127.0.0.1", server.port)
    assert record is not None
    assert record.tofu_pin == spki_pin(leaf_der(old))


def test_threads_share_file(https_server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite3"
    shared = PeerCache(path)
    caches = [shared, shared, PeerCache(path), PeerCache(path)]
    errors: List[BaseException] = []

    def connect(cache: PeerCache) -> None:
        try:
            for _ in range(CONNECTIONS_PER_CLIENT):
                fetch(https_server.url("/"), ca_file, cache, trust_on_first_use=True)
        except BaseException as exc:  # Reported by the assertion below.
            errors.append(exc)

    threads = [threading.Thread(target=connect, args=(cache,)) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SUBPROCESS_TIMEOUT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    for cache in caches:
        cache.close()

    assert errors == []
    assert https_server.connections == len(caches) * CONNECTIONS_PER_CLIENT
    with PeerCache(path) as cache:
        records = cache.records()
    assert len(records) == 1
    assert records[0].tofu_pin == records[0].leaf.spki_pin


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings(FORK_WARNING)
def test_fork_child_reopens_file(start_server: StartServer, ca_file: str, tmp_path: Path) -> None:
    parent_server, child_server = start_server(ok_responder()), start_server(ok_responder())
    cache = PeerCache(tmp_path / "peers.sqlite3")
    fetch(parent_server.url("/"), ca_file, cache)
    parent_connection = cache._store._db
    pid = os.fork()
    if pid == 0:  # The child exits without pytest's teardown; its status is the result.
        status = 1
        try:
            if cache._store._db is None:
                fetch(child_server.url("/"), ca_file, cache)
                status = 0 if cache._store._db is not parent_connection else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0
    ports = sorted((parent_server.port, child_server.port))
    assert [record.port for record in cache.records()] == ports
    cache.close()
