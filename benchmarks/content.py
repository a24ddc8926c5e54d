"""The endpoints every benchmark server serves, and the bodies behind them.

Bodies are byte patterns of fixed length: clients are checked on status and
body length only, and nothing on the path compresses, so content is irrelevant.
"""

from __future__ import annotations

from typing import Dict, NamedTuple

KIB = 1024
MIB = 1024 * KIB


class Endpoint(NamedTuple):
    """A path, its body length in bytes, and whether the body is sent chunked."""

    path: str
    length: int
    chunked: bool = False


SMALL = Endpoint("/13b", 13)
MEDIUM = Endpoint("/64k", 64 * KIB)
MEDIUM_CHUNKED = Endpoint("/64k-chunked", 64 * KIB, chunked=True)
LARGE = Endpoint("/100m", 100 * MIB)

ENDPOINTS: Dict[str, Endpoint] = {
    endpoint.path: endpoint for endpoint in (SMALL, MEDIUM, MEDIUM_CHUNKED, LARGE)
}

SMALL_BODY = b"hello, world\n"

# Chunk size of the chunked endpoint on the stdlib server. nginx 1.22 with
# SSI sends the 64 KiB file as two 32 KiB chunks (seen on the wire), and the
# stdlib server frames it the same way so both servers cost a parser alike.
CHUNK_BYTES = 32 * KIB


def body_for(endpoint: Endpoint) -> bytes:
    """Return the body bytes of ``endpoint``."""
    if endpoint.path == SMALL.path:
        return SMALL_BODY
    pattern = bytes(range(256))
    return pattern * (endpoint.length // len(pattern))
