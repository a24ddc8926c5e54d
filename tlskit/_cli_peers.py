"""Command line verbs for peers: ``tlskit inspect URL`` and ``tlskit cache list|show|forget``.

`add_parsers` registers both verbs on the main parser's subcommands, and
each verb's ``run`` default returns the exit status. The cache verbs read
and change a `PeerCache` file; reading verbs never create one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from typing import Any, Dict, List, Optional, Sequence

from ._certs import describe_expiry
from ._cli_options import add_debug_option
from ._cli_streams import print_stderr, print_stdout
from ._cli_values import seconds
from ._errors import PolicyError
from ._inspect import format_inspection, inspect_url
from ._peer_cache import PeerCache
from ._peer_record import PeerRecord
from ._pinning import split_host_port
from ._policy import TLSPolicy

EXIT_OK = 0
EXIT_VERIFICATION = 7
EXIT_NOT_FOUND = 9

DEFAULT_CACHE_FILE = os.path.join("~", ".cache", "tlskit", "peers.sqlite3")


def add_parsers(commands: Any) -> None:
    """Add the ``inspect`` and ``cache`` subcommands to ``commands``."""
    inspect = commands.add_parser(
        "inspect",
        help="show a server's TLS version, cipher, ALPN and certificate chain",
        description="Show a server's TLS version, cipher, ALPN and certificate chain, and whether it "
        "verified. When verification fails, show the chain the server sent, labelled unverified. "
        "Exits 0 when the server verified and 7 when it did not.",
    )
    inspect.add_argument("url", help="https://host[:port] to inspect")
    inspect.add_argument(
        "--cacert", metavar="FILE", help="PEM file of CA certificates to trust, besides the system store"
    )
    inspect.add_argument(
        "--min-tls", choices=("1.2", "1.3"), default="1.2", help="lowest TLS version to offer (default 1.2)"
    )
    inspect.add_argument(
        "--timeout",
        type=seconds,
        default=30.0,
        metavar="SECONDS",
        help="limit on each connect and handshake (default 30)",
    )
    inspect.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_debug_option(inspect)
    inspect.set_defaults(run=run_inspect)

    cache = commands.add_parser(
        "cache",
        help="list, show or forget the peers recorded in a peer cache file",
        description="Read or change a tlskit peer cache file, as written by tlskit.PeerCache(path).",
    )
    cache.add_argument(
        "--file",
        default=DEFAULT_CACHE_FILE,
        metavar="PATH",
        help=f"peer cache file (default {DEFAULT_CACHE_FILE})",
    )
    add_debug_option(cache)
    verbs = cache.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    # --file is also accepted after the verb, where it overrides one given before.
    file_option = argparse.ArgumentParser(add_help=False)
    file_option.add_argument("--file", default=argparse.SUPPRESS, metavar="PATH", help="peer cache file")
    listing = verbs.add_parser("list", parents=[file_option], help="one line per recorded peer")
    listing.add_argument("--json", action="store_true", help="print a JSON array instead of text")
    listing.set_defaults(run=run_cache_list)
    show = verbs.add_parser("show", parents=[file_option], help="everything recorded about HOST")
    show.add_argument(
        "host", metavar="HOST", help="host, host:port or [IPv6]:port; a bare host shows every port"
    )
    show.add_argument("--json", action="store_true", help="print a JSON array instead of text")
    show.set_defaults(run=run_cache_show)
    forget = verbs.add_parser(
        "forget", parents=[file_option], help="delete the records of HOST, so trust on first use pins it anew"
    )
    forget.add_argument(
        "host", metavar="HOST", help="host, host:port or [IPv6]:port; a bare host forgets every port"
    )
    forget.set_defaults(run=run_cache_forget)


def run_inspect(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    fields: Dict[str, Any] = {"minimum_version": args.min_tls}
    if args.cacert:
        fields["cafile"] = args.cacert
    inspection = inspect_url(args.url, TLSPolicy(**fields), args.timeout)
    if args.json:
        print_stdout(json.dumps(inspection.to_json(), indent=2))
    else:
        print_stdout("\n".join(format_inspection(inspection)))
    return EXIT_OK if inspection.verified else EXIT_VERIFICATION


def run_cache_list(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    path = os.path.expanduser(args.file)
    records = _read_records(path, None)
    if args.json:
        print_stdout(json.dumps([record.to_json() for record in records], indent=2))
    elif not records:
        print_stdout(f"no peers recorded in {path}")
    for record in [] if args.json else records:
        print_stdout(_summary_line(record))
    return EXIT_OK


def run_cache_show(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    path = os.path.expanduser(args.file)
    host, port = _host_argument(parser, args.host)
    records = [record for record in _read_records(path, host) if port in (None, record.port)]
    if not records:
        print_stderr(f"tlskit: no record for {args.host} in {path}")
        return EXIT_NOT_FOUND
    if args.json:
        print_stdout(json.dumps([record.to_json() for record in records], indent=2))
        return EXIT_OK
    blocks = ["\n".join(_record_lines(record)) for record in records]
    print_stdout("\n\n".join(blocks))
    return EXIT_OK


def run_cache_forget(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    path = os.path.expanduser(args.file)
    host, port = _host_argument(parser, args.host)
    forgotten = 0
    if os.path.exists(path):
        with PeerCache(path) as cache:
            forgotten = cache.forget(host, port)
    if not forgotten:
        print_stderr(f"tlskit: no record for {args.host} in {path}")
        return EXIT_NOT_FOUND
    print_stdout(f"forgot {forgotten} record{'s' if forgotten > 1 else ''} for {args.host}")
    return EXIT_OK


def _host_argument(parser: argparse.ArgumentParser, text: str) -> Any:
    try:
        return split_host_port(text)
    except PolicyError as exc:
        parser.error(str(exc))


def _read_records(path: str, host: Optional[str]) -> List[PeerRecord]:
    # Reading must not create the file, which PeerCache does for a missing path.
    if not os.path.exists(path):
        return []
    with PeerCache(path) as cache:
        return cache.records(host)


def _summary_line(record: PeerRecord) -> str:
    left = describe_expiry(record.leaf.not_after)
    return (
        f"{record.address}  {record.tls_version or '-'}  {record.leaf.subject}  "
        f"expires {record.leaf.not_after:%Y-%m-%d} ({left})  last seen {_format_time(record.last_seen)}"
    )


def _record_lines(record: PeerRecord) -> Sequence[str]:
    lines = [
        f"peer:        {record.address}",
        f"TLS version: {record.tls_version or '-'}",
        f"first seen:  {_format_time(record.first_seen)}",
        f"last seen:   {_format_time(record.last_seen)}",
        f"TOFU pin:    {record.tofu_pin or 'none (trust on first use never applied)'}",
        "chain (verified, leaf first):",
    ]
    for index, certificate in enumerate(record.chain):
        lines.extend(
            [
                f"  [{index}] subject:  {certificate.subject}",
                f"      issuer:   {certificate.issuer}",
                f"      valid:    {_format_time(certificate.not_before)} to {_format_time(certificate.not_after)} "
                f"({describe_expiry(certificate.not_after)})",
                f"      SPKI pin: {certificate.spki_pin}",
                f"      SHA-256:  {certificate.sha256_fingerprint}",
            ]
        )
    return lines


def _format_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
