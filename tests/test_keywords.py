"""The call keywords of get(), Client.get(), Client.request() and Client.stream(): names and defaults.

These names are public API. Each test calls a real TLS server on loopback,
so a keyword that is renamed, dropped or rejected fails here.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict

import pytest

import tlskit
from servers import HTTPResponder, TLSServer
from tlskit import Retry, Timeout

# One value for each call keyword of the HTTP client, chosen so that the
# request still succeeds against the loopback server.
CALL_KEYWORDS: Dict[str, Any] = {
    "headers": {"X-Trace": "abc"},
    "timeout": 10,
    "max_body": 1024,
    "follow_redirects": False,
    "max_redirects": 3,
    "proxy": None,
    "allow_http": False,
    "trust_env": False,
    "decode_content": False,
    "retries": Retry(total=1),
}

# Defaults of the module-level get(), and of each call of a new Client.
DEFAULTS: Dict[str, Any] = {
    "follow_redirects": True,
    "max_redirects": 10,
    "allow_http": False,
    "decode_content": True,
    "retries": None,
    "proxy": None,
}


def call_with(function: str, client: tlskit.Client) -> Callable[..., tlskit.Response]:
    """Return the call named ``function``, bound to ``client`` where it needs one."""
    if function == "get":
        return tlskit.get
    if function == "Client.get":
        return client.get
    if function == "Client.request":
        return lambda url, **keywords: client.request("GET", url, **keywords)
    return lambda url, **keywords: client.stream(url, **keywords).read_response()


@pytest.mark.parametrize("function", ["get", "Client.get", "Client.request", "Client.stream"])
@pytest.mark.parametrize("keyword", sorted(CALL_KEYWORDS))
def test_call_keyword_accepted(
    https_server: TLSServer, responder: HTTPResponder, ca_file: str, function: str, keyword: str
) -> None:
    with tlskit.Client(cafile=ca_file) as client:
        send = call_with(function, client)
        options: Dict[str, Any] = {keyword: CALL_KEYWORDS[keyword]}
        if function == "get":
            options["cafile"] = ca_file
        response = send(https_server.url("/"), **options)
    assert response.status == 200
    assert response.body == b"hello, world\n"
    assert len(responder.requests) == 1


def test_verify_false_turns_verification_off(https_server: TLSServer) -> None:
    # No cafile: the test CA is unknown, so only verify=False lets this through.
    with tlskit.Client() as client:
        assert client.get(https_server.url("/"), verify=False).status == 200
        assert client.request("GET", https_server.url("/"), verify=False).status == 200
    assert tlskit.get(https_server.url("/"), verify=False).status == 200


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_module_get_defaults(name: str) -> None:
    parameter = inspect.signature(tlskit.get).parameters[name]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default == DEFAULTS[name]


def test_client_defaults() -> None:
    with tlskit.Client() as client:
        options = client.options
    assert options.follow_redirects is True
    assert options.max_redirects == 10
    assert options.allow_http is False
    assert options.decode_content is True
    assert options.retry is None
    assert options.proxy is None
    assert options.policy.trust_env is True
    assert options.policy.verify is True


@pytest.mark.parametrize("method", ["get", "request", "stream"])
def test_client_call_keywords_are_explicit(method: str) -> None:
    # trust_env and verify are TLSPolicy fields, taken through **fields.
    parameters = inspect.signature(getattr(tlskit.Client, method)).parameters
    for name in sorted(set(CALL_KEYWORDS) - {"trust_env"}):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert parameters["fields"].kind is inspect.Parameter.VAR_KEYWORD


@pytest.mark.parametrize(
    "timeout, expected",
    [(2.5, Timeout(total=2.5)), (Timeout(connect=1, read=2, total=3), Timeout(connect=1, read=2, total=3))],
)
def test_timeout_number_or_object(timeout: Any, expected: Timeout) -> None:
    with tlskit.Client(timeout=timeout) as client:
        assert client.options.timeout == expected
