"""The command line's writes to stdout and stderr: closed pipes, full disks and terminal escapes.

Python ignores SIGPIPE, so writing to a pipe whose reader has exited raises
`BrokenPipeError` instead of ending the process. A failed write to stdout
raises `StdoutError`, which `main` turns into exit status 23 with a message
that names stdout. A failed write to stderr is dropped, because there is
nowhere left to report it, and the command keeps its own exit status.

After a failed write the stream's file descriptor is pointed at the null
device. Otherwise the interpreter's final flush at exit would hit the same
error, print "Exception ignored" and change the exit status to 120.

Text for stderr goes through `printable`, so a control character that a
server sent (in a reason phrase, a header field or a name) is shown as an
escape instead of being run by the terminal.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import IO, Any, Union

# C0 controls except tab and newline, DEL, and the C1 controls U+0080 to U+009F:
# terminals such as xterm run C1 CSI (U+009B) and OSC (U+009D) as ESC [ and ESC ].
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class StdoutError(Exception):
    """Writing to stdout failed, for example because the reader closed the pipe or the disk is full."""

    def __init__(self, error: OSError) -> None:
        super().__init__(describe_stdout_error(error))
        self.error = error


def describe_stdout_error(error: OSError) -> str:
    """Return the message for a failed write to stdout, without the errno number."""
    if error.errno == errno.EPIPE:
        return "could not write to stdout: the reader closed the pipe."
    reason = error.strerror or str(error)
    return f"could not write to stdout: {reason}."


def printable(text: str) -> str:
    """Return ``text`` with control characters other than tab and newline written as ``\\xNN``."""
    return _CONTROL_CHARS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def write_stdout(data: Union[bytes, memoryview]) -> None:
    """Write bytes to stdout and flush them.

    Raises:
        StdoutError: the write or the flush failed.
    """
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as exc:
        _discard_output(sys.stdout)
        raise StdoutError(exc) from exc


def print_stdout(text: str) -> None:
    """Print a line to stdout and flush it.

    Raises:
        StdoutError: the write or the flush failed.
    """
    try:
        print(text)
        sys.stdout.flush()
    except OSError as exc:
        _discard_output(sys.stdout)
        raise StdoutError(exc) from exc


def print_stderr(text: str) -> None:
    """Print a line to stderr with control characters escaped; drop it if stderr cannot be written."""
    write_or_discard(sys.stderr, printable(text) + "\n")


def write_or_discard(stream: IO[str], text: str) -> None:
    """Write ``text`` to ``stream`` and flush it; if that fails, drop it and every later write to ``stream``."""
    try:
        stream.write(text)
        stream.flush()
    except OSError:
        _discard_output(stream)


def _discard_output(stream: IO[Any]) -> None:
    """Point the file descriptor of ``stream`` at the null device, so later writes and the exit flush succeed."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        # A stream without a descriptor, such as a test's capture buffer.
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)
