"""Pins per policy and per host, trust on first use, and pooled connections under pins."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Callable, List

import pytest
import trustme
from peer_helpers import (
    CLOSE,
    HAS_VERIFIED_CHAIN,
    OpensslIssuer,
    ReuseRecorder,
    ca_der,
    der_of_file,
    leaf_der,
    ok_responder,
)

import tlskit
from conftest import make_server_context
from servers import ConnectProxy, HTTPResponder, TLSServer
from tlskit import PeerCache, PinMismatchError, PolicyError, SessionCache
from tlskit._certs import spki_pin
from tlskit._pinning import HostPins, split_host_port

StartServer = Callable[..., TLSServer]
WRONG_PIN = "sha256/" + "A" * 43 + "="
READ_TIMEOUT_SECONDS = 5


@pytest.fixture
def leaf_pin(server_cert: trustme.LeafCert) -> str:
    return spki_pin(leaf_der(server_cert))


# Per-host pins on the client.


def test_host_pins_match(https_server: TLSServer, ca_file: str, leaf_pin: str) -> None:
    with tlskit.Client(cafile=ca_file, pins={"127.0.0.1": [WRONG_PIN, leaf_pin]}) as client:
        assert client.get(https_server.url("/")).status == 200


def test_host_pins_mismatch(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str, leaf_pin: str
) -> None:
    with tlskit.Client(cafile=ca_file, pins={f"127.0.0.1:{https_server.port}": [WRONG_PIN]}) as client:
        with pytest.raises(PinMismatchError) as caught:
            client.get(https_server.url("/"))
    assert caught.value.expected_pins == (WRONG_PIN,)
    assert caught.value.actual_pins[0] == leaf_pin
    assert caught.value.host == "127.0.0.1"
    assert caught.value.port == https_server.port
    assert "the client's pins for this host" in str(caught.value)
    assert responder.requests == []


def test_port_entry_wins_over_host_entry(start_server: StartServer, ca_file: str, leaf_pin: str) -> None:
    pinned, other = start_server(ok_responder()), start_server(ok_responder())
    pins = {"127.0.0.1": [WRONG_PIN], f"127.0.0.1:{pinned.port}": [leaf_pin]}
    with tlskit.Client(cafile=ca_file, pins=pins) as client:
        assert client.get(pinned.url("/")).status == 200
        with pytest.raises(PinMismatchError) as caught:
            client.get(other.url("/"))
    assert caught.value.expected_pins == (WRONG_PIN,)


def test_host_pins_leave_other_hosts_alone(https_server: TLSServer, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file, pins={"localhost": [WRONG_PIN]}) as client:
        assert client.get(https_server.url("/")).status == 200
        with pytest.raises(PinMismatchError):
            client.get(https_server.url("/", host="localhost"))


def test_host_pins_key_with_trailing_dot(https_server: TLSServer, ca_file: str) -> None:
    # "localhost." and "localhost" name one host, so a pin written in either form applies.
    with tlskit.Client(cafile=ca_file, pins={"localhost.": [WRONG_PIN]}) as client:
        with pytest.raises(PinMismatchError):
            client.get(https_server.url("/", host="localhost"))


@pytest.mark.parametrize("other", ["localhost.", "LOCALHOST"])
def test_host_pins_keys_for_one_host_rejected(other: str) -> None:
    # Both keys name one host, so one entry would silently replace the other.
    with pytest.raises(PolicyError) as caught:
        HostPins({"localhost": [WRONG_PIN], other: [WRONG_PIN]})
    assert caught.value.field == "pins"
    assert f"the key {other!r} names the same host and port as another key" in str(caught.value)


def test_host_pins_url_with_trailing_dot() -> None:
    # "localhost." does not resolve on every machine, so the lookup is checked alone.
    pins = HostPins({"localhost": [WRONG_PIN], "example.test:8443": [WRONG_PIN]})
    assert pins.for_origin("localhost.", 443) == (WRONG_PIN,)
    assert pins.for_origin("example.test.", 8443) == (WRONG_PIN,)


def test_host_pins_for_ip_literals(
    server_context: ssl.SSLContext, loopback_host: str, ca_file: str, leaf_pin: str
) -> None:
    key = f"[{loopback_host}]" if ":" in loopback_host else loopback_host
    with TLSServer(server_context, ok_responder(), host=loopback_host) as server:
        with tlskit.Client(cafile=ca_file, pins={key: [leaf_pin]}) as client:
            assert client.get(server.url("/")).status == 200
        with tlskit.Client(cafile=ca_file, pins={key: [WRONG_PIN]}) as client:
            with pytest.raises(PinMismatchError):
                client.get(server.url("/"))


@pytest.mark.parametrize(
    "policy_pins, host_pins",
    [(["leaf"], [WRONG_PIN]), ([WRONG_PIN], ["leaf"])],
    ids=["host pins fail", "policy pins fail"],
)
def test_every_pin_set_must_match(
    https_server: TLSServer, ca_file: str, leaf_pin: str, policy_pins: List[str], host_pins: List[str]
) -> None:
    policy = tlskit.TLSPolicy(
        cafile=ca_file, pins=[leaf_pin if pin == "leaf" else pin for pin in policy_pins]
    )
    pins = {"127.0.0.1": [leaf_pin if pin == "leaf" else pin for pin in host_pins]}
    with tlskit.Client(policy, pins=pins) as client:
        with pytest.raises(PinMismatchError) as caught:
            client.get(https_server.url("/"))
    assert caught.value.expected_pins == (WRONG_PIN,)


@pytest.mark.parametrize(
    "pins, text",
    [
        ({"https://a.test/": [WRONG_PIN]}, "invalid host 'https://a.test/'"),
        ({"a.test:99999": [WRONG_PIN]}, "invalid host 'a.test:99999'"),
        ({"a.test": []}, "the list is empty"),
        ({"a.test": WRONG_PIN}, "Pass a list"),
        ({"a.test": ["sha256/short"]}, "invalid TLSPolicy.pins entry"),
    ],
)
def test_invalid_host_pins(pins: dict, text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(pins=pins)
    assert text in str(caught.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Example.TEST", ("example.test", None)),
        ("example.test:8443", ("example.test", 8443)),
        ("[::1]:443", ("::1", 443)),
        ("[::1]", ("::1", None)),
        ("0:0::1", ("::1", None)),
        ("127.0.0.1:443", ("127.0.0.1", 443)),
        ("bücher.test", ("xn--bcher-kva.test", None)),
        ("example.test.", ("example.test", None)),
        ("Example.test.:8443", ("example.test", 8443)),
    ],
)
def test_split_host_port(text: str, expected: tuple) -> None:
    assert split_host_port(text) == expected


class FirstRead:
    """A handler that records how the server's first read after the handshake ends."""

    def __init__(self) -> None:
        self.outcomes: List[str] = []
        self.done = threading.Event()

    def __call__(self, sock: ssl.SSLSocket) -> None:
        sock.settimeout(READ_TIMEOUT_SECONDS)
        try:
            outcome = "request" if sock.recv(1) else "closed"
        except socket.timeout:
            outcome = "still open"
        except (ssl.SSLError, OSError):
            # Python 3.10 and later raise SSLEOFError for a close without close_notify.
            outcome = "closed"
        self.outcomes.append(outcome)
        self.done.set()


@pytest.mark.parametrize("where", ["policy", "client"])
def test_pin_mismatch_closes_socket(start_server: StartServer, ca_file: str, where: str) -> None:
    reader = FirstRead()
    server = start_server(reader)
    pins: dict = {"pins": [WRONG_PIN]} if where == "policy" else {"pins": {"127.0.0.1": [WRONG_PIN]}}
    with tlskit.Client(cafile=ca_file, **pins) as client:
        with pytest.raises(PinMismatchError):
            client.get(server.url("/"))
        # The client is still open, so only the pin check can have closed the socket.
        assert reader.done.wait(READ_TIMEOUT_SECONDS + 5)
    assert reader.outcomes == ["closed"]


# Pins on resumed connections and pooled connections.


@pytest.mark.skipif(not HAS_VERIFIED_CHAIN, reason="Python 3.9 exposes no verified chain, so CA pins fail")
def test_ca_pin_holds_on_resumed_connection(https_server: TLSServer, ca: trustme.CA, ca_file: str) -> None:
    with tlskit.Client(cafile=ca_file, pins=[spki_pin(ca_der(ca))], session_cache=SessionCache()) as client:
        responses = [client.get(https_server.url("/"), headers=CLOSE) for _ in range(3)]
    assert [response.tls.session_reused for response in responses] == [False, True, True]


def test_host_ca_pin_holds_on_resumed_connection(
    https_server: TLSServer, ca: trustme.CA, ca_file: str, leaf_pin: str
) -> None:
    pin = spki_pin(ca_der(ca)) if HAS_VERIFIED_CHAIN else leaf_pin
    with tlskit.Client(cafile=ca_file, pins={"127.0.0.1": [pin]}, session_cache=SessionCache()) as client:
        reused = [client.get(https_server.url("/"), headers=CLOSE).tls.session_reused for _ in range(2)]
    assert reused == [False, True]


def test_leaf_pin_holds_on_resumed_connection(https_server: TLSServer, ca_file: str, leaf_pin: str) -> None:
    with tlskit.Client(cafile=ca_file, pins=[leaf_pin], session_cache=SessionCache()) as client:
        reused = [client.get(https_server.url("/"), headers=CLOSE).tls.session_reused for _ in range(2)]
    assert reused == [False, True]


def test_pooled_connection_not_reused_under_other_pins(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str, leaf_pin: str
) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        client.get(https_server.url("/"))
        with pytest.raises(PinMismatchError):
            client.get(https_server.url("/"), pins=[WRONG_PIN])
        client.get(https_server.url("/"), pins=[leaf_pin])
        client.get(https_server.url("/"), pins=[leaf_pin])
        client.get(https_server.url("/"))
    assert https_server.connections == 3
    assert len(responder.requests) == 4


# Trust on first use.


def tofu_client(ca_file: str, cache: PeerCache, **options: object) -> tlskit.Client:
    settings: dict = {"session_cache": False, **options}
    return tlskit.Client(cafile=ca_file, peer_cache=cache, trust_on_first_use=True, **settings)


def test_first_use_pins_leaf_key(https_server: TLSServer, ca_file: str, leaf_pin: str) -> None:
    cache = PeerCache()
    with tofu_client(ca_file, cache) as client:
        client.get(https_server.url("/"), headers=CLOSE)
        client.get(https_server.url("/"), headers=CLOSE)
    record = cache.get("127.0.0.1", https_server.port)
    assert record is not None
    assert record.tofu_pin == leaf_pin


def test_first_use_rejects_rotated_key(start_server: StartServer, ca: trustme.CA, ca_file: str) -> None:
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    responder = ok_responder()
    server = start_server(responder, make_server_context(old))
    cache = PeerCache()
    with tofu_client(ca_file, cache) as client:
        client.get(server.url("/"), headers=CLOSE)
        server.context = make_server_context(new)
        with pytest.raises(PinMismatchError) as caught:
            client.get(server.url("/"), headers=CLOSE)
    assert caught.value.expected_pins == (spki_pin(leaf_der(old)),)
    assert caught.value.actual_pins[0] == spki_pin(leaf_der(new))
    assert "trust on first use" in str(caught.value)
    assert len(responder.requests) == 1
    record = cache.get("127.0.0.1", server.port)
    assert record is not None
    assert record.fingerprint != ""
    assert record.tofu_pin == spki_pin(leaf_der(old))


def test_first_use_accepts_renewal_with_same_key(
    start_server: StartServer, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    issuer = OpensslIssuer(ca, tmp_path)
    key = issuer.new_key("server")
    old, new = issuer.issue(key, days=30), issuer.issue(key, days=90)
    server = start_server(ok_responder(), issuer.server_context(old, key))
    cache = PeerCache()
    with tofu_client(ca_file, cache) as client:
        client.get(server.url("/"), headers=CLOSE)
        server.context = issuer.server_context(new, key)
        assert client.get(server.url("/"), headers=CLOSE).status == 200
    record = cache.get("127.0.0.1", server.port)
    assert record is not None
    assert record.fingerprint == tlskit._certs.sha256_fingerprint(der_of_file(new))
    assert record.tofu_pin == spki_pin(der_of_file(old))


@pytest.mark.parametrize("accept", [True, False])
def test_accept_key_change_callback(
    start_server: StartServer, ca: trustme.CA, ca_file: str, accept: bool, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    server = start_server(ok_responder(), make_server_context(old))
    offered: List[PinMismatchError] = []

    def decide(error: PinMismatchError) -> bool:
        offered.append(error)
        return accept

    cache = PeerCache()
    with tofu_client(ca_file, cache, accept_key_change=decide) as client:
        client.get(server.url("/"), headers=CLOSE)
        server.context = make_server_context(new)
        with caplog.at_level(logging.WARNING, logger="tlskit._peer_cache"):
            if accept:
                assert client.get(server.url("/"), headers=CLOSE).status == 200
            else:
                with pytest.raises(PinMismatchError):
                    client.get(server.url("/"), headers=CLOSE)
    assert [error.actual_pins[0] for error in offered] == [spki_pin(leaf_der(new))]
    record = cache.get("127.0.0.1", server.port)
    assert record is not None
    assert record.tofu_pin == spki_pin(leaf_der(new if accept else old))
    assert any("accepted a new key" in entry.getMessage() for entry in caplog.records) is accept


@pytest.mark.parametrize("answer", ["no", "yes", 1, [False]])
def test_key_change_needs_true(
    start_server: StartServer, ca: trustme.CA, ca_file: str, answer: object
) -> None:
    # An operator's typed answer is text: "no" is truthy and must not replace the pin.
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    server = start_server(ok_responder(), make_server_context(old))
    cache = PeerCache()
    with tofu_client(ca_file, cache, accept_key_change=lambda error: answer) as client:
        client.get(server.url("/"), headers=CLOSE)
        server.context = make_server_context(new)
        with pytest.raises(PolicyError) as caught:
            client.get(server.url("/"), headers=CLOSE)
    assert caught.value.field == "accept_key_change"
    assert str(caught.value).startswith(
        f"invalid return value {answer!r} from accept_key_change: expected True"
    )
    assert isinstance(caught.value.__cause__, PinMismatchError)
    record = cache.get("127.0.0.1", server.port)
    assert record is not None
    assert record.tofu_pin == spki_pin(leaf_der(old))


def test_key_change_refused_by_none(start_server: StartServer, ca: trustme.CA, ca_file: str) -> None:
    # A handler without a return statement returns None, which keeps the pin.
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    server = start_server(ok_responder(), make_server_context(old))
    with tofu_client(ca_file, PeerCache(), accept_key_change=lambda error: None) as client:
        client.get(server.url("/"), headers=CLOSE)
        server.context = make_server_context(new)
        with pytest.raises(PinMismatchError):
            client.get(server.url("/"), headers=CLOSE)


def test_forget_accepts_new_key(start_server: StartServer, ca: trustme.CA, ca_file: str) -> None:
    old, new = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    server = start_server(ok_responder(), make_server_context(old))
    cache = PeerCache()
    with tofu_client(ca_file, cache) as client:
        client.get(server.url("/"), headers=CLOSE)
        server.context = make_server_context(new)
        with pytest.raises(PinMismatchError):
            client.get(server.url("/"), headers=CLOSE)
        assert cache.forget("127.0.0.1", server.port) == 1
        assert client.get(server.url("/"), headers=CLOSE).status == 200
    record = cache.get("127.0.0.1", server.port)
    assert record is not None
    assert record.tofu_pin == spki_pin(leaf_der(new))


def test_first_use_pin_holds_on_resumed_connection(
    https_server: TLSServer, ca_file: str, leaf_pin: str
) -> None:
    cache = PeerCache()
    with tofu_client(ca_file, cache, session_cache=SessionCache()) as client:
        reused = [client.get(https_server.url("/"), headers=CLOSE).tls.session_reused for _ in range(2)]
    assert reused == [False, True]


def test_first_use_pin_checked_on_resumption(start_server: StartServer, ca: trustme.CA, ca_file: str) -> None:
    recorder = ReuseRecorder(ok_responder())
    server = start_server(recorder)
    cache = PeerCache()
    with tofu_client(ca_file, cache, session_cache=SessionCache()) as client:
        client.get(server.url("/"), headers=CLOSE)
        # Another key becomes the stored pin; the session stays in the session cache.
        cache.forget("127.0.0.1", server.port)
        other = leaf_der(ca.issue_cert("127.0.0.1"))
        cache.record("127.0.0.1", server.port, [other], "TLSv1.3", trust_on_first_use=True)
        with pytest.raises(PinMismatchError) as caught:
            client.get(server.url("/"), headers=CLOSE)
    # The server's handler thread may record the second handshake after the client has raised.
    waited = 0.0
    while len(recorder.reused) < 2 and waited < READ_TIMEOUT_SECONDS:
        time.sleep(0.01)
        waited += 0.01
    assert recorder.reused == [False, True]
    assert len(recorder.responder.requests) == 1
    assert caught.value.expected_pins == (spki_pin(other),)


class DottedNameProxy(ConnectProxy):
    """A CONNECT proxy that reaches ``localhost.``, which not every resolver resolves."""

    @staticmethod
    def _open(host: str, port: int) -> socket.socket:
        return ConnectProxy._open(host[:-1] if host.endswith(".") else host, port)


def test_first_use_pin_holds_with_trailing_dot(
    start_server: StartServer, ca: trustme.CA, ca_file: str
) -> None:
    old, new = ca.issue_cert("localhost"), ca.issue_cert("localhost")
    responder = ok_responder()
    server = start_server(responder, make_server_context(old))
    cache = PeerCache()
    with DottedNameProxy() as proxy, tofu_client(ca_file, cache, proxy=proxy.url) as client:
        client.get(f"https://localhost:{server.port}/", headers=CLOSE)
        server.context = make_server_context(new)
        with pytest.raises(PinMismatchError) as caught:
            client.get(f"https://localhost.:{server.port}/", headers=CLOSE)
    assert caught.value.expected_pins == (spki_pin(leaf_der(old)),)
    assert len(responder.requests) == 1
    assert [(record.host, record.port) for record in cache.records()] == [("localhost", server.port)]


def test_first_use_requires_verification(https_server: TLSServer, ca_file: str) -> None:
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(verify=False, trust_on_first_use=True)
    assert caught.value.field == "verify"
    with tofu_client(ca_file, PeerCache()) as client:
        with pytest.raises(PolicyError) as caught:
            client.get(https_server.url("/"), verify=False)
    assert caught.value.port == https_server.port


def test_first_use_requires_peer_cache() -> None:
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(peer_cache=False, trust_on_first_use=True)
    assert caught.value.field == "trust_on_first_use"


@pytest.mark.parametrize("name", ["session_cache", "peer_cache"])
def test_invalid_cache_argument(name: str) -> None:
    with pytest.raises(PolicyError) as caught:
        tlskit.Client(**{name: "yes"})
    assert caught.value.field == name
