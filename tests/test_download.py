"""Client.download and the output file: modes, owners, links, devices and path checks."""

from __future__ import annotations

import errno
import os
import ssl
import stat
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import tlskit
from servers import HTTPResponder, TLSServer, read_request, response_bytes
from tlskit._download import check_output

StartServer = Callable[..., TLSServer]

BODY = b"secret-token-" * 1000
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and owners are POSIX")


@pytest.fixture
def responder() -> HTTPResponder:
    return HTTPResponder({"/body": (200, [], BODY)})


@pytest.fixture
def server(start_server: StartServer, responder: HTTPResponder) -> TLSServer:
    return start_server(responder)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test and restore it afterwards."""
    original = os.umask(0o022)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(original)


def download(server: TLSServer, ca_file: str, path: Path) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        client.download(server.url("/body"), str(path))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Modes and owners.


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o664], ids=oct)
def test_existing_file_keeps_mode(
    server: TLSServer, ca_file: str, tmp_path: Path, umask: Callable[[int], None], mode: int
) -> None:
    umask(0o022)
    target = tmp_path / "token.txt"
    target.write_bytes(b"old")
    target.chmod(mode)
    download(server, ca_file, target)
    assert target.read_bytes() == BODY
    assert mode_of(target) == mode
    assert os.listdir(tmp_path) == ["token.txt"]


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o027, 0o000], ids=oct)
def test_new_file_gets_open_mode(
    server: TLSServer, ca_file: str, tmp_path: Path, umask: Callable[[int], None], mask: int
) -> None:
    umask(mask)
    target = tmp_path / "new.bin"
    download(server, ca_file, target)
    assert mode_of(target) == 0o666 & ~mask
    assert os.listdir(tmp_path) == ["new.bin"]


@posix_only
def test_set_id_bits_dropped(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "tool"
    target.write_bytes(b"old")
    target.chmod(0o6755)
    download(server, ca_file, target)
    assert mode_of(target) == 0o755


@posix_only
@pytest.mark.skipif(not IS_ROOT, reason="only root can give a file to another user")
def test_owner_and_group_kept(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    target = tmp_path / "owned.txt"
    target.write_bytes(b"old")
    os.chown(target, 4321, 4322)
    download(server, ca_file, target)
    status = target.stat()
    assert (status.st_uid, status.st_gid) == (4321, 4322)


@posix_only
def test_partial_file_is_private_from_creation(
    start_server: StartServer, ca_file: str, tmp_path: Path, umask: Callable[[int], None]
) -> None:
    umask(0o000)
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o644)
    seen: Dict[str, int] = {}

    def pause_mid_body(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\n\r\n".encode()
        sock.sendall(head + BODY[:100])
        # The client creates the partial file once the head has arrived.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not seen:
            for name in os.listdir(tmp_path):
                if name.endswith(".part"):
                    seen[name] = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
            time.sleep(0.01)
        sock.sendall(BODY[100:])

    server = start_server(pause_mid_body)
    download(server, ca_file, target)
    assert list(seen.values()) == [0o600]
    assert mode_of(target) == 0o644
    assert target.read_bytes() == BODY


# Symbolic links and special files.


@posix_only
def test_symlink_is_written_through(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_bytes(b"old")
    real.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    download(server, ca_file, link)
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes() == BODY
    assert mode_of(real) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "real.txt"]


@posix_only
def test_symlink_to_other_directory(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "links").mkdir()
    real = tmp_path / "data" / "real.txt"
    real.write_bytes(b"old")
    link = tmp_path / "links" / "link.txt"
    link.symlink_to(Path("..") / "data" / "real.txt")
    download(server, ca_file, link)
    assert link.is_symlink()
    assert real.read_bytes() == BODY
    assert os.listdir(tmp_path / "links") == ["link.txt"]
    assert os.listdir(tmp_path / "data") == ["real.txt"]


@posix_only
def test_dangling_symlink_creates_its_target(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "later.txt")
    download(server, ca_file, link)
    assert link.is_symlink()
    assert (tmp_path / "later.txt").read_bytes() == BODY


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
def test_fifo_is_written_in_place(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: List[bytes] = []

    def read_fifo() -> None:
        with open(fifo, "rb") as reader:
            received.append(reader.read())

    reader = threading.Thread(target=read_fifo, daemon=True)
    reader.start()
    download(server, ca_file, fifo)
    reader.join(10)
    assert received == [BODY]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


@posix_only
def test_fifo_without_reader_fails_at_once(server: TLSServer, ca_file: str, tmp_path: Path) -> None:
    # Opening it for writing would wait for a reader beyond every timeout.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as caught:
        download(server, ca_file, fifo)
    assert caught.value.errno == errno.ENXIO
    assert caught.value.filename == str(fifo)
    assert caught.value.strerror == "it is a FIFO that no process reads"


# Paths rejected before the request is sent.


def test_directory_rejected_before_request(
    server: TLSServer, responder: HTTPResponder, ca_file: str, tmp_path: Path
) -> None:
    with pytest.raises(IsADirectoryError) as caught:
        download(server, ca_file, tmp_path)
    assert caught.value.filename == str(tmp_path)
    assert caught.value.strerror == "it is a directory"
    assert responder.requests == []
    assert os.listdir(tmp_path) == []


def test_missing_directory_rejected_before_request(
    server: TLSServer, responder: HTTPResponder, ca_file: str, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "out.bin"
    with pytest.raises(FileNotFoundError) as caught:
        download(server, ca_file, target)
    assert caught.value.filename == str(target)
    assert caught.value.strerror == f"the directory {str(target.parent)!r} does not exist"
    assert responder.requests == []


def test_file_as_directory_rejected(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    target = tmp_path / "file" / "out.bin"
    with pytest.raises(NotADirectoryError) as caught:
        check_output(str(target))
    assert caught.value.filename == str(target)
    assert caught.value.strerror == f"{str(tmp_path / 'file')!r} is not a directory"


def test_empty_path_rejected() -> None:
    with pytest.raises(FileNotFoundError) as caught:
        check_output("")
    assert caught.value.strerror == "the path is empty"


@posix_only
@pytest.mark.skipif(IS_ROOT, reason="root may write to any file")
def test_read_only_file_rejected(
    server: TLSServer, responder: HTTPResponder, ca_file: str, tmp_path: Path
) -> None:
    target = tmp_path / "locked.txt"
    target.write_bytes(b"old")
    target.chmod(0o444)
    with pytest.raises(PermissionError) as caught:
        download(server, ca_file, target)
    assert caught.value.filename == str(target)
    assert responder.requests == []
    assert target.read_bytes() == b"old"


def test_write_error_names_given_path(start_server: StartServer, ca_file: str, tmp_path: Path) -> None:
    directory = tmp_path / "gone"
    directory.mkdir()
    target = directory / "out.bin"

    def remove_directory_then_answer(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        directory.rmdir()
        sock.sendall(response_bytes(200, [], BODY))

    server = start_server(remove_directory_then_answer)
    with pytest.raises(FileNotFoundError) as caught:
        download(server, ca_file, target)
    assert caught.value.filename == str(target)
    assert ".part" not in str(caught.value)


def test_accepted_paths(tmp_path: Path) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_bytes(b"old")
    new = check_output(str(tmp_path / "new.txt"))
    assert new.replaced is None
    assert not new.in_place
    assert new.file == os.path.realpath(tmp_path / "new.txt")
    replaced = check_output(str(existing))
    assert replaced.replaced is not None
    assert not replaced.in_place


@pytest.mark.parametrize("kind", [bytes, Path])
def test_bytes_and_pathlike_paths_saved(
    server: TLSServer, ca_file: str, tmp_path: Path, kind: Callable[[str], object]
) -> None:
    target = tmp_path / "body.bin"
    with tlskit.Client(cafile=ca_file) as client:
        client.download(server.url("/body"), kind(os.fsencode(target)) if kind is bytes else target)  # type: ignore[arg-type]
    assert target.read_bytes() == BODY


@pytest.mark.parametrize(
    "path, error, text",
    [
        (None, TypeError, "invalid download path None: expected a str, bytes or os.PathLike path."),
        (3, TypeError, "invalid download path 3: expected a str"),
        ("out\0.bin", ValueError, "invalid download path 'out\\x00.bin': it contains a NUL character"),
        (b"out\0.bin", ValueError, "invalid download path 'out\\x00.bin': it contains a NUL character"),
    ],
)
def test_non_paths_rejected_before_request(
    server: TLSServer, responder: HTTPResponder, ca_file: str, path: object, error: type, text: str
) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        with pytest.raises(error) as caught:
            client.download(server.url("/body"), path)  # type: ignore[arg-type]
    assert str(caught.value).startswith(text)
    assert responder.requests == []


# Progress.


def test_progress_reported_while_chunk_fills(start_server: StartServer, ca_file: str, tmp_path: Path) -> None:
    total = 50_000
    reported_mid_body = threading.Event()
    calls: List[Tuple[int, Optional[int]]] = []

    def progress(received: int, expected: Optional[int]) -> None:
        calls.append((received, expected))
        if 0 < received < total:
            reported_mid_body.set()

    def trickle(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())
        sock.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        # Bytes keep arriving, far fewer than one chunk, until the client reports them.
        sent = 0
        while sent < total - 1000 and not reported_mid_body.wait(0.05):
            sock.sendall(b"x" * 1000)
            sent += 1000
        sock.sendall(b"x" * (total - sent))

    server = start_server(trickle)
    target = tmp_path / "slow.bin"
    with tlskit.Client(cafile=ca_file) as client:
        client.download(server.url("/"), str(target), progress=progress, chunk_size=1024 * 1024)
    assert reported_mid_body.is_set()
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert any(0 < received < total for received, _ in calls)
    assert target.stat().st_size == total
