"""Reading the small local files a policy names: CA bundles, CRLs, certificates and keys.

tlskit reads each such file itself before OpenSSL does, to say precisely
what is wrong with it. Most are regular files, which OpenSSL can read again
by path. A pipe is different: ``--cacert <(cat ca.pem)`` in a shell names
``/dev/fd/63``, which can be read once only, so OpenSSL would find it empty.
`read_local_file` therefore reports whether the file can be read again, and
the callers hand the bytes already read to OpenSSL otherwise. The contents
of a pipe are kept, so that a context built again for the same policy
source (a `Client` call that overrides a policy field) gets them too.

Reading a pipe or FIFO is bounded in time. A FIFO is opened without waiting for a
writer (one without a writer reads as empty), a pipe or device must reach
its end within `PIPE_WAIT_SECONDS`, and no file may exceed `MAX_FILE_BYTES`,
so that ``/dev/zero`` fails instead of filling memory.
"""

from __future__ import annotations

import errno
import os
import select
import stat
import threading
import time
from collections import OrderedDict
from typing import List, NamedTuple, Optional, Tuple

# Far larger than any CA bundle in use: Debian's bundle of the Mozilla roots is about 220 KiB.
MAX_FILE_BYTES = 64 * 1024 * 1024

# How long a pipe or device may take to deliver all of its data.
PIPE_WAIT_SECONDS = 10.0

_READ_BYTES = 64 * 1024

# Pipes whose contents are kept, by device and inode, for the reads after
# the first: a policy names a handful of files at most.
MAX_REMEMBERED_PIPES = 16
_pipe_contents: OrderedDict[Tuple[int, int], bytes] = OrderedDict()
_pipe_lock = threading.Lock()


class LocalFile(NamedTuple):
    """The content of a local file, and whether OpenSSL can read it again by path."""

    data: bytes
    is_regular: bool
    is_fifo: bool = False


def read_local_file(path: str) -> LocalFile:
    """Return the content of ``path``, without blocking on a FIFO that has no writer.

    Raises:
        OSError: the file cannot be opened or read, a pipe did not end within
            `PIPE_WAIT_SECONDS` (``ETIMEDOUT``), or the file is larger than
            `MAX_FILE_BYTES` (``EFBIG``).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if stat.S_ISREG(status.st_mode) or not hasattr(os, "O_NONBLOCK"):
            os.set_blocking(descriptor, True)
            return LocalFile(_read_all(descriptor, None), True)
        if not stat.S_ISFIFO(status.st_mode):
            return LocalFile(_read_all(descriptor, time.monotonic() + PIPE_WAIT_SECONDS), False)
        # A pipe drains as it is read, and a Client builds a context again for
        # a call that overrides a policy field: later reads of the same pipe
        # get the bytes of the first one.
        identity = (status.st_dev, status.st_ino)
        with _pipe_lock:
            data = _pipe_contents.get(identity)
            if data is None:
                data = _read_all(descriptor, time.monotonic() + PIPE_WAIT_SECONDS)
                if data:
                    _pipe_contents[identity] = data
                    while len(_pipe_contents) > MAX_REMEMBERED_PIPES:
                        _pipe_contents.popitem(last=False)
        return LocalFile(data, False, True)
    finally:
        os.close(descriptor)


def _read_all(descriptor: int, deadline: Optional[float]) -> bytes:
    """Read ``descriptor`` to its end; a non-blocking one waits for data until ``deadline``."""
    chunks: List[bytes] = []
    size = 0
    while True:
        # Read before waiting: a FIFO that never had a writer reads as ended
        # at once, but select() does not report it readable on Linux.
        try:
            chunk = os.read(descriptor, _READ_BYTES)
        except BlockingIOError:
            assert deadline is not None
            _wait_readable(descriptor, deadline)
            continue
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise OSError(
                errno.EFBIG,
                f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, more than any such file",
            )
        chunks.append(chunk)


def _wait_readable(descriptor: int, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    readable = remaining > 0 and select.select([descriptor], [], [], remaining)[0]
    if not readable:
        raise OSError(
            errno.ETIMEDOUT,
            f"it is a pipe or device that did not reach its end within {PIPE_WAIT_SECONDS:g} s",
        )
