"""Sans-IO HTTP/1.1 response heads: the status line, field lines and framing fields.

`find_blank_line` finds where a head ends in the received bytes, and
`parse_head` turns the head into a `ResponseHead` plus the values of the
fields that decide the framing of the body. Trailer sections use
`parse_fields` too.
"""

from __future__ import annotations

import re
from typing import Dict, List, NoReturn, Optional, Sequence, Tuple

from ._errors import LimitExceededError, ProtocolError
from ._headers import Headers
from ._http11_events import Limits, ResponseHead

_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")

# Fields that decide how the body is framed, or whether it is decoded.
FRAMING_FIELDS = frozenset({"connection", "transfer-encoding", "content-length", "content-encoding"})

# Patterns of the line-by-line path, which most heads never take, stay strings
# that the re module compiles, and caches, on first use: compiling
# _FIELD_LINE at import took 0.8 ms of start-up (CPython 3.11).
_LINE_END = rb"\r?\n"
_STATUS_LINE = re.compile(rb"HTTP/(1\.[0-9]) ([1-9][0-9]{2})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
# A whole field line in one match: a token name, a colon and the value
# (RFC 9112 5). The value holds visible characters, spaces, tabs and obs-text
# (RFC 9110 5.5), and the spaces and tabs around it are not part of it.
_FIELD_LINE = (
    r"([-!#$%&'*+.^_`|~0-9A-Za-z]+):[ \t]*((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x08\x0a-\x1f\x7f \t])?)[ \t]*"
)
# The field lines of a head, each ending in CRLF: the same rule as
# _FIELD_LINE, checked for all lines in one call. _FIELD_PAIRS then splits
# lines that passed it into names and values without the surrounding spaces.
_FIELD_BLOCK = re.compile(r"(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
_FIELD_PAIRS = re.compile(r"([^:\r\n]+):[ \t]*((?:[^ \t\r\n]+(?:[ \t]+[^ \t\r\n]+)*)?)[ \t]*\r\n")


def parse_head(head: bytes, limits: Limits) -> Tuple[ResponseHead, Dict[str, List[str]]]:
    """Return the event of a head without its blank line, and the values of its `FRAMING_FIELDS`.

    Raises:
        ProtocolError: the status line or a field line is invalid.
        LimitExceededError: a line is too long, or there are too many fields.
    """
    parsed = _parse_crlf_head(head, limits)
    if parsed is not None:
        return parsed
    # Bare LF line ends are accepted (RFC 9112 2.2); most heads have none,
    # and bytes.split is much faster than the regular expression.
    lines = head.split(b"\r\n") if head.count(b"\n") == head.count(b"\r\n") else re.split(_LINE_END, head)
    status_line = lines[0]
    if len(status_line) > limits.max_line_bytes:
        raise LimitExceededError(
            f"status line exceeds max_line_bytes ({limits.max_line_bytes} bytes)",
            limit="max_line_bytes",
            value=limits.max_line_bytes,
        )
    match = _STATUS_LINE.fullmatch(status_line)
    if match is None:
        raise ProtocolError(
            f"invalid status line {status_line[:80]!r}: expected 'HTTP/1.1 <status 100-999> <reason>'"
        )
    fields = parse_fields(lines[1:], limits)
    framing: Dict[str, List[str]] = {}
    for name, value in fields:
        key = name.lower()
        if key in FRAMING_FIELDS:
            framing.setdefault(key, []).append(value)
    return head_event(match, Headers(fields)), framing


def _parse_crlf_head(head: bytes, limits: Limits) -> Optional[Tuple[ResponseHead, Dict[str, List[str]]]]:
    """Parse a typical head with a few calls into C, or return None.

    A head qualifies when its lines all end in CRLF, it is no longer than
    one line may be, its status line and every field line are valid, and
    it has at most ``max_header_count`` fields. Any other head goes
    through the line-by-line path of `parse_head`, which finds and
    reports what is wrong, in the order it checks.
    """
    if len(head) > limits.max_line_bytes:
        return None
    status_line, _, block = head.partition(b"\r\n")
    match = _STATUS_LINE.fullmatch(status_line)
    if match is None:
        return None
    if not block:
        return head_event(match, Headers()), {}
    # The block regex admits no CR or LF inside a line, so a "\r\n" in
    # the text always ends a field line and "\r\nname:" always starts one.
    text = block.decode("latin-1") + "\r\n"
    if not _FIELD_BLOCK.fullmatch(text) or text.count("\r\n") > limits.max_header_count:
        return None
    return head_event(match, Headers.split_later(_FIELD_PAIRS.findall, text)), _find_framing(text)


def parse_fields(lines: Sequence[bytes], limits: Limits) -> List[Tuple[str, str]]:
    """Parse header field lines into (name, value) pairs.

    Raises:
        ProtocolError: a line is folded, lacks a colon, or has an invalid name or value.
        LimitExceededError: more than ``limits.max_header_count`` fields, or a line too long.
    """
    if len(lines) > limits.max_header_count:
        raise LimitExceededError(
            f"response has {len(lines)} header fields, more than max_header_count ({limits.max_header_count})",
            limit="max_header_count",
            value=limits.max_header_count,
        )
    fields = []
    max_line_bytes = limits.max_line_bytes
    for line in lines:
        if len(line) > max_line_bytes:
            raise LimitExceededError(
                f"response header line exceeds max_line_bytes ({max_line_bytes} bytes)",
                limit="max_line_bytes",
                value=max_line_bytes,
            )
        match = re.fullmatch(_FIELD_LINE, line.decode("latin-1"))
        if match is None:
            _raise_invalid_field(line)
        name, value = match.groups()
        fields.append((name, value))
    return fields


def _raise_invalid_field(line: bytes) -> NoReturn:
    """Raise the error that says why a field line failed `_FIELD_LINE`."""
    if line[:1] in (b" ", b"\t"):
        # Obsolete line folding (RFC 9112 5.2) is rejected: it hides fields from some parsers.
        raise ProtocolError(f"obsolete line folding in response header {line[:80]!r}")
    name, colon, _ = line.partition(b":")
    if colon and _TOKEN.fullmatch(name):
        raise ProtocolError(f"control character in the value of response header {name.decode('latin-1')!r}")
    # This also rejects whitespace before the colon, which RFC 9112 5.1 forbids.
    raise ProtocolError(f"invalid response header line {line[:80]!r}")


def find_blank_line(buffer: bytearray, start: int) -> Tuple[int, int]:
    """Return where the head ends and the body starts, at the first blank line from ``start``, or (-1, -1).

    A line may end in CRLF or a bare LF, so the blank line is LF, optional CR, LF.
    """
    crlf = buffer.find(b"\n\r\n", start)
    # A bare-LF blank line counts only before the CRLF one, so the search for
    # it stops there instead of scanning the body bytes received with the head.
    lf = buffer.find(b"\n\n", start) if crlf == -1 else buffer.find(b"\n\n", start, crlf + 1)
    if lf != -1 and (crlf == -1 or lf < crlf):
        stop, after = lf, lf + 2
    elif crlf != -1:
        stop, after = crlf, crlf + 3
    else:
        return -1, -1
    if stop and buffer[stop - 1] == 0x0D:
        stop -= 1
    return stop, after


def head_event(status: re.Match[bytes], headers: Headers) -> ResponseHead:
    version, code, reason = status.groups()
    return ResponseHead("HTTP/" + version.decode(), int(code), (reason or b"").decode("latin-1"), headers)


# Each framing field with the text that starts its line in a lower-cased head.
_FRAMING_NEEDLES = tuple((name, f"\r\n{name}:") for name in sorted(FRAMING_FIELDS))


def _find_framing(text: str) -> Dict[str, List[str]]:
    """Return the values of `FRAMING_FIELDS` in field lines that passed `_FIELD_BLOCK`, in order."""
    lowered = "\r\n" + text.lower()
    framing: Dict[str, List[str]] = {}
    for name, needle in _FRAMING_NEEDLES:
        start = lowered.find(needle)
        while start != -1:
            # Offsets in lowered are 2 past those in text, for its leading CRLF;
            # lower() maps every Latin-1 character to exactly one character.
            value_start = start + len(needle)
            value_end = lowered.find("\r\n", value_start)
            framing.setdefault(name, []).append(text[value_start - 2 : value_end - 2].strip(" \t"))
            start = lowered.find(needle, value_end)
    return framing


def split_tokens(values: Sequence[str]) -> List[str]:
    """Split comma-separated header values into lower-case tokens, dropping empty ones."""
    if len(values) == 1 and "," not in values[0]:
        token = values[0].strip().lower()
        return [token] if token else []
    return [token.strip().lower() for value in values for token in value.split(",") if token.strip()]


def parse_content_length(values: Sequence[str]) -> int:
    if len(values) == 1:
        text = values[0]
        if text.isdigit() and text.isascii() and len(text) <= 19:
            return int(text)
    # Identical repeats ("10, 10" or two fields) are allowed; differing ones
    # are rejected because two parsers could pick different values (RFC 9112 6.3 rule 5).
    lengths = {item.strip() for value in values for item in value.split(",")}
    if len(lengths) != 1:
        raise ProtocolError(f"conflicting Content-Length values {', '.join(values)!r}")
    text = lengths.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise ProtocolError(f"invalid Content-Length {text!r}: expected a non-negative decimal number")
    return int(text)
