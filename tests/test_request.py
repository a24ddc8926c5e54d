"""Request preparation: default and caller fields, content, credentials, request bytes."""

from __future__ import annotations

import base64
from typing import Any, Optional, Tuple

import pytest

from tlskit import InvalidHeaderError, InvalidURLError, PolicyError
from tlskit._request import (
    DEFAULT_FIELDS,
    HeadersType,
    RequestSpec,
    encode_content,
    prepare_spec,
    request_bytes,
)
from tlskit._url import parse_url


def spec_for(
    url: str = "https://example.test/",
    method: str = "GET",
    headers: HeadersType = None,
    content: bytes = b"",
    content_type: Optional[str] = None,
    auth: Optional[Tuple[str, str]] = None,
    url_credentials: bool = False,
) -> RequestSpec:
    return prepare_spec(
        method, parse_url(url), DEFAULT_FIELDS, headers, content, content_type, auth, url_credentials
    )


def wire(spec: RequestSpec, url: str = "https://example.test/") -> str:
    return request_bytes(spec, parse_url(url)).decode("latin-1")


def test_default_request_bytes() -> None:
    text = wire(spec_for(), "https://example.test:8443/a?b=1")
    lines = text.split("\r\n")
    assert lines[0] == "GET /a?b=1 HTTP/1.1"
    assert lines[1] == "Host: example.test:8443"
    assert "Accept-Encoding: gzip, deflate" in lines
    assert "Connection: keep-alive" in lines
    assert "Accept: */*" in lines
    assert any(line.startswith("User-Agent: tlskit/") for line in lines)
    assert text.endswith("\r\n\r\n")
    assert "Content-Length" not in text


def test_host_without_default_port() -> None:
    assert "\r\nHost: example.test\r\n" in wire(spec_for())


def test_caller_fields_replace_defaults() -> None:
    text = wire(spec_for(headers={"accept-encoding": "identity", "Host": "virtual.test"}))
    assert "accept-encoding: identity" in text
    assert "gzip" not in text
    assert text.count("Host") + text.count("host:") == 1
    assert "\r\nHost: virtual.test\r\n" in text


def test_post_sends_content_length_even_when_empty() -> None:
    assert "Content-Length: 0" in wire(spec_for(method="POST"))
    assert "Content-Length" not in wire(spec_for(method="DELETE"))
    text = wire(spec_for(method="PUT", content=b"abc"))
    assert "Content-Length: 3" in text
    assert text.endswith("\r\n\r\nabc")


def test_json_content() -> None:
    content, content_type = encode_content(None, {"a": [1, "é"]}, True)
    assert content == '{"a":[1,"é"]}'.encode()
    assert content_type == "application/json"
    text = wire(spec_for(method="POST", content=content, content_type=content_type))
    assert "Content-Type: application/json" in text


def test_caller_content_type_wins_over_json() -> None:
    text = wire(
        spec_for(
            method="POST", headers={"Content-Type": "application/x+json"}, content_type="application/json"
        )
    )
    assert "Content-Type: application/x+json" in text
    assert "application/json" not in text


@pytest.mark.parametrize(
    "content, json, has_json, text",
    [
        (b"x", {}, True, "either body or json"),
        ("text", None, False, "expected bytes"),
        (None, {1, 2}, True, "invalid json"),
        (None, float("nan"), True, "invalid json"),
    ],
)
def test_invalid_content_raises(content: Any, json: Any, has_json: bool, text: str) -> None:
    with pytest.raises(PolicyError, match=text):
        encode_content(content, json, has_json)


def test_bytes_like_content() -> None:
    assert encode_content(bytearray(b"ab"), None, False) == (b"ab", None)
    assert encode_content(memoryview(b"cd"), None, False) == (b"cd", None)


def test_matching_content_length_accepted() -> None:
    text = wire(spec_for(method="POST", content=b"abc", headers={"Content-Length": "3"}))
    assert text.count("Content-Length") == 1


@pytest.mark.parametrize(
    "headers, text",
    [
        ({"Content-Length": "10"}, "the body has 3 bytes"),
        ({"Transfer-Encoding": "chunked"}, "Transfer-Encoding"),
        ({"X-Bad": "a\r\nInjected: 1"}, "control character"),
        ({"Bad Name": "1"}, "invalid header name"),
        ([("X-Only-Name",)], "(name, value) pair"),
    ],
)
def test_invalid_fields_raise(headers: Any, text: str) -> None:
    with pytest.raises(InvalidHeaderError) as caught:
        spec_for(method="POST", content=b"abc", headers=headers)
    assert text in str(caught.value)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_auth_tuple() -> None:
    assert f"Authorization: {basic('ann', 'pa:ss é')}" in wire(spec_for(auth=("ann", "pa:ss é")))


def test_auth_user_with_colon_raises() -> None:
    with pytest.raises(PolicyError, match="contains ':'"):
        spec_for(auth=("a:b", "c"))


def test_url_credentials_need_opt_in() -> None:
    with pytest.raises(InvalidURLError) as caught:
        spec_for("https://ann:secret@example.test/")
    assert "url_credentials=True" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_url_credentials_percent_decoded() -> None:
    spec = spec_for("https://ann%40corp:p%3Ass@example.test/", url_credentials=True)
    assert spec.fields["authorization"][1] == basic("ann@corp", "p:ss")
    assert "ann" not in wire(spec).split("\r\n")[0]


def test_absolute_form_for_forward_proxy() -> None:
    spec = spec_for()
    data = request_bytes(
        spec,
        parse_url("http://example.test:8080/x", allow_http=True),
        absolute_form=True,
        proxy_authorization="Basic eA==",
    )
    text = data.decode()
    assert text.startswith("GET http://example.test:8080/x HTTP/1.1\r\n")
    assert "Proxy-Authorization: Basic eA==" in text
