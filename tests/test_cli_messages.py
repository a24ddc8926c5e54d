"""Error messages of tlskit get name its options where the library's name Client keywords or TLSPolicy fields."""

from __future__ import annotations

import gzip
import os
import ssl
from typing import Callable, List

import pytest
import trustme

import tlskit
from conftest import make_server_context
from servers import HTTPResponder, TLSServer, read_request, scripted
from tlskit import InsecureRedirectError, LimitExceededError
from tlskit._cli import EXIT_HANDSHAKE, EXIT_OK, EXIT_POLICY, EXIT_PROTOCOL, EXIT_VERIFICATION, main

StartServer = Callable[..., TLSServer]

# Names that only a program using the library can set.
LIBRARY_TERMS = [
    "allow_http",
    "max_body",
    "max_redirects",
    "follow_redirects",
    "TLSPolicy",
    "Client.",
    "=True",
]


def get(*argv: str) -> int:
    return main(["get", *argv])


def error_paragraph(capsys: pytest.CaptureFixture[str]) -> str:
    """Return the first line of the error on stderr: what failed and what to do."""
    error = capsys.readouterr().err
    assert error.startswith("tlskit: ")
    return error.splitlines()[0]


def assert_cli_terms_only(paragraph: str) -> None:
    for term in LIBRARY_TERMS:
        assert term not in paragraph


@pytest.fixture
def plain_server() -> TLSServer:
    server = TLSServer(None, HTTPResponder({"/": (200, [], b"plain body")})).start()
    yield server
    server.stop()


# http and redirects.


def test_http_url_needs_allow_http(plain_server: TLSServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = plain_server.url("/")
    assert get(url) == EXIT_POLICY
    paragraph = error_paragraph(capsys)
    assert paragraph == (
        f"tlskit: invalid URL {url!r}: tlskit get fetches https:// URLs only. Pass --allow-http to fetch a "
        "plain http:// URL, whose request and response anyone on the path can read and change."
    )
    assert_cli_terms_only(paragraph)


def test_http_url_with_allow_http(
    plain_server: TLSServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert get(plain_server.url("/"), "--allow-http") == EXIT_OK
    assert capsysbinary.readouterr().out == b"plain body"


def test_http_url_credentials_not_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert get("http://user:hunter2@127.0.0.1:1/") == EXIT_POLICY
    paragraph = error_paragraph(capsys)
    assert "hunter2" not in paragraph
    assert "'http://user:***@127.0.0.1:1/'" in paragraph


@pytest.fixture
def redirect_to_http(start_server: StartServer, plain_server: TLSServer) -> TLSServer:
    location = plain_server.url("/")
    return start_server(HTTPResponder({"/go": (302, [("Location", location)], b"")}))


def test_url_credentials_named_header(
    https_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = https_server.url("/").replace("https://", "https://user:s3cret@")
    assert get(url, "--cacert", ca_file) == EXIT_POLICY
    paragraph = error_paragraph(capsys)
    assert "tlskit get does not send credentials from a URL" in paragraph
    assert "pass -u USER:PASSWORD" in paragraph
    assert "s3cret" not in paragraph
    assert_cli_terms_only(paragraph)


def test_redirect_to_http_names_allow_http(
    redirect_to_http: TLSServer, plain_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = redirect_to_http.url("/go")
    assert get(source, "--cacert", ca_file) == EXIT_PROTOCOL
    paragraph = error_paragraph(capsys)
    assert paragraph == (
        f"tlskit: rejected redirect from {source} to {plain_server.url('/')!r}: it leaves https for plain "
        "http, where the request and the response can be read and changed. Pass --allow-http to follow it, "
        "or --no-redirects to get the redirect response itself."
    )


def test_redirect_to_http_followed_with_allow_http(
    redirect_to_http: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert get(redirect_to_http.url("/go"), "--cacert", ca_file, "--allow-http") == EXIT_OK
    assert capsysbinary.readouterr().out == b"plain body"


def test_library_keeps_its_terms(redirect_to_http: TLSServer, plain_server: TLSServer, ca_file: str) -> None:
    with pytest.raises(InsecureRedirectError) as caught:
        tlskit.get(redirect_to_http.url("/go"), cafile=ca_file)
    assert caught.value.location == plain_server.url("/")
    assert "Pass allow_http=True to follow it." in str(caught.value)
    with pytest.raises(tlskit.InvalidURLError) as invalid:
        tlskit.get(plain_server.url("/"))
    assert "allow_http=True" in str(invalid.value)


def test_too_many_redirects_names_options(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(HTTPResponder({"/loop": (302, [("Location", "/loop")], b"")}))
    assert get(server.url("/loop"), "--cacert", ca_file, "--max-redirs", "2") == EXIT_PROTOCOL
    paragraph = error_paragraph(capsys)
    assert paragraph == (
        f"tlskit: stopped after 2 redirects; the last one, from {server.url('/loop')}, pointed to '/loop'. "
        "Raise --max-redirs, or pass --no-redirects to get the redirect response itself."
    )


# Limits.


def test_max_filesize_names_option(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(HTTPResponder({"/big": (200, [], b"x" * 5000)}))
    assert get(server.url("/big"), "--cacert", ca_file, "--max-filesize", "4999") == EXIT_PROTOCOL
    paragraph = error_paragraph(capsys)
    assert paragraph == (
        f"tlskit: response body from 127.0.0.1:{server.port} exceeds --max-filesize (4999 bytes). "
        "Raise --max-filesize to accept a larger body."
    )


def test_library_limit_keeps_its_terms(start_server: StartServer, ca_file: str) -> None:
    server = start_server(HTTPResponder({"/big": (200, [], b"x" * 5000)}))
    with pytest.raises(LimitExceededError) as caught:
        tlskit.get(server.url("/big"), cafile=ca_file, max_body=4999)
    assert caught.value.limit == "max_body"
    assert "max_body (4999 bytes)" in str(caught.value)


def test_head_limit_not_named_as_field(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(scripted(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n"))
    assert get(server.url("/"), "--cacert", ca_file) == EXIT_PROTOCOL
    paragraph = error_paragraph(capsys)
    assert "response header line exceeds tlskit's limit (16384 bytes)" in paragraph
    assert paragraph.endswith("). No option of tlskit get raises it.")
    assert "max_line_bytes" not in paragraph


def test_decompression_bomb_names_header(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Beyond the grace size, a body that expands over 100 times is rejected.
    bomb = gzip.compress(b"\0" * (9 * 1024 * 1024))
    server = start_server(HTTPResponder({"/": (200, [("Content-Encoding", "gzip")], bomb)}))
    assert get(server.url("/"), "--cacert", ca_file, "-o", os.devnull) == EXIT_PROTOCOL
    paragraph = error_paragraph(capsys)
    assert "looks like a decompression bomb" in paragraph
    assert (
        "tlskit get has no option to raise this limit. Pass -H 'Accept-Encoding: identity' to ask the "
        "server for the body without compression." in paragraph
    )
    assert_cli_terms_only(paragraph)


def test_unsupported_coding_names_header(
    start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(HTTPResponder({"/": (200, [("Content-Encoding", "br")], b"\x0b\x02\x80ok\x03")}))
    assert get(server.url("/"), "--cacert", ca_file) == EXIT_PROTOCOL
    paragraph = error_paragraph(capsys)
    assert paragraph.startswith("tlskit: unsupported Content-Encoding 'br': tlskit decodes gzip and deflate.")
    assert (
        "Pass -H 'Accept-Encoding: identity' to ask the server for the body without compression." in paragraph
    )
    assert_cli_terms_only(paragraph)
    assert "decode_content" not in paragraph


# Verification and handshake.


@pytest.fixture
def example_server(ca: trustme.CA, start_server: StartServer) -> TLSServer:
    context = make_server_context(ca.issue_cert("www.example.com"))
    return start_server(HTTPResponder({"/": (200, [], b"ok")}), context)


def test_hostname_mismatch_names_connect_to(
    example_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = example_server.port
    assert get(example_server.url("/", host="127.0.0.1"), "--cacert", ca_file) == EXIT_VERIFICATION
    paragraph = error_paragraph(capsys)
    assert paragraph.startswith(f"tlskit: certificate verification failed for 127.0.0.1:{port}: ")
    assert paragraph.endswith(
        f"Put a name that the certificate lists in the URL, such as https://www.example.com:{port}/, and add "
        f"--connect-to www.example.com:{port}:127.0.0.1:{port} to keep connecting to 127.0.0.1:{port}, or "
        "reissue the certificate with IP:127.0.0.1 in its subjectAltName."
    )
    assert_cli_terms_only(paragraph)


def test_hostname_mismatch_with_connect_to(
    example_server: TLSServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = example_server.port
    rule = f"localhost:443:127.0.0.1:{port}"
    assert get("https://localhost/", "--cacert", ca_file, "--connect-to", rule) == EXIT_VERIFICATION
    error = capsys.readouterr().err
    paragraph = error.splitlines()[0]
    assert paragraph.startswith(
        f"tlskit: certificate verification failed for 127.0.0.1:{port} (verifying the name 'localhost'): "
    )
    assert paragraph.endswith(
        "Put a name that the certificate lists in the URL, such as https://www.example.com/, and add "
        f"--connect-to www.example.com:443:127.0.0.1:{port} to keep connecting to 127.0.0.1:{port}, or "
        "reissue the certificate with DNS:localhost in its subjectAltName."
    )
    assert_cli_terms_only(paragraph)
    assert "  chain presented by the server (unverified, in the order sent):" in error


def test_unrecognized_name_names_url_host(
    server_cert: trustme.LeafCert, start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    context = make_server_context(server_cert)
    context.sni_callback = lambda sock, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME  # type: ignore[assignment,misc,return-value]
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), context)
    assert get(server.url("/", host="localhost"), "--cacert", ca_file) == EXIT_HANDSHAKE
    paragraph = error_paragraph(capsys)
    assert paragraph == (
        f"tlskit: TLS handshake with localhost:{server.port} failed (TLSV1_UNRECOGNIZED_NAME): the server "
        "does not serve the name sent as SNI. Check the host name of the URL, which is sent as SNI even "
        "with --connect-to."
    )


def test_client_certificate_required_names_cert(
    server_cert: trustme.LeafCert,
    ca: trustme.CA,
    start_server: StartServer,
    ca_file: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = make_server_context(server_cert)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED

    def answer(sock: ssl.SSLSocket) -> None:
        read_request(sock, bytearray())

    server = start_server(answer, context)
    assert get(server.url("/"), "--cacert", ca_file) == EXIT_HANDSHAKE
    paragraph = error_paragraph(capsys)
    assert "--cert" in paragraph
    assert_cli_terms_only(paragraph)


@pytest.mark.parametrize(
    ("server_versions", "options", "fix"),
    [
        ((ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2), ["--min-tls", "1.3"], "Pass --min-tls 1.2"),
        ((ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3), ["--max-tls", "1.2"], "Pass --max-tls 1.3"),
    ],
)
def test_version_mismatch_names_options(
    server_cert: trustme.LeafCert,
    start_server: StartServer,
    ca_file: str,
    capsys: pytest.CaptureFixture[str],
    server_versions: List[ssl.TLSVersion],
    options: List[str],
    fix: str,
) -> None:
    context = make_server_context(server_cert)
    context.minimum_version, context.maximum_version = server_versions
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), context)
    assert get(server.url("/"), "--cacert", ca_file, *options) == EXIT_HANDSHAKE
    paragraph = error_paragraph(capsys)
    assert fix in paragraph
    assert_cli_terms_only(paragraph)


def test_no_shared_cipher_names_ciphers(
    server_cert: trustme.LeafCert, start_server: StartServer, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    context = make_server_context(server_cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE+AESGCM")
    server = start_server(HTTPResponder({"/": (200, [], b"ok")}), context)
    argv = ["--cacert", ca_file, "--max-tls", "1.2", "--ciphers", "ECDHE+CHACHA20"]
    assert get(server.url("/"), *argv) == EXIT_HANDSHAKE
    paragraph = error_paragraph(capsys)
    assert "The policy offers --ciphers 'ECDHE+CHACHA20'" in paragraph
    assert "The 'intermediate' profile includes it: pass --ciphers 'intermediate'." in paragraph
    assert "ciphers=" not in paragraph
    assert_cli_terms_only(paragraph)


# Configuration.


@pytest.mark.parametrize(
    ("options", "glossary"),
    [
        (["--ciphers", "BOGUS"], "On the command line, --ciphers sets ciphers."),
        (["--min-tls", "1.3", "--max-tls", "1.2"], "--min-tls sets minimum_version and --max-tls sets"),
        (["--no-system-ca"], "On the command line, --no-system-ca sets system_ca"),
        (["--cacert", "/nonexistent/ca.pem"], "On the command line, --cacert sets cafile."),
    ],
)
def test_policy_errors_name_options(
    capsys: pytest.CaptureFixture[str], options: List[str], glossary: str
) -> None:
    assert get("https://localhost:1/", *options) == EXIT_POLICY
    assert glossary in error_paragraph(capsys)
