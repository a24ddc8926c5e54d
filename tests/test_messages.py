"""Error messages read as sentences: no doubled periods, no space before a period, no run-on joins."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Callable, List

import pytest
import trustme

import tlskit
from conftest import make_server_context
from servers import HTTPResponder, TLSServer, scripted
from tlskit import PolicyError, TLSKitError, TLSPolicy
from tlskit._errors import join_sentences, sentence
from tlskit._redirects import next_url
from tlskit._url import parse_url

StartServer = Callable[..., TLSServer]

# Two periods in a row that are not an ellipsis, or a space before a period.
_BAD_PUNCTUATION = re.compile(r"(?<!\.)\.\.(?!\.)| \.")
# A sentence that ends and a next one that starts lower case, such as "'[IPv6]:port'. invalid URL".
_RUN_ON = re.compile(r"[.!?] (invalid|expected|could|the|a|an) ")


def assert_reads_well(message: str) -> None:
    assert not _BAD_PUNCTUATION.search(message), message
    assert not _RUN_ON.search(message), message


def raised(call: Callable[[], object]) -> TLSKitError:
    with pytest.raises(TLSKitError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    "parts, expected",
    [
        (
            ("failed: Hostname mismatch, not valid for 'x'.", "Check it."),
            "failed: Hostname mismatch, not valid for 'x'. Check it.",
        ),
        (("a reason (_ssl.c:2580)", "fix it"), "a reason (_ssl.c:2580). Fix it."),
        (("reason .", "", "  ", "max_body is small"), "reason. max_body is small."),
        (("is it?", "yes"), "is it? Yes."),
    ],
)
def test_join_sentences(parts: tuple, expected: str) -> None:
    assert join_sentences(*parts) == expected


def test_sentence_keeps_one_period() -> None:
    assert sentence("done..") == "done."
    assert sentence("done") == "done."
    assert sentence("") == ""


@pytest.mark.parametrize("diagnose", [True, False])
def test_hostname_mismatch_message(
    ca: trustme.CA, start_server: StartServer, ca_file: str, diagnose: bool
) -> None:
    context = make_server_context(ca.issue_cert("other.test"))
    server = start_server(HTTPResponder(), context)
    error = raised(lambda: tlskit.get(server.url("/", host="localhost"), cafile=ca_file, diagnose=diagnose))
    assert "not valid for 'localhost'" in str(error)
    assert_reads_well(str(error))


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_rejected_client_certificate_message(
    server_cert: trustme.LeafCert,
    ca: trustme.CA,
    start_server: StartServer,
    ca_file: str,
    tmp_path: Path,
    maximum: ssl.TLSVersion,
) -> None:
    context = make_server_context(server_cert)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    context.maximum_version = maximum
    server = start_server(HTTPResponder(), context)
    stranger = str(tmp_path / "stranger.pem")
    trustme.CA().issue_cert("stranger.test").private_key_and_cert_chain_pem.write_to_path(stranger)
    error = raised(lambda: tlskit.get(server.url("/"), cafile=ca_file, client_cert=stranger))
    assert "TLSPolicy.client_cert" in str(error)
    assert_reads_well(str(error))


def test_body_and_handshake_messages(start_server: StartServer, ca_file: str) -> None:
    cut = start_server(scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
    plain = start_server(
        scripted(b"HTTP/1.1 400 Bad Request\r\n\r\n", read_request_first=False), context=None
    )
    messages: List[str] = [
        str(raised(lambda: tlskit.get(cut.url("/"), cafile=ca_file))),
        str(raised(lambda: tlskit.get(f"https://127.0.0.1:{plain.port}/", cafile=ca_file))),
    ]
    for message in messages:
        assert_reads_well(message)


CALLER_MISTAKES: List[Callable[[], object]] = [
    lambda: tlskit.Client(pins={"a b": ["sha256/" + "A" * 43 + "="]}),
    lambda: tlskit.Client(pins={"host:99999": ["sha256/" + "A" * 43 + "="]}),
    lambda: parse_url("https://[fe80::1%eth0]/"),
    lambda: parse_url("https://fa\u00df.example/"),
    lambda: parse_url("https://example.test:" + "9" * 5000 + "/"),
    lambda: TLSPolicy(server_hostname="fa\u00df.example"),
    lambda: tlskit.create_context(cafile="/nonexistent/ca.pem"),
    lambda: next_url(parse_url("https://a.test/"), "https://a.test:0/", allow_http=False, history=[]),
    lambda: next_url(parse_url("https://a.test/"), "http:b.test/", allow_http=True, history=[]),
]


@pytest.mark.parametrize("call", CALLER_MISTAKES)
def test_caller_mistake_messages(call: Callable[[], object]) -> None:
    with pytest.raises(TLSKitError) as caught:
        call()
    assert_reads_well(str(caught.value))
    if isinstance(caught.value, PolicyError):
        assert str(caught.value).endswith(".")
