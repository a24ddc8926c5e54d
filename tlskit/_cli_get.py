"""``tlskit get URL``: fetch a URL in the manner of curl.

The body is streamed, never held whole in memory: to stdout, or with ``-o``
to a temporary file beside the target that replaces it once complete. A
progress bar goes to stderr when stderr is a terminal, unless ``-s``. With
``--json``, stdout carries one JSON object of metadata instead of the body.

Option names are curl's where curl has the same option. Five things differ
from curl. Redirects are followed unless ``--no-redirects`` (curl needs
``-L``). Plain http, as a URL or a redirect, needs ``--allow-http``.
``--pass`` takes ``env:NAME`` or ``prompt``, never a password. ``-u`` takes
``USER:PASSWORD`` and never prompts for a missing password. And
``--timeout`` bounds each connect, handshake and read, while ``--max-time``
bounds the whole call, as curl's ``-m`` does. Errors name these options,
through `_cli_errors`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Tuple

from ._causes import format_names
from ._certs import PeerCertificate, describe_expiry, extension_json, sha256_fingerprint
from ._cli_options import ConnectTo, add_tls_verb, connect_to_rule, policy_fields
from ._cli_streams import print_stderr, write_stdout
from ._cli_values import count, seconds, size
from ._client import Client
from ._connection import TLSInfo
from ._download import OutputTarget, check_output, copy_body, save_body, save_bytes
from ._errors import CertificateParseError, InvalidURLError
from ._progress import ProgressBar
from ._response import BaseResponse
from ._streaming import StreamingResponse
from ._timeouts import Timeout
from ._url import URL, parse_url, redact_userinfo, shorten

# curl's exit status for an HTTP status of 400 or more under --fail (CURLE_HTTP_RETURNED_ERROR).
EXIT_HTTP_ERROR = 22

DEFAULT_TIMEOUT_SECONDS = 30.0
CHUNK_BYTES = 64 * 1024
# The -o value that means stdout; a file named '-' is written as './-'.
STDOUT_PATH = "-"
# A chain longer than this is a loop; curl follows at most 50 by default.
MAX_REDIRECTS = 1000


def add_get_parser(commands: Any) -> None:
    """Add ``tlskit get`` and its options to ``commands``."""
    get = add_tls_verb(
        commands,
        "get",
        help="fetch a URL and print or save the body",
        description="Fetch a URL over HTTPS and write the body to stdout or a file. Option names follow curl.",
        run=run_get,
    )
    get.add_argument("url", help="https:// URL to fetch (http:// with --allow-http)")
    _add_output_options(get.add_argument_group("output"))
    _add_request_options(get.add_argument_group("request"))
    _add_limit_options(get.add_argument_group("limits"))


def _add_output_options(group: Any) -> None:
    group.add_argument(
        "-o",
        "--output",
        type=_output_path,
        metavar="FILE",
        help="write the body to FILE instead of stdout ('-' for stdout, './-' for a file named '-'); a "
        "symbolic link is followed and a device such as /dev/null is written in place",
    )
    group.add_argument("-i", "--include", action="store_true", help="print the response head before the body")
    group.add_argument("-I", "--head", action="store_true", help="send HEAD and print the response head only")
    group.add_argument(
        "-v", "--verbose", action="store_true", help="print connection, TLS and certificate facts on stderr"
    )
    group.add_argument(
        "-s", "--silent", action="store_true", help="no progress bar and no error messages (see -S)"
    )
    group.add_argument("-S", "--show-error", action="store_true", help="with -s, still print errors")
    group.add_argument(
        "--json",
        action="store_true",
        help="print the response metadata as JSON on stdout instead of the body",
    )
    group.add_argument(
        "-f",
        "--fail",
        action="store_true",
        help=f"exit {EXIT_HTTP_ERROR}, writing no body, on HTTP status 400 or more",
    )


def _add_request_options(group: Any) -> None:
    group.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header; may be repeated",
    )
    group.add_argument(
        "-u",
        "--user",
        type=_credentials,
        metavar="USER:PASSWORD",
        help="send Basic authentication; other users can read the password in the process list, and it is "
        "dropped on a redirect to another origin",
    )
    group.add_argument("-x", "--proxy", metavar="URL", help="http:// proxy to tunnel through (CONNECT)")
    group.add_argument(
        "--connect-to",
        action="append",
        type=connect_to_rule,
        default=[],
        metavar="HOST1:PORT1:HOST2:PORT2",
        help="connect to HOST2:PORT2 for requests to HOST1:PORT1, still sending and verifying HOST1 as "
        "the server name; redirects are then not followed",
    )
    group.add_argument("--no-redirects", action="store_true", help="do not follow redirects")
    group.add_argument(
        "--allow-http",
        action="store_true",
        help="fetch an http:// URL, and follow redirects to http://; both go unencrypted",
    )
    group.add_argument(
        "--max-redirs",
        type=count(MAX_REDIRECTS),
        default=10,
        metavar="N",
        help=f"maximum number of redirects to follow, up to {MAX_REDIRECTS} (default 10)",
    )


def _add_limit_options(group: Any) -> None:
    group.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"limit on each connect, handshake and read, and on the whole response head (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    group.add_argument(
        "-m", "--max-time", type=seconds, metavar="SECONDS", help="limit on the whole call (default none)"
    )
    group.add_argument(
        "--max-filesize",
        type=size,
        metavar="BYTES",
        help="largest body accepted, in bytes; a K, M or G suffix multiplies by 1024, 1024² or 1024³",
    )


def run_get(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run ``tlskit get`` and return the exit status; errors propagate as tlskit errors."""
    _check_combinations(parser, args)
    requested = _requested_url(args)
    # The output path is checked before the server is contacted.
    target = check_output(args.output) if args.output else None
    headers = [parse_header(parser, text) for text in args.header]
    fields = policy_fields(parser, args)
    url, follow = args.url, not args.no_redirects
    rule = _matching_rule(args, requested)
    if rule is not None:
        url, server_hostname, host_header = _apply_connect_to(rule, requested)
        if args.verbose:
            print_stderr(f"* --connect-to: {args.url} goes to {url}, verified as {server_hostname}")
        fields["server_hostname"] = server_hostname
        # Error messages name the requested host and port, not the address connected to.
        args.server_hostname, args.url_port = server_hostname, requested.port
        if not any(name.lower() == "host" for name, _ in headers):
            headers.append(("Host", host_header))
        # The name override would apply to every host a redirect leads to.
        follow = False

    timeout = Timeout(connect=args.timeout, read=args.timeout, total=args.max_time)
    with Client(
        timeout=timeout,
        max_body=args.max_filesize,
        follow_redirects=follow,
        max_redirects=args.max_redirs,
        proxy=args.proxy,
        allow_http=args.allow_http,
        **fields,
    ) as client:
        if args.head:
            response = client.head(url, headers=headers, auth=args.user)
            return _finish_head(args, response, target)
        with client.stream(url, headers=headers, auth=args.user) as streaming:
            return _finish_body(args, streaming, target)


def _requested_url(args: argparse.Namespace) -> URL:
    """Parse the URL argument, which is https unless --allow-http is given.

    Raises:
        InvalidURLError: the URL is invalid, carries credentials, or is http without --allow-http.
    """
    url = parse_url(args.url, allow_http=True)
    if url.userinfo is not None:
        raise InvalidURLError(
            f"invalid URL {shorten(redact_userinfo(args.url))!r} with user:password@ in it: tlskit get does "
            "not send credentials from a URL. Remove them from the URL and pass -u USER:PASSWORD.",
            field="url",
        )
    if url.scheme == "http" and not args.allow_http:
        raise InvalidURLError(
            f"invalid URL {shorten(redact_userinfo(args.url))!r}: tlskit get fetches https:// URLs only. Pass "
            "--allow-http to fetch a plain http:// URL, whose request and response anyone on the path can "
            "read and change.",
            field="url",
        )
    return url


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.json and args.include:
        parser.error("--json and -i both write to stdout: use one of them")
    if args.output == STDOUT_PATH:
        if args.json:
            parser.error("--json and -o - both write to stdout: use one of them")
        # As in curl and wget, '-o -' means stdout.
        args.output = None


def _finish_head(args: argparse.Namespace, response: BaseResponse, target: Optional[OutputTarget]) -> int:
    _report_connection(args, response)
    if args.fail and response.status >= 400:
        return _http_error(args, response)
    head = format_head(response).encode("latin-1")
    if target is not None:
        save_bytes(target, head)
    if args.json:
        _print_json(_metadata(response, 0, args.output))
    elif target is None:
        write_stdout(head)
    return 0


def _finish_body(
    args: argparse.Namespace, response: StreamingResponse, target: Optional[OutputTarget]
) -> int:
    _report_connection(args, response)
    if args.fail and response.status >= 400:
        return _http_error(args, response)
    if args.include:
        write_stdout(format_head(response).encode("latin-1"))
    progress = _progress_bar(args)
    complete = False
    try:
        # The bar throttles its own redraws, so it hears of every read.
        if target is not None:
            written = save_body(response, target, progress, CHUNK_BYTES, report_interval=0)
        else:
            write = None if args.json else write_stdout
            written = copy_body(response, write, progress, CHUNK_BYTES, whole_chunks=False, report_interval=0)
        complete = True
    finally:
        if progress is not None:
            progress.finish(complete=complete)
    if args.json:
        _print_json(_metadata(response, written, args.output))
    return 0


def _progress_bar(args: argparse.Namespace) -> Optional[ProgressBar]:
    # A bar on a terminal that also shows the body would garble both, so
    # the body must go to a file or a pipe, as curl decides.
    body_to_terminal = not args.output and not args.json and sys.stdout.isatty()
    if args.silent or body_to_terminal or not sys.stderr.isatty():
        return None
    bar = ProgressBar(sys.stderr)
    bar.start_redrawing()
    return bar


def _http_error(args: argparse.Namespace, response: BaseResponse) -> int:
    if not args.silent or args.show_error:
        # The server chooses the reason phrase, its length included.
        reason = f" {shorten(response.reason, 200)}" if response.reason else ""
        print_stderr(f"tlskit: {response.url} returned HTTP {response.status}{reason}.")
    return EXIT_HTTP_ERROR


# Output formats.


def format_head(response: BaseResponse) -> str:
    """Return the status line and header fields as they arrived, ending with a blank line."""
    lines = [f"{response.http_version} {response.status} {response.reason}".rstrip()]
    lines.extend(f"{name}: {value}" for name, value in response.headers.fields())
    return "\r\n".join(lines) + "\r\n\r\n"


def _report_connection(args: argparse.Namespace, response: BaseResponse) -> None:
    """With ``-v``, print the redirects, TLS facts, server certificate and response head on stderr."""
    if not args.verbose:
        return
    lines = [f"* {earlier.status} redirect from {earlier.url}" for earlier in response.history]
    lines.append(f"* URL: {response.url}")
    lines.extend(describe_tls(response.tls))
    lines.extend("< " + line for line in format_head(response).rstrip("\r\n").split("\r\n"))
    print_stderr("\n".join(lines))


def describe_tls(tls: Optional[TLSInfo]) -> List[str]:
    """Return the ``-v`` lines about a connection's TLS and its server certificate."""
    if tls is None:
        return ["* plain HTTP, no TLS"]
    session = "resumed session" if tls.session_reused else "new session"
    lines = [f"* TLS: {tls.version}, {tls.cipher}, ALPN {tls.alpn or 'none'}, {session}"]
    if tls.peer_certificate_der:
        lines += _describe_certificate(tls.peer_certificate_der)
    return lines


def _describe_certificate(der: bytes) -> List[str]:
    # The request has succeeded, so a certificate that the tlskit reader
    # cannot read is reported, not raised.
    try:
        cert = PeerCertificate.from_der(der)
    except CertificateParseError as exc:
        return [
            f"* server certificate: tlskit cannot read it: {exc}",
            f"*   SHA-256: {sha256_fingerprint(der)}",
        ]
    # The first few names: 'tlskit inspect' lists them all.
    names = format_names(cert)
    lines = [
        f"* server certificate: {cert.subject}",
        f"*   issuer: {cert.issuer}",
        f"*   valid: {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d} "
        f"({describe_expiry(cert.not_after)})",
        f"*   names: {names or 'none'}",
        f"*   SPKI pin: {cert.spki_pin}",
    ]
    lines += [
        f"*   undecodable extension: {extension.name}: {extension.error}"
        for extension in cert.undecodable_extensions
    ]
    return lines


def _metadata(response: BaseResponse, body_bytes: int, output: Optional[str]) -> Dict[str, Any]:
    tls = response.tls
    return {
        "url": response.url,
        "status": response.status,
        "reason": response.reason,
        "http_version": response.http_version,
        "headers": [list(field) for field in response.headers.fields()],
        "redirects": [{"status": earlier.status, "url": earlier.url} for earlier in response.history],
        "tls": None if tls is None else _tls_metadata(tls),
        "body_bytes": body_bytes,
        "output": output,
    }


def _tls_metadata(tls: TLSInfo) -> Dict[str, Any]:
    facts: Dict[str, Any] = {
        "version": tls.version,
        "cipher": tls.cipher,
        "alpn": tls.alpn,
        "session_reused": tls.session_reused,
        "server_certificate": None,
    }
    if tls.peer_certificate_der:
        facts["server_certificate"] = _certificate_metadata(tls.peer_certificate_der)
    return facts


def _certificate_metadata(der: bytes) -> Dict[str, Any]:
    try:
        cert = PeerCertificate.from_der(der)
    except CertificateParseError as exc:
        return {"error": str(exc), "sha256_fingerprint": sha256_fingerprint(der)}
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "dns_names": list(cert.dns_names),
        "ip_addresses": list(cert.ip_addresses),
        "spki_pin": cert.spki_pin,
        "sha256_fingerprint": cert.sha256_fingerprint,
        "undecodable_extensions": [extension_json(extension) for extension in cert.undecodable_extensions],
    }


def _print_json(data: Dict[str, Any]) -> None:
    write_stdout((json.dumps(data, indent=2) + "\n").encode("utf-8"))


# Option values.


def _output_path(text: str) -> str:
    """Read ``-o FILE``: an empty path is a usage error, not a request for stdout."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, not an empty string")
    return text


def _credentials(text: str) -> Tuple[str, str]:
    """Read ``-u USER:PASSWORD``; the value is never echoed, because it contains a password."""
    user, colon, password = text.partition(":")
    if not colon or not user:
        # curl prompts for a missing password; tlskit get takes it in the value only.
        raise argparse.ArgumentTypeError(
            "invalid value (not shown): expected USER:PASSWORD, with a colon after a non-empty user name"
        )
    return user, password


def parse_header(parser: argparse.ArgumentParser, text: str) -> Tuple[str, str]:
    """Split ``'Name: value'``; a missing colon or name is a usage error."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        parser.error(f"invalid header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


def _matching_rule(args: argparse.Namespace, url: URL) -> Optional[ConnectTo]:
    rules: List[ConnectTo] = args.connect_to
    for rule in rules:
        if rule.host in ("", url.host) and rule.port in (None, url.port):
            return rule
    return None


def _apply_connect_to(rule: ConnectTo, url: URL) -> Tuple[str, str, str]:
    """Return the URL to connect to, the server name to send and verify, and the Host header value."""
    target_host = rule.target_host or url.host
    target_port = rule.target_port or url.port
    shown = f"[{target_host}]" if ":" in target_host else target_host
    rewritten = f"{url.scheme}://{shown}:{target_port}{url.target}"
    return rewritten, url.server_hostname, url.authority
