"""argparse type functions for numeric option values: seconds, counts, sizes and ports.

Each function takes the text of one option value and returns the number, or
raises `argparse.ArgumentTypeError`, which argparse turns into a usage error
(exit status 2) that names the option. Only ASCII digits are accepted:
Python's ``int`` and ``float`` also read other scripts' digits (``int("١٢")``
is 12), and ``float`` reads ``nan``, ``inf`` and ``1_000``, none of which a
user means. The length of the text is bounded before any conversion, so a
value of thousands of digits is rejected with a message, not with the
ValueError that ``int`` raises from Python 3.11 on.
"""

from __future__ import annotations

import argparse
import re
from typing import Callable

# The largest timeout accepted. CPython stores socket timeouts as 64-bit
# counts of nanoseconds, which overflow above about 9.2e9 seconds.
MAX_SECONDS = 1_000_000
# A file size must fit the signed 64-bit offsets of file systems.
MAX_SIZE_BYTES = 2**63 - 1
MAX_PORT = 65535

_SECONDS = re.compile(r"[0-9]{1,7}(?:\.[0-9]{0,9})?|\.[0-9]{1,9}")
_SIZE = re.compile(r"([0-9]{1,19})([kKmMgG]?)")
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Long enough for any option value typed by hand, such as a --connect-to rule
# with two IPv6 addresses; a longer value is cut with its length shown.
_SHOWN_CHARS = 200


def shown(text: str) -> str:
    """Return ``repr(text)``, cut short for a long value so that the message stays readable."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}... ({len(text)} characters)"


def seconds(text: str) -> float:
    """Read a positive number of seconds, such as ``30`` or ``0.5``, up to `MAX_SECONDS`."""
    if not (text.isascii() and _SECONDS.fullmatch(text)):
        raise argparse.ArgumentTypeError(
            f"invalid value {shown(text)}: expected a positive number of seconds, such as 30 or 0.5"
        )
    value = float(text)
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"invalid value {shown(text)}: expected more than 0 and at most {MAX_SECONDS} seconds"
        )
    return value


def count(maximum: int) -> Callable[[str], int]:
    """Return a type function that reads a whole number from 0 to ``maximum``."""

    def read_count(text: str) -> int:
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(maximum))) or int(text) > maximum:
            raise argparse.ArgumentTypeError(
                f"invalid value {shown(text)}: expected a whole number from 0 to {maximum}"
            )
        return int(text)

    return read_count


def size(text: str) -> int:
    """Read a size in bytes, with an optional K, M or G suffix for powers of 1024, as curl does."""
    match = _SIZE.fullmatch(text) if text.isascii() else None
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid value {shown(text)}: expected bytes such as 1048576, 500K, 20M or 2G"
        )
    number = int(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()]
    if number > MAX_SIZE_BYTES:
        raise argparse.ArgumentTypeError(
            f"invalid value {shown(text)}: larger than the maximum, {MAX_SIZE_BYTES} bytes"
        )
    return number


def is_port(text: str) -> bool:
    """Return whether ``text`` is a TCP port number from 1 to 65535 in ASCII digits."""
    return text.isascii() and text.isdigit() and len(text) <= len(str(MAX_PORT)) and 0 < int(text) <= MAX_PORT
