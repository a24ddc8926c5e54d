"""A one-line download progress bar for a terminal: bytes, rate and ETA.

`ProgressBar` is a ``progress(bytes_received, total)`` callback for
`Client.download` and `_download.save_body`. It redraws its line with a
carriage return at most every `REDRAW_INTERVAL_SECONDS`, so a fast download
does not flood the terminal, and `finish` draws the final state and ends the
line. The command line uses it only when stderr is a terminal.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, TextIO, Tuple

REDRAW_INTERVAL_SECONDS = 0.2
# `_download` throttles its calls to the same interval but reads the clock a
# moment before this bar does, so a call it makes on time must not be skipped.
_CLOCK_SLACK_SECONDS = 0.01
# A bound on waiting for the redrawing thread, which a blocked stderr could hold up.
_JOIN_TIMEOUT_SECONDS = 5.0
BAR_WIDTH = 24
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(count: float) -> str:
    """Return ``count`` bytes with a binary unit: ``"512 B"``, ``"1.5 MiB"``."""
    unit = 0
    while count >= 1024 and unit < len(_UNITS) - 1:
        count /= 1024
        unit += 1
    return f"{count:.0f} {_UNITS[unit]}" if unit == 0 else f"{count:.1f} {_UNITS[unit]}"


def format_duration(seconds: float) -> str:
    """Return ``seconds`` as ``M:SS``, or ``H:MM:SS`` from an hour on."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_progress(done: int, total: Optional[int], elapsed: float, *, complete: bool = False) -> str:
    """Return the progress line for ``done`` of ``total`` bytes after ``elapsed`` seconds.

    Args:
        total: the size the server announced, or None when it is unknown.
        complete: the whole body has arrived, so the line shows the time taken.
    """
    rate = done / elapsed if elapsed > 0 else 0.0
    speed = f"{format_bytes(rate)}/s"
    if complete or (total and done >= total):
        eta = f"in {format_duration(elapsed)}"
    elif total and rate > 0:
        eta = f"ETA {format_duration((total - done) / rate)}"
    else:
        # Without a size, or before the first byte gives a rate, there is nothing to estimate from.
        eta = "ETA --:--"
    if not total:
        return f"{format_bytes(done)}  {speed}  {eta}"
    fraction = min(done / total, 1.0)
    filled = int(fraction * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    return f"[{bar}] {fraction:4.0%}  {format_bytes(done)} of {format_bytes(total)}  {speed}  {eta}"


class ProgressBar:
    """A progress callback that draws one line on ``stream``.

    A call draws the line unless it was drawn less than
    `REDRAW_INTERVAL_SECONDS` ago. After `start_redrawing`, a daemon thread
    also redraws it at that interval while no call comes, so that the bytes
    received, the falling rate and the ETA stay current while the server
    sends nothing. `finish` stops the thread.

    Args:
        stream: a text stream, normally ``sys.stderr``.
        clock: a monotonic clock in seconds; the tests pass their own.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self._drawn_at: Optional[float] = None
        self._width = 0
        self._last: Tuple[int, Optional[int]] = (0, None)
        # The lock keeps the caller's draws and the thread's apart.
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._redrawer: Optional[threading.Thread] = None

    def __call__(self, done: int, total: Optional[int]) -> None:
        with self._lock:
            self._last = (done, total)
            now = self.clock()
            if self._is_due(now):
                self._draw(now)

    def start_redrawing(self) -> None:
        """Start the thread that redraws the line while no call comes, until `finish`."""
        self._redrawer = threading.Thread(
            target=self._redraw_until_finished, name="tlskit-progress", daemon=True
        )
        self._redrawer.start()

    def finish(self, *, complete: bool = False) -> None:
        """Stop redrawing, draw the final state and end the line; nothing if nothing was drawn.

        Args:
            complete: the whole body arrived, so the line shows the time taken
                instead of an estimate. Leave it False when the download failed.
        """
        self._finished.set()
        if self._redrawer is not None:
            # The thread wakes at once and holds the lock only while it draws.
            self._redrawer.join(_JOIN_TIMEOUT_SECONDS)
        with self._lock:
            if self._drawn_at is None:
                return
            self._draw(self.clock(), complete=complete)
            self.stream.write("\n")
            self.stream.flush()

    def _redraw_until_finished(self) -> None:
        while not self._finished.wait(REDRAW_INTERVAL_SECONDS):
            with self._lock:
                now = self.clock()
                if self._drawn_at is not None and self._is_due(now) and not self._finished.is_set():
                    self._draw(now)

    def _is_due(self, now: float) -> bool:
        return (
            self._drawn_at is None or now - self._drawn_at >= REDRAW_INTERVAL_SECONDS - _CLOCK_SLACK_SECONDS
        )

    def _draw(self, now: float, *, complete: bool = False) -> None:
        done, total = self._last
        line = format_progress(done, total, now - self.started, complete=complete)
        # Pad with spaces to erase the end of a longer previous line.
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)
        self._drawn_at = now
