"""TLSPolicy.server_hostname: connect to one address, send SNI for and verify another name."""

from __future__ import annotations

import ssl
from typing import Callable, List, Optional

import pytest
import trustme

import tlskit
from servers import HTTPResponder, TLSServer, response_bytes
from tlskit import HostnameMismatchError

StartServer = Callable[..., TLSServer]


class SNIServer:
    """A loopback HTTPS server that records the SNI name of each handshake."""

    def __init__(self, start_server: StartServer, cert: trustme.LeafCert) -> None:
        self.names: List[Optional[str]] = []
        self.responder = HTTPResponder({"/": (200, [], b"ok")})
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        context.sni_callback = self._record  # type: ignore[assignment]
        self.server = start_server(self.responder, context)

    def _record(self, sock: ssl.SSLObject, name: Optional[str], context: ssl.SSLContext) -> None:
        self.names.append(name)


@pytest.fixture(scope="module")
def named_cert(ca: trustme.CA) -> trustme.LeafCert:
    """A certificate that names neither 127.0.0.1 nor localhost."""
    return ca.issue_cert("api.internal.test", "bücher.example", "192.0.2.10", "2001:db8::10")


@pytest.fixture
def sni_server(start_server: StartServer, named_cert: trustme.LeafCert) -> SNIServer:
    return SNIServer(start_server, named_cert)


def test_url_host_alone_does_not_match(sni_server: SNIServer, ca_file: str) -> None:
    with pytest.raises(HostnameMismatchError):
        tlskit.get(sni_server.server.url("/"), cafile=ca_file)


@pytest.mark.parametrize(
    "server_hostname, sni",
    [
        ("api.internal.test", "api.internal.test"),
        ("API.Internal.Test", "api.internal.test"),
        ("api.internal.test.", "api.internal.test"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("192.0.2.10", None),
        ("2001:db8::10", None),
        ("[2001:db8:0::10]", None),
    ],
)
def test_override_verifies_and_sends_name(
    sni_server: SNIServer, ca_file: str, server_hostname: str, sni: Optional[str]
) -> None:
    response = tlskit.get(sni_server.server.url("/"), cafile=ca_file, server_hostname=server_hostname)
    assert response.status == 200
    assert sni_server.names == [sni]


def test_override_keeps_host_header(sni_server: SNIServer, ca_file: str) -> None:
    url = sni_server.server.url("/", host="localhost")
    tlskit.get(url, cafile=ca_file, server_hostname="api.internal.test")
    request, _ = sni_server.responder.requests[0]
    assert request.headers["host"] == f"localhost:{sni_server.server.port}"
    assert sni_server.names == ["api.internal.test"]


def test_override_that_does_not_match(sni_server: SNIServer, ca_file: str) -> None:
    with pytest.raises(HostnameMismatchError) as caught:
        tlskit.get(sni_server.server.url("/"), cafile=ca_file, server_hostname="other.internal.test")
    assert caught.value.verify_code == 62
    assert caught.value.host == "127.0.0.1"
    assert "verifying the name 'other.internal.test'" in str(caught.value)


def test_override_keys_its_own_connections(start_server: StartServer, ca: trustme.CA, ca_file: str) -> None:
    server = SNIServer(start_server, ca.issue_cert("127.0.0.1", "api.internal.test"))
    with tlskit.Client(cafile=ca_file) as client:
        for _ in range(2):
            assert client.get(server.server.url("/")).status == 200
            assert client.get(server.server.url("/"), server_hostname="api.internal.test").status == 200
    assert server.server.connections == 2
    assert server.names == [None, "api.internal.test"]


# Redirects: the override names the server of the URL requested, no other origin.


def redirect_to(location: str) -> Callable[[object], bytes]:
    def route(request: object) -> bytes:
        return response_bytes(302, [("Location", location)], b"moved", "Found")

    return route


def test_redirect_to_other_origin_drops_override(
    sni_server: SNIServer, start_server: StartServer, named_cert: trustme.LeafCert, ca_file: str
) -> None:
    # The other origin presents the same certificate, which does not name 127.0.0.1.
    other = SNIServer(start_server, named_cert)
    sni_server.responder.routes["/away"] = redirect_to(other.server.url("/"))
    with pytest.raises(HostnameMismatchError) as caught:
        tlskit.get(
            sni_server.server.url("/away"),
            cafile=ca_file,
            server_hostname="api.internal.test",
            diagnose=False,
        )
    assert caught.value.port == other.server.port
    assert caught.value.host == "127.0.0.1"
    assert sni_server.names == ["api.internal.test"]
    assert other.names == [None]


def test_redirect_to_other_origin_verifies_its_host(
    sni_server: SNIServer, start_server: StartServer, ca: trustme.CA, ca_file: str
) -> None:
    other = SNIServer(start_server, ca.issue_cert("127.0.0.1"))
    sni_server.responder.routes["/away"] = redirect_to(other.server.url("/"))
    response = tlskit.get(sni_server.server.url("/away"), cafile=ca_file, server_hostname="api.internal.test")
    assert response.body == b"ok"
    assert other.names == [None]


def test_override_returns_with_first_origin(
    sni_server: SNIServer, start_server: StartServer, ca: trustme.CA, ca_file: str
) -> None:
    other = SNIServer(start_server, ca.issue_cert("127.0.0.1"))
    sni_server.responder.routes["/away"] = redirect_to(other.server.url("/back"))
    other.responder.routes["/back"] = redirect_to(sni_server.server.url("/"))
    with tlskit.Client(cafile=ca_file) as client:
        response = client.get(sni_server.server.url("/away"), server_hostname="api.internal.test")
    assert response.body == b"ok"
    assert [hop.status for hop in response.history] == [302, 302]
    assert other.names == [None]
    # The first connection carried both requests to the first origin.
    assert sni_server.names == ["api.internal.test"]
    assert sni_server.server.connections == 1
