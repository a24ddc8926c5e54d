"""Command line: ``tlskit get|doctor|policy|inspect|cache``, in the manner of curl.

`main(argv)` returns the exit status instead of exiting, so tests can call
it directly. Errors print one paragraph on stderr, with a traceback only
under ``--debug``. Each verb lives in its own module (`_cli_get`,
`_cli_doctor`, `_cli_options` for ``policy``, `_cli_peers`) and registers
a ``run`` default that returns the exit status.

Exit statuses, one per failure class, stable across releases:

====  ==================================================
0     success
1     unexpected error (a bug: please report it)
2     usage error (bad option or argument)
3     invalid URL, header or TLS policy, or an unreadable file
4     connection failed (including the proxy)
5     timed out
6     TLS handshake failed
7     certificate verification failed; for ``doctor``, a finding that
      would make verification fail
8     server broke the HTTP protocol or a limit, or a redirect was rejected
9     ``tlskit cache show|forget``: no record for the host
22    ``get --fail``: HTTP status 400 or more (curl's number)
23    could not write the output: stdout, or the ``-o`` file (curl's number)
130   interrupted (Ctrl-C, SIGINT)
129   hung up (SIGHUP, as when the terminal or SSH session closes)
143   terminated (SIGTERM, as sent by ``kill``, ``timeout`` and service managers)
====  ==================================================
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

from . import _cli_peers, _errors
from ._cli_doctor import add_doctor_parser
from ._cli_errors import describe_error, in_cli_terms
from ._cli_get import EXIT_HTTP_ERROR, add_get_parser
from ._cli_options import add_policy_parser
from ._cli_streams import StdoutError, print_stderr, write_or_discard
from ._version import __version__

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_POLICY = 3
EXIT_CONNECT = 4
EXIT_TIMEOUT = 5
EXIT_HANDSHAKE = 6
EXIT_VERIFICATION = 7
EXIT_PROTOCOL = 8
EXIT_NOT_FOUND = _cli_peers.EXIT_NOT_FOUND
EXIT_HTTP = EXIT_HTTP_ERROR
EXIT_WRITE = 23  # curl's CURLE_WRITE_ERROR
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_HUNG_UP = 129  # 128 + SIGHUP

# Checked in order: subclasses before their bases.
_EXIT_STATUSES: Sequence[Tuple[type, int]] = (
    (_errors.PolicyError, EXIT_POLICY),
    (_errors.ConnectError, EXIT_CONNECT),
    (_errors.TimeoutExceededError, EXIT_TIMEOUT),
    (_errors.VerificationError, EXIT_VERIFICATION),
    (_errors.HandshakeError, EXIT_HANDSHAKE),
    (_errors.ProtocolError, EXIT_PROTOCOL),
    (_errors.RedirectError, EXIT_PROTOCOL),
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = _Parser(prog="tlskit", description="HTTPS client with hardened TLS defaults.")
    parser.add_argument("--version", action="version", version=f"tlskit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    add_get_parser(commands)
    add_doctor_parser(commands)
    add_policy_parser(commands)
    _cli_peers.add_parsers(commands)
    return parser


class _Parser(argparse.ArgumentParser):
    """An argument parser whose help and usage errors survive a closed stdout or stderr.

    On Python 3.9 argparse lets the BrokenPipeError of ``tlskit get --help |
    head -c 1`` out as a traceback and exit status 1; Python 3.13 ignores it.
    Subcommand parsers are of the same class, as argparse makes them.
    """

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            write_or_discard(file or sys.stderr, message)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    _replace_closed_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
        return _run(parser, args)
    printer = _WarningPrinter(args)
    logger = logging.getLogger("tlskit")
    logger.addHandler(printer)
    try:
        return _run(parser, args)
    finally:
        logger.removeHandler(printer)


class _ClosedStdout(io.RawIOBase):
    """Stands in for a closed stdout: the first write fails, and later ones, the exit flush among them, discard."""

    failed = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if not self.failed:
            self.failed = True
            raise OSError(errno.EBADF, "stdout is closed")
        return len(data)


def _replace_closed_streams() -> None:
    """Give a process started with stdout or stderr closed (``>&-``, ``2>&-``) streams that it can use.

    Python sets such a stream to None. Output to a closed stdout then fails
    with exit status 23 as a full disk does, and messages to a closed stderr
    are dropped, so that the run keeps its own exit status.
    """
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedStdout()))
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


class TerminatedError(BaseException):
    """SIGTERM or SIGHUP arrived. A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` stops it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Optional[FrameType]) -> None:
    raise TerminatedError(signum)


# Signals that end a run like Ctrl-C: the temporary file of -o is removed first.
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Raise `TerminatedError` on SIGTERM while the block runs, so that cleanup runs as for Ctrl-C.

    Python sets no handler for SIGTERM, so by default the signal ends the
    process at once and leaves the temporary file of ``-o`` behind. Only the main thread may set a signal
    handler, so elsewhere (a test that calls `main`) the block runs unchanged,
    as it does when the parent process set SIGTERM to be ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: Dict[int, Any] = {}
    for signum in _ENDING_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _WarningPrinter(logging.Handler):
    """Prints tlskit's warnings and logged errors, such as a CA that expires soon, as one line on stderr.

    Without it, Python's last-resort handler would print the library's text,
    which names `TLSPolicy` fields where the command line has options.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(logging.WARNING)
        self.args = args

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self.args, "silent", False):
            return
        level = record.levelname.lower()
        print_stderr(f"tlskit: {level}: {in_cli_terms(record.getMessage(), self.args)}")


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        with _sigterm_raises():
            return int(args.run(parser, args))
    except _errors.TLSKitError as exc:
        if args.debug:
            raise
        _print_error(args, describe_error(exc, args))
        return _exit_status(exc)
    except StdoutError as exc:
        if args.debug:
            raise
        _print_error(args, str(exc))
        return EXIT_WRITE
    except OSError as exc:
        # tlskit maps network errors to its own classes, so what is left is a local file.
        if args.debug:
            raise
        _print_error(args, _describe_file_error(exc))
        return EXIT_WRITE
    except KeyboardInterrupt:
        if args.debug:
            raise
        _print_error(args, "interrupted.")
        return EXIT_INTERRUPTED
    except TerminatedError as exc:
        if args.debug:
            raise
        hung_up = exc.signum == getattr(signal, "SIGHUP", None)
        _print_error(args, "hung up." if hung_up else "terminated.")
        return EXIT_HUNG_UP if hung_up else EXIT_TERMINATED


def _print_error(args: argparse.Namespace, message: str) -> None:
    # As with curl, -s hides errors unless -S is also given.
    if getattr(args, "silent", False) and not getattr(args, "show_error", False):
        return
    print_stderr(f"tlskit: {message}")


def _describe_file_error(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "Free space on that file system, or write the output elsewhere."
    else:
        fix = "Check the path and its permissions."
    if exc.filename is None or not exc.strerror:
        return f"{exc}. {fix}"
    return f"could not write {exc.filename!r}: {exc.strerror}. {fix}"


def _exit_status(exc: BaseException) -> int:
    for error_class, status in _EXIT_STATUSES:
        if isinstance(exc, error_class):
            return status
    return EXIT_UNEXPECTED
