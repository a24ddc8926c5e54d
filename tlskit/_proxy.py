"""Proxies: which proxy a request goes through, and the CONNECT tunnel to the origin.

`select_proxy` picks the proxy for one URL:

1. the ``proxy`` argument, when given;
2. else, when ``TLSPolicy.trust_env`` is on, the environment: for https URLs
   ``https_proxy`` then ``HTTPS_PROXY``, for http URLs ``http_proxy`` then
   ``HTTP_PROXY``, and ``all_proxy`` then ``ALL_PROXY`` for both. Lower-case
   names win, as in curl and urllib. ``HTTP_PROXY`` is ignored while
   ``REQUEST_METHOD`` is set: inside a CGI program, a client's ``Proxy:``
   request header arrives as ``HTTP_PROXY`` ("httpoxy").
3. When ``trust_env`` is on, ``no_proxy`` or ``NO_PROXY`` exempts hosts from
   either: ``*``, host names that match as a suffix on a label boundary
   (``example.test`` and ``.example.test`` both cover ``a.example.test``),
   IPv4 and IPv6 addresses and CIDR ranges, each with an optional ``:port``.

This module is the one place that reads those variables, and it logs each
one it uses at DEBUG. A `Client` reads them once, when it is created, as
httpx does, so that no request pays for the lookups.

`open_tunnel` requests a tunnel from an http:// proxy with CONNECT, sending
Proxy-Authorization from the proxy URL's credentials. TLS then runs
through the tunnel to the origin and is verified exactly as without a proxy;
the proxy sees only the origin's host and port. http URLs go to the proxy in
absolute form instead (RFC 9112 3.2.2).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import ssl
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

from ._connection import Connection, open_tcp
from ._errors import (
    HandshakeError,
    InvalidURLError,
    ProtocolError,
    ProxyError,
    RemoteDisconnectedError,
    format_address,
    join_sentences,
)
from ._http11 import ResponseParser
from ._http11_events import NEED_DATA, EndOfResponse, Limits, ResponseHead
from ._http11_request import build_request
from ._log import get_logger
from ._policy import TLSPolicy
from ._timeouts import Deadline, head_deadline
from ._url import URL, basic_authorization, idna_encode, parse_port, parse_url, redact_userinfo

log = get_logger(__name__)

_PROXY_VARIABLES = {
    "https": ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
    "http": ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"),
}

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class Proxy(NamedTuple):
    """An http:// proxy and the Proxy-Authorization value for it.

    Attributes:
        url: the proxy's URL.
        authorization: ``"Basic ..."`` from the URL's credentials, or None.
        source: where the proxy came from, for messages: ``"proxy argument"``
            or the environment variable's name.
    """

    url: URL
    authorization: Optional[str]
    source: str

    @property
    def key(self) -> Tuple[Tuple[str, str, int], Optional[str]]:
        """What keys connections through this proxy in the pool: address and credentials."""
        return (self.url.origin, self.authorization)


@functools.lru_cache(maxsize=32)
def parse_proxy(text: str, source: str) -> Proxy:
    """Parse a proxy URL; a URL without scheme means http://, as in curl.

    Raises:
        InvalidURLError: the URL is invalid or its scheme is not http.
    """
    shown = redact_userinfo(text)
    scheme = text.partition("://")[0].lower() if "://" in text else "http"
    if scheme != "http":
        raise InvalidURLError(
            f"invalid proxy {shown!r} from {source}: scheme {scheme!r} is not supported. tlskit talks to "
            "proxies over http:// and tunnels https through them with CONNECT, so TLS still runs end to "
            "end. Use an http:// proxy URL.",
            field="proxy",
        )
    try:
        url = parse_url(text if "://" in text else "http://" + text, allow_http=True)
    except InvalidURLError as exc:
        raise InvalidURLError(f"invalid proxy from {source}: {exc.message}", field="proxy") from exc
    authorization = None if url.userinfo is None else basic_authorization(url.userinfo)
    return Proxy(url, authorization, source)


class ProxyEnvironment(NamedTuple):
    """The proxy variables of the environment, read once.

    Attributes:
        https: (variable name, value) of the proxy for https URLs, or None.
        http: (variable name, value) of the proxy for http URLs, or None.
        no_proxy: the value of no_proxy or NO_PROXY, or an empty string.
    """

    https: Optional[Tuple[str, str]]
    http: Optional[Tuple[str, str]]
    no_proxy: str


NO_PROXY_ENVIRONMENT = ProxyEnvironment(None, None, "")


def read_proxy_environment() -> ProxyEnvironment:
    """Read the proxy variables; call only when ``TLSPolicy.trust_env`` is on."""
    if not _has_proxy_variable():
        return NO_PROXY_ENVIRONMENT
    return ProxyEnvironment(environment_proxy("https"), environment_proxy("http"), environment_no_proxy())


def _has_proxy_variable() -> bool:
    """Return whether any variable that this module reads may be set, in one pass."""
    data = getattr(os.environ, "_data", None)
    if type(data) is not dict or not _ENCODED_NAMES:
        return True
    for key in _ENCODED_NAMES.values():
        if key in data:
            return True
    return False


def _environment_value(name: str) -> Optional[str]:
    """Return the environment variable ``name``, or None when it is not set.

    ``os.environ.get`` raises and catches KeyError twice for each name that
    is missing (CPython's ``os._Environ``, 3.9 to 3.13), about 1.4 us per
    name, and most of the proxy variables are missing. Where ``os.environ``
    has CPython's layout, its underlying dict is read instead. That dict
    contains the same values, because every change through ``os.environ``
    updates it.
    """
    environ = os.environ
    data = getattr(environ, "_data", None)
    if type(data) is not dict:
        return environ.get(name)
    value = data.get(_ENCODED_NAMES.get(name) or environ.encodekey(name))
    return None if value is None else environ.decodevalue(value)


def environment_proxy(scheme: str) -> Optional[Tuple[str, str]]:
    """Return the name and value of the environment variable that sets the proxy for ``scheme``."""
    for name in _PROXY_VARIABLES[scheme]:
        if name == "HTTP_PROXY" and _environment_value("REQUEST_METHOD") is not None:
            log.debug("ignoring HTTP_PROXY because REQUEST_METHOD is set (CGI)")
            continue
        value = _environment_value(name)
        if value:
            log.debug("using proxy from %s", name)
            return name, value
    return None


def environment_no_proxy() -> str:
    """Return the value of no_proxy or NO_PROXY, or an empty string."""
    for name in ("no_proxy", "NO_PROXY"):
        value = _environment_value(name)
        if value:
            log.debug("using proxy exemptions from %s", name)
            return value
    return ""


def _encode_names() -> Dict[str, object]:
    encode = getattr(os.environ, "encodekey", None)
    if encode is None:
        return {}
    names = {name for names in _PROXY_VARIABLES.values() for name in names}
    names.update(("no_proxy", "NO_PROXY", "REQUEST_METHOD"))
    return {name: encode(name) for name in names}


# The keys of the proxy variables in the dict under os.environ, which are
# bytes on POSIX and upper-case str on Windows, fixed for the process.
_ENCODED_NAMES = _encode_names()


NoProxyEntry = Tuple[Optional[str], Optional[IPNetwork], Optional[int]]


def _parse_no_proxy_entry(entry: str) -> NoProxyEntry:
    """Split one NO_PROXY entry into (host suffix, IP network, port).

    At most one of the first two is set, and neither for an entry that matches no host.
    """
    port = None
    if entry.startswith("["):
        address, _, rest = entry[1:].partition("]")
        if rest:
            port = parse_port(rest[1:]) if rest.startswith(":") else None
            if port is None:
                # As for a name, an invalid port makes the entry match no host.
                return None, None, None
        entry = address
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = parse_port(port_text)
        if port is not None:
            entry = host
    try:
        return None, ipaddress.ip_network(entry, strict=False), port
    except ValueError:
        pass
    suffix = entry.lstrip("*").strip(".")
    try:
        suffix = idna_encode(suffix)
    except ValueError:
        # Kept as it is, it matches no host: URL hosts are A-labels.
        pass
    return suffix, None, port


@functools.lru_cache(maxsize=8)
def parse_no_proxy(text: str) -> Tuple[NoProxyEntry, ...]:
    """Parse a NO_PROXY value; an entry of ``*`` alone becomes ("", None, None), which matches all."""
    entries: List[NoProxyEntry] = []
    for item in text.replace(" ", ",").split(","):
        item = item.strip().lower()
        if item == "*":
            entries.append(("", None, None))
        elif item:
            entries.append(_parse_no_proxy_entry(item))
    return tuple(entries)


def is_proxy_bypassed(url: URL, no_proxy: str) -> bool:
    """Return whether a NO_PROXY value exempts ``url`` from the proxy."""
    host = url.host.rstrip(".")
    address = ipaddress.ip_address(host) if url.is_ip else None
    for suffix, network, port in parse_no_proxy(no_proxy):
        if port is not None and port != url.port:
            continue
        if suffix == "":
            return True
        if network is not None:
            if address is not None and address.version == network.version and address in network:
                return True
        elif suffix is not None and address is None and (host == suffix or host.endswith("." + suffix)):
            return True
    return False


def select_proxy(url: URL, proxy: Optional[str], environment: ProxyEnvironment) -> Optional[Proxy]:
    """Return the proxy for ``url``, or None to connect directly.

    ``environment`` is `NO_PROXY_ENVIRONMENT` when ``trust_env`` is off.

    Raises:
        InvalidURLError: the proxy URL, given or from the environment, is invalid.
    """
    if proxy is not None:
        source = "proxy argument"
    else:
        found = environment.https if url.scheme == "https" else environment.http
        if found is None:
            return None
        source, proxy = found
    if environment.no_proxy and is_proxy_bypassed(url, environment.no_proxy):
        log.debug("not using a proxy for %s: NO_PROXY covers it", url.authority)
        return None
    return parse_proxy(proxy, source)


def _connect_request(proxy: Proxy, url: URL, user_agent: str) -> bytes:
    host = f"[{url.host}]" if ":" in url.host else url.host
    target = f"{host}:{url.port}"
    fields = [("Host", target), ("User-Agent", user_agent)]
    if proxy.authorization is not None:
        fields.append(("Proxy-Authorization", proxy.authorization))
    return build_request("CONNECT", target, fields)


def _read_connect_response(connection: Connection, deadline: Deadline, limits: Limits) -> ResponseParser:
    parser = ResponseParser("CONNECT", limits)
    # The connect timeout bounds the whole response, so a proxy cannot drip it.
    deadline = head_deadline(deadline, "connect")
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            connection.receive(parser, deadline, phase="connect")
        elif type(event) is ResponseHead and not 200 <= event.status < 300:
            return parser
        elif type(event) is EndOfResponse:
            return parser


def open_tunnel(
    proxy: Proxy, url: URL, policy: TLSPolicy, deadline: Deadline, limits: Limits, user_agent: str
) -> socket.socket:
    """Open a CONNECT tunnel through ``proxy`` to ``url``'s origin and return its socket.

    Raises:
        ProxyError: the proxy rejected the tunnel or sent an invalid response.
        ConnectError, TimeoutExceededError: the proxy could not be reached in time.
    """
    proxy_address = format_address(proxy.url.host, proxy.url.port)
    origin = format_address(url.host, url.port)
    sock = open_tcp(proxy.url.host, proxy.url.port, proxy.url.zone, deadline)
    connection = Connection(sock, proxy.url, policy)
    try:
        connection.send(_connect_request(proxy, url, user_agent), deadline, phase="connect")
        parser = _read_connect_response(connection, deadline, limits)
    except (ProtocolError, RemoteDisconnectedError) as exc:
        sock.close()
        raise ProxyError(
            f"proxy {proxy_address} (from {proxy.source}) sent an invalid response to CONNECT to {origin}: {exc}",
            host=proxy.url.host,
            port=proxy.url.port,
        ) from exc
    except BaseException:
        sock.close()
        raise
    head = parser.head
    assert head is not None
    if not 200 <= head.status < 300:
        sock.close()
        raise ProxyError(
            _rejection_message(proxy, origin, head),
            status=head.status,
            reason=head.reason,
            host=proxy.url.host,
            port=proxy.url.port,
        )
    if parser.leftover:
        sock.close()
        raise ProxyError(
            f"proxy {proxy_address} sent {len(parser.leftover)} bytes after accepting CONNECT to {origin}, "
            "before the TLS handshake began",
            host=proxy.url.host,
            port=proxy.url.port,
        )
    log.debug("tunnel to %s through proxy %s is open", origin, proxy_address)
    return sock


def tunnel_handshake_error(exc: HandshakeError, proxy: Proxy, url: URL) -> HandshakeError:
    """Return the error for a TLS handshake through ``proxy`` that failed, naming the tunnel when it closed.

    A proxy that accepted CONNECT but could not reach the origin, or lost
    it, closes the tunnel, which the handshake only sees as an end of stream.
    """
    cause = exc.__cause__
    closed = exc.reason == "UNEXPECTED_EOF_WHILE_READING" or (
        isinstance(cause, OSError) and not isinstance(cause, ssl.SSLError)
    )
    if not closed:
        return exc
    return HandshakeError(
        join_sentences(
            f"TLS handshake with {format_address(url.host, url.port)} failed: the tunnel through proxy "
            f"{format_address(proxy.url.host, proxy.url.port)} (from {proxy.source}) closed during the "
            f"handshake ({cause})",
            "The proxy may have failed to reach the origin or lost its connection, or the origin does not "
            "serve TLS on that port. Check the proxy's log, or try the origin without the proxy",
        ),
        reason=exc.reason,
        host=url.host,
        port=url.port,
    )


def _rejection_message(proxy: Proxy, origin: str, head: ResponseHead) -> str:
    status_line = f"{head.http_version} {head.status} {head.reason}".rstrip()
    text = (
        f"proxy {format_address(proxy.url.host, proxy.url.port)} (from {proxy.source}) rejected CONNECT "
        f"to {origin}: {status_line}."
    )
    if head.status == 407:
        if proxy.authorization is None:
            return text + " Put the proxy credentials in the proxy URL: http://user:password@host:port."
        return text + " Check the user name and password in the proxy URL."
    return text + " Check that the proxy allows tunnels to this host and port, or exempt it with NO_PROXY."
