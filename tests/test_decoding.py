"""Content-Encoding: gzip, x-gzip, deflate (zlib and raw), stacking, corrupt streams and bombs."""

from __future__ import annotations

import gzip
import zlib
from typing import List

import pytest

from tlskit import DecodingError, LimitExceededError
from tlskit._decoding import (
    DECODE_PIECE_BYTES,
    MAX_CONTENT_ENCODINGS,
    RATIO_GRACE_BYTES,
    make_decoder,
    parse_codings,
)
from tlskit._http11_events import DEFAULT_LIMITS, Limits

TEXT = b"The quick brown fox jumps over the lazy dog. " * 200


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def decode(codings: List[str], data: bytes, piece: int = 0, limits: Limits = DEFAULT_LIMITS) -> bytes:
    decoder = make_decoder(codings, limits)
    assert decoder is not None
    pieces = [data] if not piece else [data[i : i + piece] for i in range(0, len(data), piece)]
    out = bytearray()
    for chunk in pieces:
        for decoded in decoder.decode(chunk):
            assert len(decoded) <= DECODE_PIECE_BYTES
            out += decoded
    for decoded in decoder.finish():
        out += decoded
    return bytes(out)


@pytest.mark.parametrize(
    "codings, encoded",
    [
        (["gzip"], gzip.compress(TEXT)),
        (["x-gzip"], gzip.compress(TEXT)),
        (["GZIP"], gzip.compress(TEXT)),
        (["deflate"], zlib.compress(TEXT)),
        (["deflate"], raw_deflate(TEXT)),
        (["gzip, deflate"], zlib.compress(gzip.compress(TEXT))),
        (["gzip", "identity", "deflate"], zlib.compress(gzip.compress(TEXT))),
        (["deflate, gzip"], gzip.compress(zlib.compress(TEXT))),
    ],
)
@pytest.mark.parametrize("piece", [0, 1, 13])
def test_decodes(codings: List[str], encoded: bytes, piece: int) -> None:
    assert decode(codings, encoded, piece) == TEXT


def test_gzip_members_are_joined() -> None:
    assert decode(["gzip"], gzip.compress(b"first ") + gzip.compress(b"second")) == b"first second"


def test_identity_needs_no_decoder() -> None:
    assert make_decoder([], DEFAULT_LIMITS) is None
    assert make_decoder(["identity"], DEFAULT_LIMITS) is None


def test_empty_encoded_body_is_empty() -> None:
    assert decode(["gzip"], b"") == b""


@pytest.mark.parametrize(
    "codings, encoded, text",
    [
        (["gzip"], gzip.compress(TEXT)[:-10], "ended before its end marker"),
        (["deflate"], zlib.compress(TEXT)[:20], "ended before its end marker"),
        (["gzip"], b"not gzip at all", "invalid gzip data"),
        (["gzip"], gzip.compress(TEXT) + b"garbage", "invalid gzip data"),
        (["deflate"], zlib.compress(TEXT) + b"more", "after the end of its deflate stream"),
    ],
)
def test_corrupt_streams_raise(codings: List[str], encoded: bytes, text: str) -> None:
    with pytest.raises(DecodingError) as caught:
        decode(codings, encoded)
    assert text in str(caught.value)


def test_unsupported_coding_raises() -> None:
    with pytest.raises(DecodingError) as caught:
        parse_codings(["br"])
    assert "'br'" in str(caught.value)
    assert "decode_content=False" in str(caught.value)


def test_stacked_codings_are_limited() -> None:
    assert len(parse_codings([", ".join(["gzip"] * MAX_CONTENT_ENCODINGS)])) == MAX_CONTENT_ENCODINGS
    with pytest.raises(LimitExceededError) as caught:
        parse_codings([", ".join(["gzip"] * (MAX_CONTENT_ENCODINGS + 1))])
    assert caught.value.limit == "max_content_encodings"


def test_bomb_stops_at_expansion_ratio() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    decoder = make_decoder(["gzip"], DEFAULT_LIMITS)
    assert decoder is not None
    with pytest.raises(LimitExceededError) as caught:
        for _ in decoder.decode(bomb):
            pass
    assert caught.value.limit == "max_expansion_ratio"
    assert caught.value.value == 1000
    # Decoding stopped soon after the ratio was passed, not at the end of the bomb.
    assert decoder.decoded_bytes <= 1000 * len(bomb) + DECODE_PIECE_BYTES


def test_stacked_bomb_stops_past_grace() -> None:
    # gzip inside gzip multiplies two ratios of about 1000.
    bomb = gzip.compress(gzip.compress(b"\0" * (256 * 1024 * 1024)))
    decoder = make_decoder(["gzip", "gzip"], DEFAULT_LIMITS)
    assert decoder is not None
    with pytest.raises(LimitExceededError) as caught:
        for _ in decoder.decode(bomb):
            pass
    assert caught.value.limit == "max_expansion_ratio"
    assert decoder.decoded_bytes <= RATIO_GRACE_BYTES + DECODE_PIECE_BYTES


def log_lines(count: int) -> bytes:
    return "".join(
        f"2026-12-04T22:{i % 60:02d}:{i % 60:02d}Z INFO request handled status=200 path=/health\n"
        for i in range(count)
    ).encode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(log_lines(100_000), id="log-ratio-171"),
        pytest.param(b"row,1\n" * 2_000_000, id="csv-ratio-685"),
        pytest.param(b" " * (RATIO_GRACE_BYTES - 1), id="spaces-below-grace"),
    ],
)
def test_ordinary_gzip_passes_default_limits(data: bytes) -> None:
    assert decode(["gzip"], gzip.compress(data, 6)) == data


def test_well_compressed_small_body_passes() -> None:
    assert decode(["gzip"], gzip.compress(b" " * 100_000)) == b" " * 100_000


def test_decoded_size_limit() -> None:
    limits = Limits(max_decoded_bytes=1000)
    with pytest.raises(LimitExceededError) as caught:
        decode(["gzip"], gzip.compress(TEXT), limits=limits)
    assert caught.value.limit == "max_decoded_bytes"
    assert caught.value.value == 1000


def test_raised_ratio_lets_bomb_through() -> None:
    data = b"\0" * (2 * 1024 * 1024)
    assert decode(["gzip"], gzip.compress(data), limits=Limits(max_expansion_ratio=10_000)) == data
