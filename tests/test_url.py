"""URL parsing: accepted forms, the wire host and target, and rejected input."""

from __future__ import annotations

import pytest

from tlskit import InvalidURLError, PolicyError
from tlskit._url import parse_url

ACCEPTED = [
    # url, host, port, target, authority
    ("https://example.test", "example.test", 443, "/", "example.test"),
    ("https://Example.TEST:8443/a/b?x=1#frag", "example.test", 8443, "/a/b?x=1", "example.test:8443"),
    ("HTTPS://example.test:443/", "example.test", 443, "/", "example.test"),
    ("https://example.test:/p", "example.test", 443, "/p", "example.test"),
    ("https://example.test?q", "example.test", 443, "/?q", "example.test"),
    ("https://127.0.0.1:4443/", "127.0.0.1", 4443, "/", "127.0.0.1:4443"),
    ("https://[::1]:4443/x", "::1", 4443, "/x", "[::1]:4443"),
    ("https://[0:0:0:0:0:0:0:1]/", "::1", 443, "/", "[::1]"),
    ("https://bücher.example/", "xn--bcher-kva.example", 443, "/", "xn--bcher-kva.example"),
    ("https://B\u00dcCHER.example/", "xn--bcher-kva.example", 443, "/", "xn--bcher-kva.example"),
    ("https://\uff21\uff22.example/", "ab.example", 443, "/", "ab.example"),
    ("https://xn--fa-hia.example/", "xn--fa-hia.example", 443, "/", "xn--fa-hia.example"),
    ("https://example.test:00443/", "example.test", 443, "/", "example.test"),
    ("https://example.test./", "example.test.", 443, "/", "example.test."),
    ("https://example.test/caf%C3%A9", "example.test", 443, "/caf%C3%A9", "example.test"),
    ("https://example.test/café", "example.test", 443, "/caf%C3%A9", "example.test"),
    ('https://example.test/a"b<c>', "example.test", 443, "/a%22b%3Cc%3E", "example.test"),
    ("https://example.test/100%", "example.test", 443, "/100%25", "example.test"),
    ("https://example.test/%2F%2f", "example.test", 443, "/%2F%2f", "example.test"),
]


@pytest.mark.parametrize("url, host, port, target, authority", ACCEPTED)
def test_parse_url_accepts(url: str, host: str, port: int, target: str, authority: str) -> None:
    parsed = parse_url(url)
    assert parsed.host == host
    assert parsed.port == port
    assert parsed.target == target
    assert parsed.authority == authority


def test_ip_literals_are_marked() -> None:
    assert parse_url("https://127.0.0.1/").is_ip
    assert parse_url("https://[::1]/").is_ip
    assert not parse_url("https://localhost/").is_ip


def test_trailing_dot_dropped_for_verification() -> None:
    assert parse_url("https://example.test./").server_hostname == "example.test"


def test_zone_id_kept_off_the_wire() -> None:
    parsed = parse_url("https://[fe80::1%25eth0]:8443/")
    assert parsed.host == "fe80::1"
    assert parsed.zone == "eth0"
    assert parsed.authority == "[fe80::1]:8443"


def test_long_url_cut_in_message() -> None:
    url = "https://example.test:" + "1" * 5000 + "/"
    with pytest.raises(InvalidURLError) as caught:
        parse_url(url)
    assert f"({len(url)} characters)" in str(caught.value)
    assert len(str(caught.value)) < 1000


def test_userinfo_is_kept_but_not_in_authority() -> None:
    parsed = parse_url("https://user:secret@example.test/")
    assert parsed.userinfo == "user:secret"
    assert "secret" not in parsed.authority
    assert "secret" not in str(parsed)


def test_http_needs_allow_http() -> None:
    with pytest.raises(InvalidURLError, match="allow_http"):
        parse_url("http://example.test/")
    assert parse_url("http://example.test/", allow_http=True).port == 80


REJECTED = [
    ("ftp://example.test/", "scheme 'ftp'"),
    ("example.test/path", "no scheme"),
    ("https:///path", "no host"),
    ("https://example.test:0/", "port '0'"),
    ("https://example.test:65536/", "port '65536'"),
    ("https://example.test:12a/", "port '12a'"),
    ("https://example.test/a b", "' '"),
    ("https://example.test/a\r\nX-Evil: 1", "'\\r'"),
    ("https://example.test/\x00", "'\\x00'"),
    ("https://example.test/\t", "'\\t'"),
    ("https://example.test/?q=\x1b", "'\\x1b'"),
    ("https://example.test/\x7f", "'\\x7f'"),
    ("https://example.test/a\x85b", "'\\x85'"),
    ("https://example.test/\x9f", "'\\x9f'"),
    ("https://example.test\\@evil.test/", "'\\\\'"),
    ("https://[::1/", "never closed"),
    ("https://[::g]/", "not an IPv6 address"),
    ("https://[::1]x/", "unexpected"),
    ("https://exa_mple!.test/", "not a valid host name"),
    ("https://127.1/", "neither a dotted-quad"),
    ("https://0x7f.0.0.1/", "neither a dotted-quad"),
    ("https://" + "a" * 64 + ".test/", "not a valid host name"),
    ("https://example.test:" + "1" * 5000 + "/", "port '11111111111111111111... (5000 characters)'"),
    ("https://example.test:\u0661\u0662/", "port '\u0661\u0662'"),
    ("https://example.test:\uff18\uff14\uff14\uff13/", "is not a number from 1 to 65535"),
    ("https://example.test:123456/", "port '123456'"),
    # A zone id needs the escaped "%25" (RFC 6874), and a name after it.
    ("https://[fe80::1%eth0]/", "'%25'"),
    ("https://[::1%41]/", "'%25'"),
    ("https://[::1%25]/", "invalid IPv6 zone id ''"),
    ("https://[::1%25%41]/", "invalid IPv6 zone id '%41'"),
    # IDNA 2003 would map these labels to another host than IDNA 2008 names.
    ("https://fa\u00df.example/", "would become 'fass'"),
    ("https://\u03c3\u03cc\u03bb\u03bf\u03c2.example/", "A-label"),
    ("https://a\u200db.example/", "A-label"),
    ("https://a\u200cb.example/", "A-label"),
]


@pytest.mark.parametrize("url, fragment", REJECTED)
def test_parse_url_rejects(url: str, fragment: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_url(url)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, PolicyError)
    assert isinstance(caught.value, ValueError)


def test_non_string_url_rejected() -> None:
    with pytest.raises(InvalidURLError, match="expected a str"):
        parse_url(b"https://example.test/")  # type: ignore[arg-type]


def test_invalid_url_message_hides_password() -> None:
    with pytest.raises(InvalidURLError) as caught:
        parse_url("https://ann:s3cret@exa mple.test/")
    assert "s3cret" not in str(caught.value)
    assert "ann:***@" in str(caught.value)
