"""TCP connects: the address to dial for a URL's host, and the error a failed connect raises.

`address_host` turns an IPv6 zone id into the interface number, because
glibc's getaddrinfo rejects an interface name after some addresses (such as
``::1%lo``) while it takes the number. `connect_error` maps the OSError of
a failed connect to `ConnectError` with advice chosen by its errno: a refused
connection, an unreachable network and a failed DNS lookup need different
fixes. A literal address is never "resolved", so its messages do not say so.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
from typing import Dict, Optional, Union

from ._errors import ConnectError, format_address, join_sentences

# Interface numbers are 32-bit unsigned (RFC 3493 3.3, sin6_scope_id).
MAX_SCOPE_ID = 2**32 - 1

_CONNECT_ADVICE: Dict[int, str] = {
    errno.ECONNREFUSED: "Check that the server is listening on that port",
    errno.ENETUNREACH: (
        "This machine has no route to that network. Check its network connection, and any VPN or "
        "firewall, or use an address of the other IP version"
    ),
    errno.EHOSTUNREACH: "Check that the host is up, and any firewall between this machine and the host",
    errno.ETIMEDOUT: (
        "The host did not answer. Check that it is up and that no firewall drops the connection, or "
        "raise the connect timeout"
    ),
    errno.EADDRNOTAVAIL: "The address cannot be reached from this machine. Check the address",
    errno.ECONNRESET: "The host reset the connection. Check that the port serves HTTPS",
    errno.EACCES: "A local firewall or security policy forbids the connection",
    errno.EPERM: "A local firewall or security policy forbids the connection",
}

# Every interface has its own fe80::/10 network, so a connect must name the interface.
_LINK_LOCAL_ADVICE = (
    "A link-local IPv6 address needs the interface as a zone id after '%25', such as [fe80::1%25eth0]"
)

_DNS_ADVICE: Dict[int, str] = {
    socket.EAI_NONAME: "Check the host name",
    socket.EAI_AGAIN: "The DNS lookup failed for now. Check this machine's DNS servers and try again",
    socket.EAI_FAIL: "The DNS server failed. Check this machine's DNS servers",
}


def address_host(host: str, zone: Optional[str], port: Optional[int] = None) -> str:
    """Return the host to pass to getaddrinfo: ``host``, or ``host%<interface number>`` with a zone id.

    Raises:
        ConnectError: no interface has the name or number ``zone``.
    """
    if zone is None:
        return host
    if zone.isascii() and zone.isdigit():
        scope_id = int(zone) if len(zone) <= 10 else MAX_SCOPE_ID + 1
    else:
        try:
            scope_id = socket.if_nametoindex(zone)
        except OSError:
            scope_id = 0
    if not 0 < scope_id <= MAX_SCOPE_ID:
        raise ConnectError(
            f"could not connect to [{host}%25{zone}]: this machine has no network interface {zone!r}. "
            "Use an interface name or number that 'ip link' lists.",
            host=host,
            port=port,
        )
    return f"{host}%{scope_id}"


@functools.lru_cache(maxsize=64)
def literal_family(host: str) -> Optional[int]:
    """Return AF_INET or AF_INET6 when ``host`` is an IP address in standard notation, else None.

    A name, and a shorthand such as ``127.1`` that inet_pton rejects, return
    None and go through getaddrinfo.
    """
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family
    return None


def connect_error(exc: OSError, host: str, port: int, zone: Optional[str] = None) -> ConnectError:
    """Return the `ConnectError` for a failed connect to ``host`` (with IPv6 ``zone``), with advice for its cause."""
    address = format_address(host if zone is None else f"{host}%25{zone}", port)
    reason = exc.strerror or str(exc)
    literal = _ip_literal(host)
    if isinstance(exc, socket.gaierror) and literal is None:
        advice = _DNS_ADVICE.get(exc.errno or 0, "Check the host name and this machine's DNS settings")
        message = join_sentences(f"could not resolve host {host!r}: {reason}", advice)
    else:
        if zone is None and literal is not None and literal.is_link_local:
            advice = _LINK_LOCAL_ADVICE
        else:
            advice = _CONNECT_ADVICE.get(exc.errno or 0, "Check the address, the port and the network")
        message = join_sentences(f"could not connect to {address}: {reason}", advice)
    return ConnectError(message, host=host, port=port)


def _ip_literal(host: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
