"""Content-Encoding decoding (gzip, x-gzip, deflate) with limits against decompression bombs.

`make_decoder` reads the Content-Encoding fields of a response and returns a
`ContentDecoder`, or None when the body is not encoded. The decoder is fed
the body as it arrives and yields decoded pieces of at most
`DECODE_PIECE_BYTES`, so memory stays flat however far a piece expands.

Codings are listed in the order the server applied them, so they are undone
from last to first (RFC 9110 8.4). A body decodes only if every stream ends
properly: a gzip or deflate stream cut short raises `DecodingError`, never a
short success. Three limits stop decompression bombs with `LimitExceededError`:
the number of stacked codings, the decoded size (``Limits.max_decoded_bytes``)
and the expansion ratio (``Limits.max_expansion_ratio``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator, List, Optional, Sequence

from ._errors import DecodingError, LimitExceededError

if TYPE_CHECKING:
    import zlib

    from ._http11_events import Limits

# More stacked codings serve no purpose and multiply the work per byte.
# urllib3 2.x rejects more than 5 as well.
MAX_CONTENT_ENCODINGS = 5

# The largest piece a decoding step returns at once.
DECODE_PIECE_BYTES = 64 * 1024

# The expansion ratio is checked only past this many decoded bytes. Below it,
# a body that compresses very well (a run of spaces, a padded JSON document)
# costs little whatever its ratio, and above it a bomb is stopped before it
# has produced much. A bigger body of ordinary text stays far below the
# default ratio: repetitive logs and CSV gzip about 150 to 700 times.
RATIO_GRACE_BYTES = 8 * 1024 * 1024

# Fixes that decoding errors end with. The command line has no options for
# them, so it replaces these phrases with advice to send Accept-Encoding: identity.
RAISE_DECODED_LIMIT = (
    "Raise Limits.max_decoded_bytes, or pass decode_content=False to receive the encoded bytes."
)
RAISE_EXPANSION_LIMIT = "Raise Limits.max_expansion_ratio if the server is trusted."
KEEP_ENCODED = "Pass decode_content=False to receive the encoded bytes."

_GZIP_WBITS = 16 + 15  # zlib's window bits for a gzip header and trailer
_ZLIB_WBITS = 15  # zlib header (RFC 1950)
_RAW_WBITS = -15  # bare deflate data (RFC 1951)


def _is_zlib_header(first: int, second: int) -> bool:
    # RFC 1950 2.2: compression method 8 (deflate) with a window of at most
    # 32 KiB, and the two bytes read as a big-endian number divisible by 31.
    return first & 0x0F == 8 and first >> 4 <= 7 and (first << 8 | second) % 31 == 0


class _ZlibStage:
    """Undo one gzip or deflate coding, piece by piece."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._decompressor: Optional[zlib._Decompress] = None
        self._start = b""  # deflate's first bytes, until the wrapper is known

    def feed(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for data in pieces:
            yield from self._decompress(data)

    def feed_and_finish(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        yield from self.feed(pieces)
        if self._start:
            yield from self._decompress(b"", finishing=True)
        if self._decompressor is not None and not self._decompressor.eof:
            raise DecodingError(f"the {self.coding} stream of the response body ended before its end marker")

    def _open(self, data: bytes, finishing: bool) -> Optional[bytes]:
        import zlib  # Deferred: only encoded responses need it.

        if self.coding == "deflate":
            # "deflate" means the zlib format (RFC 9110 8.4.1.2), but some
            # servers send bare deflate data, so the first two bytes decide.
            data = self._start + data
            if len(data) < 2 and not finishing:
                self._start = data
                return None
            self._start = b""
            wbits = _ZLIB_WBITS if len(data) >= 2 and _is_zlib_header(data[0], data[1]) else _RAW_WBITS
        else:
            wbits = _GZIP_WBITS
        self._decompressor = zlib.decompressobj(wbits)
        return data

    def _decompress(self, data: bytes, finishing: bool = False) -> Iterator[bytes]:
        import zlib

        if self._decompressor is None:
            if not data and not self._start:
                return
            opened = self._open(data, finishing)
            if opened is None:
                return
            data = opened
        while data:
            decompressor = self._decompressor
            assert decompressor is not None
            if decompressor.eof:
                if self.coding == "deflate":
                    raise DecodingError(
                        f"the response body has {len(data)} bytes after the end of its deflate stream"
                    )
                # A gzip body may hold several members one after another (RFC 1952 2.2).
                decompressor = self._decompressor = zlib.decompressobj(_GZIP_WBITS)
            try:
                output = decompressor.decompress(data, DECODE_PIECE_BYTES)
            except zlib.error as exc:
                raise DecodingError(f"invalid {self.coding} data in the response body: {exc}") from exc
            if output:
                yield output
            data = decompressor.unconsumed_tail or decompressor.unused_data


class ContentDecoder:
    """Undo a response's content codings and enforce the decoding limits.

    Attributes:
        encoded_bytes: bytes received so far, as sent by the server.
        decoded_bytes: bytes produced so far.
    """

    def __init__(self, codings: Sequence[str], limits: Limits) -> None:
        self.codings = list(codings)
        self._stages = [_ZlibStage(coding) for coding in reversed(codings)]
        self._max_decoded = limits.max_decoded_bytes
        self._max_ratio = limits.max_expansion_ratio
        self.encoded_bytes = 0
        self.decoded_bytes = 0

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded pieces of the next ``data``.

        Raises:
            DecodingError: the data is not valid for its coding.
            LimitExceededError: the decoded size or the expansion ratio passed its limit.
        """
        self.encoded_bytes += len(data)
        pieces: Iterable[bytes] = (data,)
        for stage in self._stages:
            pieces = stage.feed(pieces)
        return self._counted(pieces)

    def finish(self) -> Iterator[bytes]:
        """Yield what remains once the body is complete, and check that every stream ended.

        Raises:
            DecodingError: a stream is cut short.
        """
        pieces: Iterable[bytes] = ()
        for stage in self._stages:
            pieces = stage.feed_and_finish(pieces)
        return self._counted(pieces)

    def _counted(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self.decoded_bytes += len(piece)
            self._check_limits()
            yield piece

    def _check_limits(self) -> None:
        decoded = self.decoded_bytes
        if self._max_decoded is not None and decoded > self._max_decoded:
            raise LimitExceededError(
                f"decoded response body exceeds max_decoded_bytes ({self._max_decoded} bytes) "
                f"after {self.encoded_bytes} encoded bytes. {RAISE_DECODED_LIMIT}",
                limit="max_decoded_bytes",
                value=self._max_decoded,
            )
        if decoded > RATIO_GRACE_BYTES and decoded > self._max_ratio * self.encoded_bytes:
            raise LimitExceededError(
                f"response body expands more than max_expansion_ratio ({self._max_ratio}) times: "
                f"{self.encoded_bytes} encoded bytes gave {decoded} bytes, which looks like a "
                f"decompression bomb. {RAISE_EXPANSION_LIMIT}",
                limit="max_expansion_ratio",
                value=self._max_ratio,
            )


def parse_codings(values: Sequence[str]) -> List[str]:
    """Return the content codings that need undoing, in the order the server applied them.

    Raises:
        DecodingError: a coding is not gzip, x-gzip, deflate or identity.
        LimitExceededError: more than `MAX_CONTENT_ENCODINGS` codings are stacked.
    """
    codings = []
    for value in values:
        for token in value.split(","):
            coding = token.strip().lower()
            if coding in ("", "identity"):
                continue
            if coding == "x-gzip":
                coding = "gzip"
            if coding not in ("gzip", "deflate"):
                raise DecodingError(
                    f"unsupported Content-Encoding {coding!r}: tlskit decodes gzip and deflate. {KEEP_ENCODED}"
                )
            codings.append(coding)
    if len(codings) > MAX_CONTENT_ENCODINGS:
        raise LimitExceededError(
            f"response has {len(codings)} stacked content codings, more than {MAX_CONTENT_ENCODINGS}",
            limit="max_content_encodings",
            value=MAX_CONTENT_ENCODINGS,
        )
    return codings


def make_decoder(values: Sequence[str], limits: Limits) -> Optional[ContentDecoder]:
    """Return a decoder for the Content-Encoding ``values``, or None when nothing needs undoing.

    Raises:
        DecodingError, LimitExceededError: as `parse_codings`.
    """
    codings = parse_codings(values)
    return ContentDecoder(codings, limits) if codings else None
