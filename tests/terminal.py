"""Run the command line in a subprocess whose stdin and stderr are a pseudo-terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from typing import Callable, List, Optional, Tuple

SUBPROCESS_TIMEOUT_SECONDS = 30

try:
    import pty
except ImportError:  # not a POSIX system
    pty = None  # type: ignore[assignment]


def _run_on_terminal(
    argv: List[str], answer: bytes = b"", on_output: Optional[Callable[[bytes], None]] = None
) -> Tuple[int, str]:
    """Run the CLI with stdin and stderr on a pseudo-terminal; return its status and the terminal output.

    ``answer`` is typed on the terminal once the program prints a prompt.
    ``on_output`` is called with all the output so far each time more arrives.
    """
    controller, terminal = pty.openpty()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [sys.executable, "-m", "tlskit", *argv],
        stdin=terminal,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=env,
        start_new_session=True,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if on_output is not None:
                    on_output(output)
                if answer and b"password" in output:
                    os.write(controller, answer + b"\n")
                    answer = b""
            elif process.poll() is not None:
                break
        status = process.wait(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SUBPROCESS_TIMEOUT_SECONDS)
    return status, output.decode("utf-8", "replace")


run_on_terminal: Optional[Callable[..., Tuple[int, str]]] = _run_on_terminal if pty is not None else None
