"""TCP connects: IPv6 zone ids, and the advice that a failed connect's error gives for its cause."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest

import tlskit
from conftest import has_ipv6_loopback
from servers import HTTPResponder, TLSServer
from tlskit import ConnectError
from tlskit._connect import address_host, connect_error, literal_family


def loopback_interface() -> str:
    """Return the name of the loopback interface, or skip the test."""
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    for name in ("lo", "lo0"):
        try:
            socket.if_nametoindex(name)
        except OSError:
            continue
        return name
    pytest.skip("no loopback interface named lo or lo0")


def test_zone_id_by_interface_name(server_context: ssl.SSLContext, ca_file: str) -> None:
    name = loopback_interface()
    responder = HTTPResponder({"/": (200, [], b"zoned")})
    with TLSServer(server_context, responder, host="::1") as server:
        response = tlskit.get(f"https://[::1%25{name}]:{server.port}/", cafile=ca_file, timeout=5)
    assert response.body == b"zoned"
    assert responder.requests[0][0].headers["host"] == f"[::1]:{server.port}"


def test_zone_id_becomes_interface_number() -> None:
    name = loopback_interface()
    index = socket.if_nametoindex(name)
    assert address_host("::1", name) == f"::1%{index}"
    assert address_host("::1", str(index)) == f"::1%{index}"
    assert address_host("::1", None) == "::1"


@pytest.mark.parametrize("zone", ["no-such-interface", "0", "4294967296", "9" * 40])
def test_unknown_zone_raises(zone: str) -> None:
    with pytest.raises(ConnectError) as caught:
        address_host("fe80::1", zone, 443)
    assert f"no network interface {zone!r}" in str(caught.value)
    assert caught.value.port == 443


def test_unknown_zone_sends_nothing(ca_file: str) -> None:
    with pytest.raises(ConnectError) as caught:
        tlskit.get("https://[fe80::1%25no-such-interface]:9/", cafile=ca_file, timeout=5)
    assert "could not connect to [fe80::1%25no-such-interface]" in str(caught.value)
    assert "resolve" not in str(caught.value)


def test_refused_connection_advice(ca_file: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        # Bound but not listening: a connect is refused.
        with pytest.raises(ConnectError) as caught:
            tlskit.get(f"https://127.0.0.1:{port}/", cafile=ca_file, timeout=5)
    assert str(caught.value) == (
        f"could not connect to 127.0.0.1:{port}: Connection refused. "
        "Check that the server is listening on that port."
    )


@pytest.mark.parametrize(
    "code, advice",
    [
        (errno.ECONNREFUSED, "Check that the server is listening on that port."),
        (errno.ENETUNREACH, "This machine has no route to that network."),
        (errno.EHOSTUNREACH, "Check that the host is up"),
        (errno.ETIMEDOUT, "The host did not answer."),
        (errno.EACCES, "firewall or security policy"),
        (errno.EIO, "Check the address, the port and the network."),
    ],
)
def test_advice_by_errno(code: int, advice: str) -> None:
    error = connect_error(OSError(code, "reason text"), "192.0.2.1", 443)
    assert str(error).startswith("could not connect to 192.0.2.1:443: reason text. ")
    assert advice in str(error)
    assert "listening" not in str(error) or code == errno.ECONNREFUSED


def test_link_local_without_zone_advice() -> None:
    error = connect_error(OSError(errno.EINVAL, "Invalid argument"), "fe80::1", 443)
    assert "needs the interface as a zone id" in str(error)


def test_dns_failure_advice() -> None:
    error = connect_error(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "api.example", 443)
    assert (
        str(error) == "could not resolve host 'api.example': Name or service not known. Check the host name."
    )
    error = connect_error(socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), "api.example", 443)
    assert "try again" in str(error)


def test_literal_address_is_not_resolved() -> None:
    error = connect_error(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "::1", 443, "lo")
    assert str(error).startswith("could not connect to [::1%25lo]:443: ")
    assert "resolve" not in str(error)


@pytest.mark.parametrize(
    "host, family",
    [
        ("127.0.0.1", socket.AF_INET),
        ("::1", socket.AF_INET6),
        ("2001:db8::8", socket.AF_INET6),
        ("::ffff:192.0.2.1", socket.AF_INET6),
        ("127.1", None),
        ("localhost", None),
        ("api.example", None),
        ("", None),
    ],
)
def test_literal_family(host: str, family: object) -> None:
    assert literal_family(host) == family


def test_literal_connect_sends_request(server_context: ssl.SSLContext, ca_file: str) -> None:
    responder = HTTPResponder({"/": (200, [], b"direct")})
    with TLSServer(server_context, responder, host="127.0.0.1") as server:
        response = tlskit.get(f"https://127.0.0.1:{server.port}/", cafile=ca_file, timeout=5)
    assert response.body == b"direct"
    assert responder.requests[0][0].headers["host"] == f"127.0.0.1:{server.port}"


def test_literal_ipv6_connect_sends_request(server_context: ssl.SSLContext, ca_file: str) -> None:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    responder = HTTPResponder({"/": (200, [], b"direct")})
    with TLSServer(server_context, responder, host="::1") as server:
        response = tlskit.get(f"https://[::1]:{server.port}/", cafile=ca_file, timeout=5)
    assert response.body == b"direct"
