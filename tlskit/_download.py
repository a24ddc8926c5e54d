"""Saving a response body to a file: nothing appears at the path until the body is complete.

`check_output` examines the path before any request is sent, so that a path
that cannot work fails before the server is contacted, and decides how the
body reaches it:

- A new file, or an existing regular file: the body goes to a new file
  beside it, named ``.<name>.<random>.part`` so that the final rename stays on
  one file system, and `os.replace` puts that file in place only once the
  body is complete. Any error deletes the partial file and leaves the target
  as it was.
- A symbolic link: the file it points to is the target, and the link stays.
  curl and wget also write through a link, because they open the path.
- A device, FIFO or socket, such as ``/dev/null``: written in place, because
  renaming a file over it would replace the device.
- A directory: rejected.

The partial file is created with mode 0o600, so no other user can open it
while the body arrives. Before the rename it gets the permission bits of the
file it replaces, and that file's owner and group where the process may set
them. A new file gets the mode that ``open`` would give it. Set-user-ID and
set-group-ID bits are not carried over, so that a body from the network
never becomes a privileged program.

NOTE: like curl and wget, tlskit does not fsync the file before the rename,
which costs about 15% of a 100 MiB download here. After a power loss, some
file systems can show the target empty or short. Hard links to a replaced
file keep the old content, and its ACLs and extended attributes are not
copied.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from typing import TYPE_CHECKING, Callable, NamedTuple, Optional, Tuple, Union

from ._progress import REDRAW_INTERVAL_SECONDS
from ._url import shorten

if TYPE_CHECKING:
    from ._streaming import StreamingResponse

ProgressCallback = Callable[[int, Optional[int]], None]
WriteCallback = Callable[[memoryview], None]

_CREATE_ATTEMPTS = 8
# Content-Length values longer than this are not sizes any file system stores,
# and int() rejects strings of more than 4300 digits from Python 3.11 on.
_MAX_LENGTH_DIGITS = 19
# Windows opens files in text mode unless told otherwise; other systems have no such flag.
_BINARY_FLAG = getattr(os, "O_BINARY", 0)


# Path types that `Client.download` accepts: those of open(), except file descriptors.
PathArgument = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class OutputTarget(NamedTuple):
    """An output path checked by `check_output`, and how the body will reach it."""

    path: str  # as the caller gave it; errors name it
    file: str  # the file written: ``path`` with symbolic links resolved
    replaced: Optional[os.stat_result]  # the regular file to replace, or None for a new file
    in_place: bool  # a device, FIFO or socket, written directly instead of replaced


def check_output(value: PathArgument) -> OutputTarget:
    """Check that a body can be saved to the path ``value``, and return how it will be.

    Raises:
        TypeError: ``value`` is not a str, bytes or os.PathLike path.
        ValueError: the path contains a NUL character.
        OSError naming the path: it is a directory or an unwritable file,
            or its directory is missing or not writable.
    """
    path = _path_text(value)
    if not path:
        raise FileNotFoundError(errno.ENOENT, "the path is empty", path)
    try:
        status: Optional[os.stat_result] = os.stat(path)  # follows symbolic links
    except (FileNotFoundError, NotADirectoryError):
        status = None
    except OSError as exc:
        raise _naming(exc, path) from exc

    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory", path)
    if status is not None and not stat.S_ISREG(status.st_mode):
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "it is not writable", path)
        return OutputTarget(path, path, None, True)

    # A dangling link resolves to the file it names, which is then created.
    file = os.path.realpath(path)
    _check_directory(os.path.dirname(file), path)
    if status is not None and not os.access(file, os.W_OK):
        # Replacing the file would get around its permissions, which curl and wget respect.
        raise PermissionError(errno.EACCES, "the file is not writable", path)
    return OutputTarget(path, file, status, False)


def _path_text(value: object) -> str:
    """Return the download path ``value`` as text; bytes are decoded as open() decodes them."""
    try:
        path = os.fsdecode(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"invalid download path {shorten(repr(value))}: expected a str, bytes or os.PathLike path."
        ) from None
    if "\0" in path:
        raise ValueError(
            f"invalid download path {shorten(path)!r}: it contains a NUL character, which no file name can hold."
        )
    return path


def _check_directory(directory: str, path: str) -> None:
    try:
        status = os.stat(directory)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"the directory {directory!r} does not exist", path) from None
    except OSError as exc:
        raise _naming(exc, path) from exc
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, f"{directory!r} is not a directory", path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"the directory {directory!r} is not writable", path)


def _naming(exc: OSError, path: str) -> OSError:
    """Return ``exc`` as an OSError of the same class that names ``path``, the caller's path."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, path)


class OutputFile:
    """A file that receives a body: `write` it, then `commit` it into place or `discard` it.

    Every OSError names the caller's path, never the partial file.
    """

    def __init__(self, target: OutputTarget) -> None:
        self.target = target
        self.partial: Optional[str] = None
        try:
            if target.in_place:
                self.descriptor = _open_in_place(target.file)
            else:
                directory, name = os.path.split(target.file)
                self.partial, self.descriptor = _create_unique(directory, name, "part", 0o600)
        except OSError as exc:
            raise _naming(exc, target.path) from exc

    def write(self, data: memoryview) -> None:
        """Write all of ``data``; like os.write, one call may write less than it was given."""
        try:
            while data:
                data = data[os.write(self.descriptor, data) :]
        except OSError as exc:
            raise _naming(exc, self.target.path) from exc

    def commit(self) -> None:
        """Give the partial file its final mode and owner, close it, and rename it over the target."""
        try:
            if self.partial is not None:
                _settle_mode(self.descriptor, self.target)
            os.close(self.descriptor)
            self.descriptor = -1
            if self.partial is not None:
                os.replace(self.partial, self.target.file)
                self.partial = None
        except OSError as exc:
            raise _naming(exc, self.target.path) from exc

    def discard(self) -> None:
        """Close the file and delete the partial file; never raises OSError."""
        if self.descriptor >= 0:
            try:
                os.close(self.descriptor)
            except OSError:
                pass
            self.descriptor = -1
        if self.partial is not None:
            try:
                os.unlink(self.partial)
            except OSError:
                pass
            self.partial = None


def _open_in_place(file: str) -> int:
    """Open a device, FIFO or socket for writing, without waiting for a FIFO's reader.

    Opening a FIFO that no process reads would block beyond every timeout,
    so it is opened non-blocking, which fails at once with ENXIO instead.
    """
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_TRUNC | _BINARY_FLAG | nonblocking)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(errno.ENXIO, "it is a FIFO that no process reads", file) from None
        raise
    if nonblocking:
        os.set_blocking(descriptor, True)
    return descriptor


def _create_unique(directory: str, name: str, suffix: str, mode: int) -> Tuple[str, int]:
    """Create a new file ``.<name>.<random>.<suffix>`` in ``directory``; return its path and descriptor.

    O_EXCL makes the call fail on any existing name, a symbolic link
    included, so the file created is always a new one and never a link's target.
    """
    for _ in range(_CREATE_ATTEMPTS):
        path = os.path.join(directory, f".{name}.{os.urandom(4).hex()}.{suffix}")
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY_FLAG, mode)
        except FileExistsError:
            continue
    raise FileExistsError(
        errno.EEXIST, f"could not create a temporary file in {directory!r}: every name tried exists"
    )


def _settle_mode(descriptor: int, target: OutputTarget) -> None:
    """Give the partial file the mode, owner and group it should have once renamed."""
    if os.name != "posix":
        # NOTE: only the read-only flag exists on Windows, and a new file gets the default.
        return
    replaced = target.replaced
    if replaced is None:
        os.fchmod(descriptor, _new_file_mode(os.path.dirname(target.file), os.path.basename(target.file)))
        return
    current = os.fstat(descriptor)
    if (current.st_uid, current.st_gid) != (replaced.st_uid, replaced.st_gid):
        _copy_owner(descriptor, replaced)
    os.fchmod(descriptor, stat.S_IMODE(replaced.st_mode) & 0o777)


def _copy_owner(descriptor: int, replaced: os.stat_result) -> None:
    # Only root may give a file away. Others may still set a group they are
    # in, and otherwise the new file keeps the process's owner and group.
    for uid in (replaced.st_uid, -1):
        try:
            os.fchown(descriptor, uid, replaced.st_gid)
            return
        except PermissionError:
            continue


def _new_file_mode(directory: str, name: str) -> int:
    """Return the mode that ``open`` gives a new file in ``directory``.

    The kernel applies the umask, or the directory's default ACL, to an
    empty probe file that is deleted at once. Reading the umask with
    os.umask instead would change it for every thread for a moment.
    """
    probe, descriptor = _create_unique(directory, name, "mode", 0o666)
    try:
        return stat.S_IMODE(os.fstat(descriptor).st_mode)
    finally:
        os.close(descriptor)
        os.unlink(probe)


def expected_size(response: StreamingResponse) -> Optional[int]:
    """Return the body's size from Content-Length, or None when it does not give the size received.

    Content-Length counts encoded bytes, so a response with a
    Content-Encoding has no known size.
    """
    length = response.headers.get("content-length")
    if "content-encoding" in response.headers or length is None:
        return None
    if not (length.isascii() and length.isdigit() and len(length) <= _MAX_LENGTH_DIGITS):
        return None
    return int(length)


def copy_body(
    response: StreamingResponse,
    write: Optional[WriteCallback],
    progress: Optional[ProgressCallback],
    chunk_size: int,
    *,
    whole_chunks: bool,
    report_interval: float = REDRAW_INTERVAL_SECONDS,
) -> int:
    """Pass the rest of the body to ``write`` (None discards it) and return its size.

    With ``whole_chunks``, every write but the last has ``chunk_size`` bytes,
    which suits a file. Without it, each write has the bytes that arrived,
    up to ``chunk_size``, so that a pipe or a terminal sees them at once.

    ``progress(received, total)`` is called at the start, when bytes arrive
    but at most every ``report_interval`` seconds (also while a chunk is
    still filling), and at the end. A callback that throttles itself passes
    0 to hear of every read.

    Raises:
        The body errors of `StreamingResponse.readinto`, and what ``write`` raises.
    """
    check_chunk_size(chunk_size)
    total = expected_size(response)
    report = _Reporter(progress, total, report_interval)
    # The body is received into one buffer of chunk_size, straight from the
    # socket where it can be.
    view = memoryview(bytearray(chunk_size))
    received = 0
    while True:
        filled = 0
        while filled < chunk_size:
            count = response.readinto(view[filled:])
            if not count:
                break
            filled += count
            report.arrived(received + filled)
            if not whole_chunks:
                break
        if not filled:
            break
        if write is not None:
            write(view[:filled])
        received += filled
    report.finished(received)
    return received


def check_chunk_size(chunk_size: int) -> None:
    """Raise ValueError unless ``chunk_size`` is a positive int."""
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"invalid chunk_size {chunk_size!r}: expected a positive int.")


class _Reporter:
    """Calls a progress callback at most every ``interval`` seconds, plus at the start and end."""

    def __init__(self, progress: Optional[ProgressCallback], total: Optional[int], interval: float) -> None:
        self.progress = progress
        self.total = total
        self.interval = interval
        self.reported = 0
        self.reported_at = time.monotonic()
        if progress is not None:
            progress(0, total)

    def arrived(self, received: int) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self.reported_at >= self.interval:
            self.reported, self.reported_at = received, now
            self.progress(received, self.total)

    def finished(self, received: int) -> None:
        if self.progress is not None and received != self.reported:
            self.progress(received, self.total)


def save_body(
    response: StreamingResponse,
    target: Union[str, OutputTarget],
    progress: Optional[ProgressCallback],
    chunk_size: int,
    *,
    report_interval: float = REDRAW_INTERVAL_SECONDS,
) -> int:
    """Write the rest of the body of ``response`` to ``target`` and return the bytes written.

    Args:
        target: a path, or what `check_output` returned for it.

    Raises:
        The body errors of `StreamingResponse.readinto`, and OSError naming the target's path.
    """
    check_chunk_size(chunk_size)
    if not isinstance(target, OutputTarget):
        target = check_output(target)
    output = OutputFile(target)
    try:
        written = copy_body(
            response, output.write, progress, chunk_size, whole_chunks=True, report_interval=report_interval
        )
        output.commit()
    except BaseException:
        output.discard()
        raise
    return written


def save_bytes(target: OutputTarget, data: bytes) -> None:
    """Write ``data`` to ``target`` as `save_body` writes a body.

    Raises:
        OSError naming the target's path.
    """
    output = OutputFile(target)
    try:
        output.write(memoryview(data))
        output.commit()
    except BaseException:
        output.discard()
        raise
