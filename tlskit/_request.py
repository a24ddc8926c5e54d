"""Request preparation: options, header fields, content and credentials, checked before any byte is sent.

A call's keyword arguments become a `RequestOptions` (limits, timeouts,
redirect, proxy and retry settings) and a `RequestSpec` (method, header
fields, content). `request_bytes` turns a spec into the bytes of one hop,
adding Host, Content-Length and proxy credentials for that hop's URL.

Default fields, each replaced by a caller field of the same name:
User-Agent, Accept ``*/*``, Accept-Encoding ``gzip, deflate`` and
Connection ``keep-alive``. Host comes from the URL, with the port when it
is not the scheme's default, unless the caller sets it.
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, Iterable, List, Mapping, NamedTuple, Optional, Tuple, Union

from ._errors import InvalidHeaderError, InvalidURLError, PolicyError
from ._http11_events import DEFAULT_LIMITS, Limits
from ._http11_request import validate_header
from ._policy import TLSPolicy
from ._proxy import NO_PROXY_ENVIRONMENT, ProxyEnvironment, read_proxy_environment
from ._retry import Retry, make_retry
from ._timeouts import Timeout, TimeoutType, make_timeout
from ._url import URL, basic_authorization
from ._version import __version__

HeadersType = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]
ContentType = Union[bytes, bytearray, memoryview, None]
FieldMap = Dict[str, Tuple[str, str]]
RetriesType = Union[Retry, int, None]

USER_AGENT = f"tlskit/{__version__}"

DEFAULT_FIELDS: FieldMap = {
    "user-agent": ("User-Agent", USER_AGENT),
    "accept": ("Accept", "*/*"),
    "accept-encoding": ("Accept-Encoding", "gzip, deflate"),
    "connection": ("Connection", "keep-alive"),
}

# Methods that give content a meaning: a user agent sends Content-Length
# for them even when it is 0 (RFC 9110 8.6).
CONTENT_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestOptions(NamedTuple):
    """Settings of one call: the client's defaults with the call's arguments applied.

    ``pool_key`` stands for the policy in connection pool keys: a token made
    once per client, so that no request hashes the whole policy, or the policy
    itself when a call overrides policy fields. ``environment`` holds the
    proxy variables, read when ``trust_env`` is on.
    """

    policy: TLSPolicy
    pool_key: Hashable
    environment: ProxyEnvironment
    timeout: Timeout
    limits: Limits
    max_body: Optional[int]
    follow_redirects: bool
    max_redirects: int
    proxy: Optional[str]
    allow_http: bool
    decode_content: bool
    retry: Optional[Retry]


class RequestSpec(NamedTuple):
    """The method, fields and content that every hop of one call sends.

    Attributes:
        method: the method, upper case.
        fields: header fields by lower-case name, without Host unless the
            caller set it, and without Content-Length.
        content: the request content, possibly empty.
        encoded_fields: `encode_fields` of ``fields``, or None to encode them per hop.
    """

    method: str
    fields: FieldMap
    content: bytes
    encoded_fields: Optional[bytes] = None


def make_spec(method: str, fields: FieldMap, content: bytes) -> RequestSpec:
    """Return a spec whose fields, Host aside, are encoded once for all of its hops."""
    return RequestSpec(method, fields, content, encode_fields(fields))


def encode_fields(fields: FieldMap) -> bytes:
    """Return the wire form of every field but Host, each line ending in CRLF."""
    lines = "".join(f"{name}: {value}\r\n" for key, (name, value) in fields.items() if key != "host")
    return lines.encode("latin-1")


def header_fields(headers: HeadersType) -> List[Tuple[str, str]]:
    """Turn a mapping or (name, value) pairs into validated fields.

    Raises:
        InvalidHeaderError: a pair is malformed, or a name or value could split the request.
    """
    if headers is None:
        return []
    if isinstance(headers, (str, bytes)) or not isinstance(headers, (Mapping, list, tuple)):
        raise InvalidHeaderError(
            f"invalid headers {headers!r}: expected a mapping of names to values, or a list of "
            "(name, value) pairs.",
            field="headers",
        )
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidHeaderError(
                f"invalid header {pair!r}: expected a (name, value) pair.", field="headers"
            )
        validate_header(*pair)
    return pairs


def merge_fields(base: FieldMap, fields: Iterable[Tuple[str, str]]) -> FieldMap:
    """Return ``base`` with ``fields`` added; a field replaces any earlier one of the same name."""
    merged = dict(base)
    for name, value in fields:
        merged[name.lower()] = (name, value)
    return merged


def encode_content(content: ContentType, json: Any, has_json: bool) -> Tuple[bytes, Optional[str]]:
    """Return the content bytes and the Content-Type they imply, if any.

    Raises:
        PolicyError: both ``body`` and ``json`` were given, or ``body`` is not bytes.
    """
    if has_json:
        if content is not None:
            raise PolicyError("pass either body or json, not both.", field="json")
        import json as json_module  # Deferred: only JSON requests need it.

        try:
            text = json_module.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"invalid json argument: {exc}.", field="json") from exc
        return text.encode("utf-8"), "application/json"
    if content is None:
        return b"", None
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise PolicyError(
            f"invalid body of type {type(content).__name__}: expected bytes. Encode text first, "
            "such as body=text.encode('utf-8'), or pass json= for JSON.",
            field="body",
        )
    return bytes(content), None


def prepare_spec(
    method: str,
    url: URL,
    base: FieldMap,
    headers: HeadersType,
    content: bytes,
    content_type: Optional[str],
    auth: Optional[Tuple[str, str]],
    url_credentials: bool,
) -> RequestSpec:
    """Merge the call's fields into the client's and add content type and credentials.

    Raises:
        InvalidHeaderError: a field is invalid, or sets framing tlskit owns.
        InvalidURLError: the URL carries credentials and ``url_credentials`` is off.
        PolicyError: ``auth`` is not a (user, password) pair of str.
    """
    fields = merge_fields(base, header_fields(headers)) if headers is not None else base
    if content_type is not None and "content-type" not in fields:
        fields = merge_fields(fields, [("Content-Type", content_type)])
    if auth is not None:
        fields = merge_fields(fields, [("Authorization", _auth_value(auth))])
    if url.userinfo is not None:
        if not url_credentials:
            raise InvalidURLError(
                f"invalid URL {str(url)!r} with user:password@ in it: it carries credentials, which tlskit sends only when asked. Pass url_credentials=True to send "
                "them as Basic authentication, or pass auth=(user, password).",
                field="url",
            )
        if auth is None:
            fields = merge_fields(fields, [("Authorization", basic_authorization(url.userinfo))])
    return make_spec(method, _check_framing(fields, content), content)


def _auth_value(auth: Tuple[str, str]) -> str:
    if not (isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(item, str) for item in auth)):
        raise PolicyError("invalid auth: expected a (user, password) tuple of str.", field="auth")
    user, password = auth
    if ":" in user:
        raise PolicyError(
            "invalid auth: the user name contains ':', which Basic authentication cannot carry (RFC 7617 2).",
            field="auth",
        )
    from urllib.parse import quote

    return basic_authorization(f"{quote(user, safe='')}:{quote(password, safe='')}")


def _check_framing(fields: FieldMap, content: bytes) -> FieldMap:
    """Reject framing fields that would disagree with the content tlskit sends."""
    if "transfer-encoding" in fields:
        raise InvalidHeaderError(
            "invalid header 'Transfer-Encoding': tlskit sends content with Content-Length. Remove the field.",
            field="headers",
        )
    given = fields.get("content-length")
    if given is None:
        return fields
    if given[1].strip() != str(len(content)):
        raise InvalidHeaderError(
            f"invalid header 'Content-Length: {given[1]}': the body has {len(content)} bytes. Remove the "
            "field; tlskit sets it from the body.",
            field="headers",
        )
    fields = dict(fields)
    del fields["content-length"]
    return fields


def request_bytes(
    spec: RequestSpec, url: URL, *, absolute_form: bool = False, proxy_authorization: Optional[str] = None
) -> bytes:
    """Return the bytes of one hop of ``spec`` to ``url``.

    A plain http request through a proxy uses ``absolute_form``: the target
    is the whole URL, followed by the proxy's credentials, if any.
    """
    fields = spec.fields
    name, value = fields.get("host") or ("Host", url.authority)
    target = str(url) if absolute_form else url.target
    encoded = spec.encoded_fields
    if encoded is None:
        encoded = encode_fields(fields)
    # The same bytes as `build_request` makes from Host, the other fields in
    # order, then Content-Length and Proxy-Authorization, without a list per hop.
    head = f"{spec.method} {target} HTTP/1.1\r\n{name}: {value}\r\n".encode("latin-1") + encoded
    content = spec.content
    if content or spec.method in CONTENT_METHODS:
        head += b"Content-Length: %d\r\n" % len(content)
    if absolute_form and proxy_authorization is not None:
        head += f"Proxy-Authorization: {proxy_authorization}\r\n".encode("latin-1")
    return head + b"\r\n" + content


def _check_type(name: str, value: object, expected: Tuple[type, ...], text: str) -> None:
    if isinstance(value, bool) and bool not in expected:
        expected = ()
    if not isinstance(value, expected):
        raise PolicyError(f"invalid {name} {value!r}: expected {text}.", field=name)


def _check_count(name: str, value: Optional[int], allow_none: bool) -> None:
    if value is None and allow_none:
        return
    _check_type(name, value, (int,), "an int of at least 0" + (", or None" if allow_none else ""))
    assert value is not None
    if value < 0:
        raise PolicyError(f"invalid {name} {value!r}: expected an int of at least 0.", field=name)


def check_limits(limits: Limits) -> None:
    """Raise `PolicyError` unless every field of ``limits`` is a positive int (None for no limit where allowed)."""
    for name, value in limits._asdict().items():
        if value is None and name == "max_decoded_bytes":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            allowed = ", or None for no limit" if name == "max_decoded_bytes" else ""
            raise PolicyError(
                f"invalid Limits.{name}: {value!r}. Expected an int of at least 1{allowed}.", field="limits"
            )


def make_options(
    policy: TLSPolicy,
    *,
    pool_key: Hashable,
    environment: Optional[ProxyEnvironment],
    timeout: TimeoutType,
    limits: Limits,
    max_body: Optional[int],
    follow_redirects: bool,
    max_redirects: int,
    proxy: Optional[str],
    allow_http: bool,
    decode_content: bool,
    retries: RetriesType,
) -> RequestOptions:
    """Validate call settings and return them as `RequestOptions`.

    Raises:
        PolicyError: a setting has the wrong type or range.
    """
    _check_count("max_body", max_body, allow_none=True)
    _check_count("max_redirects", max_redirects, allow_none=False)
    for name, flag in (
        ("follow_redirects", follow_redirects),
        ("allow_http", allow_http),
        ("decode_content", decode_content),
    ):
        _check_type(name, flag, (bool,), "True or False")
    if proxy is not None:
        _check_type("proxy", proxy, (str,), "a proxy URL such as 'http://proxy.example:3128', or None")
    # The default Limits are valid by construction.
    if limits is not DEFAULT_LIMITS:
        _check_type("limits", limits, (Limits,), "a tlskit.Limits")
        check_limits(limits)
    if environment is None:
        environment = read_proxy_environment() if policy.trust_env else NO_PROXY_ENVIRONMENT
    return RequestOptions(
        policy=policy,
        pool_key=pool_key,
        environment=environment,
        timeout=make_timeout(timeout),
        limits=limits,
        max_body=max_body,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        proxy=proxy,
        allow_http=allow_http,
        decode_content=decode_content,
        retry=make_retry(retries),
    )
