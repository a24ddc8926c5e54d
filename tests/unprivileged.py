"""Run a check as the unprivileged user ``nobody``, for tests of file permissions.

Root reads and writes any file, and this suite runs as root on CI, so a
permission check is only seen in a child process that drops to uid 65534.
The child imports everything first, because the interpreter's own files may
be readable by root only, as under /root/.pyenv.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

NOBODY_ID = 65534
SUBPROCESS_TIMEOUT_SECONDS = 60

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="drops root privileges"
)

# The check runs after the lines ``imports`` and a drop to NOBODY_ID.
_DROP_PRIVILEGES = "import os\nos.setgid({uid})\nos.setuid({uid})\n"


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """Yield a new directory that the ``nobody`` user can enter, and remove it afterwards.

    Skips the test when a parent directory (such as a private TMPDIR) keeps
    other users out, because the child would then find no file at all.
    """
    directory = Path(tempfile.mkdtemp(prefix="tlskit-unprivileged-"))
    if not all(os.stat(parent).st_mode & stat.S_IXOTH for parent in directory.parents):
        directory.rmdir()
        pytest.skip(f"other users cannot reach {directory}, so the check would find no file")
    try:
        directory.chmod(0o755)
        yield directory
    finally:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


def run_as_nobody(imports: str, check: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``imports``, drop to the ``nobody`` user, then run ``check`` with ``args`` in sys.argv."""
    script = textwrap.dedent(imports) + _DROP_PRIVILEGES.format(uid=NOBODY_ID) + textwrap.dedent(check)
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
