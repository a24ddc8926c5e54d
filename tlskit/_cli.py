"""Command line: ``tlskit get URL`` in the manner of curl, ``tlskit inspect URL``, ``tlskit cache``.

`main(argv)` returns the exit status instead of exiting, so tests can call
it directly. Errors print one paragraph on stderr, with a traceback only
under ``--debug``. Exit statuses, one per failure class:

====  ==================================================
0     success
1     unexpected error (a bug: please report it)
2     usage error (bad option or argument)
3     invalid URL, header or TLS policy
4     connection failed
5     timed out
6     TLS handshake failed
7     certificate verification failed
8     server broke the HTTP protocol or a limit, or a redirect was rejected
9     ``tlskit cache show|forget``: no record for the host
====  ==================================================
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional, Sequence, Tuple

from . import _cli_peers, _errors
from ._client import Client
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
    parser = argparse.ArgumentParser(prog="tlskit", description="HTTPS client with hardened TLS defaults.")
    parser.add_argument("--version", action="version", version=f"tlskit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    get = commands.add_parser("get", help="fetch a URL and print or save the body")
    get.add_argument("url", help="https:// URL to fetch")
    get.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE instead of stdout")
    get.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header; may be repeated",
    )
    get.add_argument(
        "--cacert", metavar="FILE", help="PEM file of CA certificates to trust, besides the system store"
    )
    get.add_argument(
        "--min-tls", choices=("1.2", "1.3"), default="1.2", help="lowest TLS version to offer (default 1.2)"
    )
    get.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="limit on the whole request (default 30)",
    )
    get.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs")
    get.set_defaults(run=_run_get)

    _cli_peers.add_parsers(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    try:
        return int(args.run(parser, args))
    except _errors.TLSKitError as exc:
        if args.debug:
            raise
        print(f"tlskit: {exc}", file=sys.stderr)
        return _exit_status(exc)
    except OSError as exc:
        if args.debug:
            raise
        print(f"tlskit: {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED


def _run_get(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    headers = [_parse_header(parser, text) for text in args.header]
    return _get(args, headers)


def _get(args: argparse.Namespace, headers: List[Tuple[str, str]]) -> int:
    fields = {"minimum_version": args.min_tls}
    if args.cacert:
        fields["cafile"] = args.cacert
    with Client(timeout=args.timeout, **fields) as client:
        response = client.get(args.url, headers=headers)
    if args.output:
        _write_atomically(args.output, response.body)
    else:
        sys.stdout.buffer.write(response.body)
        sys.stdout.buffer.flush()
    return EXIT_OK


def _write_atomically(path: str, data: bytes) -> None:
    partial = f"{path}.part"
    with open(partial, "wb") as output:
        output.write(data)
    os.replace(partial, path)


def _parse_header(parser: argparse.ArgumentParser, text: str) -> Tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        parser.error(f"invalid header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


def _exit_status(exc: BaseException) -> int:
    for error_class, status in _EXIT_STATUSES:
        if isinstance(exc, error_class):
            return status
    return EXIT_UNEXPECTED
