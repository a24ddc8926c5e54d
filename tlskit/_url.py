"""URL parsing for requests: scheme, host, port and request target.

`parse_url` is strict where a lenient parser would let a URL smuggle bytes
onto the wire: control characters, spaces and backslashes are rejected before
anything else happens, the host is checked character by character, and the
path and query are percent-encoded where RFC 3986 does not allow a raw byte.
Escapes already present (``%2F``) are kept exactly as given. Unicode host
names become A-labels through Python's IDNA 2003 codec, except labels that
it would turn into another name than IDNA 2008 does (ß, ς, ZWJ, ZWNJ),
which are rejected.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import NamedTuple, Optional, Tuple

from ._errors import InvalidURLError

DEFAULT_PORTS = {"https": 443, "http": 80}

# Any C0 or C1 control, space, DEL or backslash. A backslash is a path
# separator to some servers and parsers, so accepting it makes them disagree
# with us. Other non-ASCII characters in the path and query are
# percent-encoded as UTF-8.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\\]")

# Characters that may appear raw in a path or query (RFC 3986 3.3, 3.4):
# unreserved, sub-delims, ":", "@", "/", "?", plus "%" of a valid escape.
_SAFE_TARGET = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
# Compiled on first use through re's cache, like _IDNA_DOTS below, because
# only a target with other characters needs it.
_TARGET_PIECE = r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]+|%[0-9A-Fa-f]{2}|."

_HOST_NAME = re.compile(
    r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?)*\.?"
)
_MAX_HOST_NAME_CHARS = 253
_ZONE_ID = re.compile(r"[A-Za-z0-9\-._~]+")
# Untrusted text, such as a Location header, is cut to this many characters in messages.
MAX_SHOWN_CHARS = 200
# How a message on an http URL names the Client setting that accepts it.
ALLOW_HTTP_HINT = " (pass allow_http=True for 'http')"
# Ports have at most 5 digits. Longer digit strings are rejected before int()
# sees them, so Python's limit on digits converted to int is never reached.
_MAX_PORT_DIGITS = 5
# The label separators that Python's IDNA codec accepts (RFC 3490 3.1).
# Only non-ASCII hosts need the pattern, whose compiling took 0.27 ms of
# start-up (CPython 3.11).
_IDNA_DOTS = "[.\u3002\uff0e\uff61]"


class URL(NamedTuple):
    """A parsed request URL.

    Attributes:
        scheme: ``"https"`` or ``"http"``.
        host: the host as sent on the wire: lower case, IDNA A-labels, IPv6
            without brackets or zone id.
        port: the port number, the scheme's default when the URL has none.
        target: the request target, path plus ``?query``, percent-encoded.
        zone: the IPv6 zone id (``eth0``), used only to connect.
        userinfo: ``user:password`` from the URL, or None. Never sent unless asked.
        is_ip: the host is an IP address literal, so no SNI is sent for it.
    """

    scheme: str
    host: str
    port: int
    target: str
    zone: Optional[str] = None
    userinfo: Optional[str] = None
    is_ip: bool = False

    @property
    def origin(self) -> Tuple[str, str, int]:
        """The (scheme, host, port) triple that keys connection reuse."""
        return (self.scheme, self.host, self.port)

    @property
    def authority(self) -> str:
        """``host[:port]`` as the Host header carries it: the port only when not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def server_hostname(self) -> str:
        """The name checked against the certificate, without a trailing dot.

        The ssl module sends it as SNI for names but not for IP literals
        (RFC 6066 3), and checks IP literals against the IP addresses in the
        certificate's subjectAltName.
        """
        return self.host[:-1] if self.host.endswith(".") else self.host

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"


def basic_authorization(userinfo: str) -> str:
    """Return the Basic Authorization value (RFC 7617) for percent-encoded ``user:password``."""
    from urllib.parse import unquote  # Deferred: credentials in URLs are rare.

    user, _, password = userinfo.partition(":")
    credentials = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(credentials).decode("ascii")


def redact_userinfo(url: str) -> str:
    """Return ``url`` with the password of any ``user:password@`` replaced by ``***``, for messages."""
    if "@" not in url:
        return url
    scheme, separator, rest = url.partition("://")
    end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if found != -1 and found < end:
            end = found
    userinfo, at, hostport = rest[:end].rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}{separator}{user}:***@{hostport}{rest[end:]}"


def shorten(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """Return ``text`` cut to ``limit`` characters for a message, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def parse_url(url: str, *, allow_http: bool = False) -> URL:
    """Parse and validate an absolute http(s) URL.

    Args:
        url: the URL, such as ``"https://example.test:8443/path?q=1"``.
        allow_http: accept the ``http`` scheme too.

    Raises:
        InvalidURLError: the URL is malformed, uses another scheme, or holds
            characters that must not reach the wire.
    """
    if not isinstance(url, str):
        raise InvalidURLError(f"invalid URL {url!r}: expected a str, got {type(url).__name__}.")
    text, url = url, shorten(redact_userinfo(url))
    bad = _FORBIDDEN.search(text)
    if bad:
        raise InvalidURLError(
            f"invalid URL {url!r}: character {bad.group()!r} at position {bad.start()} is not allowed. "
            "Percent-encode it (a space is %20).",
        )

    scheme, separator, rest = text.partition("://")
    scheme = scheme.lower()
    if not separator:
        raise InvalidURLError(f"invalid URL {url!r}: no scheme. Write it as 'https://host/path'.")
    if scheme not in DEFAULT_PORTS or (scheme == "http" and not allow_http):
        allowed = "'https' or 'http'" if allow_http else f"'https'{ALLOW_HTTP_HINT}"
        raise InvalidURLError(f"invalid URL {url!r}: scheme {scheme!r} is not supported. Use {allowed}.")

    end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if found != -1 and found < end:
            end = found
    authority, target = rest[:end], rest[end:]

    userinfo, at, hostport = authority.rpartition("@")
    host, zone, port, is_ip = _parse_host_port(hostport, scheme, url)
    return URL(scheme, host, port, _encode_target(target), zone, userinfo if at else None, is_ip)


def _parse_host_port(hostport: str, scheme: str, url: str) -> Tuple[str, Optional[str], int, bool]:
    """Split ``host[:port]`` and validate both parts."""
    zone = None
    if hostport.startswith("["):
        close = hostport.find("]")
        if close == -1:
            raise InvalidURLError(f"invalid URL {url!r}: '[' opens an IPv6 address that is never closed.")
        literal, port_text = hostport[1:close], hostport[close + 1 :]
        if port_text and not port_text.startswith(":"):
            raise InvalidURLError(f"invalid URL {url!r}: unexpected {port_text!r} after the IPv6 address.")
        port_text = port_text[1:]
        # RFC 6874: a zone id follows the address as "%25" (an escaped "%").
        # A raw "%" would make ipaddress keep the zone inside the host.
        literal, escaped, zone_text = literal.partition("%25")
        if "%" in literal:
            raise InvalidURLError(
                f"invalid URL {url!r}: a zone id in a URL is written after '%25', the escaped '%' "
                "(RFC 6874), such as https://[fe80::1%25eth0]/.",
            )
        if escaped:
            if not _ZONE_ID.fullmatch(zone_text):
                raise InvalidURLError(
                    f"invalid URL {url!r}: invalid IPv6 zone id {zone_text!r}. Write an interface name or "
                    "number after '%25', such as https://[fe80::1%25eth0]/.",
                )
            zone = zone_text
        try:
            host = ipaddress.IPv6Address(literal).compressed
        except ValueError:
            raise InvalidURLError(f"invalid URL {url!r}: {literal!r} is not an IPv6 address.") from None
        return host, zone, _parse_port(port_text, scheme, url), True

    host, _, port_text = hostport.partition(":")
    if not host:
        raise InvalidURLError(f"invalid URL {url!r}: no host.")
    port = _parse_port(port_text, scheme, url)
    host = _encode_host_name(host, url)
    try:
        return str(ipaddress.IPv4Address(host)), None, port, True
    except ValueError:
        pass
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if last_label.isdigit() or last_label.startswith("0x"):
        # Forms such as 127.1 or 0x7f.1 are IPv4 to some resolvers and names
        # to others, so certificate checks and connects could disagree.
        raise InvalidURLError(
            f"invalid URL {url!r}: {host!r} is neither a dotted-quad IPv4 address nor a host name."
        )
    return host, None, port, False


def parse_port(text: str) -> Optional[int]:
    """Return the port that ``text`` names, or None unless it is 1 to 5 ASCII digits for 1 to 65535."""
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_PORT_DIGITS:
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _parse_port(text: str, scheme: str, url: str) -> int:
    if not text:
        return DEFAULT_PORTS[scheme]
    port = parse_port(text)
    if port is None:
        raise InvalidURLError(
            f"invalid URL {url!r}: port {shorten(text, 20)!r} is not a number from 1 to 65535."
        )
    return port


def idna_encode(host: str) -> str:
    """Return ``host`` with its Unicode labels turned into IDNA A-labels (``xn--...``).

    Python's ``idna`` codec implements IDNA 2003, which maps some characters
    to others before encoding: ß to ss, ς to σ, and it drops ZWJ and ZWNJ.
    IDNA 2008 and browsers keep them, so for such a label the codec's name
    is another host than the one the caller named. Labels whose mapping
    changes more than letter case and NFKC compatibility forms are rejected.

    Raises:
        ValueError: a label is not valid IDNA, or IDNA 2003 would map it to
            another name; the message names the label.
    """
    if host.isascii():
        return host
    import unicodedata  # Deferred: most hosts are ASCII.
    from encodings.idna import nameprep

    for label in re.split(_IDNA_DOTS, host):
        if label.isascii():
            continue
        try:
            mapped = nameprep(label)
        except UnicodeError as exc:
            raise ValueError(f"the host label {label!r} is not valid IDNA ({exc})") from None
        if mapped != unicodedata.normalize("NFKC", label.lower()):
            raise ValueError(
                f"the host label {label!r} would become {mapped!r} under IDNA 2003 (Python's idna codec), "
                "but IDNA 2008 and browsers keep it, which names another host. Pass the host's A-label "
                "form (xn--...) instead"
            )
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"the host {host!r} is not a valid IDNA name ({exc})") from None


def _encode_host_name(host: str, url: str) -> str:
    """Lower-case a host name and turn Unicode labels into IDNA A-labels."""
    try:
        host = idna_encode(host)
    except ValueError as exc:
        raise InvalidURLError(f"invalid URL {url!r}: {exc}.") from None
    host = host.lower()
    if len(host) > _MAX_HOST_NAME_CHARS or not _HOST_NAME.fullmatch(host):
        raise InvalidURLError(
            f"invalid URL {url!r}: {host!r} is not a valid host name. Use letters, digits, '-' and '.' only.",
        )
    return host


def _encode_target(target: str) -> str:
    """Drop the fragment and percent-encode what may not appear raw in a path or query."""
    target = target.partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if target.isascii() and _SAFE_TARGET.fullmatch(target):
        return target
    pieces = []
    for match in re.finditer(_TARGET_PIECE, target, re.DOTALL):
        piece = match.group()
        if len(piece) == 1 and not _SAFE_TARGET.fullmatch(piece):
            piece = "".join(f"%{byte:02X}" for byte in piece.encode("utf-8", "surrogatepass"))
        pieces.append(piece)
    return "".join(pieces)
