"""Sans-IO HTTP/1.1 requests: method and header checks, and the bytes of a request.

Every check runs before a byte is sent, so that no caller value can split a
request or smuggle a second one into it.
"""

from __future__ import annotations

import re
from typing import Iterable, Tuple

from ._errors import InvalidHeaderError

_TOKEN_STR = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# Field values may hold visible characters, spaces, tabs and obs-text (RFC 9110 5.5).
_BAD_VALUE_STR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def validate_header(name: str, value: str) -> None:
    """Raise `InvalidHeaderError` unless ``name: value`` is a safe header field."""
    if not isinstance(name, str) or not _TOKEN_STR.fullmatch(name):
        raise InvalidHeaderError(
            f"invalid header name {name!r}: a name is one or more token characters (letters, digits, "
            "and !#$%&'*+-.^_`|~), with no spaces, colons or line breaks.",
            field="headers",
        )
    if not isinstance(value, str):
        raise InvalidHeaderError(
            f"invalid value for header {name!r}: expected str, got {type(value).__name__}.", field="headers"
        )
    bad = _BAD_VALUE_STR.search(value)
    if bad:
        raise InvalidHeaderError(
            f"invalid value for header {name!r}: control character {bad.group()!r} at position {bad.start()} "
            "could split the request. Remove line breaks and control characters from the value.",
            field="headers",
        )
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise InvalidHeaderError(
                f"invalid value for header {name!r}: character {value[exc.start]!r} at position {exc.start} "
                "is not Latin-1, so it cannot be sent in an HTTP/1.1 header. Percent-encode the value, or "
                "use the RFC 8187 form (name*=UTF-8''...) where the field allows it.",
                field="headers",
            ) from None


# Methods that are already valid and upper case, so most calls skip the regular expression.
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def validate_method(method: str) -> str:
    """Return ``method`` in upper case, or raise `InvalidHeaderError` unless it is a token."""
    if type(method) is str and method in _COMMON_METHODS:
        return method
    if not isinstance(method, str) or not _TOKEN_STR.fullmatch(method):
        raise InvalidHeaderError(
            f"invalid method {method!r}: a method is one or more token characters, such as 'GET' or 'POST'.",
            field="method",
        )
    return method.upper()


def build_request(method: str, target: str, fields: Iterable[Tuple[str, str]], body: bytes = b"") -> bytes:
    """Return the bytes of an HTTP/1.1 request.

    ``fields`` must already be validated with `validate_header`, the method
    with `validate_method`, and the target comes from tlskit's own URL parser.
    """
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in fields)
    lines.append("\r\n")
    head = "\r\n".join(lines).encode("latin-1")
    return head + body if body else head
