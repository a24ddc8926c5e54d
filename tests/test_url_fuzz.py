"""Property-based tests: any URL or Location string gives a valid URL or a tlskit error, nothing else."""

from __future__ import annotations

from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import InvalidURLError, RedirectError
from tlskit._redirects import next_url
from tlskit._url import parse_url

FUZZ_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)
BASE = parse_url("https://a.test:8443/b/c?q=1")

# Pieces that URL parsers disagree on, mixed with arbitrary text.
PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "//",
        "/",
        "..",
        ".",
        "?",
        "#",
        "@",
        ":",
        "[",
        "]",
        "%",
        "%2F",
        "%zz",
        "\\",
        " ",
        "\t",
        "\r\n",
        "\x00",
        "é",
        "xn--",
        "a.test",
        "::1",
        "%25eth0",
        "65536",
        "0x7f",
        "127.1",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=8).map("".join)


@FUZZ_SETTINGS
@given(text=TEXT, allow_http=st.booleans())
def test_parse_url_returns_url_or_invalid_url_error(text: str, allow_http: bool) -> None:
    try:
        url = parse_url(text, allow_http=allow_http)
    except InvalidURLError:
        return
    assert url.scheme in ("https", "http")
    assert 1 <= url.port <= 65535
    assert url.target.startswith("/")
    assert url.target.isascii()
    for forbidden in (" ", "\r", "\n", "\x00", "#"):
        assert forbidden not in url.target
        assert forbidden not in url.authority


@FUZZ_SETTINGS
@given(location=TEXT, allow_http=st.booleans())
def test_next_url_returns_url_or_redirect_error(location: str, allow_http: bool) -> None:
    history: List[object] = []
    try:
        url = next_url(BASE, location, allow_http=allow_http, history=history)
    except RedirectError as exc:
        assert exc.location == location
        return
    assert url.scheme == "https" or (allow_http and url.scheme == "http")
    assert url.userinfo is None
    assert url.target.isascii()
    assert " " not in url.target
