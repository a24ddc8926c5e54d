"""Redirects: where a 3xx response points, and what the next request keeps.

`next_url` resolves a Location against the URL that returned it (RFC 3986
5.2), whether absolute, scheme-relative (``//host/path``) or relative, and
validates the result as strictly as a URL the caller passed. A Location such
as ``https:host/x``, with a scheme but no ``//``, has no authority: with
the current scheme it is a relative path, as browsers resolve it, and with
another scheme it is rejected. Escapes already
in the Location (``%2F``) are sent as they are, never decoded; raw UTF-8 and
spaces are percent-encoded. A Location whose scheme is not https, or not
http when the caller allows it, is rejected with `RedirectError`.

`next_method` applies RFC 9110 15.4: 303 turns any method but HEAD into a
GET without content, 301 and 302 do the same for a POST (as every browser
does), and 307 and 308 keep method and content.

`is_cross_origin` returns whether the next request goes to another scheme, host
or port, so that credentials must not follow it.
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple, Type, TypeVar

from ._errors import InsecureRedirectError, InvalidURLError, RedirectError, join_sentences
from ._request import RequestSpec, make_spec
from ._url import URL, parse_url, shorten

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Header fields that carry credentials for one origin; dropped when a
# redirect leads to another. A Host set by the caller names one origin too.
ORIGIN_BOUND_FIELDS = frozenset({"authorization", "cookie", "proxy-authorization", "host"})

# Header fields that describe the request content; dropped with the content.
CONTENT_FIELDS = frozenset({"content-length", "content-type", "content-encoding", "transfer-encoding"})

_RedirectErrorT = TypeVar("_RedirectErrorT", bound=RedirectError)

# RFC 3986 appendix B: scheme, authority, path, query, fragment.
_REFERENCE = re.compile(
    r"(?:([A-Za-z][A-Za-z0-9+.\-]*):)?(?://([^/?#]*))?([^?#]*)(\?[^#]*)?(?:#.*)?", re.DOTALL
)


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments as RFC 3986 5.2.4 describes."""
    if "." not in path:
        return path
    output: List[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        if segment == ".":
            if is_last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if is_last:
                output.append("")
        else:
            output.append(segment)
    resolved = "/".join(output)
    if path.startswith("/") and not resolved.startswith("/"):
        resolved = "/" + resolved
    return resolved


def resolve_reference(base: URL, reference: str) -> str:
    """Return the absolute URL that ``reference`` names relative to ``base`` (RFC 3986 5.2.2)."""
    match = _REFERENCE.fullmatch(reference)
    assert match is not None  # Every group is optional, so any string matches.
    scheme, authority, path, query = match.groups()
    base_path, _, base_query = base.target.partition("?")
    if scheme is not None and authority is None and scheme.lower() == base.scheme:
        # "https:path" has no authority (RFC 3986 3.2). Like browsers and the
        # RFC's non-strict resolution (5.2.2), it is a relative reference on the
        # current origin, never a host and port read from the path.
        scheme = None
    if scheme is not None:
        scheme = scheme.lower()
        if authority is None:
            # Another scheme without an authority names no host; parse_url rejects it.
            return f"{scheme}:{path}{query or ''}"
    elif authority is not None:
        scheme = base.scheme
    else:
        scheme, authority = base.scheme, base.authority
        if not path:
            path = base_path
            if query is None and base_query:
                query = "?" + base_query
        elif not path.startswith("/"):
            path = base_path[: base_path.rfind("/") + 1] + path
    return f"{scheme}://{authority or ''}{_remove_dot_segments(path)}{query or ''}"


def _percent_encode_raw(location: str) -> str:
    """Undo the latin-1 reading of a raw UTF-8 Location and encode what may not be sent raw."""
    if not location.isascii():
        try:
            raw = location.encode("latin-1")
        except UnicodeEncodeError:
            # Characters beyond Latin-1 cannot come from header bytes, so the
            # text is Unicode already; parse_url percent-encodes it as UTF-8.
            raw = None
        if raw is not None:
            try:
                location = raw.decode("utf-8")
            except UnicodeDecodeError:
                # Not UTF-8 either: send the bytes as the server gave them, escaped.
                location = "".join(chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in raw)
    return location.replace(" ", "%20")


def redirect_error(
    error: Type[_RedirectErrorT], message: str, current: URL, location: str, history: Sequence[object]
) -> _RedirectErrorT:
    """Return ``error`` for a redirect that ``current`` sent, with its Location and server."""
    return error(message, location=location, history=history, host=current.host, port=current.port)


def single_location(values: Sequence[str], current: URL, history: Sequence[object]) -> str:
    """Return the one Location of a redirect, which may be repeated but not differ.

    RFC 9110 10.2.2 gives Location a single URI, so its values cannot be
    joined into a list as other fields are: "/a" and "/b" would make the
    URL "/a, /b", which the server never sent. Repeats of one value are
    followed and different values are rejected.

    Raises:
        RedirectError: the Location fields hold different values.
    """
    first = values[0]
    for other in values[1:]:
        if other.strip() != first.strip():
            shown = ", ".join(repr(shorten(value)) for value in values)
            raise redirect_error(
                RedirectError,
                f"invalid redirect from {current}: its {len(values)} Location fields do not all hold the "
                f"same value ({shown}), so where it leads is ambiguous. The server must send one Location.",
                current,
                first,
                history,
            )
    return first


def next_url(current: URL, location: str, *, allow_http: bool, history: List[object]) -> URL:
    """Return the validated URL that a Location header points to.

    Raises:
        InsecureRedirectError: the Location leads to http and ``allow_http`` is off.
        RedirectError: the Location is invalid, uses a scheme that is not
            allowed, or carries credentials.
    """

    def rejected(text: str) -> RedirectError:
        return redirect_error(RedirectError, text, current, location, history)

    shown = shorten(location)
    target = resolve_reference(current, _percent_encode_raw(location.strip()))
    scheme = target.partition(":")[0]
    if scheme == "http" and not allow_http:
        raise redirect_error(
            InsecureRedirectError,
            f"rejected redirect from {current} to {shown!r}: it leaves https for plain http, where the "
            "request and the response can be read and changed. Pass allow_http=True to follow it.",
            current,
            location,
            history,
        )
    if scheme not in ("https", "http"):
        raise rejected(f"rejected redirect from {current} to {shown!r}: scheme {scheme!r} is not https.")
    if not target.startswith(f"{scheme}://"):
        raise rejected(
            f"invalid redirect from {current}: Location {shown!r} names the scheme {scheme!r} without a host. "
            "A redirect to another scheme needs '//host' after the colon."
        )
    try:
        url = parse_url(target, allow_http=allow_http)
    except InvalidURLError as exc:
        raise rejected(
            join_sentences(
                f"invalid redirect from {current}: Location {shown!r} is not a valid URL", exc.message
            )
        ) from exc
    if url.userinfo is not None:
        raise rejected(
            f"rejected redirect from {current}: the Location carries credentials, which tlskit never "
            "sends on a server's word."
        )
    return url


def next_method(status: int, method: str) -> Tuple[str, bool]:
    """Return the method of the request that follows a redirect, and whether it keeps the content."""
    if status == 303 and method != "HEAD":
        return "GET", False
    if status in (301, 302) and method == "POST":
        return "GET", False
    return method, True


def is_cross_origin(current: URL, following: URL) -> bool:
    """Return whether ``following`` has another scheme, host or port than ``current``."""
    return current.origin != following.origin


def redirected_spec(spec: RequestSpec, status: int, current: URL, following: URL) -> RequestSpec:
    """Return what the request after a redirect sends: maybe another method, content and fields."""
    method, keeps_content = next_method(status, spec.method)
    fields = spec.fields
    content = spec.content
    if not keeps_content:
        fields = {key: field for key, field in fields.items() if key not in CONTENT_FIELDS}
        content = b""
    if is_cross_origin(current, following):
        fields = {key: field for key, field in fields.items() if key not in ORIGIN_BOUND_FIELDS}
    return make_spec(method, fields, content)
